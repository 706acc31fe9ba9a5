"""Mistakes that any lesson's sequence loop can make, described once.

Unrolling a cell over time goes wrong in the same few ways whatever the cell
(vanilla RNN, GRU, ...); lessons list :data:`UNROLL_MISTAKES` in their
``*_forward`` exercises, and ``autograder.reference.common.unroll_mistake``
reproduces each one with the lesson's own step.
"""

from __future__ import annotations

from autograder.suites.core import Mistake

UNROLL_MISTAKES = (
    Mistake(
        "h0_ignored",
        "h0 is ignored: the first step starts from zeros",
        "the first step's h_prev must be the h0 argument",
    ),
    Mistake(
        "time_shifted",
        "time is shifted by one: h[:, t] holds the state before reading x[:, t] (h[:, 0] is h0)",
        "store the state after the step: h_next of step t goes into h[:, t]",
    ),
    Mistake(
        "same_input",
        "every step reads the first input x[:, 0]",
        "index the input by the time step: x[:, t]",
    ),
    Mistake(
        "no_recurrence",
        "the state is not carried: every step starts from h0",
        "after each step, the new state becomes the next step's h_prev",
    ),
    Mistake(
        "last_state_only",
        "only the last hidden state is returned, shape (N, H)",
        "return the states of every step, stacked into shape (N, T, H)",
    ),
)
