"""Issue 20: students must not reach each other, the instructor, or the solutions.

Each test is one attack of the second red-team pass, graded for real; it failed
before the fix that it names.
"""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from conftest import COURSE, FAST, LESSON, full_points, grade_notebook, notebook_with, points

from autograder.grading import cli, record, samples
from autograder.grading.compare import ExerciseResult
from autograder.grading.engine import NotebookResult


def run(tmp_path, submitted, **kw):
    kw.setdefault("assignment", LESSON)
    kw.setdefault("quiet", True)
    options = cli.Options(
        submitted=submitted,
        course=COURSE,
        db_url=f"sqlite:///{tmp_path / 'gradebook.db'}",
        output=tmp_path / "out",
        autograded=tmp_path / "autograded",
        feedback=tmp_path / "feedback",
        jobs=2,
        seed=7,
        limits=FAST,
        **kw,
    )
    return cli.run_grading(options)


@pytest.fixture(scope="module")
def full_sample(tmp_path_factory):
    """The full sample submission of lesson 01 (a folder to copy)."""
    built = tmp_path_factory.mktemp("built")
    return samples.build_samples(COURSE, built, LESSON)[LESSON]["sample-full"]


def _csv_rows(tmp_path):
    with open(tmp_path / "out" / "grades.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------
# 1. Links in submitted/ are refused at every level, with a row
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_linked_folders_in_submitted_are_refused_with_a_row(tmp_path, full_sample):
    """An assignment folder that links to solutions/ and a student folder that links to another
    student's are not graded (they used to score the solutions', and bob's, full marks): each gets a
    row of 0 with the reason, nothing of the link's target is copied, and the run succeeds."""
    submitted = tmp_path / "submitted"
    shutil.copytree(full_sample, submitted / "bob" / LESSON)
    (submitted / "mallory").mkdir()
    (submitted / "mallory" / LESSON).symlink_to(COURSE / "solutions" / LESSON)
    (submitted / "eve").symlink_to(submitted / "bob")
    result = run(tmp_path, submitted)
    assert result.exit_code == 0, result.faults
    scores = {r.student: r.score for r in result.results}
    full = samples.expected_scores(LESSON)["sample-full"]
    assert scores == {"bob": full, "mallory": 0.0, "eve": 0.0}
    errors = {r.student: r.error for r in result.results}
    assert "is a link" in errors["mallory"] and "not graded" in errors["mallory"]
    assert "is a link" in errors["eve"]
    assert {row["student"] for row in _csv_rows(tmp_path)} == {"bob", "mallory", "eve"}
    for student in ("mallory", "eve"):  # nothing of the target was read into the student's records
        assert not (tmp_path / "autograded" / student / LESSON / f"{LESSON}.ipynb").exists()
        feedback = (tmp_path / "feedback" / student / LESSON / f"{LESSON}.html").read_text()
        assert "is a link" in feedback
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert len(report["refused"]) == 2 and all("is a link" in r for r in report["refused"])


def test_a_path_whose_real_location_leaves_submitted_is_refused(tmp_path):
    """Discovery alone: links at the student and the assignment level are refused, a plain folder is
    not, and a link is never followed to list what is behind it."""
    submitted = tmp_path / "submitted"
    (submitted / "ann" / LESSON).mkdir(parents=True)
    (submitted / "bo").mkdir()
    (submitted / "bo" / LESSON).symlink_to(tmp_path)
    (tmp_path / "elsewhere" / LESSON).mkdir(parents=True)
    (submitted / "cy").symlink_to(tmp_path / "elsewhere")
    refused: list = []
    found = cli.find_submissions(submitted, None, None, refused=refused)
    assert [(s, a) for s, a, _ in found] == [("ann", LESSON)]
    assert sorted((r.student, r.assignment) for r in refused) == [("bo", LESSON), ("cy", None)]
    assert all("is a link" in r.reason for r in refused)


# --------------------------------------------------------------------------
# 7. grades.csv is safe to open in a spreadsheet; an id clash fails nobody
# --------------------------------------------------------------------------


def _graded(student, points=3.0):
    exercise = ExerciseResult("f", "1.1", 3.0, points, "pass" if points else "fail", "")
    return NotebookResult(student, "01_rnn_cell", "01_rnn_cell.ipynb", [exercise], [], 7)


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_grades_csv_fields_cannot_become_spreadsheet_formulas(tmp_path, lead):
    """A student folder named like a formula (=HYPERLINK(...), +1, -2, @SUM, a tab or a CR first)
    is written with a quote before it, so a spreadsheet shows text; a second run still replaces
    that student's rows instead of keeping the old ones beside them."""
    name = f"{lead}HYPERLINK(\"http://x\")"
    path = tmp_path / "grades.csv"
    record.write_csv(path, [_graded(name, 0.0), _graded("alice")])
    record.write_csv(path, [_graded(name, 3.0)])
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    assert {row[0] for row in rows} == {"'" + name, "alice"}
    assert [row[4] for row in rows if row[0] == "'" + name and row[3] == "TOTAL"] == ["3"]
    assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for row in rows for cell in row)


# --------------------------------------------------------------------------
# 7. The cache check judges the caches a forward returns, however it calls its step
# --------------------------------------------------------------------------

_OVERWRITING_FORWARD = {
    # The step through a default argument: the name the check used to watch is never looked up.
    "default argument": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h, _step=rnn_step_forward):\n"
        "    N, T, _ = x.shape\n"
        "    h, cache, h_prev = np.empty((N, T, h0.shape[1])), [], h0.copy()\n"
        "    for t in range(T):\n"
        "        h_next, step_cache = _step(x[:, t], h_prev, W_xh, W_hh, b_h)\n"
        "        h_prev[...] = h_next\n"
        "        h[:, t] = h_next\n"
        "        cache.append(step_cache)\n"
        "    return h, cache\n"
    ),
    # The step written out in the loop: no call to watch at all.
    "inline": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    N, T, _ = x.shape\n"
        "    h, cache, h_prev = np.empty((N, T, h0.shape[1])), [], h0.copy()\n"
        "    for t in range(T):\n"
        "        h_next = np.tanh(x[:, t] @ W_xh + h_prev @ W_hh + b_h)\n"
        "        cache.append((x[:, t], h_prev, W_xh, W_hh, h_next))\n"
        "        h_prev[...] = h_next\n"
        "        h[:, t] = h_next\n"
        "    return h, cache\n"
    ),
}


@pytest.mark.parametrize("how", sorted(_OVERWRITING_FORWARD))
def test_a_forward_that_overwrites_its_cached_states_fails_however_it_calls_its_step(lesson, runner, how):
    """h comes out right, but every step's cache holds the one array the loop keeps overwriting, so
    a backward pass would read the last state everywhere. Calling the step through a default
    argument (or not calling it) used to hide that from the check (11 -> 14)."""
    nb = notebook_with(lesson, edits={"rnn_forward": lambda _: _OVERWRITING_FORWARD[how]})
    result = grade_notebook(lesson, runner, nb)
    verdict = {e.name: e for e in result.exercises}["rnn_forward"]
    assert verdict.points == 0 and "changed a cache after" in verdict.message, verdict.message
    assert points(result) == {**full_points(lesson), "rnn_forward": 0.0}
