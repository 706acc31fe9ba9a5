"""``python -m autograder grade`` and ``python -m autograder gradescope``.

The run, top to bottom:

1. find the submissions (``SUBMITTED/<student>/<assignment>/*.ipynb``; with
   no folder given, build the sample submissions and grade those);
2. per assignment, load the source notebooks and draw the hidden cases from
   the run's seed (:class:`~autograder.grading.engine.Assignment`);
3. grade each submission in sandboxed children, ``--jobs`` at a time
   (:func:`~autograder.grading.engine.grade_submission`);
4. record each as it finishes: gradebook (one transaction), autograded/
   copy, feedback, results.json (:mod:`~autograder.grading.record`);
5. write the CSV and a run report, print the score table.

The exit code is 0 unless the grader itself failed; a broken or hostile
submission costs its author points, never the run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import hashlib
import json
import os
import queue
import secrets
import sys
import tempfile
import time
import traceback
from pathlib import Path

from tqdm import tqdm

from autograder.grading import class_report, engine, record, sandbox
from autograder.grading.engine import Assignment, GraderError, NotebookResult

COURSE = sandbox.COURSE


@dataclasses.dataclass
class Options:
    submitted: Path | None = None
    assignment: str | None = None
    student: str | None = None
    course: Path = COURSE
    db_url: str | None = None  # default: sqlite:///<course>/gradebook.db; "" for none (samples: see resolve)
    output: Path | None = None  # default: <course>/grading_output (the samples: its samples/ folder)
    autograded: Path | None = None  # default: <course>/autograded
    feedback: Path | None = None  # default: <course>/feedback
    jobs: int = 2
    seed: int | None = None
    limits: sandbox.Limits = dataclasses.field(default_factory=sandbox.Limits)
    sandbox: bool = True  # False: no namespaces or separate uid even when root
    quiet: bool = False

    def resolve(self) -> Options:
        """Defaults filled in. The samples (no ``submitted``) keep everything they write under
        ``<output>/samples/`` (default ``grading_output/samples/``): their own gradebook, autograded
        and feedback folders and grades.csv, so that trying the grader never mixes with a class's
        grades, whatever ``--output`` says."""
        o = dataclasses.replace(self)
        o.course = Path(o.course).resolve()
        if o.submitted is None:
            o.output = (Path(o.output or o.course / "grading_output") / "samples").resolve()
            home = o.output
        else:
            o.output = Path(o.output or o.course / "grading_output").resolve()
            home = o.course
        o.autograded = Path(o.autograded or home / "autograded").resolve()
        o.feedback = Path(o.feedback or home / "feedback").resolve()
        if o.db_url is None:
            o.db_url = f"sqlite:///{home / 'gradebook.db'}"
        if o.seed is None:
            o.seed = secrets.randbits(32)
        return o


@dataclasses.dataclass
class Run:
    results: list[NotebookResult]
    seed: int
    faults: list[str]

    @property
    def exit_code(self) -> int:
        return 1 if self.faults else 0


def student_id(folder_name: str) -> str:
    """The student's id in the gradebook, the CSV, file names and the terminal: the folder's name,
    with what cannot be written or shown escaped (bytes that are not UTF-8, control characters such
    as a terminal's ESC) and a name too long for a file name cut, with a hash of the whole."""
    text = record.writable(folder_name)
    text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    if len(text.encode("utf-8")) > 200:  # a file name may hold 255 bytes
        digest = hashlib.sha256(os.fsencode(folder_name)).hexdigest()[:12]
        text = text.encode("utf-8")[:150].decode("utf-8", "ignore") + "-" + digest
    return text


def find_submissions(
    submitted: Path, assignment: str | None, student: str | None, faults: list[str] | None = None
) -> list[tuple[str, str, Path]]:
    """(student id, assignment, folder) of each submission; two folders whose names give the same
    id are both left out, with a fault: neither may overwrite the other's grade."""
    found = []
    for folder in sorted(p for p in submitted.glob("*/*") if p.is_dir()):
        s, a = student_id(folder.parent.name), folder.name
        if (assignment in (None, a)) and (student in (None, s, folder.parent.name)):
            found.append((s, a, folder))
    names: dict[tuple[str, str], set[str]] = {}
    for s, a, folder in found:
        names.setdefault((s, a), set()).add(folder.parent.name)
    clashes = {key for key, folders in names.items() if len(folders) > 1}
    for s, a in sorted(clashes):
        message = f"{s}/{a}: {len(names[(s, a)])} student folders have names that give this same id; none was graded"
        print(f"grader fault: {message}", file=sys.stderr)
        if faults is not None:
            faults.append(message)
    return [t for t in found if (t[0], t[1]) not in clashes]


def hidden_paths(o: Options) -> list[Path]:
    """What a child must not see (it gets its own copies of the public parts)."""
    paths = [o.course, COURSE, o.output, o.autograded, o.feedback]
    if o.submitted is not None:
        paths.append(Path(o.submitted).resolve())
    if o.db_url and o.db_url.startswith("sqlite:///"):
        paths.append(Path(o.db_url[len("sqlite:///") :]).resolve())
    unique = []
    for p in paths:
        if p not in unique:
            unique.append(p)
    return unique


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived: the run stops, restoring what it changed on the way out.

    A BaseException, like KeyboardInterrupt: no ``except Exception`` on the way
    (a grader fault recorded for one submission, say) may swallow it.
    """

    def __str__(self) -> str:
        import signal

        return f"stopped by {signal.Signals(self.args[0]).name}"


@contextlib.contextmanager
def stop_on_signals():
    """Turn SIGTERM and SIGHUP into an exception in the main thread, so that every ``finally``
    runs: children killed, hidden permissions restored, temporary folders removed."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        for sig in signals:  # a second signal (Ctrl-C pressed twice) must not interrupt the clean-up
            signal.signal(sig, signal.SIG_IGN)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Stopped(signum)

    signals = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
    previous = {sig: signal.signal(sig, stop) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_grading(options: Options) -> Run:
    """Grade everything ``options`` selects; record it; return the results."""
    with stop_on_signals():
        return _run_grading(options)


def _run_grading(options: Options) -> Run:
    o = options.resolve()
    sandbox.allow_children()
    faults: list[str] = []
    if o.submitted is None:
        from autograder.grading import samples

        o.submitted = o.output / "submitted"
        built = samples.build_samples(o.course, o.submitted, o.assignment)
        samples.write_manifest(o.submitted.parent, built)
    o.submitted = Path(o.submitted).resolve()
    todo = find_submissions(o.submitted, o.assignment, o.student, faults)
    isolate = o.sandbox and sandbox.can_isolate()
    namespaces = isolate and sandbox.namespaces_work()
    if not isolate:
        what = "its sandbox (disabled with --no-sandbox)" if not o.sandbox else "root privileges (no namespaces, no separate uid)"
        sandbox.warn_once(sandbox.NOT_ENFORCED.format(what=what))
    elif not namespaces:
        why = "forced by RNNGRADE_NO_NAMESPACES" if os.environ.get("RNNGRADE_NO_NAMESPACES") == "1" else "unshare is refused"
        sandbox.warn_once(sandbox.UID_ONLY.format(why=why))
    if isolate:
        reaped = sandbox.reap_orphans(shared_dirs=not namespaces)
        if reaped:
            sandbox.warn_always(
                f"killed the processes a grading run that was killed left running under {len(reaped)} sandbox uid(s)"
            )
    for folder in (o.output, o.autograded, o.feedback):  # exist before any child starts, so they are hidden
        Path(folder).mkdir(parents=True, exist_ok=True)

    assignments: dict[str, Assignment] = {}
    for name in sorted({a for _, a, _ in todo}):
        if not (o.course / "solutions" / name).is_dir():
            print(f"warning: no source notebook for assignment {name!r}; its submissions are skipped", file=sys.stderr)
            continue
        assignments[name] = Assignment.load(o.course / "solutions", name, o.seed)
        if o.db_url:
            record.ensure_assignment(o.db_url, assignments[name])
    todo = [t for t in todo if t[1] in assignments]

    sandbox.remove_stale_folders()  # of runs that were killed (after reaping what they left running)
    with tempfile.TemporaryDirectory(prefix=f"rnngrade-template-{os.getpid()}-") as tmp:
        template = sandbox.build_template(Path(tmp) / "child", o.course)
        hide = hidden_paths(o)
        uid_only = isolate and not namespaces
        sys_path = None
        if uid_only:  # children must read Python themselves: copy what their uid cannot reach
            Path(tmp).chmod(0o711)
            sys_path = sandbox.sys_path_for_uid(Path(tmp) / "python")
        runner = engine.Runner(template, o.limits, hide, isolate, namespaces, sys_path)
        locked = sandbox.hidden_by_permissions(hide, sys_path or []) if uid_only else contextlib.nullcontext()
        with locked:
            results = _grade_all(o, todo, assignments, runner, faults)
    o.output.mkdir(parents=True, exist_ok=True)
    record.write_csv(o.output / "grades.csv", results)
    report = {
        "seed": o.seed,
        "sandbox": (
            "namespaces + separate uid" if namespaces
            else "separate uid, paths hidden by permissions" if isolate
            else "resource limits only"
        ),
        "memory_limit": "per child and all it starts (cgroup)" if isolate and sandbox.memory_groups_work() else "per process",
        "submitted": str(o.submitted),
        "limits": dataclasses.asdict(o.limits),
        "grader_faults": faults,
        "results": [
            {
                "student": r.student, "assignment": r.assignment, "notebook": r.notebook, "score": r.score,
                "max_score": r.max_score, "read_by_hand": r.flagged,
            }
            for r in results
        ],
    }
    (o.output / "report.json").write_text(json.dumps(report, indent=1))
    # Per assignment graded, from the records of every student graded so far (not only this run's).
    pages = class_report.write_reports(o.output, sorted({r.assignment for r in results}), o.feedback, faults)
    if not o.quiet:
        print(record.score_table(results))
        print(f"\nseed {o.seed} (rerun with --seed {o.seed}); grades in {o.output / 'grades.csv'}")
        for page in pages:
            print(f"what the class got wrong: {page}")
    return Run(results, o.seed, faults)


def _grade_all(o: Options, todo, assignments, runner, faults) -> list[NotebookResult]:
    slots: queue.Queue[int] = queue.Queue()
    for k in range(max(1, o.jobs)):
        slots.put(k)

    def task(student: str, assignment: str, folder: Path) -> list[NotebookResult]:
        slot = slots.get()
        try:
            return engine.grade_submission(folder, student, assignments[assignment], runner, slot)
        finally:
            slots.put(slot)

    results: list[NotebookResult] = []
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, o.jobs))
    # On stderr, so the score table on stdout stays clean; redrawn at most every few seconds
    # where stderr is a log file rather than a terminal.
    progress = tqdm(
        total=len(todo), desc="grading", unit="submission", file=sys.stderr, disable=o.quiet or not todo,
        mininterval=0.5 if sys.stderr.isatty() else 10.0,
    )
    try:
        futures = {pool.submit(task, *t): t for t in todo}
        for future in concurrent.futures.as_completed(futures):
            student, assignment, folder = futures[future]
            progress.update(1)
            try:
                graded = future.result()
                _record(o, assignments[assignment], student, folder, graded)
            except GraderError as exc:
                faults.append(f"{student}/{assignment}: {exc}")
                progress.write(f"grader fault on {student}/{assignment}: {exc}", file=sys.stderr)
                continue
            except Exception:  # a bug of the grader: report it, go on with the others
                faults.append(f"{student}/{assignment}: {traceback.format_exc()}")
                progress.write(f"grader fault on {student}/{assignment}:\n{traceback.format_exc()}", file=sys.stderr)
                continue
            results.extend(graded)
    except BaseException:  # a signal or Ctrl-C: stop the children now, not after the queue
        progress.close()
        sandbox.stop_all()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    progress.close()
    pool.shutdown(wait=True)
    results.sort(key=lambda r: (r.student, r.assignment, r.notebook))
    return results


def _record(o: Options, assignment: Assignment, student: str, folder: Path, graded: list[NotebookResult]) -> None:
    record.make_writable(graded)  # the student id is writable already (student_id)
    timestamp = record.read_timestamp(folder)
    secret = record.read_submission_secret(folder)
    autograded = o.autograded / student / assignment.name
    if o.db_url:
        before = record.graded_answers(autograded)  # read before the new copy replaces it
        record.record_gradebook(o.db_url, assignment, student, graded, timestamp or None, before)
    record.write_autograded(autograded, timestamp, graded, secret)
    record.write_student_files(o.output, o.feedback, graded, timestamp, secret)
    class_report.write_record(o.output, graded)


# --------------------------------------------------------------------------
# Command lines
# --------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m autograder grade",
        description="Grade submissions SUBMITTED/<student>/<assignment>/*.ipynb in a sandbox; "
        "without SUBMITTED, grade freshly built sample submissions.",
    )
    p.add_argument("submitted", nargs="?", type=Path, help="nbgrader's submitted/ folder")
    p.add_argument("--assignment", help="grade only this assignment, e.g. 01_rnn_cell")
    p.add_argument("--student", help="grade only this student")
    p.add_argument("--course", type=Path, default=COURSE, help="course folder with solutions/ (default: this one)")
    p.add_argument("--db-url", help="nbgrader gradebook (default sqlite:///<course>/gradebook.db); 'none' to skip")
    p.add_argument("--output", type=Path, help="grades.csv, results/, report.json (default <course>/grading_output)")
    p.add_argument("--autograded", type=Path, help="graded notebooks for formgrader (default <course>/autograded)")
    p.add_argument("--feedback", type=Path, help="feedback per student (default <course>/feedback)")
    p.add_argument("--jobs", "-j", type=int, default=2, help="submissions graded in parallel (default 2)")
    p.add_argument("--seed", type=int, help="seed of the hidden cases (default: fresh; printed, to reproduce a run)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per cell and per exercise (default 30)")
    p.add_argument(
        "--notebook-timeout", type=float, default=300.0,
        help="seconds for one whole notebook, replays after crashes included (default 300)",
    )
    p.add_argument("--memory-mb", type=int, default=sandbox.Limits.memory_mb, help="address space per child")
    p.add_argument("--no-sandbox", action="store_true", help="no namespaces or separate uid even as root (debugging)")
    p.add_argument("--quiet", action="store_true")
    return p


def options_from(args: argparse.Namespace) -> Options:
    limits = sandbox.Limits(
        cell_timeout=args.timeout,
        exercise_timeout=args.timeout,
        notebook_timeout=args.notebook_timeout,
        memory_mb=args.memory_mb,
    )
    return Options(
        submitted=args.submitted,
        assignment=args.assignment,
        student=args.student,
        course=args.course,
        db_url="" if args.db_url == "none" else args.db_url,
        output=args.output,
        autograded=args.autograded,
        feedback=args.feedback,
        jobs=args.jobs,
        seed=args.seed,
        limits=limits,
        sandbox=not args.no_sandbox,
        quiet=args.quiet,
    )


def grade_main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    start = time.monotonic()
    try:
        run = run_grading(options_from(args))
    except GraderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (Stopped, KeyboardInterrupt) as exc:
        what = str(exc) if isinstance(exc, Stopped) else "interrupted"
        print(f"grading {what}: the submissions still running were not recorded; "
              "children, permissions and temporary files are cleaned up", file=sys.stderr)
        return 128 + (exc.args[0] if isinstance(exc, Stopped) else 2)
    if not args.quiet:
        n = len({(r.student, r.assignment) for r in run.results})
        print(f"{n} submission(s) graded in {time.monotonic() - start:.1f} s")
    return run.exit_code


def gradescope_main(argv: list[str]) -> int:
    from autograder.grading import gradescope

    return gradescope.main(argv)
