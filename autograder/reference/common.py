"""Catalogued mistakes shared by several lessons, as code (texts: ``autograder.suites.common``)."""

from __future__ import annotations

import numpy as np

from autograder.suites.common import UNROLL_MISTAKES


def unroll_mistake(step, kind: str):
    """A sequence forward ``(x, h0, *params) -> (h, None)`` that unrolls ``step`` with mistake ``kind``.

    ``step(x_t, h_prev, *params)`` must return ``(h_next, cache)``.
    """

    def forward(x, h0, *params):
        T = x.shape[1]
        states = []
        h_prev = np.zeros_like(h0) if kind == "h0_ignored" else h0
        for t in range(T):
            x_t = x[:, 0] if kind == "same_input" else x[:, t]
            start = h0 if kind == "no_recurrence" else h_prev
            h_next, _ = step(x_t, start, *params)
            states.append(h_prev if kind == "time_shifted" else h_next)
            h_prev = h_next
        if kind == "last_state_only":
            return h_prev, None
        return np.stack(states, axis=1), None

    return forward


def unroll_mistakes(step) -> dict:
    """Every mistake of :data:`UNROLL_MISTAKES`, reproduced with ``step``."""
    return {m.key: unroll_mistake(step, m.key) for m in UNROLL_MISTAKES}
