"""Where a grading run writes, and that it never throws away what an earlier run wrote."""

from __future__ import annotations

import csv

from conftest import COURSE

from autograder.grading import cli, record
from autograder.grading.compare import ExerciseResult
from autograder.grading.engine import NotebookResult


def _graded(student, assignment, points, seed):
    exercise = ExerciseResult("f", "1.1", 3.0, points, "pass" if points else "fail", "")
    return NotebookResult(student, assignment, f"{assignment}.ipynb", [exercise], [], seed)


def _totals(path):
    with path.open(newline="", encoding="utf-8") as f:
        return {(r["student"], r["assignment"]): (r["points"], r["seed"]) for r in csv.DictReader(f) if r["exercise"] == "TOTAL"}


def test_grades_csv_keeps_other_assignments_and_students_and_replaces_a_regraded_one(tmp_path):
    """Grading lesson 05 after lesson 04 used to leave only lesson 05's rows."""
    path = tmp_path / "grades.csv"
    record.write_csv(path, [_graded("alice", "04_gru", 3.0, 1), _graded("bob", "04_gru", 0.0, 1)])
    record.write_csv(path, [_graded("alice", "05_deep_bidirectional", 3.0, 2), _graded("bob", "04_gru", 3.0, 2)])
    assert _totals(path) == {
        ("alice", "04_gru"): ("3", "1"),
        ("bob", "04_gru"): ("3", "2"),  # graded again: the new row only
        ("alice", "05_deep_bidirectional"): ("3", "2"),
    }
    assert not list(tmp_path.glob("*.tmp"))


def test_a_grades_csv_that_is_not_ours_is_kept_beside_the_new_one(tmp_path, capsys):
    path = tmp_path / "grades.csv"
    path.write_text("name,score\nalice,10\n", encoding="utf-8")
    record.write_csv(path, [_graded("bob", "04_gru", 3.0, 1)])
    assert _totals(path) == {("bob", "04_gru"): ("3", "1")}
    (aside,) = [p for p in tmp_path.glob("grades-*.csv")]
    assert aside.read_text(encoding="utf-8") == "name,score\nalice,10\n"
    assert f"it is kept as {aside}" in capsys.readouterr().err


def test_a_grades_csv_saved_by_a_spreadsheet_keeps_its_rows(tmp_path):
    """Excel's "CSV UTF-8" starts with a byte-order mark; the rows are still ours."""
    path = tmp_path / "grades.csv"
    record.write_csv(path, [_graded("alice", "04_gru", 3.0, 1)])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    record.write_csv(path, [_graded("bob", "04_gru", 0.0, 2)])
    assert _totals(path) == {("alice", "04_gru"): ("3", "1"), ("bob", "04_gru"): ("0", "2")}


def test_runs_that_write_grades_at_once_lose_no_rows(tmp_path):
    import threading

    path = tmp_path / "grades.csv"
    threads = [
        threading.Thread(target=record.write_csv, args=(path, [_graded(f"s{k}", "04_gru", 3.0, k)])) for k in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(_totals(path)) == {(f"s{k}", "04_gru") for k in range(8)}
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".grades*"))


def test_the_samples_write_only_under_their_own_folder():
    """`make grade` without submissions (the README's "Try it") keeps its gradebook, grades.csv,
    feedback and autograded notebooks under grading_output/samples/, away from a class's."""
    samples = cli.Options(course=COURSE).resolve()
    home = COURSE.resolve() / "grading_output" / "samples"
    assert (samples.output, samples.autograded, samples.feedback) == (home, home / "autograded", home / "feedback")
    assert samples.db_url == f"sqlite:///{home / 'gradebook.db'}"
    elsewhere = cli.Options(course=COURSE, output=COURSE).resolve()  # never the class's folders
    assert elsewhere.output == COURSE.resolve() / "samples" and elsewhere.feedback == elsewhere.output / "feedback"
    graded = cli.Options(submitted=COURSE / "submitted", course=COURSE).resolve()
    course = COURSE.resolve()
    assert (graded.output, graded.autograded, graded.feedback) == (course / "grading_output", course / "autograded", course / "feedback")
    assert graded.db_url == f"sqlite:///{course / 'gradebook.db'}"
