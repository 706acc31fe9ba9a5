"""The self-check tier, proven against the reference, every catalogued mistake and the stubs."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.checks import check
from autograder.checks.runner import evaluate, load_fixture, run_check
from autograder.reference import MISTAKES, REFERENCE
from autograder.suites import EXERCISES, LESSON_SUITES
from autograder.suites.core import outputs_match

ALL = sorted(EXERCISES)
ALL_MISTAKES = [(name, m.key) for name in ALL for m in EXERCISES[name].mistakes]


def _evaluate(name, fn):
    exercise = EXERCISES[name]
    cases, expected, mistakes = load_fixture(exercise)
    helpers = {k: REFERENCE[k] for k in exercise.needs}
    return evaluate(exercise, fn, cases, expected, mistakes, helpers)


def _stub(*args, **kwargs):
    raise NotImplementedError()


def test_suites_exist_for_lesson01():
    """The registry finds lesson 01 and its six graded functions."""
    assert [e.name for e in LESSON_SUITES["01_rnn_cell"]] == [
        "rnn_step_forward",
        "rnn_forward",
        "softmax",
        "rnn_output_forward",
        "jordan_step_forward",
        "count_rnn_parameters",
    ]


@pytest.mark.parametrize("name", ALL)
def test_catalogue_has_at_least_four_mistakes(name):
    """Every exercise names at least four known mistakes, each with a reproduction in the reference."""
    exercise = EXERCISES[name]
    assert len(exercise.mistakes) >= 4
    assert set(MISTAKES[name]) == {m.key for m in exercise.mistakes}


@pytest.mark.parametrize("name", ALL)
def test_reference_passes_check(name, capsys):
    """The reference passes its own check, and the check prints a ✓ line per property."""
    helpers = [REFERENCE[k] for k in EXERCISES[name].needs]
    run_check(name, REFERENCE[name], *helpers)
    out = capsys.readouterr().out
    assert "✗" not in out and "all" in out and "cases pass" in out


@pytest.mark.parametrize("name", ALL)
def test_stub_is_not_attempted(name):
    """An untouched stub (raises NotImplementedError) is reported as not attempted, and fails."""
    result = _evaluate(name, _stub)
    assert result["status"] == "not_attempted"
    assert "not attempted yet" in result["message"]
    with pytest.raises(AssertionError, match="not attempted yet"):
        getattr(check, name)(_stub, *[REFERENCE[k] for k in EXERCISES[name].needs])


@pytest.mark.parametrize(("name", "key"), ALL_MISTAKES)
def test_mistake_fails_with_its_own_message(name, key):
    """Each catalogued mistake fails its check, and the message names that mistake and no other."""
    exercise = EXERCISES[name]
    mistake = exercise.mistake(key)
    result = _evaluate(name, MISTAKES[name][key])
    assert result["status"] == "fail"
    assert [m.key for m in result["mistakes"]] == [key]
    assert mistake.what in result["message"] and mistake.hint in result["message"]


@pytest.mark.parametrize("name", ALL)
def test_cases_end_with_a_combined_random_case(name):
    """Isolated cases come first; the last case switches everything on at once."""
    cases, _, _ = load_fixture(EXERCISES[name])
    assert len(cases) >= 2
    assert "random" in cases[-1].name


@pytest.mark.parametrize(("name", "key"), ALL_MISTAKES)
def test_mistake_differs_from_reference_on_some_case(name, key):
    """No catalogued mistake is invisible: it changes the output of at least one public case."""
    exercise = EXERCISES[name]
    _, expected, mistakes = load_fixture(exercise)
    assert any(not outputs_match(exercise, e, m[key]) for e, m in zip(expected, mistakes))


def test_wrong_shape_is_named():
    """A wrong shape reports the tensor, the expected and the actual shape."""
    result = _evaluate("rnn_step_forward", lambda x, h_prev, W_xh, W_hh, b_h: (np.zeros((1, 1)), None))
    assert result["status"] == "fail"
    assert "h_next: expected shape (3, 5), got (1, 1)" in result["message"]


def test_nan_is_reported():
    """NaN or inf in an output is reported as such, with the first bad index."""

    def nan_step(x, h_prev, W_xh, W_hh, b_h):
        h = np.tanh(x @ W_xh + h_prev @ W_hh + b_h)
        h[0, 0] = np.nan
        return h, None

    result = _evaluate("rnn_step_forward", nan_step)
    assert "NaN or inf" in result["message"] and "(0, 0)" in result["message"]


def test_wrong_dtype_is_reported():
    """Casting to float32 is caught by the dtype property."""
    ref = REFERENCE["softmax"]
    result = _evaluate("softmax", lambda scores: ref(scores).astype(np.float32))
    assert "expected dtype float64, got float32" in result["message"]


def test_values_report_largest_error_and_tolerance():
    """A values failure names the largest error and the tolerance."""
    ref = REFERENCE["softmax"]
    result = _evaluate("softmax", lambda scores: ref(scores) + 1e-3)
    assert "largest error 0.001" in result["message"] and "tolerance atol=" in result["message"]


def test_mutated_input_is_reported():
    """A function that changes its input in place fails, even when its output is right."""

    def mutating(scores):
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        return scores.copy()

    result = _evaluate("softmax", mutating)
    assert result["status"] == "fail" and "modified in place" in result["message"]


def test_crash_is_reported_with_traceback():
    """An exception inside the learner's code is reported with its type and last lines."""

    def crashing(scores):
        return scores @ np.ones((99, 99))

    result = _evaluate("softmax", crashing)
    assert result["status"] == "error"
    assert "raised ValueError" in result["message"] and "crashing" in result["message"]
    assert "autograder/suites" not in result["message"]  # the checker's frames are not the learner's


def test_call_with_other_arguments_shows_the_error_without_checker_frames():
    """A function whose signature does not fit the call gets the TypeError line alone."""
    result = _evaluate("softmax", lambda scores, axis: scores)
    assert result["status"] == "error"
    assert "TypeError" in result["message"] and "axis" in result["message"]
    assert "autograder/suites" not in result["message"] and 'File "' not in result["message"]


@pytest.mark.parametrize("name", [n for n in ALL if EXERCISES[n].needs])
def test_functions_passed_in_the_wrong_order_are_named(name):
    """check.lstm_backward(lstm_forward, lstm_backward) says the order is wrong and how to call it."""
    exercise = EXERCISES[name]

    def named(key):
        def fn(*args, **kwargs):
            return REFERENCE[key](*args, **kwargs)

        fn.__name__ = key
        return fn

    order = [exercise.needs[0], name, *exercise.needs[1:]]
    with pytest.raises(AssertionError, match="wrong order") as info:
        run_check(name, *(named(k) for k in order), quiet=True)
    assert f"check.{name}({', '.join((name,) + exercise.needs)})" in str(info.value)
    run_check(name, *(named(k) for k in (name, *exercise.needs)), quiet=True)  # right order passes


def test_wrong_return_arity_is_reported():
    """Returning h_next alone instead of (h_next, cache) is named."""
    result = _evaluate("rnn_step_forward", lambda x, h_prev, W_xh, W_hh, b_h: np.tanh(x @ W_xh))
    assert "should return a tuple (h_next, cache)" in result["message"]


def test_check_rejects_non_callable():
    """Passing the result instead of the function gets a usage message."""
    with pytest.raises(AssertionError, match=r"check\.softmax\(softmax\)"):
        check.softmax(np.zeros(3))


def test_check_functions_have_docstrings():
    """Each generated check says what it checks."""
    for name in EXERCISES:
        doc = getattr(check, name).__doc__
        assert name in doc and "point" in doc


@pytest.mark.parametrize("name", [n for n in ALL if EXERCISES[n].needs])
def test_needed_function_still_a_stub_is_not_attempted_and_named(name):
    """A check that needs another of the learner's functions (a backward needs its forward) says
    "not attempted" and names that function when it is still a stub."""
    exercise = EXERCISES[name]
    cases, expected, mistakes = load_fixture(exercise)
    helpers = {k: _stub for k in exercise.needs}
    result = evaluate(exercise, REFERENCE[name], cases, expected, mistakes, helpers)
    assert result["status"] == "not_attempted"
    assert exercise.needs[0] in result["message"]
