"""The released notebooks, run as a learner would: stubs fail their checks, filled stubs pass them.

(The solution notebooks are run top to bottom by nbval: `pytest --nbval-lax solutions`, part of make test.)
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import release
from autograder.suites import LESSON_SUITES

ROOT = Path(__file__).resolve().parents[2]
LESSONS = release.assignments()
pytestmark = pytest.mark.slow


def _run(nb, stop_after: int | None = None):
    """Execute cells in order (all, or up to index stop_after), keeping going after errors."""
    nb = copy.deepcopy(nb)
    if stop_after is not None:
        nb.cells = nb.cells[: stop_after + 1]
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    return nb


def _errors(cell) -> str:
    return "\n".join(
        f"{o.get('ename')}: {o.get('evalue')}" for o in cell.get("outputs", []) if o.output_type == "error"
    )


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


@pytest.mark.parametrize("lesson", LESSONS)
def test_untouched_release_runs_to_first_stub_and_fails_every_check(lesson):
    """Cells before the first check run cleanly; every check cell of the untouched release fails
    with "not attempted yet"."""
    nb = _run(nbformat.read(ROOT / "notebooks" / lesson / f"{lesson}.ipynb", as_version=4))
    first_check = next(i for i, c in enumerate(nb.cells) if (_grade_id(c) or "").startswith("check_"))
    for cell in nb.cells[:first_check]:
        assert not _errors(cell), f"cell before the first exercise failed: {_errors(cell)}\n{cell.source[:200]}"
    checks = [c for c in nb.cells if (_grade_id(c) or "").startswith("check_")]
    assert len(checks) == len(LESSON_SUITES[lesson])
    for cell in checks:
        assert "not attempted yet" in _errors(cell), f"{_grade_id(cell)}: {_errors(cell)}"


def _fill(release_nb, solution_nb, name: str, edit=None):
    """Put the solution body of exercise `name` into the release stub, optionally edited."""
    src = next(c for c in solution_nb.cells if _grade_id(c) == name).source
    body = "\n".join(line for line in src.splitlines() if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    if edit:
        old, new = edit
        assert old in body
        body = body.replace(old, new)
    cell = next(c for c in release_nb.cells if _grade_id(c) == name)
    cell.source = body


def test_learner_with_correct_answers_passes_every_check_and_one_mistake_is_named():
    """Lesson 01 as a learner does it: stubs filled correctly pass; the bias left out of
    rnn_step_forward makes its check name that mistake (and nothing else breaks)."""
    lesson = "01_rnn_cell"
    release_nb = nbformat.read(ROOT / "notebooks" / lesson / f"{lesson}.ipynb", as_version=4)
    solution_nb = nbformat.read(ROOT / "solutions" / lesson / f"{lesson}.ipynb", as_version=4)
    for exercise in LESSON_SUITES[lesson]:
        _fill(release_nb, solution_nb, exercise.name)
    _fill(release_nb, solution_nb, "rnn_step_forward", edit=(" + b_h  # (N, H)", "  # (N, H)"))
    last_check = max(i for i, c in enumerate(release_nb.cells) if (_grade_id(c) or "").startswith("check_"))
    nb = _run(release_nb, stop_after=last_check)
    checks = {_grade_id(c): _errors(c) for c in nb.cells if (_grade_id(c) or "").startswith("check_")}
    assert "the bias b_h is left out" in checks.pop("check_rnn_step_forward")
    # rnn_forward builds on the broken step, so it fails too; everything else passes.
    assert checks.pop("check_rnn_forward")
    assert all(not err for err in checks.values()), checks


def test_a_failing_check_shows_its_verdict_once_and_no_traceback_in_a_kernel():
    """In a real kernel a failing check cell errors (nbgrader and nbval need that), and what it shows
    is the verdict alone: no frame of the checker, the message once; a pass prints one line."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import numpy as np\nfrom autograder.checks import check"),
        nbformat.v4.new_code_cell(
            "def softmax(scores):\n    e = np.exp(scores)\n    return e / e.sum(axis=0, keepdims=True)\n"
            "check.softmax(softmax)"
        ),
        nbformat.v4.new_code_cell(
            "def softmax(scores):\n    e = np.exp(scores - scores.max(axis=-1, keepdims=True))\n"
            "    return e / e.sum(axis=-1, keepdims=True)\ncheck.softmax(softmax)"
        ),
    ]
    nb = _run(nb)
    (error,) = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    shown = "\n".join(error.traceback)
    assert shown.startswith("✗ softmax (2 points): fails on public case")
    assert "runner.py" not in shown and "Traceback" not in shown and "File " not in shown
    assert not [o for o in nb.cells[1].outputs if o.output_type == "stream" and o.name == "stdout"]  # said once
    assert error.ename == "CheckFailed" and "softmax" in error.evalue
    (passed,) = nb.cells[2].outputs
    assert passed.output_type == "stream" and passed.text.startswith("✓ softmax (2 points): all")
    assert passed.text.count("\n") == 1
