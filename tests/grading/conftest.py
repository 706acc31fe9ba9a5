"""Shared set-up for the grader's tests: the course's lesson 01, short time limits.

The sandbox is started for real in every test (children, pipes, limits and,
when the tests run as root on Linux, namespaces and a separate uid).
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import nbformat
import pytest

from autograder.grading import engine, samples, sandbox
from autograder.grading.notebook import nbgrader_meta

COURSE = sandbox.COURSE
LESSON = "01_rnn_cell"
ISOLATED = sandbox.can_isolate()
needs_isolation = pytest.mark.skipif(
    not ISOLATED, reason="needs root on Linux: namespaces and a separate uid (the sandbox's full mode)"
)
# Generous enough for a loaded 2-core machine (the setup cell imports matplotlib);
# the tests of endless loops use ``short_runner`` instead, so that each costs seconds.
FAST = sandbox.Limits(cell_timeout=30.0, exercise_timeout=30.0, memory_mb=1536, processes=24)
SHORT = sandbox.Limits(cell_timeout=6.0, exercise_timeout=6.0, memory_mb=1536, processes=24)


@pytest.fixture(scope="session")
def lesson():
    """The solution and release notebooks of lesson 01, and the loaded assignment."""
    source, release = samples.load_pair(COURSE, LESSON)
    assignment = engine.Assignment.load(COURSE / "solutions", LESSON, seed=20240611)
    return source, release, assignment


@pytest.fixture(scope="session")
def runner(tmp_path_factory):
    template = sandbox.build_template(tmp_path_factory.mktemp("child") / "template")
    return engine.Runner(template, FAST, [COURSE], ISOLATED)


@pytest.fixture(scope="session")
def short_runner(runner):
    """Like ``runner``, with short time limits for the tests that loop on purpose."""
    return engine.Runner(runner.template, SHORT, runner.hide, runner.isolate)


@pytest.fixture
def course_permissions():
    """Tests that hide the course by permissions and then compare its modes run one at a time
    (test workers run in parallel, and overlapping runs keep the course hidden until the last ends)."""
    import fcntl

    with open(Path(tempfile.gettempdir()) / "rnngrade-test-permissions.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def notebook_with(lesson, solved=None, edits=None) -> nbformat.NotebookNode:
    """The release with ``solved`` exercises filled in (all if None), then ``edits`` applied.

    ``edits`` maps a solution cell's grade_id to a function of its text.
    """
    source, release, _ = lesson
    nb = samples.fill(release, source, solved)
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if edits and grade_id in edits:
            cell.source = edits[grade_id](cell.source)
    return copy.deepcopy(nb)


def grade_notebook(lesson, runner, nb, student="attacker", slot=0) -> engine.NotebookResult:
    """Grade one notebook in the sandbox, without any gradebook."""
    _, _, assignment = lesson
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / student / LESSON
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / f"{LESSON}.ipynb"))
        (result,) = engine.grade_submission(folder, student, assignment, runner, slot)
    return result


def points(result: engine.NotebookResult) -> dict[str, float]:
    return {e.name: e.points for e in result.exercises}


def full_points(lesson) -> dict[str, float]:
    _, _, assignment = lesson
    return {name: float(h.exercise.points) for name, h in assignment.hidden.items()}
