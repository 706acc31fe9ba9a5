"""What an instructor finds after a run: manual grades kept on a regrade, the "read by hand" flag
where they look, and the files nbgrader's feedback commands need."""

from __future__ import annotations

import csv
import json

import nbformat
import pytest
from conftest import COURSE, FAST, LESSON, notebook_with

from autograder.grading import cli, record
from autograder.grading.record import needs_manual_grade

FLAGGING = "\nimport autograder  # names the checking code: for a human to read\n"
SECRET = "ab12" * 32  # what nbgrader submit writes: 128 hex characters


@pytest.mark.parametrize(
    "auto, manual, auto_before, changed, waits",
    [
        (None, None, None, False, True),  # a written answer nobody graded yet
        (None, 2.0, None, False, False),  # graded by hand, regraded: stays graded
        (None, 2.0, None, True, True),  # ... unless the answer changed since
        (0.0, None, None, False, False),  # a blank answer: 0, nothing to grade
        (3.0, None, 0.0, False, False),  # an automatic score
        (3.0, 1.0, 3.0, False, False),  # overridden by hand, same automatic score: kept
        (0.0, 1.0, 3.0, False, True),  # overridden by hand, automatic score changed: look again
    ],
)
def test_needs_manual_grade_after_a_regrade(auto, manual, auto_before, changed, waits):
    assert needs_manual_grade(auto, manual, auto_before, changed) is waits


def _run(tmp_path, **kw):
    options = cli.Options(
        submitted=tmp_path / "submitted", assignment=LESSON, course=COURSE, db_url=f"sqlite:///{tmp_path / 'gradebook.db'}",
        output=tmp_path / "out", autograded=tmp_path / "autograded", feedback=tmp_path / "feedback",
        jobs=2, seed=5, limits=FAST, quiet=True, **kw,
    )
    return cli.run_grading(options)


def _submit(tmp_path, student, nb, secret=None):
    folder = tmp_path / "submitted" / student / LESSON
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / f"{LESSON}.ipynb"))
    (folder / "timestamp.txt").write_text("2025-03-01 10:00:00.000000 UTC")
    if secret is not None:
        (folder / "submission_secret.txt").write_text(secret)
    return folder


def _set_manual(tmp_path, student, grade_id, score):
    """What formgrader does when a score is typed in (apihandlers.GradeHandler)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        grade = gb.find_grade(grade_id, LESSON, LESSON, student)
        grade.manual_score = score
        grade.needs_manual_grade = False
        gb.db.commit()


def _grades(tmp_path, student):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(LESSON, LESSON, student)
        return {g.name: (g.score, g.needs_manual_grade) for g in nb.grades}, nb.flagged


@pytest.mark.slow
def test_a_regrade_keeps_manual_grading_done_and_flags_where_the_instructor_looks(tmp_path, lesson):
    """A written answer scored by hand stays scored and graded over a regrade (it went back to
    "needs manual grading"), and goes back only when its text changed; a submission that names
    the autograder is flagged in grades.csv, report.json and nbgrader's own flag; the secret and
    timestamp nbgrader's release_feedback reads are beside the feedback and the graded copy."""
    source, _, _ = lesson
    written = _written_answers(source)
    alice = notebook_with(lesson)
    _submit(tmp_path, "alice", alice, SECRET)
    _submit(tmp_path, "mallory", notebook_with(lesson, edits={"softmax": lambda t: t + FLAGGING}))
    _run(tmp_path)
    grades, _ = _grades(tmp_path, "alice")
    assert all(grades[g][1] for g in written)  # answered: waiting for a human
    for g in written:
        _set_manual(tmp_path, "alice", g, 1.0)

    _run(tmp_path)  # a regrade, say after fixing a hidden case
    grades, flagged = _grades(tmp_path, "alice")
    assert {g: grades[g] for g in written} == {g: (1.0, False) for g in written}
    assert not flagged

    first = written[0]
    for cell in alice.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == first:
            cell.source += "\n\nOn second thought, something else."
    _submit(tmp_path, "alice", alice, SECRET)
    _run(tmp_path)
    grades, _ = _grades(tmp_path, "alice")
    assert grades[first] == (1.0, True) and all(grades[g] == (1.0, False) for g in written[1:])

    _, flagged = _grades(tmp_path, "mallory")
    assert flagged
    with open(tmp_path / "out" / "grades.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["student"] for r in rows if r["read_by_hand"] == "yes"} == {"mallory"}
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {r["student"]: r["read_by_hand"] for r in report["results"]} == {"alice": False, "mallory": True}

    for folder in (tmp_path / "autograded" / "alice" / LESSON, tmp_path / "feedback" / "alice" / LESSON):
        assert (folder / "submission_secret.txt").read_text() == SECRET
        assert (folder / "timestamp.txt").read_text() == "2025-03-01 10:00:00.000000 UTC"
    assert not (tmp_path / "feedback" / "mallory" / LESSON / "submission_secret.txt").exists()


def _written_answers(source):
    return [
        c.metadata["nbgrader"]["grade_id"]
        for c in source.cells
        if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")
    ]


def test_a_secret_that_is_not_nbgraders_is_not_copied(tmp_path):
    """The folder is the student's: only the hex text `nbgrader submit` writes is carried, never a link."""
    (tmp_path / "submission_secret.txt").write_text("../../etc/passwd")
    assert record.read_submission_secret(tmp_path) is None
    (tmp_path / "submission_secret.txt").unlink()
    (tmp_path / "real.txt").write_text(SECRET)
    (tmp_path / "submission_secret.txt").symlink_to(tmp_path / "real.txt")
    assert record.read_submission_secret(tmp_path) is None
    (tmp_path / "submission_secret.txt").unlink()
    (tmp_path / "submission_secret.txt").write_text(SECRET)
    assert record.read_submission_secret(tmp_path) == SECRET


def test_a_grades_csv_from_before_the_flag_column_keeps_its_rows(tmp_path):
    """grades.csv written before read_by_hand existed is still ours: its rows are kept."""
    path = tmp_path / "grades.csv"
    path.write_text(",".join(record.OLD_CSV_HEADER) + "\nbob,04_gru,04_gru.ipynb,TOTAL,3,3,,1\n", encoding="utf-8")
    record.write_csv(path, [])
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows == [dict(zip(record.CSV_HEADER, ["bob", "04_gru", "04_gru.ipynb", "TOTAL", "3", "3", "", "1", ""]))]
    assert not list(tmp_path.glob("grades-*.csv"))
