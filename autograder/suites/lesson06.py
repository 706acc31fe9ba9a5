"""Lesson 06 · time-series forecasting: what is graded and how.

Every exercise is plain array bookkeeping, where one index off or one statistic
taken from the wrong span gives numbers that look right and evaluate a model on
the future it was not supposed to see. The cases therefore use series whose
values are their own time indices (0, 1, 2, ...; in a table, 100 × column +
time) wherever the alignment is what is checked, so that a wrong value in a
message says which step it came from.

Three properties that are not return values are graded as extra outputs
computed inside :attr:`Exercise.call`, as lesson 02 does:

* :data:`UNSORTED`: ``resample_to_grid`` is called once more on the case's
  readings with two neighbouring stamps swapped; it must refuse them with a
  ``ValueError`` (0), not return a result (1) or raise another error (2);
* a ``ValueError`` on sorted stamps that repeat one (two readings at one time)
  is reported as a :class:`~autograder.suites.core.CallProblem` with a fixed
  message, so the catalogued mistake is named whatever the learner's own
  error message says;
* ``split_and_scale``'s training part, scaled back with the returned mean and
  std, must be the first ``n_train`` values in order; when it holds values of
  the test span, the split was shuffled, which is reported the same way.

``iterated_forecast`` takes a one-step model as a callable: the call builds it
from numeric case inputs, a linear autoregression ``window @ weights + bias``. It
takes the window as any numpy array of ``window`` values, but not as a list
(:data:`NOT_AN_ARRAY`): the notebook's network models reshape it.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from autograder.suites.core import (
    CallProblem,
    Case,
    Exercise,
    Mistake,
    call_fresh,
    check_kept,
    described,
)

LESSON = "06_time_series"

UNSORTED = (
    "unsorted times refused with a ValueError (0 = yes; 1 = no, a result was returned; 2 = no, another error "
    "was raised)"
)
REPEAT_REFUSED = (
    "resample_to_grid raised ValueError on times that are sorted but repeat a stamp (two readings taken at "
    "the same time, as happens when two sensors report at once): only a stamp smaller than the one before it "
    "is out of order"
)
SHUFFLED = (
    "split_and_scale: the training part holds values of the test span: the series was shuffled (or "
    "permuted) before it was split, so the model would train on the future it is tested on"
)
REORDERED = (
    "split_and_scale: the training part holds the first n_train values, but in another order: keep them in "
    "time order (windows cut from a shuffled series mix months from different years)"
)
FLOAT_FOLDS = (
    "rolling_origin_folds: the folds hold floats ({dtype}), where they are indices to slice with: make the "
    "array with dtype=int (np.zeros and np.array of floats give floats)"
)
NOT_AN_ARRAY = (
    "iterated_forecast passed predict_one a {kind}, where it takes a numpy array of the last window values, "
    "oldest first (the network models of section 6 call recent.reshape, which a {kind} does not have)"
)


def _normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape)).astype(np.float64)


def _as_float(value: Any) -> Any:
    """A number as a 0-d float64 array, so that it is compared like an array."""
    if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return np.asarray(value, dtype=np.float64)
    return value


def _as_tuple(name: str, result: Any, names: str, count: int) -> tuple:
    if not isinstance(result, (tuple, list)) or len(result) != count:
        raise CallProblem("returns", f"{name} should return a tuple {names}, got {described(result, returned=True)}")
    return tuple(result)


def _quiet_call(fn: Callable, *args: Any) -> Any:
    """``fn(*args)`` with its prints and NumPy warnings swallowed (a check's extra call)."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args)


def _time_table(T: int, D: int) -> np.ndarray:
    """A (T, D) series whose entry [t, c] is 100 * c + t: every value says its column and its time."""
    return (100.0 * np.arange(D)[None, :] + np.arange(T)[:, None]).astype(np.float64)


# --------------------------------------------------------------------------
# 6.1 resample_to_grid
# --------------------------------------------------------------------------


def _readings(rng, start, step, points, eighths, values=None):
    """Readings at grid point ``points[i]`` plus ``eighths[i] / 8`` of a step (exact in binary)."""
    times = start + (np.asarray(points, dtype=np.float64) + np.asarray(eighths) / 8.0) * step
    if values is None:
        values = np.round(_normal(rng, len(times), scale=2.0) + 5.0, 3)
    return times, np.asarray(values, dtype=np.float64)


def _resample_case(rng, start, step, n_steps, points, eighths):
    times, values = _readings(rng, start, step, points, eighths)
    return {"times": times, "values": values, "start": float(start), "step": float(step), "n_steps": n_steps}


def _random_resample(rng) -> dict:
    n_steps = int(rng.integers(9, 15))
    step = float(rng.choice([0.25, 0.5, 1.0, 2.0]))
    start = float(rng.integers(-5, 20))
    kept = np.sort(rng.choice(np.arange(n_steps - 1), size=int(rng.integers(4, n_steps - 3)), replace=False))
    points = list(kept) + list(rng.choice(kept[:-1], size=2, replace=False))  # two grid points with 2 readings
    eighths = list(rng.choice([0, 1, 2, 3, 5, 6, 7], size=len(points)))  # never half a step: no rounding ties
    points.append(points[1])  # a repeated stamp: the same time as an earlier reading
    eighths.append(eighths[1])
    order = np.lexsort((eighths, points))
    return _resample_case(rng, start, step, n_steps, np.asarray(points)[order], np.asarray(eighths)[order])


def _resample_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case(
            "one reading on every grid point (start 0, step 1): grid_values are the values",
            _resample_case(rng, 0.0, 1.0, 6, range(6), [0] * 6),
        ),
        Case(
            "readings between grid points (start 2, step 0.5): each belongs to the grid point at or before it",
            _resample_case(rng, 2.0, 0.5, 7, range(7), [0, 3, 5, 7, 1, 6, 2]),
        ),
        Case(
            "gaps: no reading at grid points 2, 3, 6 and 7 of 9",
            _resample_case(rng, 0.0, 1.0, 9, [0, 1, 4, 5, 8], [0] * 5),
        ),
        Case(
            "empty grid points before the first reading and after the last (start 10, step 2)",
            _resample_case(rng, 10.0, 2.0, 9, [2, 3, 4, 5], [1, 2, 0, 5]),
        ),
        Case(
            "two readings at different times within grid point 2 (start 0, step 1)",
            _resample_case(rng, 0.0, 1.0, 6, [0, 1, 2, 2, 3, 4, 5], [0, 0, 1, 6, 0, 0, 0]),
        ),
        Case(
            "a repeated stamp: two readings at the same time 3.25 (start 0, step 1)",
            _resample_case(rng, 0.0, 1.0, 7, [0, 1, 2, 3, 3, 4, 5, 6], [0, 0, 0, 2, 2, 0, 0, 0]),
        ),
        Case("everything random: gaps, grid points with several readings, a repeated stamp", _random_resample(rng)),
    ]


def _unsorted(times: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The readings with the middle pair of neighbouring, different stamps swapped."""
    distinct = np.flatnonzero(np.diff(times) > 0)
    i = int(distinct[len(distinct) // 2])
    order = np.arange(len(times))
    order[[i, i + 1]] = order[[i + 1, i]]
    return times[order], values[order]


def _call_resample(fn: Callable, inputs: dict, helpers: dict) -> tuple:
    times, values = inputs["times"], inputs["values"]
    grid = (inputs["start"], inputs["step"], inputs["n_steps"])
    try:
        result = fn(times, values, *grid)
        # Called again on the same stamps with the values reversed (sorted, so it returns): this
        # result must not change (no buffer reused from call to call).
        check_kept(fn, "resample_to_grid", result, times[::-1].copy(), values.copy(), *grid)
    except ValueError:
        if np.any(np.diff(times) == 0):
            raise CallProblem("values", REPEAT_REFUSED) from None
        raise
    grid_values, observed = _as_tuple("resample_to_grid", result, "(grid_values, observed)", 2)
    try:
        _quiet_call(fn, *_unsorted(times.copy(), values.copy()), *grid)
        accepted = 1
    except ValueError:
        accepted = 0
    except Exception:  # noqa: BLE001 — any other error: it did not refuse with the error asked for
        accepted = 2
    return grid_values, observed, accepted


RESAMPLE_TO_GRID = Exercise(
    name="resample_to_grid",
    lesson=LESSON,
    number="6.1",
    points=3,
    returns=("grid_values", "observed", UNSORTED),
    graded=("grid_values", "observed", UNSORTED),
    returns_as="(grid_values, observed)",
    make_cases=_resample_cases,
    call=_call_resample,
    description="irregular readings onto a regular grid: the mean of the readings at each grid point, "
    "straight lines across the gaps, and a mask of the grid points that were observed",
    mistakes=(
        Mistake(
            "strict_order",
            "a repeated stamp is refused as unsorted: the check is strictly increasing (np.diff(times) <= 0)",
            "two readings may share a stamp; only a stamp smaller than the one before it is out of order: "
            "raise when np.any(np.diff(times) < 0)",
        ),
        Mistake(
            "unsorted_accepted",
            "unsorted times are accepted (sorted silently, or not checked), where a ValueError is asked for",
            "begin with: if np.any(np.diff(times) < 0): raise ValueError('times must be sorted ...'). Stamps out "
            "of order mean a bug upstream (two files interleaved, a day and a month swapped); sorting them "
            "silently hides it, and np.interp gives nonsense on unsorted points without a word",
        ),
        Mistake(
            "last_reading_kept",
            "where several readings fall on one grid point, only the last is kept (grid[bins] = values)",
            "average them: add the values per grid point (np.bincount(bins, weights=values, "
            "minlength=n_steps)) and divide by the count of readings (np.bincount(bins, minlength=n_steps))",
        ),
        Mistake(
            "readings_summed",
            "where several readings fall on one grid point, they are summed, not averaged",
            "divide each grid point's sum by its number of readings",
        ),
        Mistake(
            "gaps_zero",
            "grid points without a reading are left at 0 instead of interpolated",
            "fill them with np.interp(k, k[observed], means[observed]) over the grid indices k = "
            "np.arange(n_steps): straight lines between the observed neighbours, the first or last observed "
            "value beyond them",
        ),
        Mistake(
            "gaps_previous",
            "grid points without a reading repeat the previous observed value (a forward fill), not a straight line",
            "interpolate linearly between the observed neighbours: np.interp(k, k[observed], means[observed])",
        ),
        Mistake(
            "unsorted_other_error",
            "unsorted times are refused with another error than the ValueError asked for (an assert raises "
            "AssertionError)",
            "raise it yourself: if np.any(np.diff(times) < 0): raise ValueError('times must be sorted ...'). An "
            "assert is a check for the programmer, and python -O removes it",
        ),
        Mistake(
            "interpolated_readings",
            "the grid values are interpolated straight from the readings at their own times "
            "(np.interp(grid_times, times, values)), not the mean of each grid point's readings",
            "first average the readings of each grid point (np.bincount), then interpolate only across the "
            "grid points that have none: np.interp(k, k[observed], means[observed])",
        ),
        Mistake(
            "nearest_grid_point",
            "a reading goes to the nearest grid point (np.round) instead of the grid point at or before it",
            "grid point k covers the times [start + k * step, start + (k + 1) * step): "
            "k = np.floor((times - start) / step)",
        ),
    ),
)


# --------------------------------------------------------------------------
# 6.2 make_windows
# --------------------------------------------------------------------------


def _past_the_end(horizon: int) -> str:
    """What an IndexError on a windows case most likely means."""
    return (
        f"here horizon = {horizon}: an IndexError usually means that windows run past the end of the series. The "
        "last window must leave horizon values after it: N = T - window - horizon + 1 windows, the last starting "
        "at T - window - horizon"
    )


def _windows_cases(rng: np.random.Generator) -> list[Case]:
    T, D = int(rng.integers(11, 16)), int(rng.integers(2, 5))
    window, horizon = int(rng.integers(2, 6)), int(rng.integers(2, 4))
    random = _normal(rng, T, D) + np.arange(T)[:, None]
    return [
        Case(
            "a (T,) series 0, 1, ..., 9 (each value is its time index), window 4, horizon 1",
            {"series": np.arange(10.0), "window": 4, "horizon": 1, "target_col": 0},
            hint=_past_the_end(1),
        ),
        Case(
            "a (T,) series 0, 1, ..., 10, window 4, horizon 3: the target is 3 steps after the window's end",
            {"series": np.arange(11.0), "window": 4, "horizon": 3, "target_col": 0},
            hint=_past_the_end(3),
        ),
        Case(
            "a (T, 3) series whose entry [t, c] is 100 * c + t, window 4, horizon 2, target column 1",
            {"series": _time_table(10, 3), "window": 4, "horizon": 2, "target_col": 1},
            hint=_past_the_end(2),
        ),
        Case(
            "everything random: a series of 2 to 4 columns, window, horizon and the last column as target drawn at random",
            {"series": random, "window": window, "horizon": horizon, "target_col": D - 1},
            hint=_past_the_end(horizon),
        ),
    ]


MAKE_WINDOWS = Exercise(
    name="make_windows",
    lesson=LESSON,
    number="6.2",
    points=3,
    returns=("inputs", "targets"),
    graded=("inputs", "targets"),
    make_cases=_windows_cases,
    description="windows of `window` steps as model inputs (N, window, D), and as target the value of one "
    "column `horizon` steps after each window's last step",
    mistakes=(
        Mistake(
            "target_in_window",
            "the target is one step too early: for horizon 1 it is the window's own last value",
            "window i covers series[i : i + window]; its last step is i + window - 1, so the target is "
            "series[i + window - 1 + horizon], outside the window",
        ),
        Mistake(
            "windows_past_the_end",
            "inputs has a window for every start that fits in the series, including the last ones whose "
            "target lies beyond its end",
            "keep only the windows that have a target: N = T - window - horizon + 1",
        ),
        Mistake(
            "one_window_short",
            "the last window is missing: N = T - window - horizon instead of T - window - horizon + 1",
            "the last window may end exactly horizon steps before the series does: range(T - window - horizon + 1)",
        ),
        Mistake(
            "horizon_ignored",
            "the horizon is ignored: the target is always the value right after the window",
            "the target of window i is series[i + window - 1 + horizon], and there are T - window - horizon + 1 "
            "windows",
        ),
        Mistake(
            "first_column",
            "the targets come from column 0, not from target_col",
            "take the target column: x[..., target_col]",
        ),
        Mistake(
            "all_columns",
            "targets keep every column, shape (N, D), instead of the target column alone, shape (N,)",
            "index the column: x[rows, target_col]",
        ),
        Mistake(
            "flat_inputs",
            "a (T,) series gives inputs of shape (N, window), without the feature axis",
            "turn the series into one column first, x = series.reshape(len(series), -1), so that inputs is "
            "always (N, window, D)",
        ),
    ),
)


# --------------------------------------------------------------------------
# 6.3 split_and_scale
# --------------------------------------------------------------------------


def _trend(rng, T, D=None):
    shape = (T,) if D is None else (T, D)
    trend = np.arange(T, dtype=np.float64) if D is None else np.arange(T, dtype=np.float64)[:, None]
    return trend + _normal(rng, *shape)


def _split_cases(rng: np.random.Generator) -> list[Case]:
    T, D = int(rng.integers(12, 18)), int(rng.integers(2, 5))
    scales = 10.0 ** np.arange(3)
    return [
        Case(
            "a (T,) series with an upward trend: the training part's mean is below that of the whole series",
            {"series": 3.0 * _trend(rng, 10) + 50.0, "n_train": 7},
        ),
        Case(
            "a (T, 3) series whose columns have different scales (1, 10, 100)",
            {"series": _trend(rng, 12, 3) * scales + 5.0 * scales, "n_train": 8},
        ),
        Case(
            "everything random: a series of 12 to 17 steps and 2 to 4 columns with a trend, the last 4 steps for testing",
            {"series": _trend(rng, T, D) * rng.uniform(0.5, 3.0, size=D) + _normal(rng, D, scale=20.0), "n_train": T - 4},
        ),
    ]


def _rows_in(rows: np.ndarray, series: np.ndarray) -> np.ndarray:
    """For each row of ``rows``, is it (to rounding) a row of ``series``? Both (n, D) or (n,)."""
    a, b = rows.reshape(len(rows), -1), series.reshape(len(series), -1)
    return np.isclose(a[:, None, :], b[None, :, :], rtol=1e-9, atol=1e-9).all(axis=2).any(axis=1)


def _split_order(series: np.ndarray, n_train: int, train_scaled: Any, mean: Any, std: Any) -> None:
    """Raise the fixed message when the training part, scaled back, is not series[:n_train] in order."""
    if not all(isinstance(v, (np.ndarray, float, np.floating)) for v in (train_scaled, mean, std)):
        return
    try:
        with np.errstate(all="ignore"):
            train = np.asarray(train_scaled, dtype=np.float64) * std + mean
    except (TypeError, ValueError):
        return
    first = series[:n_train]
    if train.shape != first.shape or not np.all(np.isfinite(train)):
        return
    if np.allclose(train, first, rtol=1e-9, atol=1e-9) or not _rows_in(train, series).all():
        return
    if _rows_in(train, first).all():
        raise CallProblem("values", REORDERED)
    raise CallProblem("values", SHUFFLED)


def _call_split(fn: Callable, inputs: dict, helpers: dict) -> tuple:
    series, n_train = inputs["series"], inputs["n_train"]
    result = call_fresh(fn, "split_and_scale", series, n_train)
    train, test, mean, std = _as_tuple("split_and_scale", result, "(train, test, mean, std)", 4)
    _split_order(series, n_train, train, mean, std)
    return train, test, _as_float(mean), _as_float(std)


SPLIT_AND_SCALE = Exercise(
    name="split_and_scale",
    lesson=LESSON,
    number="6.3",
    points=3,
    returns=("train", "test", "mean", "std"),
    graded=("train", "test", "mean", "std"),
    make_cases=_split_cases,
    call=_call_split,
    description="a chronological split at n_train, both parts standardized with the mean and std of the "
    "training part only",
    mistakes=(
        Mistake(
            "shuffled_before_split",
            "the series is shuffled before it is split: the training part holds values from the test span",
            "split in time order: train = series[:n_train], test = series[n_train:]; never shuffle a series "
            "before the split (shuffling the training windows later, for batches, is fine)",
        ),
        Mistake(
            "whole_series_stats",
            "the mean and std come from the whole series, test part included (a leak from the future)",
            "fit the scaler on the training part only: mean = train.mean(axis=0), std = train.std(axis=0)",
        ),
        Mistake(
            "test_own_stats",
            "the test part is scaled with its own mean and std",
            "scale both parts with the training part's mean and std: at forecast time the future's statistics "
            "are unknown",
        ),
        Mistake(
            "sample_std",
            "the std is the sample std (ddof=1), where the course divides by n (ddof=0, as scikit-learn's "
            "StandardScaler)",
            "use train.std(axis=0), whose default is ddof=0",
        ),
        Mistake(
            "one_mean_for_all_columns",
            "one mean and one std for all columns together, where each column needs its own",
            "reduce over time only: train.mean(axis=0) and train.std(axis=0) give one number per column",
        ),
    ),
)


# --------------------------------------------------------------------------
# 6.4 baseline_forecasts
# --------------------------------------------------------------------------


def _baseline_cases(rng: np.random.Generator) -> list[Case]:
    T, season = int(rng.integers(12, 20)), int(rng.integers(2, 6))
    horizon = season + int(rng.integers(2, 6))
    return [
        Case(
            "history 0, 1, ..., 9 (each value is its time index), horizon 3, season 4",
            {"history": np.arange(10.0), "horizon": 3, "season": 4},
        ),
        Case(
            "a random walk of 11 values, horizon 7, season 3: the last season repeats",
            {"history": np.cumsum(_normal(rng, 11)) + 10.0, "horizon": 7, "season": 3},
        ),
        Case(
            "everything random: 12 to 19 values, a season of 2 to 5, a horizon longer than the season",
            {"history": np.cumsum(_normal(rng, T)) + _normal(rng, 1, scale=5.0), "horizon": horizon, "season": season},
        ),
    ]


BASELINE_FORECASTS = Exercise(
    name="baseline_forecasts",
    lesson=LESSON,
    number="6.4",
    points=3,
    returns=("naive", "seasonal", "drift"),
    graded=("naive", "seasonal", "drift"),
    make_cases=_baseline_cases,
    description="the naive, seasonal naive and drift forecasts of the next `horizon` values of a history",
    mistakes=(
        Mistake(
            "naive_mean",
            "the naive forecast is the mean of the history, not its last value",
            "the naive forecast repeats the last observed value: np.full(horizon, history[-1])",
        ),
        Mistake(
            "season_not_repeated",
            "the seasonal naive forecast stops after one season: it is not repeated when horizon > season",
            "step h (1, 2, ...) takes the value at index T - season + (h - 1) % season: the last season, "
            "over and over",
        ),
        Mistake(
            "seasonal_one_step_late",
            "the seasonal naive forecast is one step off: it takes the value season + 1 steps back",
            "step h repeats the value one season before it, history[T - season + (h - 1) % season]; for h = 1 "
            "that is history[-season]",
        ),
        Mistake(
            "seasonal_h_mod_season",
            "the seasonal naive forecast is one step off: it takes the value season - 1 steps back, not season "
            "(index T - season + h % season, with h counted from 1)",
            "step h = 1, 2, ... repeats the value one season before it: history[T - season + (h - 1) % season]; "
            "for h = 1 that is history[-season]",
        ),
        Mistake(
            "seasonal_from_start",
            "the seasonal naive forecast repeats the first season of the history, not the last",
            "count from the end: index T - season + (h - 1) % season",
        ),
        Mistake(
            "drift_over_T",
            "the drift's slope divides by T, not by the T - 1 steps between the first and the last value",
            "slope = (history[-1] - history[0]) / (T - 1)",
        ),
        Mistake(
            "drift_once",
            "the drift forecast adds the slope once, whatever the step",
            "step h adds h slopes: history[-1] + h * slope, with h = np.arange(1, horizon + 1)",
        ),
        Mistake(
            "drift_from_last_value",
            "the drift forecast starts one step late: step h adds h - 1 slopes, so step 1 repeats the last value",
            "step 1 is already one step after the last value: history[-1] + h * slope, with "
            "h = np.arange(1, horizon + 1)",
        ),
    ),
)


# --------------------------------------------------------------------------
# 6.5 forecast_errors
# --------------------------------------------------------------------------


def _errors_case(rng, T, H, season, bias=0.0):
    y_train = np.cumsum(_normal(rng, T)) + 20.0
    y_true = y_train[-1] + np.cumsum(_normal(rng, H))
    return {"y_true": y_true, "y_pred": y_true + _normal(rng, H) + bias, "y_train": y_train, "season": season}


def _stacked_errors_case(rng, T, K, H, season):
    """K forecasts of H steps from K origins, stacked (K, H), as a rolling evaluation scores them."""
    y_train = np.cumsum(_normal(rng, T)) + 20.0
    y_true = y_train[-1] + np.cumsum(_normal(rng, K, H), axis=1)
    return {"y_true": y_true, "y_pred": y_true + _normal(rng, K, H), "y_train": y_train, "season": season}


def _errors_cases(rng: np.random.Generator) -> list[Case]:
    season = int(rng.integers(2, 7))
    T, H = int(rng.integers(3 * season, 30)), season + int(rng.integers(2, 6))
    return [
        Case("season 1 (no season: the scale is the in-sample naive error)", _errors_case(rng, 12, 5, 1)),
        Case("season 4, a forecast that is too high everywhere (bias + 2)", _errors_case(rng, 16, 8, 4, bias=2.0)),
        Case(
            "three forecasts of 6 steps stacked, y_true and y_pred (3, 6), season 2: every mean runs over all 18 errors",
            _stacked_errors_case(rng, 14, 3, 6, 2),
        ),
        Case(
            "everything random: a season of 2 to 6, a horizon longer than the season",
            _errors_case(rng, T, H, season),
        ),
    ]


def _call_errors(fn: Callable, inputs: dict, helpers: dict) -> tuple:
    result = call_fresh(fn, "forecast_errors", *inputs.values())
    return tuple(_as_float(v) for v in _as_tuple("forecast_errors", result, "(mae, rmse, mase)", 3))


FORECAST_ERRORS = Exercise(
    name="forecast_errors",
    lesson=LESSON,
    number="6.5",
    points=3,
    returns=("mae", "rmse", "mase"),
    graded=("mae", "rmse", "mase"),
    make_cases=_errors_cases,
    call=_call_errors,
    description="MAE, RMSE and MASE of a forecast, MASE scaled by the in-sample seasonal naive MAE "
    "(Hyndman & Koehler, 2006)",
    mistakes=(
        Mistake(
            "signed_mae",
            "the MAE averages the signed errors, so that errors of opposite signs cancel",
            "take the absolute value before the mean: np.mean(np.abs(y_true - y_pred))",
        ),
        Mistake(
            "mse_not_rmse",
            "the RMSE is missing its square root: this is the MSE",
            "rmse = np.sqrt(np.mean((y_true - y_pred) ** 2)), in the units of the series",
        ),
        Mistake(
            "mase_lag_one",
            "the MASE is scaled by the in-sample naive error (lag 1), not by the seasonal naive one (lag season)",
            "scale = np.mean(np.abs(y_train[season:] - y_train[:-season]))",
        ),
        Mistake(
            "mase_out_of_sample",
            "the MASE is scaled by the seasonal naive error on the test values, not on the training values",
            "the scale is in-sample, known before the forecast is made: computed on y_train",
        ),
        Mistake(
            "mase_divided_by_T",
            "the MASE scale divides the sum of the T - season seasonal differences by T",
            "there are T - season differences y_train[t] - y_train[t - season]: take their mean",
        ),
        Mistake(
            "means_over_first_axis",
            "the means run over the first axis only (axis=0): with several forecasts stacked, one number per "
            "step ahead comes back instead of one number",
            "average over every entry, whatever the shape: np.mean(np.abs(e)), with no axis",
        ),
        Mistake(
            "rmse_per_forecast",
            "with several forecasts stacked, the RMSE is the mean of each forecast's own RMSE, not the root of "
            "the mean squared error over all entries",
            "square every error, average them all, then take one square root: np.sqrt(np.mean(e ** 2))",
        ),
    ),
)


# --------------------------------------------------------------------------
# 6.6 iterated_forecast
# --------------------------------------------------------------------------


def _iterated_cases(rng: np.random.Generator) -> list[Case]:
    window = int(rng.integers(2, 6))
    horizon = window + int(rng.integers(1, 4))
    T = window + horizon + int(rng.integers(3, 8))  # room for an origin after the first window
    origin = int(rng.integers(window + 1, T - horizon + 1))

    def case(T, origin, window, horizon, weights, bias):
        return {
            "series": np.round(np.cumsum(_normal(rng, T)) + 10.0, 3),
            "origin": origin,
            "window": window,
            "horizon": horizon,
            "weights": np.asarray(weights, dtype=np.float64),
            "bias": float(bias),
        }

    return [
        Case("one step ahead (horizon 1), window 3, origin 6", case(10, 6, 3, 1, _normal(rng, 3, scale=0.4), 0.5)),
        Case(
            "weights [1, 0, 0]: each forecast repeats the value 3 steps before it (window 3, horizon 5, origin 7)",
            case(12, 7, 3, 5, [1.0, 0.0, 0.0], 0.0),
        ),
        Case(
            "everything random: window, horizon and origin drawn at random",
            case(T, origin, window, horizon, _normal(rng, window, scale=0.6 / window), rng.normal()),
        ),
    ]


def _one_step_model(weights: np.ndarray, bias: float) -> Callable:
    window = len(weights)

    def predict_one(recent):
        if not isinstance(recent, np.ndarray):  # the notebook's network models call recent.reshape
            raise CallProblem("type", NOT_AN_ARRAY.format(kind=type(recent).__name__))
        recent = np.asarray(recent, dtype=np.float64)
        if recent.size != window:
            raise ValueError(
                f"predict_one takes the last {window} values (an array of shape ({window},)), "
                f"got an array of shape {recent.shape}"
            )
        return float(recent.reshape(-1) @ weights + bias)

    return predict_one


def _call_iterated(fn: Callable, inputs: dict, helpers: dict) -> Any:
    predict_one = _one_step_model(inputs["weights"].copy(), inputs["bias"])
    args = (inputs["series"], inputs["origin"], inputs["window"], inputs["horizon"])
    return call_fresh(fn, "iterated_forecast", predict_one, *args)


ITERATED_FORECAST = Exercise(
    name="iterated_forecast",
    lesson=LESSON,
    number="6.6",
    points=3,
    returns=("forecasts",),
    graded=("forecasts",),
    make_cases=_iterated_cases,
    call=_call_iterated,
    description="forecast `horizon` steps from the origin with a one-step model, feeding each forecast back "
    "as the newest value of the window",
    mistakes=(
        Mistake(
            "true_values_fed_back",
            "the true values after the origin are fed back instead of the forecasts (a test-time leak: these "
            "are one-step forecasts, and the future is read)",
            "never read series[origin:]: after the first step the window holds your own forecasts",
        ),
        Mistake(
            "window_includes_origin",
            "the first window ends at the origin included: it holds series[origin], the first value to forecast",
            "the last known value is series[origin - 1]: the first window is series[origin - window : origin]",
        ),
        Mistake(
            "drops_newest",
            "each step drops the newest value of the window instead of the oldest",
            "recent = recent[1:] + [y_next]: the oldest value (index 0) goes, the forecast comes in at the end",
        ),
        Mistake(
            "new_value_first",
            "each forecast is put at the start of the window (the oldest position), not at its end",
            "the window is in time order, oldest first: append the forecast at the end and drop index 0",
        ),
        Mistake(
            "no_feedback",
            "the window is never updated: every step forecasts from the same window",
            "after each step, drop the oldest value of the window and append the forecast",
        ),
        Mistake(
            "list_to_model",
            "the window is handed to predict_one as a Python list, not as a numpy array",
            "keep the list for the bookkeeping if you like, but call predict_one(np.array(recent))",
        ),
    ),
)


# --------------------------------------------------------------------------
# 6.7 direct_targets
# --------------------------------------------------------------------------


def _direct_cases(rng: np.random.Generator) -> list[Case]:
    T, D = int(rng.integers(12, 17)), int(rng.integers(2, 5))
    window, horizon = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    return [
        Case(
            "a (T,) series 0, 1, ..., 8 (each value is its time index), window 3, horizon 2",
            {"series": np.arange(9.0), "window": 3, "horizon": 2, "target_col": 0},
        ),
        Case(
            "a (T, 3) series whose entry [t, c] is 100 * c + t, window 2, horizon 3, target column 2",
            {"series": _time_table(10, 3), "window": 2, "horizon": 3, "target_col": 2},
        ),
        Case(
            "everything random: a series of 12 to 16 steps and 2 to 4 columns, window and horizon 2 to 4, target column 1",
            {"series": _normal(rng, T, D) + np.arange(T)[:, None], "window": window, "horizon": horizon, "target_col": 1},
        ),
    ]


DIRECT_TARGETS = Exercise(
    name="direct_targets",
    lesson=LESSON,
    number="6.7",
    points=2,
    returns=("targets",),
    graded=("targets",),
    make_cases=_direct_cases,
    description="the targets of a direct multi-output forecaster: row i holds the `horizon` values of the "
    "target column after window i",
    mistakes=(
        Mistake(
            "last_step_only",
            "each row holds only the value horizon steps ahead, shape (N,), not all horizon values, shape (N, horizon)",
            "row i is x[i + window : i + window + horizon, target_col]: steps 1 to horizon after the window",
        ),
        Mistake(
            "starts_in_window",
            "each row starts at the window's last value: one step too early",
            "window i ends at i + window - 1, so its targets start at i + window",
        ),
        Mistake(
            "transposed",
            "the targets are laid out (horizon, N), one row per step ahead, instead of (N, horizon)",
            "one row per window, one column per step ahead: shape (N, horizon)",
        ),
        Mistake(
            "first_column",
            "the targets come from column 0, not from target_col",
            "take the target column: x[..., target_col]",
        ),
        Mistake(
            "one_window_short",
            "the last window is missing: N = T - window - horizon rows instead of T - window - horizon + 1",
            "the last window's targets may end exactly at the series' end: N = T - window - horizon + 1",
        ),
    ),
)


# --------------------------------------------------------------------------
# 6.8 rolling_origin_folds
# --------------------------------------------------------------------------


def _folds_cases(rng: np.random.Generator) -> list[Case]:
    initial, horizon, step = int(rng.integers(5, 10)), int(rng.integers(2, 5)), int(rng.integers(2, 4))
    n = initial + horizon + step * int(rng.integers(2, 5)) + int(rng.integers(0, step))
    sliding = int(rng.integers(0, 2))

    def case(n, initial, horizon, step, sliding):
        return {"n": n, "initial": initial, "horizon": horizon, "step": step, "sliding": sliding}

    return [
        Case("expanding, step 1: n 10, initial 6, horizon 2", case(10, 6, 2, 1, 0)),
        Case(
            "expanding, step 3 that cannot reach the end: n 17, initial 6, horizon 3 (indices 15 and 16 stay untested)",
            case(17, 6, 3, 3, 0),
        ),
        Case("sliding training window of 5 points, step 2: n 15, initial 5, horizon 2", case(15, 5, 2, 2, 1)),
        Case("no fold fits: n 8, initial 6, horizon 3 (the folds are an empty (0, 4) array)", case(8, 6, 3, 1, 0)),
        Case(
            "everything random: n, initial, horizon, step and expanding or sliding drawn at random",
            case(n, initial, horizon, step, sliding),
        ),
    ]


def _call_folds(fn: Callable, inputs: dict, helpers: dict) -> Any:
    n, initial, horizon, step, sliding = inputs.values()
    result = fn(n, initial, horizon, step, sliding)
    # Called again with every index one later (as many folds, other numbers): this result must not
    # change. The inputs are integers, which the usual second call would leave as they are.
    check_kept(fn, "rolling_origin_folds", result, n + 1, initial + 1, horizon, step, sliding)
    if not isinstance(result, np.ndarray) or result.dtype.kind not in "iuf":
        return result
    if result.dtype.kind == "f" and result.size:
        raise CallProblem("dtype", FLOAT_FOLDS.format(dtype=result.dtype))
    # "An integer array": int32 (np.intc, or NumPy 1 on Windows) is one too; and an empty array
    # (np.array([]) is float) indexes nothing, so only its shape is checked.
    return result.astype(np.int64)


ROLLING_ORIGIN_FOLDS = Exercise(
    name="rolling_origin_folds",
    lesson=LESSON,
    number="6.8",
    points=3,
    returns=("folds",),
    graded=("folds",),
    make_cases=_folds_cases,
    call=_call_folds,
    description="the folds of a rolling-origin evaluation as rows [train_start, train_end, test_start, "
    "test_end) of an integer array (K, 4), expanding or sliding",
    mistakes=(
        Mistake(
            "train_overlaps_test",
            "train_end is origin + 1: the training part holds the first test point",
            "the intervals are half-open [start, end): train_end = test_start = origin, so that no index is in both",
        ),
        Mistake(
            "last_fold_missing",
            "the folds stop short of the end: the last fold, whose test part ends exactly at n, is missing",
            "an origin is valid while origin + horizon <= n: range(initial, n - horizon + 1, step)",
        ),
        Mistake(
            "past_the_end",
            "the last folds run past the end of the series: test_end > n",
            "stop while the test part still fits: range(initial, n - horizon + 1, step)",
        ),
        Mistake(
            "sliding_ignored",
            "the sliding window grows like an expanding one: train_start is always 0",
            "with sliding, the training part keeps initial points: train_start = origin - initial",
        ),
        Mistake(
            "closed_intervals",
            "the ends are inclusive (train_end = origin - 1, test_end = origin + horizon - 1), where the course "
            "uses half-open intervals",
            "rows are [train_start, train_end, test_start, test_end) with exclusive ends, as Python slices: "
            "series[train_start:train_end]",
        ),
        Mistake(
            "step_is_horizon",
            "the origin moves by horizon at each fold, not by step",
            "origins are initial, initial + step, initial + 2 * step and so on, while origin + horizon <= n",
        ),
        Mistake(
            "empty_not_two_d",
            "when no fold fits, the result has shape (0,) (np.array of an empty list), not (0, 4)",
            "give the array its 4 columns whatever the number of folds: np.array(folds, dtype=int).reshape(-1, 4)",
        ),
    ),
)


EXERCISES = (
    RESAMPLE_TO_GRID,
    MAKE_WINDOWS,
    SPLIT_AND_SCALE,
    BASELINE_FORECASTS,
    FORECAST_ERRORS,
    ITERATED_FORECAST,
    DIRECT_TARGETS,
    ROLLING_ORIGIN_FOLDS,
)
