"""notebooks/ is exactly nbgrader's release of solutions/, and the notebooks follow the contract."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from autograder import release
from autograder.suites import LESSON_SUITES

ROOT = Path(__file__).resolve().parents[2]
LESSONS = release.assignments()


def _cells(path: Path):
    return nbformat.read(path, as_version=4).cells


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("release")
    release.generate(target)
    return target


@pytest.mark.slow
def test_release_regenerates_unchanged(regenerated):
    """Running nbgrader generate_assignment on solutions/ reproduces notebooks/ byte for byte."""
    fresh = sorted(p.relative_to(regenerated).as_posix() for p in regenerated.rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(ROOT / "notebooks").as_posix()
        for p in (ROOT / "notebooks").rglob("*")
        if p.is_file() and ".ipynb_checkpoints" not in p.parts
    )
    assert fresh == committed, "run `make release`"
    for rel in fresh:
        assert (regenerated / rel).read_bytes() == (ROOT / "notebooks" / rel).read_bytes(), (
            f"notebooks/{rel} is stale: run `make release`"
        )


@pytest.mark.parametrize("path", sorted(ROOT.glob("solutions/*/*.ipynb")) + sorted(ROOT.glob("notebooks/*/*.ipynb")), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_is_stored_clean(path):
    """No outputs, no execution counts, normalized metadata: storing it again changes nothing."""
    text = path.read_text()
    nb = nbformat.reads(text, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert nbformat.writes(release.normalize(nb)) + "\n" == text


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_exercise_has_a_solution_cell_and_a_check_cell_with_its_points(lesson):
    """Each suite exercise appears as a solution cell and, after it, a check cell worth the suite's points."""
    cells = _cells(ROOT / "solutions" / lesson / f"{lesson}.ipynb")
    ids = [_nbgrader(c).get("grade_id") for c in cells]
    for exercise in LESSON_SUITES[lesson]:
        assert exercise.name in ids, f"no solution cell for {exercise.name}"
        check_id = f"check_{exercise.name}"
        assert check_id in ids, f"no check cell for {exercise.name}"
        sol, chk = cells[ids.index(exercise.name)], cells[ids.index(check_id)]
        assert ids.index(exercise.name) < ids.index(check_id)
        assert _nbgrader(sol)["solution"] and not _nbgrader(sol).get("grade")
        assert _nbgrader(chk)["grade"] and _nbgrader(chk)["locked"]
        assert _nbgrader(chk)["points"] == exercise.points
        assert f"check.{exercise.name}(" in chk.source
        assert "### BEGIN SOLUTION" in sol.source and "### END SOLUTION" in sol.source
        assert f"def {exercise.name}(" in sol.source.split("### BEGIN SOLUTION")[0], (
            "the signature must stay outside the solution region"
        )


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_check_cell_belongs_to_a_suite_exercise(lesson):
    """No graded code cell exists without a suite behind it (it would be worth points nobody checks)."""
    names = {e.name for e in LESSON_SUITES[lesson]}
    for cell in _cells(ROOT / "solutions" / lesson / f"{lesson}.ipynb"):
        nbg = _nbgrader(cell)
        if nbg.get("grade") and cell.cell_type == "code":
            assert nbg["grade_id"].removeprefix("check_") in names


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_has_a_manually_graded_question(lesson):
    """At least one written answer is left for manual grading."""
    cells = _cells(ROOT / "solutions" / lesson / f"{lesson}.ipynb")
    assert any(c.cell_type == "markdown" and _nbgrader(c).get("grade") for c in cells)


@pytest.mark.parametrize("lesson", LESSONS)
def test_release_has_stubs_and_no_solutions(lesson):
    """The released notebook contains no solution text and a stub in every solution cell."""
    text = (ROOT / "notebooks" / lesson / f"{lesson}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    for cell in json.loads(text)["cells"]:
        nbg = cell.get("metadata", {}).get("nbgrader", {})
        if nbg.get("solution") and cell["cell_type"] == "code":
            assert "raise NotImplementedError()" in "".join(cell["source"])
