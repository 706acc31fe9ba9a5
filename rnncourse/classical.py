"""Classical forecasters that lesson 06 measures recurrent networks against, in NumPy.

Holt-Winters exponential smoothing (Holt, 1957; Winters, 1960), additive form: a
level, a trend and one seasonal term per position in the season, each updated by
an exponentially weighted average. Its three smoothing parameters are chosen on
the history alone (the smallest sum of squared one-step errors over a grid), so
a forecast never depends on the values it is scored on.
"""

from __future__ import annotations

import numpy as np

DEFAULT_GRID = np.linspace(0.02, 0.98, 25)


def holt_winters_run(history, season, alpha, beta, gamma, horizon):
    """Run additive Holt-Winters over ``history`` for one or many parameter triples.

    Inputs:
        history: (T,) the series, T >= 2 * season
        season: m, the number of steps in one season (12 for monthly data)
        alpha, beta, gamma: smoothing parameters in (0, 1), numbers or arrays of one shape P
        horizon: number of steps to forecast after the history
    Returns:
        sse: (P,) or a number, the sum of squared one-step errors over steps season .. T - 1
        forecast: (P, horizon) or (horizon,), the forecasts of steps T .. T + horizon - 1

    Initial state from the first two seasons: the level is the first season's mean,
    the trend the change of the seasonal means per step, the seasonal terms the first
    season's deviations from its mean. Then, for every step t:

        y_hat[t] = L + B + S[t - m]                       (the one-step forecast)
        L_new    = alpha (y[t] - S[t - m]) + (1 - alpha) (L + B)
        B        = beta (L_new - L) + (1 - beta) B
        S[t]     = gamma (y[t] - L_new) + (1 - gamma) S[t - m]

    and the forecast h steps after the last step is L + h B + S of the same position
    in the last season.
    """
    y = np.asarray(history, dtype=np.float64)
    m, T = season, len(y)
    if T < 2 * m:
        raise ValueError(f"holt_winters_run needs at least two seasons ({2 * m} values), got {T}")
    alpha, beta, gamma = np.broadcast_arrays(*(np.asarray(p, dtype=np.float64) for p in (alpha, beta, gamma)))
    shape = alpha.shape
    alpha, beta, gamma = (p.reshape(-1) for p in (alpha, beta, gamma))
    P = alpha.size
    level = np.full(P, y[:m].mean())
    trend = np.full(P, (y[m : 2 * m].mean() - y[:m].mean()) / m)
    seasonal = np.tile(y[:m] - y[:m].mean(), (P, 1))  # (P, m); column t % m holds S[t - m]
    sse = np.zeros(P)
    for t in range(T):
        s_old = seasonal[:, t % m]
        if t >= m:  # the first season built the initial state: its errors would flatter the fit
            sse += (y[t] - (level + trend + s_old)) ** 2
        new_level = alpha * (y[t] - s_old) + (1 - alpha) * (level + trend)
        trend = beta * (new_level - level) + (1 - beta) * trend
        seasonal[:, t % m] = gamma * (y[t] - new_level) + (1 - gamma) * s_old
        level = new_level
    h = np.arange(1, horizon + 1)
    forecast = level[:, None] + h * trend[:, None] + seasonal[:, (T + h - 1) % m]  # (P, horizon)
    if shape == ():
        return float(sse[0]), forecast[0]
    return sse.reshape(shape), forecast.reshape(*shape, horizon)


def holt_winters_forecast(history, season, horizon, grid=DEFAULT_GRID):
    """Forecast ``horizon`` steps with additive Holt-Winters fitted on ``history`` alone.

    alpha, beta and gamma are the triple of ``grid`` x ``grid`` x ``grid`` with the
    smallest sum of squared one-step errors on the history (every triple is run at
    once, as arrays). Returns ``(forecast (horizon,), (alpha, beta, gamma))``.
    """
    grid = np.asarray(grid, dtype=np.float64)
    alpha, beta, gamma = np.meshgrid(grid, grid, grid, indexing="ij")
    sse, forecasts = holt_winters_run(history, season, alpha, beta, gamma, horizon)
    best = np.unravel_index(int(np.argmin(sse)), sse.shape)
    params = (float(alpha[best]), float(beta[best]), float(gamma[best]))
    return forecasts[best], params
