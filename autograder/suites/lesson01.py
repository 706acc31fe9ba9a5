"""Lesson 01 · sequences and the RNN cell: what is graded and how.

Each case generator first switches on one part of the computation at a time
(only the bias, only the input, only the recurrence), so that every catalogued
mistake changes the output of at least one case in its own way, then ends with
a combined random case. Sizes differ from each other (D != H != V, N != T) so
that a transposed weight or a swapped axis shows up as a wrong shape.
"""

from __future__ import annotations

import numpy as np

from autograder.suites.common import OTHER_SEQUENCE, OTHER_STEP, UNROLL_MISTAKES, random_cases
from autograder.suites.core import Case, Exercise, Mistake, watch_step_caches

LESSON = "01_rnn_cell"


def _normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape)).astype(np.float64)


# --------------------------------------------------------------------------
# 1.1 rnn_step_forward
# --------------------------------------------------------------------------


def _step_cases(rng: np.random.Generator) -> list[Case]:
    N, D, H = 3, 4, 5

    def params(scale_x=0.7, scale_h=0.7, bias=True, D=D, H=H):
        return {
            "W_xh": _normal(rng, D, H, scale=scale_x),
            "W_hh": _normal(rng, H, H, scale=scale_h),
            "b_h": _normal(rng, H) if bias else np.zeros(H),
        }

    zeros_x, zeros_h = np.zeros((N, D)), np.zeros((N, H))
    return [
        Case("bias only (x = 0, h_prev = 0)", {"x": zeros_x, "h_prev": zeros_h, **params()}),
        Case(
            "input only (h_prev = 0, b_h = 0)",
            {"x": _normal(rng, N, D), "h_prev": zeros_h, **params(bias=False)},
        ),
        Case(
            "recurrence only (x = 0, b_h = 0)",
            {"x": zeros_x, "h_prev": _normal(rng, N, H, scale=0.8), **params(bias=False)},
        ),
        *random_cases(
            lambda n, d, h: {"x": _normal(rng, n, d), "h_prev": _normal(rng, n, h, scale=0.8), **params(D=d, H=h)},
            (N, D, H),
            OTHER_STEP,
        ),
    ]


RNN_STEP_FORWARD = Exercise(
    name="rnn_step_forward",
    lesson=LESSON,
    number="1.1",
    points=3,
    returns=("h_next", "cache"),
    graded=("h_next",),
    make_cases=_step_cases,
    description="one step of the vanilla RNN: h_next = tanh(x W_xh + h_prev W_hh + b_h)",
    mistakes=(
        Mistake(
            "no_bias",
            "the bias b_h is left out",
            "add b_h inside the tanh: tanh(x @ W_xh + h_prev @ W_hh + b_h)",
        ),
        Mistake(
            "sigmoid",
            "a sigmoid is used instead of tanh",
            "the vanilla RNN squashes with np.tanh, whose outputs lie in (-1, 1), not (0, 1)",
        ),
        Mistake(
            "no_activation",
            "no activation: the step returns the raw pre-activation",
            "wrap the sum in np.tanh(...)",
        ),
        Mistake(
            "W_hh_transposed",
            "W_hh is used transposed (h_prev @ W_hh.T)",
            "W_hh maps the old state to the new one as h_prev @ W_hh, with shape (H, H)",
        ),
        Mistake(
            "tanh_each_term",
            "tanh is applied to each term separately and the results are summed",
            "sum the three terms first, then apply a single tanh",
        ),
        Mistake(
            "h_prev_ignored",
            "h_prev is ignored: the step sees only the current input",
            "the recurrence is the h_prev @ W_hh term; check it is in the sum",
        ),
    ),
)


# --------------------------------------------------------------------------
# 1.2 rnn_forward
# --------------------------------------------------------------------------


def _forward_cases(rng: np.random.Generator) -> list[Case]:
    N, T, D, H = 2, 5, 3, 4

    def params(D=D, H=H):
        return {
            "W_xh": _normal(rng, D, H, scale=0.6),
            "W_hh": _normal(rng, H, H, scale=0.6),
            "b_h": _normal(rng, H, scale=0.3),
        }

    x_first_only = np.zeros((N, T, D))
    x_first_only[:, 0] = _normal(rng, N, D)
    return [
        Case(
            "only h0 is non-zero (x = 0)",
            {"x": np.zeros((N, T, D)), "h0": _normal(rng, N, H), **params()},
        ),
        Case(
            "an input at t = 0 only, h0 = 0",
            {"x": x_first_only, "h0": np.zeros((N, H)), **params()},
        ),
        *random_cases(
            lambda n, t, d, h: {"x": _normal(rng, n, t, d), "h0": _normal(rng, n, h, scale=0.5), **params(d, h)},
            (N, T, D, H),
            OTHER_SEQUENCE,
        ),
    ]


RNN_FORWARD = Exercise(
    name="rnn_forward",
    lesson=LESSON,
    number="1.2",
    points=3,
    returns=("h", "cache"),
    graded=("h",),
    make_cases=_forward_cases,
    description="the RNN unrolled over a sequence: h[:, t] is the state after reading x[:, t]",
    mistakes=UNROLL_MISTAKES,
    uses=("rnn_step_forward",),
    call=watch_step_caches("rnn_forward", "rnn_step_forward"),
)


# --------------------------------------------------------------------------
# 1.3 softmax
# --------------------------------------------------------------------------


def _softmax_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case("a batch of score vectors (N, V)", {"scores": _normal(rng, 3, 4, scale=2.0)}),
        Case(
            "large scores (would overflow exp without a shift)",
            {"scores": 800.0 + _normal(rng, 2, 4, scale=3.0)},
        ),
        Case(
            "rows with very different offsets (one shift for all rows is not enough)",
            {"scores": np.array([[1000.0, -400.0, -500.0], [-1000.0, -1001.0, -999.0]]) + _normal(rng, 2, 3)},
        ),
        Case("random per-step scores (N, T, V)", {"scores": _normal(rng, 2, 3, 5, scale=2.0)}),
    ]


SOFTMAX = Exercise(
    name="softmax",
    lesson=LESSON,
    number="1.3",
    points=2,
    returns=("probs",),
    graded=("probs",),
    make_cases=_softmax_cases,
    description="softmax over the last axis, stable for large scores",
    mistakes=(
        Mistake(
            "unstable",
            "exp of large scores overflows: the maximum is not subtracted first",
            "subtract scores.max(axis=-1, keepdims=True) before np.exp",
        ),
        Mistake(
            "global_max",
            "one maximum, of the whole array, is subtracted from every row",
            "shift each row by its own maximum: scores.max(axis=-1, keepdims=True)",
        ),
        Mistake(
            "axis0",
            "the normalization runs over the first axis instead of the last",
            "use axis=-1 and keepdims=True in both the max and the sum",
        ),
        Mistake(
            "global_sum",
            "the exponentials are divided by the sum over the whole array",
            "each row (each position's scores) must sum to 1: sum over axis=-1 only",
        ),
        Mistake(
            "no_exp",
            "the scores are normalized without exponentiating them",
            "probabilities are exp(scores) / sum(exp(scores))",
        ),
    ),
)


# --------------------------------------------------------------------------
# 1.4 rnn_output_forward
# --------------------------------------------------------------------------


def _output_cases(rng: np.random.Generator) -> list[Case]:
    N, T, H, V = 2, 3, 4, 6
    return [
        Case(
            "bias only (h = 0)",
            {"h": np.zeros((N, T, H)), "W_hy": _normal(rng, H, V), "b_y": _normal(rng, V, scale=2.0)},
        ),
        Case(
            "everything random",
            {"h": np.tanh(_normal(rng, N, T, H)), "W_hy": _normal(rng, H, V, scale=1.5), "b_y": _normal(rng, V)},
        ),
    ]


RNN_OUTPUT_FORWARD = Exercise(
    name="rnn_output_forward",
    lesson=LESSON,
    number="1.4",
    points=2,
    returns=("probs",),
    graded=("probs",),
    make_cases=_output_cases,
    uses=("softmax",),
    description="per-step class probabilities softmax(h W_hy + b_y) over the last axis",
    mistakes=(
        Mistake(
            "no_bias",
            "the output bias b_y is left out",
            "the scores are h @ W_hy + b_y",
        ),
        Mistake(
            "no_softmax",
            "the raw scores are returned instead of probabilities",
            "pass the scores through your softmax; each row of the result must sum to 1",
        ),
        Mistake(
            "softmax_over_time",
            "the softmax runs over the time axis instead of the classes",
            "the class axis is the last one (V); normalize over axis=-1",
        ),
        Mistake(
            "sigmoid",
            "a sigmoid is applied instead of a softmax",
            "a sigmoid scores each class independently; softmax makes them compete and sum to 1",
        ),
    ),
)


# --------------------------------------------------------------------------
# 1.5 jordan_step_forward
# --------------------------------------------------------------------------


def _jordan_cases(rng: np.random.Generator) -> list[Case]:
    N, D, H, V = 2, 3, 4, 5

    def params():
        return {
            "W_xh": _normal(rng, D, H),
            "W_yh": _normal(rng, V, H, scale=2.0),
            "b_h": _normal(rng, H, scale=0.5),
            "W_hy": _normal(rng, H, V, scale=1.5),
            "b_y": _normal(rng, V, scale=0.5),
        }

    def onehot(idx):
        y = np.zeros((N, V))
        y[np.arange(N), idx] = 1.0
        return y

    return [
        Case(
            "previous output only (x = 0)",
            {"x": np.zeros((N, D)), "y_prev": onehot([1, 3]), **params()},
        ),
        Case(
            "input only (y_prev = 0)",
            {"x": _normal(rng, N, D), "y_prev": np.zeros((N, V)), **params()},
        ),
        Case(
            "everything random",
            {"x": _normal(rng, N, D), "y_prev": np.full((N, V), 1.0 / V) + 0.1 * _normal(rng, N, V), **params()},
        ),
    ]


JORDAN_STEP_FORWARD = Exercise(
    name="jordan_step_forward",
    lesson=LESSON,
    number="1.5",
    points=3,
    returns=("h_next", "y_next"),
    graded=("h_next", "y_next"),
    make_cases=_jordan_cases,
    uses=("softmax",),
    description="a Jordan step: the previous output y_prev, not the hidden state, is fed back",
    mistakes=(
        Mistake(
            "y_prev_ignored",
            "y_prev is ignored: nothing is fed back",
            "the feedback term is y_prev @ W_yh, inside the tanh",
        ),
        Mistake(
            "no_softmax",
            "y_next is the raw scores, not probabilities",
            "y_next = softmax(h_next @ W_hy + b_y)",
        ),
        Mistake(
            "no_tanh",
            "the hidden state has no tanh",
            "h_next = tanh(x @ W_xh + y_prev @ W_yh + b_h)",
        ),
        Mistake(
            "no_bias",
            "the hidden bias b_h is left out",
            "add b_h inside the tanh",
        ),
        Mistake(
            "output_from_preactivation",
            "y_next is computed from the pre-activation instead of h_next",
            "apply the tanh first, then the output layer to h_next",
        ),
    ),
)


# --------------------------------------------------------------------------
# 1.6 count_rnn_parameters
# --------------------------------------------------------------------------


def _count_cases(rng: np.random.Generator) -> list[Case]:
    sizes = [(3, 5, 2, 10), (1, 8, 4, 100), (12, 3, 5, 7)]
    D, H, V = (int(v) for v in rng.integers(2, 40, size=3))
    T = int(rng.integers(5, 50))
    sizes.append((D, H + 41, V, T))  # H > 40 keeps H distinct from D and V
    names = ["small sizes", "one input feature, a long sequence", "more inputs than hidden units", "random sizes"]
    return [
        Case(
            # the random sizes are the hidden case's inputs: its name must not show them
            name if name == "random sizes" else f"{name}: input_size={d}, hidden_size={h}, output_size={v}, seq_len={t}",
            {"input_size": d, "hidden_size": h, "output_size": v, "seq_len": t},
        )
        for name, (d, h, v, t) in zip(names, sizes)
    ]


COUNT_RNN_PARAMETERS = Exercise(
    name="count_rnn_parameters",
    lesson=LESSON,
    number="1.6",
    points=1,
    returns=("count",),
    graded=("count",),
    make_cases=_count_cases,
    description="the number of trainable numbers in an RNN with an output layer",
    mistakes=(
        Mistake(
            "no_biases",
            "the biases b_h and b_y are not counted",
            "a bias has one number per unit: H for b_h, V for b_y",
        ),
        Mistake(
            "no_recurrent",
            "the recurrent weights W_hh are not counted",
            "W_hh has shape (H, H): H * H numbers",
        ),
        Mistake(
            "times_seq_len",
            "the count grows with seq_len: the weights are counted once per time step",
            "the same weights are shared by every time step, so the count does not depend on seq_len",
        ),
        Mistake(
            "no_output_layer",
            "the output layer (W_hy, b_y) is not counted",
            "W_hy has H * V numbers and b_y has V",
        ),
        Mistake(
            "recurrent_as_vector",
            "W_hh is counted as H numbers instead of H * H",
            "every hidden unit reads every previous hidden unit: W_hh is a full (H, H) matrix",
        ),
    ),
)


EXERCISES = (
    RNN_STEP_FORWARD,
    RNN_FORWARD,
    SOFTMAX,
    RNN_OUTPUT_FORWARD,
    JORDAN_STEP_FORWARD,
    COUNT_RNN_PARAMETERS,
)
