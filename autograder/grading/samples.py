"""Build the sample submissions from the current solution and release notebooks.

Nothing is committed: every run builds them afresh, so they never go stale.
For each lesson with a source notebook, under ``<target>/<student>/<lesson>/``:

=================  ==============================================================
student            what it is (expected score)
=================  ==============================================================
sample-full        the release with every solution filled in (full marks)
sample-untouched   the release as handed out (0, "not attempted")
sample-partial     some exercises solved, the rest stubs (their points)
sample-mistakes    full, with a catalogued mistake in two exercises (full - those)
sample-invalid     a truncated file, not valid JSON (0, a clear message)
sample-renamed     full, saved under another name (full marks, with a note)
sample-nochecks    partial, with its check cells deleted (same as partial)
sample-fakechecks  mistakes, its check cells replaced by fake success (same as mistakes)
=================  ==============================================================
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import nbformat

from autograder.grading.notebook import nbgrader_meta, release_stubs
from autograder.grading.sample_edits import SAMPLE_EDITS
from autograder.suites import LESSON_SUITES

MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)
FAKE_CHECK = (
    "# the check, made harmless\n"
    "check.__dict__.update({k: (lambda *a, **kw: None) for k in dir(check) if not k.startswith('_')})\n"
    "print('✓ all cases pass')\n"
)


def solved(text: str) -> str:
    """A solution cell as a learner would have written it: without the markers."""
    return MARKER.sub("", text)


def load_pair(course: Path, lesson: str) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """The solution notebook and its release (generated in memory if notebooks/ lacks it)."""
    source_path = course / "solutions" / lesson / f"{lesson}.ipynb"
    source = nbformat.read(str(source_path), as_version=4)
    release_path = course / "notebooks" / lesson / f"{lesson}.ipynb"
    if release_path.exists():
        release = nbformat.read(str(release_path), as_version=4)
    else:
        release = copy.deepcopy(source)
        stubs = release_stubs(source)
        for cell in release.cells:
            md = nbgrader_meta(cell)
            if md.get("solution"):
                cell.source = stubs[md["grade_id"]]
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
    return source, release


def fill(release, source, names) -> nbformat.NotebookNode:
    """The release with the solution cells in ``names`` (all if None) taken from the source."""
    answers = {nbgrader_meta(c).get("grade_id"): c.source for c in source.cells if nbgrader_meta(c).get("solution")}
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution") and (names is None or grade_id in names):
            cell.source = solved(answers[grade_id])
    return nb


def edit(nb, grade_id: str, old: str, new: str) -> None:
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade_id") == grade_id:
            if old not in cell.source:
                raise ValueError(f"sample edit: {old!r} is not in the solution cell {grade_id!r}; update sample_edits.py")
            cell.source = cell.source.replace(old, new, 1)
            return
    raise ValueError(f"sample edit: no cell {grade_id!r}")


def without_checks(nb, replace: str | None) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        md = nbgrader_meta(cell)
        if cell.cell_type == "code" and md.get("grade") and not md.get("solution"):
            if replace is None:
                continue
            cell.source = replace
        cells.append(cell)
    nb.cells = cells
    return nb


def partial_names(lesson: str) -> tuple[str, ...]:
    names = [ex.name for ex in LESSON_SUITES.get(lesson, ())]
    return tuple(SAMPLE_EDITS.get(lesson, {}).get("partial", names[: len(names) // 2]))


def build_lesson(course: Path, lesson: str, target: Path) -> dict[str, Path]:
    """Write every sample of one lesson; returns student -> its submission folder."""
    source, release = load_pair(course, lesson)
    full = fill(release, source, None)
    partial = fill(release, source, partial_names(lesson))
    notebooks = {
        "sample-full": full,
        "sample-untouched": release,
        "sample-partial": partial,
        "sample-nochecks": without_checks(partial, None),
    }
    mistakes = SAMPLE_EDITS.get(lesson, {}).get("mistakes")
    if mistakes:
        wrong = copy.deepcopy(full)
        for grade_id, change in mistakes.items():
            edit(wrong, grade_id, change["old"], change["new"])
        notebooks["sample-mistakes"] = wrong
        notebooks["sample-fakechecks"] = without_checks(wrong, FAKE_CHECK)
    folders = {}
    for student, nb in notebooks.items():
        folders[student] = _write(target, student, lesson, f"{lesson}.ipynb", nbformat.writes(nb))
    text = nbformat.writes(full)
    folders["sample-invalid"] = _write(target, "sample-invalid", lesson, f"{lesson}.ipynb", text[: len(text) // 2])
    folders["sample-renamed"] = _write(target, "sample-renamed", lesson, "my_copy_of_the_lesson.ipynb", text)
    return folders


def _write(target: Path, student: str, lesson: str, name: str, text: str) -> Path:
    folder = target / student / lesson
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.ipynb"):
        old.unlink()
    (folder / name).write_text(text)
    (folder / "timestamp.txt").write_text("2025-01-15 12:00:00.000000 UTC")
    return folder


def lessons(course: Path) -> list[str]:
    return sorted(p.parent.name for p in (course / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name)


def build_samples(course: Path, target: Path, only: str | None = None) -> dict[str, dict[str, Path]]:
    """Every lesson's samples under ``target``; lesson -> student -> folder."""
    return {lesson: build_lesson(course, lesson, target) for lesson in lessons(course) if only in (None, lesson)}


def expected_scores(lesson: str) -> dict[str, float]:
    """What each sample must score on the automatically graded exercises."""
    points = {ex.name: float(ex.points) for ex in LESSON_SUITES.get(lesson, ())}
    total = sum(points.values())
    partial = sum(points[n] for n in partial_names(lesson))
    expected = {
        "sample-full": total,
        "sample-untouched": 0.0,
        "sample-partial": partial,
        "sample-nochecks": partial,
        "sample-invalid": 0.0,
        "sample-renamed": total,
    }
    mistakes = SAMPLE_EDITS.get(lesson, {}).get("mistakes")
    if mistakes:
        expected["sample-mistakes"] = expected["sample-fakechecks"] = total - sum(points[n] for n in mistakes)
    return expected


def write_manifest(target: Path, built: dict) -> None:
    manifest = {lesson: {s: expected_scores(lesson)[s] for s in students} for lesson, students in built.items()}
    (target / "expected_scores.json").write_text(json.dumps(manifest, indent=1))
