"""Small things a student reads: a broken notebook's reason said once, "1 point", case names that
keep the hidden inputs hidden."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import LESSON

from autograder.grading import engine, record
from autograder.grading.compare import _result
from autograder.suites import EXERCISES


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_hidden_case_names_do_not_depend_on_the_random_draw(name):
    """A case's name is shown to the student; if it changed with the seed it would show a hidden
    input (a count exercise's "random sizes" case used to print its sizes)."""
    exercise = EXERCISES[name]
    names = [[case.name for case in exercise.make_cases(np.random.default_rng(seed))] for seed in (1, 2)]
    assert names[0] == names[1]


def test_a_one_point_exercise_says_point(lesson):
    """"(1 points)" was the grader's wording for a 1-point exercise."""
    _, _, assignment = lesson
    one = next(h for h in assignment.hidden.values() if h.exercise.points == 1)
    more = next(h for h in assignment.hidden.values() if h.exercise.points > 1)
    assert f"{one.exercise.name} (1 point)" in _result(one, "fail", "x").lines[0]
    assert f"({more.exercise.points} points)" in _result(more, "fail", "x").lines[0]
    from autograder.checks import check

    assert "(1 point):" in getattr(check, one.exercise.name).__doc__


def test_an_unreadable_notebook_is_explained_once(tmp_path, lesson, runner):
    """Invalid JSON: the feedback page and results.json give the reason once, not once per exercise."""
    _, _, assignment = lesson
    folder = tmp_path / "bob" / LESSON
    folder.mkdir(parents=True)
    (folder / f"{LESSON}.ipynb").write_text('{"cells": [')
    (result,) = engine.grade_submission(folder, "bob", assignment, runner, 0)
    assert "not valid JSON" in result.error
    html = record.feedback_html([result], result)
    assert html.count("not valid JSON") == 1
    assert all(e.status == "not_attempted" and "see above" in e.message for e in result.exercises)
    gradescope = json.dumps(record.gradescope_results([result]))
    assert gradescope.count("not valid JSON") == 1
