"""The class report: its numbers on a class with a planted distribution of mistakes, the page
itself (self-contained, names only where they belong), and its rebuild without grading."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys

import pytest

from autograder.grading import class_report
from autograder.grading.compare import ExerciseResult, note_failing_dependencies
from autograder.grading.engine import NotebookResult
from autograder.grading.notebook import REFERS_TO_AUTOGRADER
from autograder.suites import EXERCISES, lesson_exercises

LESSON = "01_rnn_cell"
ROOT = class_report.Path(__file__).resolve().parents[2]


def _exercise(name, status="pass", mistake=None, failed=None):
    ex = EXERCISES[name]
    points = float(ex.points) if status == "pass" else 0.0
    return ExerciseResult(name, ex.number, float(ex.points), points, status, f"{name} {status}", [f"{name}"],
                          mistake, failed=failed)


# rnn_step_forward's outcome per student, planted: what the report must count back.
PLANTED = (
    [("pass", None, None)] * 20
    + [("fail", "no_bias", "values")] * 12
    + [("fail", "sigmoid", "values")] * 8
    + [("fail", None, "values")] * 4
    + [("fail", None, "shape")] * 1
    + [("timeout", None, None)] * 3
    + [("not_attempted", None, None)] * 2
)


def planted_class(n=50, seed_offset=0):
    """50 students of lesson 01. rnn_step_forward as PLANTED; rnn_forward fails wherever the step
    fails (its verdict then blames the step); softmax passes for even students only; the others
    as given; student 7 names the autograder, student 9 added cells outside the solutions."""
    results = []
    names = [e.name for e in lesson_exercises(LESSON)]
    for i in range(n):
        step_status, mistake, failed = PLANTED[i % len(PLANTED)]
        exercises = []
        for name in names:
            if name == "rnn_step_forward":
                exercises.append(_exercise(name, step_status, mistake, failed))
            elif name == "rnn_forward":
                ok = step_status == "pass"
                exercises.append(_exercise(name, "pass" if ok else "fail", None if ok else "h0_ignored", None if ok else "values"))
            elif name == "softmax":
                exercises.append(_exercise(name, "pass" if i % 2 == 0 else "fail", None if i % 2 == 0 else "unstable", "finite"))
            else:
                exercises.append(_exercise(name))
        note_failing_dependencies(exercises)
        notes = []
        if i == 7:
            notes.append(f"your solution cell 'softmax' {REFERS_TO_AUTOGRADER}; it was graded as usual")
        if i == 9:
            notes.append("2 code cell(s) you added or changed outside the solution cells were not run during grading")
        results.append(NotebookResult(f"student{i:02d}", LESSON, f"{LESSON}.ipynb", exercises, notes,
                                      seed=1234 + seed_offset, seconds=0.5 + i / 100))
    return results


@pytest.fixture
def planted(tmp_path):
    for r in planted_class():
        class_report.write_record(tmp_path, [r])
    (records,) = class_report.load_records(tmp_path).values()
    return tmp_path, records


def test_the_report_counts_back_a_planted_distribution_of_mistakes(planted):
    """Pass rates, mistakes ranked by count with their texts, the other failures by kind, and the
    failures that came from an exercise relied on: exactly what was planted."""
    _, records = planted
    summary = class_report.summarize(LESSON, records)
    assert summary["students"] == {"submitted": 50, "could_not_be_read": 0, "did_not_attempt": 0, "crashed_or_timed_out": 3}
    by = {e["name"]: e for e in summary["exercises"]}
    step = by["rnn_step_forward"]
    assert (step["passed"], step["failed"], step["not_attempted"]) == (20, 28, 2)
    assert step["pass_rate"] == pytest.approx(20 / 50) and step["pass_rate_of_attempts"] == pytest.approx(20 / 48)
    assert [(m["key"], m["count"]) for m in step["mistakes"]] == [("no_bias", 12), ("sigmoid", 8)]
    assert step["mistakes"][0]["what"] == EXERCISES["rnn_step_forward"].mistake("no_bias").what
    assert step["mistakes"][0]["hint"] == EXERCISES["rnn_step_forward"].mistake("no_bias").hint
    assert step["other_failures"] == [
        {"kind": "wrong values", "count": 4},
        {"kind": "too slow (timeout)", "count": 3},
        {"kind": "wrong shape", "count": 1},
    ]
    forward = by["rnn_forward"]
    assert forward["failed"] == 30 and forward["from_dependency"] == {"count": 30, "on": {"rnn_step_forward": 30}}
    assert forward["mistakes"] == [] and forward["other_failures"] == []  # blamed on the step, not its own
    assert by["softmax"]["passed"] == 25 and by["softmax"]["mistakes"] == [
        {"key": "unstable", "what": EXERCISES["softmax"].mistake("unstable").what,
         "hint": EXERCISES["softmax"].mistake("unstable").hint, "count": 25}
    ]
    # hardest first: rnn_step_forward (20 of 50) and rnn_forward (20) before softmax (25), then the rest
    assert [e["name"] for e in summary["exercises"]][:3] == ["rnn_step_forward", "rnn_forward", "softmax"]
    points = {e.name: e.points for e in lesson_exercises(LESSON)}
    scores = [sum(e.points for e in r.exercises) for r in planted_class()]
    assert summary["score"]["max"] == sum(points.values())
    assert summary["score"]["mean"] == pytest.approx(sum(scores) / 50)
    assert sum(summary["score"]["distribution"]["counts"]) == 50
    assert [r["student"] for r in summary["read_by_hand"]] == ["student07", "student09"]
    assert summary["read_by_hand"][1]["reasons"] == ["code added or changed outside the solution cells"]
    assert summary["run"]["seeds"] == [1234] and summary["run"]["seconds_per_notebook"]["max"] == pytest.approx(0.99)


def _png_data_uris(page):
    return re.findall(r"src='data:image/png;base64,([^']+)'", page)


def test_the_page_is_self_contained_and_names_students_only_where_it_must(planted):
    """No address outside the page; the plots are PNG images inside it; a student's name appears
    only in the list of notebooks to read by hand."""
    import matplotlib.image

    output, records = planted
    page = class_report.render_html(class_report.summarize(LESSON, records, feedback=output / "feedback", relative_to=output))
    assert "http://" not in page and "https://" not in page and "<script" not in page
    images = _png_data_uris(page)
    assert len(images) == 2
    for data in images:
        picture = matplotlib.image.imread(io.BytesIO(base64.b64decode(data)), format="png")
        assert picture.shape[0] > 100 and picture.shape[1] > 300
    before, _, after = page.partition("<h2>Notebooks to read by hand</h2>")
    assert not re.search(r"student\d\d", before)
    assert "student07" in after and "student09" in after and "student08" not in after
    assert "href='feedback/student07/01_rnn_cell/01_rnn_cell.html'" in after


def test_the_report_is_rebuilt_from_the_records_without_grading(planted):
    """`python -m autograder report` writes the page and its JSON from results/ alone."""
    output, records = planted
    done = subprocess.run([sys.executable, "-m", "autograder", "report", "--output", str(output)],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    page = output / f"class_report_{LESSON}.html"
    assert done.stdout.strip() == str(page) and page.exists()
    numbers = json.loads((output / f"class_report_{LESSON}.json").read_text())
    expected = class_report.summarize(LESSON, records, [], ROOT / "feedback", relative_to=output)
    assert numbers["exercises"] == json.loads(json.dumps(expected["exercises"]))
    assert numbers["students"] == expected["students"]
    empty = subprocess.run([sys.executable, "-m", "autograder", "report", "--output", str(output / "nothing")],
                           capture_output=True, text=True, cwd=ROOT)
    assert empty.returncode == 1 and "grade first" in empty.stderr


def test_a_damaged_record_is_left_out_with_a_warning(planted, capsys):
    output, _ = planted
    (output / "results" / "student03" / LESSON / class_report.RECORD).write_text("{not json")
    (records,) = class_report.load_records(output).values()
    assert len(records) == 49 and "student03" not in {r["student"] for r in records}
    assert "is not a grade record" in capsys.readouterr().err


def test_a_later_run_adds_to_the_class_it_does_not_replace_it(tmp_path):
    """Grading a few late submissions again keeps the rest of the class in the report."""
    first = planted_class()
    for r in first:
        class_report.write_record(tmp_path, [r])
    late = planted_class(seed_offset=1)[:3]
    for r in late:
        class_report.write_record(tmp_path, [r])
    (records,) = class_report.load_records(tmp_path).values()
    summary = class_report.summarize(LESSON, records)
    assert summary["students"]["submitted"] == 50 and summary["run"]["seeds"] == [1234, 1235]
