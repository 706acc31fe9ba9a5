"""nbgrader's own routes into the gradebook go through the course's grader.

Formgrader's Autograde button calls ``NbGraderAPI.autograde``; with the course's
``nbgrader_config.py`` that grades with ``python -m autograder grade`` (sandbox, hidden
inputs), so a notebook that patches the public check gets no point that way either.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import COURSE, LESSON, notebook_with

from autograder.grading import record

# The check cells call check.<exercise>(fn): a solution cell that empties the module makes every
# one of them pass when the notebook itself is run, as plain `nbgrader autograde` runs it.
PATCH = (
    "\nimport autograder.checks.check as _check\n"
    "_check.__dict__.update({k: (lambda *a, **kw: None) for k in dir(_check) if not k.startswith('_')})\n"
)

BUTTON = """
import json, sys
from nbgrader.apps.api import NbGraderAPI
from nbgrader.apps.baseapp import NbGrader
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory

app = NbGrader()            # formgrader's way: the course's nbgrader_config.py, from the course folder
app.load_config_file()
coursedir = CourseDirectory(parent=app)
api = NbGraderAPI(coursedir, Authenticator(parent=app), parent=app)
print(json.dumps(api.autograde(sys.argv[1], sys.argv[2])))
"""


def make_course(tmp_path: Path, config: str | None = None) -> Path:
    """A course folder as an instructor has it: nbgrader_config.py, solutions/ and the library."""
    course = tmp_path / "course"
    course.mkdir()
    for name in ("solutions", "rnncourse", "data"):
        (course / name).symlink_to(COURSE / name)
    (course / "nbgrader_config.py").write_text(config if config is not None else (COURSE / "nbgrader_config.py").read_text())
    return course


def submit(course: Path, student: str, nb) -> None:
    folder = course / "submitted" / student / LESSON
    folder.mkdir(parents=True)
    nbformat.write(nb, str(folder / f"{LESSON}.ipynb"))
    (folder / "timestamp.txt").write_text("2025-03-01 10:00:00.000000 UTC")


def press_autograde(course: Path, student: str) -> dict:
    done = subprocess.run([sys.executable, "-c", BUTTON, LESSON, student], cwd=course, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def gradebook(course: Path, student: str):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        submission = gb.find_submission(LESSON, student)
        return submission.score, submission.needs_manual_grade, [nb.flagged for nb in submission.notebooks]


def tampering(lesson):
    return notebook_with(lesson, solved=(), edits={"rnn_step_forward": lambda text: text + PATCH})


def test_the_course_config_sends_nbgrader_autograde_to_the_course_grader():
    """The config names the course's preprocessor for nbgrader's sanitize step and leaves its
    autograde step (Execute, SaveAutoGrades) empty."""
    from traitlets.config import Config

    c = Config()
    exec((COURSE / "nbgrader_config.py").read_text(), {"get_config": lambda: c, "c": c})
    assert c.Autograde.sanitize_preprocessors == ["autograder.grading.nbgrader_hooks.GradeWithCourseGrader"]
    assert c.Autograde.autograde_preprocessors == []


@pytest.mark.slow
def test_formgraders_autograde_button_grades_through_the_course_grader(tmp_path, lesson):
    """A notebook that empties the public check gets 0 (and nbgrader's flag) from the button, as
    from `make grade`; an honest one its full score, with the grader's report in autograded/."""
    course = make_course(tmp_path)
    _, _, assignment = lesson
    record.ensure_assignment(f"sqlite:///{course / 'gradebook.db'}", assignment)  # as make release / make grade leave it
    submit(course, "mallory", tampering(lesson))
    submit(course, "alice", notebook_with(lesson))

    for student in ("mallory", "alice"):
        result = press_autograde(course, student)
        assert result["success"], result.get("error", "") + result.get("log", "")
        assert "course's grader" in result["log"]

    full = sum(h.exercise.points for h in assignment.hidden.values())
    score, _, flags = gradebook(course, "mallory")
    assert score == 0 and flags == [True]
    score, _, flags = gradebook(course, "alice")
    assert score == full and flags == [False]
    graded = nbformat.read(str(course / "autograded" / "mallory" / LESSON / f"{LESSON}.ipynb"), as_version=4)
    assert graded.cells[0].metadata.get(record.REPORT_CELL) and "Read by hand" in graded.cells[0].source
    assert (course / "feedback" / "mallory" / LESSON / f"{LESSON}.html").is_file()


@pytest.mark.slow
def test_plain_nbgrader_autograde_would_give_the_tampering_notebook_points(tmp_path, lesson):
    """Why the config matters: without its two Autograde lines, nbgrader runs the notebook itself
    and the emptied check cells pass."""
    config = "\n".join(
        line for line in (COURSE / "nbgrader_config.py").read_text().splitlines() if not line.startswith("c.Autograde.")
    )
    course = make_course(tmp_path, config)
    _, _, assignment = lesson
    record.ensure_assignment(f"sqlite:///{course / 'gradebook.db'}", assignment)
    submit(course, "mallory", tampering(lesson))
    result = press_autograde(course, "mallory")
    assert result["success"], result.get("error", "") + result.get("log", "")
    score, _, _ = gradebook(course, "mallory")
    assert score == sum(h.exercise.points for h in assignment.hidden.values())


def test_a_grader_that_fails_fails_the_button_with_what_to_run(tmp_path, lesson, monkeypatch):
    """No graded notebook from the course's grader: nbgrader reports a failed autograde naming the
    command, rather than keeping the raw submission as if graded."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import LoggingConfigurable

    from autograder.grading import nbgrader_hooks

    class Converter(LoggingConfigurable):  # stands for nbgrader's Autograde, which owns the coursedir
        coursedir = CourseDirectory(root=str(make_course(tmp_path)))

    hook = nbgrader_hooks.GradeWithCourseGrader(parent=Converter())
    monkeypatch.setattr(nbgrader_hooks.sys, "executable", shutil.which("false"))
    resources = {"nbgrader": {"student": "bob", "assignment": LESSON, "notebook": LESSON}}
    with pytest.raises(nbgrader_hooks.GraderFailed, match="(?s)could not grade bob/01_rnn_cell.*Run it yourself"):
        hook.preprocess(nbformat.v4.new_notebook(), resources)
