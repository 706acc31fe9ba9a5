"""Mistakes that any lesson's sequence loop can make, described once.

Unrolling a cell over time goes wrong in the same few ways whatever the cell
(vanilla RNN, GRU, ...); lessons list :data:`UNROLL_MISTAKES` in their
``*_forward`` exercises, and ``autograder.reference.common.unroll_mistake``
reproduces each one with the lesson's own step.
"""

from __future__ import annotations

from collections.abc import Callable

from autograder.suites.core import Case, Mistake

# The last case of the RNN, LSTM and GRU step and sequence exercises has sizes of its own, so that
# code that works only for the usual ones (np.squeeze, a hard-coded H, D < H assumed) fails.
# D = 7 differs from H and from 2H, 3H, 4H: a mis-sliced weight still shows as a wrong shape.
OTHER_STEP_SIZES = "everything random, other sizes: one row (N = 1), more inputs than units (D = 7, H = 3)"
OTHER_SEQUENCE_SIZES = "everything random, other sizes: one sequence (N = 1, T = 4), D = 7 > H = 3"
OTHER_STEP = (1, 7, 3)  # N, D, H
OTHER_SEQUENCE = (1, 4, 7, 3)  # N, T, D, H


def random_cases(inputs: Callable[..., dict], usual: tuple, other: tuple) -> list[Case]:
    """The combined random case at the exercise's usual sizes, then the same at ``other``
    (:data:`OTHER_STEP` or :data:`OTHER_SEQUENCE`); ``inputs(*sizes)`` draws one case's inputs."""
    name = OTHER_STEP_SIZES if other == OTHER_STEP else OTHER_SEQUENCE_SIZES
    return [Case("everything random", inputs(*usual)), Case(name, inputs(*other))]

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
