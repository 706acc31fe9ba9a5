"""Lesson 06 (time-series forecasting): what the generic tests do not prove.

The generic tests prove that every check passes the reference, names each catalogued
mistake and reports a stub as not attempted. This file proves the properties the
exercises teach (no target inside its window, no statistic from the test part, no
forecast that reads the future, no fold that overlaps its training part), that the
checks name a mistake however a learner words or randomizes it, and that the solution
notebook's bodies pass and need nothing the grader hides. (The library additions, the
loaders and Holt-Winters, are tested in tests/rnncourse.)
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.checks.runner import evaluate, load_fixture
from autograder.reference import MISTAKES, REFERENCE
from autograder.reference import lesson06 as ref
from autograder.suites import lesson_exercises
from autograder.suites.core import diagnose, outputs_match
from autograder.suites.lesson06 import FLOAT_FOLDS, NOT_AN_ARRAY, REORDERED, REPEAT_REFUSED

LESSON = "06_time_series"
ROOT = Path(__file__).resolve().parents[2]
EXERCISES = {e.name: e for e in lesson_exercises(LESSON)}


def _evaluate(name, fn):
    exercise = EXERCISES[name]
    return evaluate(exercise, fn, *load_fixture(exercise), {})


# --------------------------------------------------------------------------
# Properties of the reference
# --------------------------------------------------------------------------


def test_resample_means_interpolates_and_holds_the_ends():
    """Grid values are the mean of each cell's readings, straight lines across a gap, and the first
    and last observed values beyond the ends; a repeated stamp is accepted, an unsorted one refused."""
    times = np.array([2.25, 2.5, 2.5, 4.0, 7.75])
    values = np.array([1.0, 2.0, 6.0, 10.0, 4.0])
    grid, observed = ref.resample_to_grid(times, values, 0.0, 1.0, 10)
    np.testing.assert_array_equal(observed, [0, 0, 1, 0, 1, 0, 0, 1, 0, 0])
    np.testing.assert_allclose(grid, [3, 3, 3, 6.5, 10, 8, 6, 4, 4, 4])
    with pytest.raises(ValueError, match="sorted"):
        ref.resample_to_grid(times[::-1].copy(), values, 0.0, 1.0, 10)


def test_windows_never_put_the_target_inside_its_window():
    """On a series of time indices, every target is exactly horizon steps after its window's last
    step, the windows are consecutive, and the last target is the series' last value."""
    T = 17
    for window in (1, 3, 5):
        for horizon in (1, 2, 4):
            inputs, targets = ref.make_windows(np.arange(float(T)), window, horizon)
            assert inputs.shape == (T - window - horizon + 1, window, 1)
            np.testing.assert_array_equal(targets - inputs[:, -1, 0], horizon)
            np.testing.assert_array_equal(np.diff(inputs[:, :, 0], axis=1), 1)
            assert targets[-1] == T - 1


def test_direct_targets_share_the_windows_and_end_with_the_h_step_target():
    """The direct layout's rows belong to make_windows' windows: row i is steps 1..horizon after
    window i, and its last column is make_windows' target for that horizon."""
    rng = np.random.default_rng(0)
    series = rng.normal(size=(20, 3))
    inputs, last = ref.make_windows(series, 4, 5, target_col=2)
    targets = ref.direct_targets(series, 4, 5, target_col=2)
    assert targets.shape == (len(inputs), 5)
    np.testing.assert_array_equal(targets[:, -1], last)
    np.testing.assert_array_equal(targets[:, 0], ref.make_windows(series, 4, 1, target_col=2)[1][: len(inputs)])


def test_scaling_learns_nothing_from_the_test_part():
    """Changing every test value leaves the scaled training part, the mean and the std unchanged,
    and the scaled training part has mean 0 and std 1 per column."""
    rng = np.random.default_rng(1)
    series = rng.normal(size=(30, 2)) * [1.0, 50.0] + np.arange(30)[:, None]
    other = series.copy()
    other[20:] = rng.normal(size=(10, 2)) * 1000.0
    a, b = ref.split_and_scale(series, 20), ref.split_and_scale(other, 20)
    for i in (0, 2, 3):
        np.testing.assert_array_equal(a[i], b[i])
    np.testing.assert_allclose(a[0].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(a[0].std(axis=0), 1.0)


def test_baselines_and_mase_agree_with_their_definitions():
    """Seasonal naive is the last season repeated; drift lies on the line through the first and the
    last value; a forecast whose every error is the in-sample seasonal naive MAE has MASE 1."""
    rng = np.random.default_rng(2)
    history = np.cumsum(rng.normal(size=23))
    naive, seasonal, drift = ref.baseline_forecasts(history, 10, 4)
    np.testing.assert_array_equal(naive, history[-1])
    np.testing.assert_array_equal(seasonal, np.tile(history[-4:], 3)[:10])
    slope = (history[-1] - history[0]) / 22
    np.testing.assert_allclose(drift, history[-1] + slope * np.arange(1, 11))
    scale = np.mean(np.abs(history[4:] - history[:-4]))
    y_true = rng.normal(size=8)
    mae, rmse, mase = ref.forecast_errors(y_true, y_true + scale * np.sign(rng.normal(size=8)), history, 4)
    assert np.isclose(mae, scale) and np.isclose(rmse, scale) and np.isclose(mase, 1.0)


def test_iterated_forecast_never_reads_the_future():
    """With everything after the origin replaced by NaN the forecasts are the same, and for a linear
    model they follow its recursion on its own forecasts."""
    rng = np.random.default_rng(3)
    series, weights = rng.normal(size=15), np.array([0.2, -0.5, 0.9])
    blind = series.copy()
    blind[9:] = np.nan

    def predict_one(recent):
        return float(recent @ weights + 0.1)

    forecasts = ref.iterated_forecast(predict_one, series, 9, 3, 5)
    np.testing.assert_array_equal(forecasts, ref.iterated_forecast(predict_one, blind, 9, 3, 5))
    known = list(series[6:9])
    for value in forecasts:
        assert np.isclose(value, np.dot(known[-3:], weights) + 0.1)
        known.append(value)


@pytest.mark.parametrize("sliding", [False, True])
def test_folds_never_overlap_and_reach_as_far_as_the_step_allows(sliding):
    """For many sizes: no test part overlaps its training part or runs past n, the folds move by
    step, a sliding training part keeps its size, and one more fold would run past n."""
    for n in range(8, 30):
        for initial, horizon, step in ((5, 2, 1), (4, 3, 2), (6, 1, 3), (3, 4, 5)):
            folds = ref.rolling_origin_folds(n, initial, horizon, step, sliding)
            if initial + horizon > n:
                assert folds.shape == (0, 4)
                continue
            assert folds.dtype == np.int64 and (folds[:, 1] <= folds[:, 2]).all() and (folds[:, 3] <= n).all()
            np.testing.assert_array_equal(np.diff(folds[:, 2]), step)
            np.testing.assert_array_equal(folds[:, 3] - folds[:, 2], horizon)
            assert folds[-1, 3] + step > n
            sizes = folds[:, 1] - folds[:, 0]
            np.testing.assert_array_equal(sizes, initial if sliding else folds[:, 1])


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_hidden_cases_of_many_seeds_name_every_mistake_alone(name):
    """The grader draws fresh cases from a seed: for 40 seeds the generator gives valid cases (the
    reference returns on all of them), and every catalogued mistake changes some output and is the
    only mistake that matches itself. (The generic tests prove this for one seed.)"""
    exercise = EXERCISES[name]
    for seed in range(40):
        cases = exercise.make_cases(np.random.default_rng(seed))
        expected = [exercise.outcome(REFERENCE[name], c.inputs) for c in cases]
        assert all(isinstance(e, dict) for e in expected), (seed, expected)
        outcomes = [{k: exercise.outcome(f, c.inputs) for k, f in MISTAKES[name].items()} for c in cases]
        for key in MISTAKES[name]:
            mine = [o[key] for o in outcomes]
            assert not all(isinstance(m, dict) and outputs_match(exercise, e, m) for e, m in zip(expected, mine)), (seed, key)
            assert [m.key for m in diagnose(exercise, mine, outcomes)] == [key], (seed, key)


# --------------------------------------------------------------------------
# The checks name mistakes however the learner writes them
# --------------------------------------------------------------------------


def test_a_strict_order_check_is_named_whatever_its_message():
    """A learner's resample that refuses repeated stamps, with words of its own, gets the fixed message
    and the catalogued mistake, not a traceback."""

    def resample_to_grid(times, values, start, step, n_steps):
        if not np.all(np.diff(times) > 0):
            raise ValueError("Timestamps must increase!")
        return ref.resample_to_grid(times, values, start, step, n_steps)

    result = _evaluate("resample_to_grid", resample_to_grid)
    assert result["status"] == "fail" and [m.key for m in result["mistakes"]] == ["strict_order"]
    assert REPEAT_REFUSED in result["message"]


def test_an_unsorted_check_with_another_error_is_flagged_2():
    """Refusing unsorted times with an error other than ValueError is reported as such (flag 2), and
    named, whatever the learner's own message says."""

    def resample_to_grid(times, values, start, step, n_steps):
        assert np.all(np.diff(times) >= 0), "unsorted"
        return ref.resample_to_grid(times, values, start, step, n_steps)

    result = _evaluate("resample_to_grid", resample_to_grid)
    assert result["status"] == "fail" and "expected 0, got 2" in result["message"]
    assert [m.key for m in result["mistakes"]] == ["unsorted_other_error"]


def test_a_shuffled_split_is_named_whatever_it_shuffles_with():
    """A split shuffled with the learner's own generator (another permutation than the catalogue's)
    is still named; a training part kept but reversed gets its own message."""

    def shuffled(series, n_train):
        order = np.random.default_rng(12345).permutation(len(series))
        return ref.split_and_scale(series[order], n_train)

    def reversed_train(series, n_train):
        train, test, mean, std = ref.split_and_scale(series, n_train)
        return train[::-1], test, mean, std

    result = _evaluate("split_and_scale", shuffled)
    assert [m.key for m in result["mistakes"]] == ["shuffled_before_split"]
    result = _evaluate("split_and_scale", reversed_train)
    assert result["status"] == "fail" and REORDERED in result["message"]


@pytest.mark.parametrize("extra", [0, 1])
def test_windows_that_run_past_the_end_and_crash_get_the_case_hint(extra):
    """Loops over range(T - window) (right for horizon 1 only) or range(T - window + 1) crash on the
    first case whose targets they push past the end; the report says what such an IndexError means."""

    def make_windows(series, window, horizon=1, target_col=0):
        x = series.reshape(len(series), -1)
        starts = range(len(x) - window + extra)
        inputs = np.stack([x[i : i + window] for i in starts])
        targets = np.array([x[i + window - 1 + horizon, target_col] for i in starts])
        return inputs, targets

    result = _evaluate("make_windows", make_windows)
    assert result["status"] == "error" and "IndexError" in result["message"]
    assert "windows run past the end of the series" in result["message"], result["message"]
    assert f"horizon = {1 if extra else 3}" in result["message"]


@pytest.mark.parametrize("name", ["resample_to_grid", "rolling_origin_folds"])
def test_a_result_the_next_call_overwrites_is_caught(name):
    """The second call that looks for a reused buffer gets other values of the same shape: sorted
    stamps with their values reversed, or every fold index one later (integers have no decoy)."""
    reference, buffer = getattr(ref, name), {}

    def reusing(*args):
        out = reference(*args)
        first = out[0] if isinstance(out, tuple) else out
        kept = buffer.setdefault(first.shape, np.empty_like(first))
        kept[...] = first
        return (kept, *out[1:]) if isinstance(out, tuple) else kept

    result = _evaluate(name, reusing)
    assert result["status"] == "fail" and f"{name}'s result changed when {name} was called again" in result["message"]


def test_folds_of_any_integer_dtype_pass_and_float_folds_are_told_why_not():
    """"An integer array" is any integer dtype (int32 passes); folds of floats (np.zeros fills floats)
    get a message that says they are indices, not "keep the dtype of the inputs"."""

    def int32(*args):
        return ref.rolling_origin_folds(*args).astype(np.int32)

    def floats(*args):
        return ref.rolling_origin_folds(*args).astype(np.float64)

    assert _evaluate("rolling_origin_folds", int32)["status"] == "pass"
    result = _evaluate("rolling_origin_folds", floats)
    assert result["status"] == "fail" and FLOAT_FOLDS.format(dtype="float64") in result["message"]


def test_the_one_step_model_takes_any_array_of_window_values_and_says_what_else_is_wrong():
    """predict_one accepts the window as (window,), (1, window) or (1, window, 1); a window of the
    wrong length gets an error saying what it takes, and a window that is not an array (a tuple here;
    a list is the catalogued mistake) is refused, as the notebook's network models refuse it."""
    exercise = EXERCISES["iterated_forecast"]
    window = load_fixture(exercise)[0][0].inputs["window"]

    def reshaped(predict_one, series, origin, window, horizon):
        return ref.iterated_forecast(lambda r: predict_one(np.reshape(r, (1, -1, 1))), series, origin, window, horizon)

    def too_long(predict_one, series, origin, window, horizon):
        return ref.iterated_forecast(predict_one, series, origin, window + 1, horizon)

    def as_tuple(predict_one, series, origin, window, horizon):
        return ref.iterated_forecast(lambda r: predict_one(tuple(r)), series, origin, window, horizon)

    assert _evaluate("iterated_forecast", reshaped)["status"] == "pass"
    result = _evaluate("iterated_forecast", too_long)
    assert result["status"] == "error" and f"predict_one takes the last {window} values" in result["message"]
    result = _evaluate("iterated_forecast", as_tuple)
    assert result["status"] == "fail" and NOT_AN_ARRAY.format(kind="tuple") in result["message"]


# --------------------------------------------------------------------------
# The solution notebook
# --------------------------------------------------------------------------


def _notebook():
    return nbformat.read(ROOT / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)


def test_solution_notebook_bodies_pass_the_checks():
    """The solution cells, run after the setup cell, pass every check of the lesson."""
    namespace: dict = {}
    for cell in _notebook().cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or meta.get("grade_id") == "setup"):
            exec(compile(cell.source, f"<{meta.get('grade_id')}>", "exec"), namespace)
    for name, exercise in EXERCISES.items():
        result = evaluate(exercise, namespace[name], *load_fixture(exercise), {})
        assert result["status"] == "pass", result["message"]


def test_cells_the_grader_runs_need_nothing_it_hides():
    """Every code cell that is not a demo (setup, solutions, checks) avoids rnncourse.nn and the
    reference, which the grader's child does not have; the demos import nn themselves."""
    for cell in _notebook().cells:
        if cell.cell_type != "code" or "demo" in cell.metadata.get("tags", []):
            continue
        assert "rnncourse.nn" not in cell.source and "import nn" not in cell.source, cell.source[:80]
        assert "autograder.reference" not in cell.source
