"""Shared fixtures: the course root and its lessons; a learner's sequence forward for checks of both tiers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autograder.reference import REFERENCE

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


_REUSING_FORWARDS = {
    "rnn_forward": ("rnn_step_forward", "x, h0, W_xh, W_hh, b_h", "h_next, cache = rnn_step_forward(x[:, t], h_prev, W_xh, W_hh, b_h)"),
    "lstm_forward": ("lstm_step_forward", "x, h0, W_x, W_h, b", "h_next, c, cache = lstm_step_forward(x[:, t], h_prev, c, W_x, W_h, b)"),
    "gru_forward": ("gru_step_forward", "x, h0, W_x, W_h, b", "h_next, cache = gru_step_forward(x[:, t], h_prev, W_x, W_h, b)"),
}


def _reusing_forward(name, reuse=True):
    """A sequence forward as a learner writes it in the notebook (the step function a global), which
    copies each new state into the one array it keeps giving the step when ``reuse``."""
    step, signature, call = _REUSING_FORWARDS[name]
    scope = {"np": np, step: REFERENCE[step]}
    exec(
        f"def {name}({signature}):\n"
        "    N, T, _ = x.shape\n"
        "    h, caches = np.zeros((N, T, h0.shape[1])), []\n"
        "    h_prev, c = h0.copy(), np.zeros_like(h0)\n"
        "    for t in range(T):\n"
        f"        {call}\n"
        f"        {'h_prev[...] = h_next' if reuse else 'h_prev = h_next'}\n"
        "        h[:, t] = h_next\n"
        "        caches.append(cache)\n"
        "    return h, caches\n",
        scope,
    )
    return scope[name], scope


@pytest.fixture
def reusing_forward():
    """``reusing_forward(name, reuse=True) -> (forward, its globals)``: see :func:`_reusing_forward`."""
    return _reusing_forward


class _UnprintableError(Exception):
    """A learner's exception class whose message cannot even be made: str() raises."""

    def __str__(self):
        raise RuntimeError("no message")


@pytest.fixture
def unprintable_error():
    """An exception class whose str() raises, as a learner's own may."""
    return _UnprintableError


def _layer_1_dW_xh_doubled(dh, cache):
    """stacked_rnn_backward, right but for layer 1's dW_xh, which is doubled."""
    dx, dh0s, dparams = REFERENCE["stacked_rnn_backward"](dh, cache)
    dparams = [tuple(p) for p in dparams]
    dparams[1] = (2 * dparams[1][0], *dparams[1][1:])
    return dx, dh0s, dparams


@pytest.fixture
def layer_1_dW_xh_doubled():
    """A stacked_rnn_backward whose only wrong gradient is dparams[1][0]."""
    return _layer_1_dW_xh_doubled
