"""rnncourse.classical: Holt-Winters, vectorized over parameter triples, against the scalar recursion."""

from __future__ import annotations

import numpy as np
import pytest

from rnncourse.classical import holt_winters_forecast, holt_winters_run


def _holt_winters_loop(y, m, alpha, beta, gamma, horizon):
    """Additive Holt-Winters, one scalar step at a time (the textbook recursion)."""
    level, trend = np.mean(y[:m]), (np.mean(y[m : 2 * m]) - np.mean(y[:m])) / m
    season = list(y[:m] - np.mean(y[:m]))
    sse = 0.0
    for t, value in enumerate(y):
        if t >= m:
            sse += (value - (level + trend + season[t])) ** 2
        new_level = alpha * (value - season[t]) + (1 - alpha) * (level + trend)
        trend = beta * (new_level - level) + (1 - beta) * trend
        season.append(gamma * (value - new_level) + (1 - gamma) * season[t])
        level = new_level
    T = len(y)
    return sse, np.array([level + h * trend + season[T + (h - 1) % m] for h in range(1, horizon + 1)])


def test_holt_winters_matches_the_scalar_recursion_and_picks_the_best_triple():
    """The vectorized run equals the scalar recursion for several triples at once, and the forecast
    uses the triple with the smallest in-sample squared error."""
    rng = np.random.default_rng(4)
    y = 10 + 0.3 * np.arange(40) + np.tile([2.0, -1.0, 0.5, -1.5], 10) + rng.normal(scale=0.3, size=40)
    triples = np.array([[0.2, 0.1, 0.3], [0.8, 0.02, 0.9], [0.5, 0.5, 0.5]])
    sse, forecasts = holt_winters_run(y, 4, *triples.T, horizon=6)
    for k, triple in enumerate(triples):
        loop_sse, loop_forecast = _holt_winters_loop(y, 4, *triple, 6)
        assert np.isclose(sse[k], loop_sse) and np.allclose(forecasts[k], loop_forecast)
    grid = np.array([0.1, 0.5, 0.9])
    forecast, params = holt_winters_forecast(y, 4, 6, grid=grid)
    best = min((_holt_winters_loop(y, 4, a, b, g, 6)[0], (a, b, g)) for a in grid for b in grid for g in grid)
    assert np.allclose(params, best[1])
    assert np.allclose(forecast, _holt_winters_loop(y, 4, *params, 6)[1])
    with pytest.raises(ValueError, match="two seasons"):
        holt_winters_run(y[:7], 4, 0.5, 0.5, 0.5, 3)
