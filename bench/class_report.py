"""How long the class report takes for a large class: ``python -m bench class_report``.

Writes the grade records of ``--students`` made-up students for every lesson (each
exercise passed, failed with a catalogued mistake, failed otherwise or left alone,
drawn with a seed), then times :func:`autograder.grading.class_report.write_reports`
rebuilding every lesson's page and JSON from them, as ``python -m autograder report``
does. Nothing is graded.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from autograder.grading import class_report
from autograder.grading.compare import ExerciseResult, note_failing_dependencies
from autograder.grading.engine import NotebookResult
from autograder.suites import LESSON_SUITES


def made_up_class(students: int, seed: int = 0, lessons: list[str] | None = None) -> list[NotebookResult]:
    rng = np.random.default_rng(seed)
    results = []
    for lesson, exercises in LESSON_SUITES.items():
        if lessons is not None and lesson not in lessons:
            continue
        for s in range(students):
            graded = []
            for ex in exercises:
                u = rng.random()
                if u < 0.6:
                    graded.append(ExerciseResult(ex.name, ex.number, ex.points, ex.points, "pass", "", []))
                elif u < 0.8:
                    key = ex.mistakes[int(rng.integers(len(ex.mistakes)))].key
                    graded.append(ExerciseResult(ex.name, ex.number, ex.points, 0.0, "fail", "", [], key, failed="values"))
                elif u < 0.9:
                    graded.append(ExerciseResult(ex.name, ex.number, ex.points, 0.0, "fail", "", [], failed="shape"))
                else:
                    graded.append(ExerciseResult(ex.name, ex.number, ex.points, 0.0, "not_attempted", "", []))
            note_failing_dependencies(graded)
            results.append(NotebookResult(f"student{s:04d}", lesson, f"{lesson}.ipynb", graded, [], seed=seed, seconds=1.0))
    return results


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench class_report", description=__doc__)
    p.add_argument("--students", type=int, default=200)
    p.add_argument("--quick", action="store_true", help="20 students of lesson 01 (a smoke run)")
    args = p.parse_args(argv)
    students = 20 if args.quick else args.students
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for r in made_up_class(students, lessons=[min(LESSON_SUITES)] if args.quick else None):
            class_report.write_record(out, [r])
        start = time.perf_counter()
        pages = class_report.write_reports(out, feedback=out / "feedback")
        seconds = time.perf_counter() - start
    print(f"class report: {students} students x {len(pages)} lessons rebuilt in {seconds:.2f} s "
          f"({seconds / max(1, len(pages)):.2f} s per lesson's page and JSON)")
    return 0
