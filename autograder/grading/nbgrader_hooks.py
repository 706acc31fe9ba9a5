"""nbgrader's own autograde (formgrader's Autograde button, ``nbgrader autograde``) through this course's grader.

Plain ``nbgrader autograde`` would run the submission in the instructor's process, with
no sandbox and the student's own check cells: a notebook that patches the public check
gets every point. ``nbgrader_config.py`` therefore replaces the steps of nbgrader's
Autograde converter: its sanitize step is :class:`GradeWithCourseGrader`, which runs
``python -m autograder grade`` for that one student (sandbox, hidden inputs, gradebook,
feedback) and hands nbgrader back the notebook the grader wrote to ``autograded/``; its
autograde step (nbgrader's ``Execute``, ``SaveAutoGrades``, ...) is empty, so nothing
of nbgrader's own grading runs and nothing it would compute reaches the gradebook.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool


class GraderFailed(RuntimeError):
    """The course's grader did not grade the submission; nbgrader reports it as a failed autograde."""


def _coursedir(obj):
    """nbgrader's CourseDirectory, from the converter that owns the exporter that owns us."""
    while obj is not None:
        if getattr(obj, "coursedir", None) is not None:
            return obj.coursedir
        obj = getattr(obj, "parent", None)
    raise GraderFailed("the course's grader needs nbgrader's course directory, and this preprocessor has none")


def grade_command(coursedir, assignment: str, student: str) -> list[str]:
    """``python -m autograder grade`` for one submission, writing where nbgrader reads."""
    root = Path(coursedir.root).resolve()

    def folder(name: str) -> str:
        return str((root / name).resolve())

    return [
        sys.executable, "-m", "autograder", "grade", folder(coursedir.submitted_directory),
        "--assignment", assignment, "--student", student, "--course", str(root),
        "--db-url", coursedir.db_url, "--autograded", folder(coursedir.autograded_directory),
        "--feedback", folder(coursedir.feedback_directory), "--quiet",
    ]


class GradeWithCourseGrader(Preprocessor):
    """Grade the submission with ``python -m autograder grade``; return the notebook it wrote."""

    enabled = Bool(True)  # nbconvert's preprocessors are off unless enabled

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        student, assignment, notebook = info["student"], info["assignment"], info["notebook"]
        coursedir = _coursedir(self)
        command = grade_command(coursedir, assignment, student)
        self.log.info("Grading %s/%s with the course's grader (not nbgrader's Execute): %s", student, assignment, " ".join(command))
        done = subprocess.run(command, cwd=coursedir.root, capture_output=True, text=True, errors="replace", check=False)
        graded = Path(coursedir.root) / coursedir.autograded_directory / student / assignment / f"{notebook}.ipynb"
        if done.returncode != 0 or not graded.is_file():
            why = (done.stderr or done.stdout).strip()[-3000:] or f"no graded notebook at {graded}"
            raise GraderFailed(
                f"the course's grader could not grade {student}/{assignment} (exit code {done.returncode}): {why}\n"
                f"Run it yourself to see more: {' '.join(command)}"
            )
        if done.stderr.strip():
            self.log.warning("%s", done.stderr.strip()[-3000:])
        return nbformat.read(os.fspath(graded), as_version=nbformat.NO_CONVERT), resources
