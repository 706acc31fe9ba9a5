"""Grading speed for lesson 01: seconds per submission, submissions per minute, overhead.

``main(argv)`` grades ``--copies`` copies of the full-solution sample with 1
and with 2 jobs (no gradebook), and compares one submission's time with the
student's own compute: executing the same cells (the source's non-demo cells
with the solutions) in a plain ``python`` process and calling each exercise on
its hidden cases. The difference is the grader's overhead per notebook.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from autograder.grading import cli, engine, samples, sandbox
from autograder.grading.notebook import select_cells

LESSON = "01_rnn_cell"


def plain_exec_seconds(course: Path, repeats: int = 3) -> float:
    """Seconds to exec the cells the grader runs, in a bare python (no sandbox, no checks)."""
    assignment = engine.Assignment.load(course / "solutions", LESSON, seed=1)
    source = assignment.notebooks[0]
    full = samples.fill(*reversed(samples.load_pair(course, LESSON)), None)
    plan = select_cells(source.nb, source.stubs, {"cells": full.cells}, source.exercises)
    cells = [s.source for s in plan.steps if s.kind == "cell"]
    calls = [
        (name, [case.inputs for case in hidden.cases]) for name, hidden in assignment.hidden.items()
    ]
    script = textwrap.dedent(
        """
        import pickle, sys
        cells, calls = pickle.load(open(sys.argv[1], "rb"))
        ns = {"__name__": "__main__"}
        for src in cells:
            try:
                exec(compile(src, "<cell>", "exec"), ns)
            except Exception:
                pass
        for name, cases in calls:
            for inputs in cases:
                ns[name](**{k: (v.copy() if hasattr(v, "copy") else v) for k, v in inputs.items()})
        """
    )
    import pickle

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "cells.pkl"
        data.write_bytes(pickle.dumps((cells, calls)))
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", script, str(data)],
                cwd=course,
                check=True,
                stdout=subprocess.DEVNULL,
                env={"MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
            )
            times.append(time.perf_counter() - start)
    return min(times)


def grade_copies(course: Path, copies: int, jobs: int) -> float:
    """Wall seconds to grade ``copies`` full submissions with ``jobs`` jobs (setup excluded)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        built = samples.build_samples(course, tmp / "built", LESSON)[LESSON]
        for i in range(copies):
            shutil.copytree(built["sample-full"], tmp / "submitted" / f"student{i:03d}" / LESSON)
        options = cli.Options(
            submitted=tmp / "submitted",
            assignment=LESSON,
            course=course,
            db_url="",
            output=tmp / "out",
            autograded=tmp / "ag",
            feedback=tmp / "fb",
            jobs=jobs,
            seed=1,
            quiet=True,
        )
        run = cli.run_grading(options)
        for r in run.results:
            if r.score != r.max_score:  # the full sample must get full marks: say why not
                bad = [f"{e.name}: {e.message}" for e in r.exercises if e.status != "pass"]
                print(
                    f"  warning: {r.student} scored {r.score:g}/{r.max_score:g}: {bad[:2]} {r.notes[:2]}"
                )
        # per-notebook time, as measured around each submission by the engine
        return sum(r.seconds for r in run.results) / len(run.results)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench grading", description=__doc__)
    p.add_argument("--copies", type=int, default=6, help="submissions graded per measurement")
    p.add_argument("--course", type=Path, default=sandbox.COURSE)
    p.add_argument("--quick", action="store_true", help="2 copies only (a smoke run)")
    args = p.parse_args(argv)
    if args.quick:
        args.copies = 2
    if not (args.course / "solutions" / LESSON).is_dir():
        print(f"no solutions/{LESSON}: nothing to measure")
        return 0
    print(
        f"grading {args.copies} copies of lesson {LESSON}'s full solution "
        f"(sandbox: {'namespaces + own uid' if sandbox.can_isolate() else 'limits only'})"
    )
    plain = plain_exec_seconds(args.course)
    figures = {}
    for jobs in (1, 2):
        start = time.perf_counter()
        per_nb = grade_copies(args.course, args.copies, jobs)
        wall = time.perf_counter() - start
        figures[jobs] = (per_nb, wall)
    per_nb = figures[1][0]
    print(f"  student's own compute (plain python, same cells and calls): {plain:.2f} s")
    for jobs, (nb_seconds, wall) in figures.items():
        print(
            f"  jobs={jobs}: {nb_seconds:.2f} s per submission, {args.copies / wall * 60:.1f} submissions/min "
            f"(wall {wall:.1f} s incl. {LESSON} set-up)"
        )
    print(f"  grader overhead per notebook: {per_nb - plain:.2f} s (target < 1 s)")
    print(f"  speed-up 1 -> 2 jobs: {figures[1][1] / figures[2][1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
