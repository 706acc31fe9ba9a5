"""Reference solutions of lesson 06 (time-series forecasting) and the catalogued mistakes, as code.

The solution notebook ``solutions/06_time_series`` holds the same bodies; a test
proves that both agree on every public case.
"""

from __future__ import annotations

import numpy as np


def resample_to_grid(times, values, start, step, n_steps):
    if np.any(np.diff(times) < 0):
        raise ValueError("times must be sorted in increasing order (a repeated stamp is allowed)")
    bins = np.floor((times - start) / step).astype(np.int64)  # (M,) the grid point each reading falls on
    counts = np.bincount(bins, minlength=n_steps)  # (n_steps,) readings per grid point
    sums = np.bincount(bins, weights=values, minlength=n_steps)
    observed = counts > 0
    k = np.arange(n_steps)
    grid_values = np.interp(k, k[observed], sums[observed] / counts[observed])
    return grid_values, observed


def make_windows(series, window, horizon=1, target_col=0):
    x = series.reshape(len(series), -1)  # (T, D): a (T,) series is one column
    N = len(x) - window - horizon + 1  # the last window leaves horizon values after it
    starts = np.arange(N)
    inputs = x[starts[:, None] + np.arange(window)]  # (N, window, D)
    targets = x[starts + window - 1 + horizon, target_col]  # (N,) horizon steps after each window's end
    return inputs, targets


def split_and_scale(series, n_train):
    train, test = series[:n_train], series[n_train:]  # in time order: the test part is the future
    mean = train.mean(axis=0)  # from the training part only
    std = train.std(axis=0)
    return (train - mean) / std, (test - mean) / std, mean, std


def baseline_forecasts(history, horizon, season):
    T = len(history)
    h = np.arange(1, horizon + 1)  # steps ahead
    naive = np.full(horizon, history[-1])
    seasonal = history[T - season + (h - 1) % season]  # the same point of the last season
    drift = history[-1] + h * (history[-1] - history[0]) / (T - 1)
    return naive, seasonal, drift


def forecast_errors(y_true, y_pred, y_train, season):
    e = y_true - y_pred
    mae = np.mean(np.abs(e))
    rmse = np.sqrt(np.mean(e**2))
    scale = np.mean(np.abs(y_train[season:] - y_train[:-season]))  # in-sample seasonal naive MAE
    return mae, rmse, mae / scale


def iterated_forecast(predict_one, series, origin, window, horizon):
    recent = list(series[origin - window : origin])  # the last window values known at the origin
    forecasts = []
    for _ in range(horizon):
        y_next = float(predict_one(np.array(recent)))
        forecasts.append(y_next)
        recent = recent[1:] + [y_next]  # drop the oldest, append the forecast as the newest
    return np.array(forecasts)


def direct_targets(series, window, horizon, target_col=0):
    x = series.reshape(len(series), -1)
    N = len(x) - window - horizon + 1  # the same windows as make_windows(series, window, horizon)
    rows = np.arange(N)[:, None] + window + np.arange(horizon)  # (N, horizon) time indices
    return x[rows, target_col]


def rolling_origin_folds(n, initial, horizon, step, sliding=False):
    folds = []
    for origin in range(initial, n - horizon + 1, step):  # the last fold may end exactly at n
        train_start = origin - initial if sliding else 0
        folds.append([train_start, origin, origin, origin + horizon])
    return np.array(folds, dtype=np.int64).reshape(-1, 4)


REFERENCE = {
    f.__name__: f
    for f in (
        resample_to_grid,
        make_windows,
        split_and_scale,
        baseline_forecasts,
        forecast_errors,
        iterated_forecast,
        direct_targets,
        rolling_origin_folds,
    )
}


# --------------------------------------------------------------------------
# Catalogued mistakes: each returns what a learner who made it would return.
# --------------------------------------------------------------------------


def _resample(kind):
    def resample(times, values, start, step, n_steps):
        if kind != "unsorted_accepted":
            bad = np.diff(times) <= 0 if kind == "strict_order" else np.diff(times) < 0
            if np.any(bad):  # what an assert raises (written out: python -O would drop an assert)
                raise (AssertionError if kind == "unsorted_other_error" else ValueError)("times must be sorted")
        where = (times - start) / step
        bins = (np.round(where) if kind == "nearest_grid_point" else np.floor(where)).astype(np.int64)
        bins = np.clip(bins, 0, n_steps - 1)  # unsorted or rounded readings stay on the grid
        counts = np.bincount(bins, minlength=n_steps)
        sums = np.bincount(bins, weights=values, minlength=n_steps)
        observed = counts > 0
        grid = np.zeros(n_steps)
        if kind == "last_reading_kept":
            grid[bins] = values  # fancy assignment: the last reading of a grid point wins
        elif kind == "readings_summed":
            grid[observed] = sums[observed]
        else:
            grid[observed] = sums[observed] / counts[observed]
        k = np.arange(n_steps)
        if kind == "interpolated_readings":  # a line through the readings, read off at the grid points
            return np.interp(start + k * step, times, values), observed
        if kind == "gaps_zero":
            return grid, observed
        if kind == "gaps_previous":
            last = np.maximum.accumulate(np.where(observed, k, -1))  # the latest observed point so far
            first = k[observed][0]
            return grid[np.where(last < 0, first, last)], observed
        return np.interp(k, k[observed], grid[observed]), observed

    return resample


def _windows(kind):
    def windows(series, window, horizon=1, target_col=0):
        x = series.reshape(len(series), -1)
        T = len(x)
        if kind == "horizon_ignored":
            horizon = 1
        N = T - window - horizon + 1
        if kind == "one_window_short":
            N -= 1
        n_inputs = T - window + 1 if kind == "windows_past_the_end" else N
        inputs = np.stack([x[i : i + window] for i in range(n_inputs)])
        shift = -1 if kind == "target_in_window" else 0
        rows = np.arange(N) + window - 1 + horizon + shift
        if kind == "all_columns":
            targets = x[rows]
        else:
            targets = x[rows, 0 if kind == "first_column" else target_col]
        if kind == "flat_inputs" and series.ndim == 1:
            inputs = inputs[..., 0]
        return inputs, targets

    return windows


def _split(kind):
    def split(series, n_train):
        if kind == "shuffled_before_split":
            order = np.random.default_rng(0).permutation(len(series))
            if np.all(np.sort(order[:n_train]) == np.arange(n_train)):  # a shuffle that changed nothing
                order = order[::-1]
            series = series[order]
        train, test = series[:n_train], series[n_train:]
        fit = series if kind == "whole_series_stats" else train
        if kind == "one_mean_for_all_columns":
            mean, std = fit.mean(), fit.std()
        else:
            mean, std = fit.mean(axis=0), fit.std(axis=0, ddof=1 if kind == "sample_std" else 0)
        if kind == "test_own_stats":
            return (train - mean) / std, (test - test.mean(axis=0)) / test.std(axis=0), mean, std
        return (train - mean) / std, (test - mean) / std, mean, std

    return split


def _baselines(kind):
    def baselines(history, horizon, season):
        naive, seasonal, drift = baseline_forecasts(history, horizon, season)
        T, h = len(history), np.arange(1, horizon + 1)
        if kind == "naive_mean":
            naive = np.full(horizon, history.mean())
        elif kind == "season_not_repeated":
            seasonal = history[-season:][:horizon]
        elif kind == "seasonal_one_step_late":
            seasonal = history[T - season - 1 + (h - 1) % season]
        elif kind == "seasonal_h_mod_season":
            seasonal = history[T - season + h % season]
        elif kind == "seasonal_from_start":
            seasonal = history[(h - 1) % season]
        elif kind == "drift_over_T":
            drift = history[-1] + h * (history[-1] - history[0]) / T
        elif kind == "drift_once":
            drift = np.full(horizon, history[-1] + (history[-1] - history[0]) / (T - 1))
        elif kind == "drift_from_last_value":
            drift = history[-1] + (h - 1) * (history[-1] - history[0]) / (T - 1)
        return naive, seasonal, drift

    return baselines


def _errors(kind):
    def errors(y_true, y_pred, y_train, season):
        e = y_true - y_pred
        axis = 0 if kind == "means_over_first_axis" else None
        mae = np.mean(e) if kind == "signed_mae" else np.mean(np.abs(e), axis=axis)
        mse = np.mean(e**2, axis=axis)
        rmse = mse if kind == "mse_not_rmse" else np.sqrt(mse)
        if kind == "rmse_per_forecast":
            rmse = np.mean(np.sqrt(np.mean(e**2, axis=-1)))  # one RMSE per forecast (row), then their mean
        if kind == "mase_lag_one":
            scale = np.mean(np.abs(np.diff(y_train)))
        elif kind == "mase_out_of_sample":
            scale = np.mean(np.abs(y_true[season:] - y_true[:-season]))
        elif kind == "mase_divided_by_T":
            scale = np.sum(np.abs(y_train[season:] - y_train[:-season])) / len(y_train)
        else:
            scale = np.mean(np.abs(y_train[season:] - y_train[:-season]))
        return mae, rmse, mae / scale

    return errors


def _iterated(kind):
    def iterated(predict_one, series, origin, window, horizon):
        first = origin + 1 if kind == "window_includes_origin" else origin
        recent = list(series[first - window : first])
        forecasts = []
        for j in range(horizon):
            if kind == "true_values_fed_back":
                recent = list(series[origin + j - window : origin + j])
            y_next = float(predict_one(recent if kind == "list_to_model" else np.array(recent)))
            forecasts.append(y_next)
            if kind == "drops_newest":
                recent = recent[:-1] + [y_next]
            elif kind == "new_value_first":
                recent = [y_next] + recent[:-1]
            elif kind != "no_feedback":
                recent = recent[1:] + [y_next]
        return np.array(forecasts)

    return iterated


def _direct(kind):
    def direct(series, window, horizon, target_col=0):
        x = series.reshape(len(series), -1)
        N = len(x) - window - horizon + 1
        if kind == "one_window_short":
            N -= 1
        col = 0 if kind == "first_column" else target_col
        first = window - 1 if kind == "starts_in_window" else window
        rows = np.arange(N)[:, None] + first + np.arange(horizon)
        targets = x[rows, col]
        if kind == "last_step_only":
            return targets[:, -1]
        if kind == "transposed":
            return targets.T
        return targets

    return direct


def _folds(kind):
    def folds(n, initial, horizon, step, sliding=False):
        stop = {"last_fold_missing": n - horizon, "past_the_end": n}.get(kind, n - horizon + 1)
        every = horizon if kind == "step_is_horizon" else step
        rows = []
        for origin in range(initial, stop, every):
            start = origin - initial if sliding and kind != "sliding_ignored" else 0
            if kind == "train_overlaps_test":
                rows.append([start, origin + 1, origin, origin + horizon])
            elif kind == "closed_intervals":
                rows.append([start, origin - 1, origin, origin + horizon - 1])
            else:
                rows.append([start, origin, origin, origin + horizon])
        if kind == "empty_not_two_d":
            return np.array(rows, dtype=np.int64)  # (0,) when the list is empty
        return np.array(rows, dtype=np.int64).reshape(-1, 4)

    return folds


MISTAKES = {
    "resample_to_grid": {
        kind: _resample(kind)
        for kind in (
            "strict_order",
            "unsorted_accepted",
            "last_reading_kept",
            "readings_summed",
            "gaps_zero",
            "gaps_previous",
            "unsorted_other_error",
            "interpolated_readings",
            "nearest_grid_point",
        )
    },
    "make_windows": {
        kind: _windows(kind)
        for kind in (
            "target_in_window",
            "windows_past_the_end",
            "one_window_short",
            "horizon_ignored",
            "first_column",
            "all_columns",
            "flat_inputs",
        )
    },
    "split_and_scale": {
        kind: _split(kind)
        for kind in (
            "shuffled_before_split",
            "whole_series_stats",
            "test_own_stats",
            "sample_std",
            "one_mean_for_all_columns",
        )
    },
    "baseline_forecasts": {
        kind: _baselines(kind)
        for kind in (
            "naive_mean",
            "season_not_repeated",
            "seasonal_one_step_late",
            "seasonal_h_mod_season",
            "seasonal_from_start",
            "drift_over_T",
            "drift_once",
            "drift_from_last_value",
        )
    },
    "forecast_errors": {
        kind: _errors(kind)
        for kind in (
            "signed_mae",
            "mse_not_rmse",
            "mase_lag_one",
            "mase_out_of_sample",
            "mase_divided_by_T",
            "means_over_first_axis",
            "rmse_per_forecast",
        )
    },
    "iterated_forecast": {
        kind: _iterated(kind)
        for kind in (
            "true_values_fed_back",
            "window_includes_origin",
            "drops_newest",
            "new_value_first",
            "no_feedback",
            "list_to_model",
        )
    },
    "direct_targets": {
        kind: _direct(kind)
        for kind in ("last_step_only", "starts_in_window", "transposed", "first_column", "one_window_short")
    },
    "rolling_origin_folds": {
        kind: _folds(kind)
        for kind in (
            "train_overlaps_test",
            "last_fold_missing",
            "past_the_end",
            "sliding_ignored",
            "closed_intervals",
            "step_is_horizon",
            "empty_not_two_d",
        )
    },
}
