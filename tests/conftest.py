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


def _gru_slip_in_block(block):
    """The reference gru_step_backward with a slip, not a catalogued one, in one block of da."""

    def gru_step_backward(dh_next, cache):
        x, h_prev, W_x, W_h, r, z, n = cache
        H = h_prev.shape[1]
        dz = dh_next * ((n + h_prev) if block == "z" else (n - h_prev))
        da_n = dh_next * z * (1.0 - n**2) * (1.5 if block == "n" else 1.0)
        drh = da_n @ W_h[:, 2 * H :].T
        dr = drh * h_prev * (0.5 if block == "r" else 1.0)
        da_rz = np.concatenate([dr * r * (1.0 - r), dz * z * (1.0 - z)], axis=1)
        da = np.concatenate([da_rz, da_n], axis=1)
        dh_prev = dh_next * (1.0 - z) + drh * r + da_rz @ W_h[:, : 2 * H].T
        dW_h = np.concatenate([h_prev.T @ da_rz, (r * h_prev).T @ da_n], axis=1)
        return da @ W_x.T, dh_prev, x.T @ da, dW_h, da.sum(axis=0)

    return gru_step_backward


@pytest.fixture
def gru_slip_in_block():
    """A factory: block ("r", "z" or "n") -> a gru_step_backward with a slip in that block of da only."""
    return _gru_slip_in_block
