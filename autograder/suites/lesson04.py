"""Lesson 04 · GRU: what is graded and how.

Fused weights in the order r, z, n (NOTATION.md). The step cases switch on one
source at a time (only the bias, only the input, only the recurrence), which
separates the conventions: a reset gate applied after the matmul only shows
when h_prev is non-zero, a z on the wrong side shows everywhere.

Backward passes are graded with the learner's own forward pass, which builds
the cache (``needs``): ``check.gru_step_backward(gru_step_backward,
gru_step_forward)``. Fixtures and the grader pass the reference forward when
they run the reference and the catalogued mistakes.
"""

from __future__ import annotations

import numpy as np

from autograder.suites.common import OTHER_SEQUENCE, OTHER_STEP, UNROLL_MISTAKES, random_cases
from autograder.suites.core import (
    Case,
    Exercise,
    Mistake,
    call_backward,
    watch_step_caches,
)

LESSON = "04_gru"


def _normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape)).astype(np.float64)



def _gru_params(rng, D, H, scale=0.8, bias=True):
    return {
        "W_x": _normal(rng, D, 3 * H, scale=scale),
        "W_h": _normal(rng, H, 3 * H, scale=scale),
        "b": _normal(rng, 3 * H, scale=0.5) if bias else np.zeros(3 * H),
    }


# --------------------------------------------------------------------------
# 4.1 gru_step_forward
# --------------------------------------------------------------------------


def _step_cases(rng: np.random.Generator) -> list[Case]:
    N, D, H = 3, 4, 5
    zeros_x, zeros_h = np.zeros((N, D)), np.zeros((N, H))
    return [
        Case(
            "bias only (x = 0, h_prev = 0)",
            {"x": zeros_x, "h_prev": zeros_h, **_gru_params(rng, D, H)},
        ),
        Case(
            "input only (h_prev = 0, b = 0)",
            {"x": _normal(rng, N, D), "h_prev": zeros_h, **_gru_params(rng, D, H, bias=False)},
        ),
        Case(
            "recurrence only (x = 0, b = 0)",
            {
                "x": zeros_x,
                "h_prev": _normal(rng, N, H, scale=0.8),
                **_gru_params(rng, D, H, bias=False),
            },
        ),
        *random_cases(
            lambda n, d, h: {
                "x": _normal(rng, n, d),
                "h_prev": _normal(rng, n, h, scale=0.8),
                **_gru_params(rng, d, h),
            },
            (N, D, H),
            OTHER_STEP,
        ),
    ]


GRU_STEP_FORWARD = Exercise(
    name="gru_step_forward",
    lesson=LESSON,
    number="4.1",
    points=4,
    returns=("h_next", "cache"),
    graded=("h_next",),
    make_cases=_step_cases,
    description="one GRU step, course convention: reset before the recurrent matmul, "
    "h_next = (1 - z) * h_prev + z * n",
    mistakes=(
        Mistake(
            "z_wrong_side",
            "z weights the old state: h_next = z * h_prev + (1 - z) * n (the PyTorch/Keras side)",
            "in the course convention z weights the new candidate: h_next = (1 - z) * h_prev + z * n",
        ),
        Mistake(
            "reset_after_matmul",
            "the reset gate is applied after the recurrent matmul, r * (h_prev @ W_hn) "
            "(the PyTorch/Keras reset_after convention)",
            "the course resets h_prev before the matmul: (r * h_prev) @ W_h[:, 2H:]",
        ),
        Mistake(
            "r_z_swapped",
            "the r and z blocks are swapped (r read from columns H:2H, z from 0:H)",
            "the fused blocks are in the order r, z, n: r = columns 0:H, z = H:2H, n = 2H:3H",
        ),
        Mistake(
            "sigmoid_candidate",
            "a sigmoid is applied to the candidate n instead of tanh",
            "only the gates r and z use the sigmoid; the candidate n uses np.tanh",
        ),
        Mistake(
            "no_reset",
            "the reset gate is never used: the candidate sees h_prev @ W_hn",
            "multiply h_prev by r before the candidate's recurrent matmul",
        ),
        Mistake(
            "tanh_gates",
            "the gates r and z use tanh instead of a sigmoid",
            "a gate is a number in (0, 1): use sigmoid for r and z",
        ),
        Mistake(
            "no_candidate_bias",
            "the candidate's bias b[2H:] is left out: n = tanh(x W_xn + (r * h_prev) W_hn)",
            "every block has its bias, the candidate too: add b[2H:] inside the tanh",
        ),
    ),
)


# --------------------------------------------------------------------------
# 4.2 gru_step_backward
# --------------------------------------------------------------------------

# The gradients whose column blocks r, z, n each come from one block of da are compared first, so
# that the verdict on a slip in da names its block (see _which_block); dx and dh_prev mix the blocks.
BLOCKS_FIRST = ("db", "dW_x", "dW_h")

# The column blocks of dW_x, dW_h and db, and the part of da (N, 3H) each is made from.
_BLOCKS = (
    ("r", "0:H", "da_r, the reset gate's block of da"),
    ("z", "H:2H", "da_z, the update gate's block of da"),
    ("n", "2H:3H", "da_n, the candidate's block of da"),
)


def _which_block(name, expected, actual, close) -> str:
    """Which of the blocks r, z, n of a weight or bias gradient is wrong, when not all are: every
    block is one matrix product with one block of da, so that block's slip is in that block of da."""
    if name not in ("dW_x", "dW_h", "db") or actual.shape != expected.shape or expected.shape[-1] % 3:
        return ""
    H = expected.shape[-1] // 3
    ok = [close(actual[..., k * H : (k + 1) * H], expected[..., k * H : (k + 1) * H]) for k in range(3)]
    where = "db[{}]" if name == "db" else f"{name}[:, {{}}]"
    right = [f"the {b} block {where.format(cols)}" for (b, cols, _), good in zip(_BLOCKS, ok) if good]
    wrong = [(b, cols, part) for (b, cols, part), good in zip(_BLOCKS, ok) if not good]
    if not right or not wrong:
        return ""
    said = " and ".join(f"the {b} block {where.format(cols)}" for b, cols, _ in wrong)
    parts = " or ".join(part for _, _, part in wrong)
    also = ""
    if name == "dW_h" and any(b == "n" for b, _, _ in wrong):
        also = " (or in what it is multiplied by there: the candidate's recurrent matmul reads r * h_prev)"
    elif name == "dW_h":
        also = " (or in what it is multiplied by there: the gates' recurrent matmul reads h_prev)"
    return f"{' and '.join(right)} {'match' if len(right) > 1 else 'matches'}, {said} {'do' if len(wrong) > 1 else 'does'} not: look at {parts}{also}"


def _step_backward_cases(rng: np.random.Generator) -> list[Case]:
    N, D, H = 3, 4, 5
    return [
        Case(
            "h_prev = 0 (no recurrent weight gradient)",
            {
                "x": _normal(rng, N, D),
                "h_prev": np.zeros((N, H)),
                **_gru_params(rng, D, H),
                "dh_next": _normal(rng, N, H),
            },
        ),
        Case(
            "x = 0 (no input weight gradient)",
            {
                "x": np.zeros((N, D)),
                "h_prev": _normal(rng, N, H, scale=0.8),
                **_gru_params(rng, D, H),
                "dh_next": _normal(rng, N, H),
            },
        ),
        *random_cases(
            lambda n, d, h: {
                "x": _normal(rng, n, d),
                "h_prev": _normal(rng, n, h, scale=0.8),
                **_gru_params(rng, d, h),
                "dh_next": _normal(rng, n, h),
            },
            (N, D, H),
            OTHER_STEP,
        ),
    ]


def _call_step_backward(fn, inputs, helpers):
    args = [inputs[k] for k in ("x", "h_prev", "W_x", "W_h", "b")]
    up = [inputs["dh_next"]]
    return call_backward(fn, "gru_step_backward", helpers, "gru_step_forward", args, up, "(h_next, cache)")[1]


GRU_STEP_BACKWARD = Exercise(
    name="gru_step_backward",
    lesson=LESSON,
    number="4.2",
    points=5,
    returns=("dx", "dh_prev", "dW_x", "dW_h", "db"),
    graded=BLOCKS_FIRST + ("dx", "dh_prev"),
    make_cases=_step_backward_cases,
    needs=("gru_step_forward",),
    call=_call_step_backward,
    explain=_which_block,
    description="the gradients of one GRU step, from the cache of your gru_step_forward",
    mistakes=(
        Mistake(
            "no_direct_path",
            "dh_prev misses the direct path: the (1 - z) * dh_next term is left out",
            "h_next = (1 - z) * h_prev + ... depends on h_prev directly, so dh_prev starts at dh_next * (1 - z)",
        ),
        Mistake(
            "no_reset_in_dh_prev",
            "the candidate's path to dh_prev is not multiplied by r",
            "the candidate reads r * h_prev, so its contribution to dh_prev is (da_n @ W_hn.T) * r",
        ),
        Mistake(
            "no_candidate_path",
            "dh_prev misses the path through the candidate: the (da_n @ W_hn.T) * r term is left out",
            "h_prev reaches h_next three ways: directly, through the candidate n (via r * h_prev) and "
            "through the gates r and z; dh_prev is the sum of all three",
        ),
        Mistake(
            "no_gate_path",
            "dh_prev misses the path through the gates: the [da_r, da_z] @ W_h[:, :2H].T term is left out",
            "the gates read h_prev too: add [da_r, da_z] @ W_h[:, :2H].T to dh_prev",
        ),
        Mistake(
            "W_hn_not_transposed",
            "the candidate's gradient is sent back through W_hn instead of W_hn.T",
            "the forward pass multiplies (r * h_prev) @ W_hn, so the backward pass multiplies da_n @ W_hn.T "
            "(W_hn is square, so no shape error warns you)",
        ),
        Mistake(
            "dz_sign",
            "the sign of dz is flipped: dz = dh_next * (h_prev - n)",
            "h_next = h_prev + z * (n - h_prev), so dz = dh_next * (n - h_prev)",
        ),
        Mistake(
            "tanh_derivative_for_gates",
            "the gates are differentiated like tanh (1 - g**2) instead of a sigmoid",
            "the derivative of a sigmoid gate g is g * (1 - g)",
        ),
        Mistake(
            "dW_hn_uses_h_prev",
            "the candidate block of dW_h uses h_prev instead of r * h_prev",
            "the candidate's recurrent matmul reads r * h_prev: dW_h[:, 2H:] = (r * h_prev).T @ da_n",
        ),
        Mistake(
            "full_da_to_dh_prev",
            "dh_prev adds all three blocks, da @ W_h.T, as in the LSTM: the candidate is counted twice and "
            "without r",
            "the candidate reaches h_prev only through r * h_prev, already counted as (da_n @ W_hn.T) * r; "
            "only the gates go back through W_h directly: [da_r, da_z] @ W_h[:, :2H].T",
        ),
        Mistake(
            "db_mean",
            "db is averaged over the batch instead of summed",
            "the bias is added to every row, so its gradient is the sum over the batch axis",
        ),
        Mistake(
            "dz_misses_h_prev",
            "dz is dh_next * n: the - h_prev part is left out",
            "z appears twice in h_next = (1 - z) * h_prev + z * n, so dz = dh_next * (n - h_prev)",
        ),
        Mistake(
            "dn_wrong_side",
            "dn is dh_next * (1 - z), the weight of the old state, instead of dh_next * z",
            "in the course convention z weights the candidate: dn = dh_next * z, and the direct path to "
            "dh_prev is dh_next * (1 - z)",
        ),
        Mistake(
            "tanh_of_n",
            "tanh is applied to n again in its derivative: 1 - np.tanh(n)**2",
            "n is already tanh(a_n), so da_n = dn * (1 - n**2)",
        ),
        Mistake(
            "dr_misses_h_prev",
            "dr is drh = da_n @ W_hn.T: the factor h_prev is left out",
            "the candidate reads r * h_prev, so dr = drh * h_prev (and h_prev's share is drh * r)",
        ),
        Mistake(
            "r_h_prev_mixed_up",
            "the candidate's path to dh_prev is drh * h_prev instead of drh * r",
            "the candidate reads r * h_prev: its gradient w.r.t. h_prev is drh * r, w.r.t. r it is drh * h_prev",
        ),
    ),
)


# --------------------------------------------------------------------------
# 4.3 gru_forward
# --------------------------------------------------------------------------


def _forward_cases(rng: np.random.Generator) -> list[Case]:
    N, T, D, H = 2, 5, 3, 4
    x_first_only = np.zeros((N, T, D))
    x_first_only[:, 0] = _normal(rng, N, D)
    return [
        Case(
            "only h0 is non-zero (x = 0)",
            {
                "x": np.zeros((N, T, D)),
                "h0": _normal(rng, N, H),
                **_gru_params(rng, D, H, scale=0.7),
            },
        ),
        Case(
            "an input at t = 0 only, h0 = 0",
            {"x": x_first_only, "h0": np.zeros((N, H)), **_gru_params(rng, D, H, scale=0.7)},
        ),
        *random_cases(
            lambda n, t, d, h: {
                "x": _normal(rng, n, t, d),
                "h0": _normal(rng, n, h, scale=0.5),
                **_gru_params(rng, d, h, scale=0.7),
            },
            (N, T, D, H),
            OTHER_SEQUENCE,
        ),
    ]


GRU_FORWARD = Exercise(
    name="gru_forward",
    lesson=LESSON,
    number="4.3",
    points=2,
    returns=("h", "cache"),
    graded=("h",),
    make_cases=_forward_cases,
    uses=("gru_step_forward",),
    call=watch_step_caches("gru_forward", "gru_step_forward"),
    description="the GRU unrolled over a sequence: h[:, t] is the state after reading x[:, t]",
    mistakes=UNROLL_MISTAKES,
)


# --------------------------------------------------------------------------
# 4.4 gru_backward
# --------------------------------------------------------------------------


def _backward_cases(rng: np.random.Generator) -> list[Case]:
    N, T, D, H = 2, 4, 3, 5

    def inputs(dh, N=N, T=T, D=D, H=H):
        return {
            "x": _normal(rng, N, T, D),
            "h0": _normal(rng, N, H, scale=0.5),
            **_gru_params(rng, D, H, scale=0.7),
            "dh": dh,
        }

    dh_last = np.zeros((N, T, H))
    dh_last[:, -1] = _normal(rng, N, H)
    dh_first = np.zeros((N, T, H))
    dh_first[:, 0] = _normal(rng, N, H)
    return [
        Case("upstream gradient at the last step only", inputs(dh_last)),
        Case("upstream gradient at the first step only", inputs(dh_first)),
        *random_cases(lambda n, t, d, h: inputs(_normal(rng, n, t, h), n, t, d, h), (N, T, D, H), OTHER_SEQUENCE),
    ]


def _call_backward(fn, inputs, helpers):
    args = [inputs[k] for k in ("x", "h0", "W_x", "W_h", "b")]
    return call_backward(fn, "gru_backward", helpers, "gru_forward", args, [inputs["dh"]], "(h, cache)")[1]


GRU_BACKWARD = Exercise(
    name="gru_backward",
    lesson=LESSON,
    number="4.4",
    points=4,
    returns=("dx", "dh0", "dW_x", "dW_h", "db"),
    graded=BLOCKS_FIRST + ("dx", "dh0"),
    make_cases=_backward_cases,
    uses=("gru_step_backward",),
    needs=("gru_forward",),
    call=_call_backward,
    explain=_which_block,
    description="backpropagation through time for the GRU, from the cache of your gru_forward",
    mistakes=(
        Mistake(
            "no_carry",
            "the gradient is not carried back: each step sees only dh[:, t]",
            "step t's upstream gradient is dh[:, t] plus the dh_prev returned by step t + 1",
        ),
        Mistake(
            "overwrite_weights",
            "dW_x, dW_h and db are overwritten at each step instead of accumulated",
            "the weights are shared by every step: add each step's gradients (+=) into zeros",
        ),
        Mistake(
            "forward_time_order",
            "the loop runs forward in time (t = 0, 1, ...) instead of backward",
            "loop over reversed(range(T)): step t needs the gradient that flows back from t + 1",
        ),
        Mistake(
            "last_step_only",
            "only dh[:, -1] is used: the upstream gradients of the other steps are ignored",
            "every step has a loss of its own here; add dh[:, t] at every step",
        ),
        Mistake(
            "dx_time_reversed",
            "dx is in reversed time order: dx[:, 0] holds the gradient of the last input",
            "the loop runs from t = T - 1 down to 0: store step t's dx at dx[:, t] (or, if you collect "
            "them in a list, reverse it before np.stack)",
        ),
        Mistake(
            "skips_step_0",
            "the loop stops before t = 0 (range(T - 1, 0, -1)): the first step is never backpropagated",
            "range(T - 1, -1, -1), or reversed(range(T)), reaches t = 0; dh0 is the dh_prev of step 0",
        ),
    ),
)


# --------------------------------------------------------------------------
# 4.5 gru_torch_step_forward
# --------------------------------------------------------------------------


def _torch_cases(rng: np.random.Generator) -> list[Case]:
    N, D, H = 3, 2, 4

    def params(scale=0.8, D=D, H=H):
        return {
            "W_x": _normal(rng, D, 3 * H, scale=scale),
            "W_h": _normal(rng, H, 3 * H, scale=scale),
            "b_x": _normal(rng, 3 * H, scale=0.5),
            "b_h": _normal(rng, 3 * H, scale=0.5),
        }

    return [
        Case("h_prev = 0", {"x": _normal(rng, N, D), "h_prev": np.zeros((N, H)), **params()}),
        Case("x = 0", {"x": np.zeros((N, D)), "h_prev": _normal(rng, N, H, scale=0.8), **params()}),
        *random_cases(
            lambda n, d, h: {"x": _normal(rng, n, d), "h_prev": _normal(rng, n, h, scale=0.8), **params(D=d, H=h)},
            (N, D, H),
            OTHER_STEP,
        ),
    ]


GRU_TORCH_STEP_FORWARD = Exercise(
    name="gru_torch_step_forward",
    lesson=LESSON,
    number="4.5",
    points=3,
    returns=("h_next",),
    graded=("h_next",),
    make_cases=_torch_cases,
    description="one GRU step in the PyTorch convention: reset after the recurrent matmul, two biases, "
    "h_next = (1 - z) * n + z * h_prev",
    mistakes=(
        Mistake(
            "reset_before_matmul",
            "the reset gate multiplies h_prev before the matmul (the course convention, not PyTorch's)",
            "PyTorch resets the result of the matmul: r * (h_prev @ W_hn + b_hn)",
        ),
        Mistake(
            "z_course_side",
            "z weights the new candidate (the course convention, not PyTorch's)",
            "in PyTorch z keeps the old state: h_next = (1 - z) * n + z * h_prev, with z = sigmoid(a_z) "
            "itself (z = 1 - sigmoid(a_z) with that formula is the course's side again)",
        ),
        Mistake(
            "b_hn_outside_reset",
            "the recurrent bias b_hn is added outside the reset gate",
            "b_hn belongs to the recurrent part, inside the reset: r * (h_prev @ W_hn + b_hn)",
        ),
        Mistake(
            "r_z_swapped",
            "the r and z blocks are swapped",
            "PyTorch orders the blocks r, z, n, like the course",
        ),
        Mistake(
            "no_recurrent_bias",
            "the recurrent bias b_h is left out",
            "PyTorch adds b_h to h_prev @ W_h for every block, next to b_x on the input side",
        ),
        Mistake(
            "no_b_hn",
            "the candidate's recurrent bias b_hn is left out: n = tanh(x W_xn + b_xn + r * (h_prev W_hn))",
            "PyTorch's candidate resets its whole recurrent part, bias included: r * (h_prev @ W_hn + b_hn)",
        ),
        Mistake(
            "biases_swapped",
            "b_x and b_h are swapped: b_x ends up inside the reset, b_h outside",
            "b_x goes with x @ W_x, b_h with h_prev @ W_h; only b_h's candidate block is multiplied by r",
        ),
        Mistake(
            "course_step_biases_summed",
            "this is the course's GRU step with the two biases added, gru_step_forward(x, h_prev, W_x, W_h, "
            "b_x + b_h): the reset before the matmul, b_hn outside the reset and z on the candidate's side, "
            "all three the course's convention, not PyTorch's",
            "PyTorch's step is another function, not the course's with other weights: write it out, "
            "n = tanh(x @ W_xn + b_xn + r * (h_prev @ W_hn + b_hn)) and h_next = (1 - z) * n + z * h_prev; "
            "adding b_x and b_h is right for r and z only",
        ),
    ),
)


# --------------------------------------------------------------------------
# 4.6 gru_weights_from_keras
# --------------------------------------------------------------------------


def _keras_cases(rng: np.random.Generator) -> list[Case]:
    def weights(D, H):
        return {
            "kernel": _normal(rng, D, 3 * H),
            "recurrent_kernel": _normal(rng, H, 3 * H),
            "bias": _normal(rng, 2, 3 * H),
        }

    def hint(D, H):
        return (
            f"here kernel is (D, 3H) = ({D}, {3 * H}), recurrent_kernel (H, 3H) = ({H}, {3 * H}) and bias "
            f"(2, 3H) = (2, {3 * H}): bias[0] and bias[1] are 1-D rows of 3H. Every block sits on the last "
            "axis, so split and join on axis=-1 (np.split(w, 3, axis=-1)), which works for the kernels and "
            "the bias rows alike"
        )

    return [
        Case("small: D = 2, H = 3", weights(2, 3), hint=hint(2, 3)),
        Case("random weights, D = 5, H = 4", weights(5, 4), hint=hint(5, 4)),
    ]


GRU_WEIGHTS_FROM_KERAS = Exercise(
    name="gru_weights_from_keras",
    lesson=LESSON,
    number="4.6",
    points=2,
    returns=("W_x", "W_h", "b_x", "b_h"),
    graded=("W_x", "W_h", "b_x", "b_h"),
    make_cases=_keras_cases,
    description="Keras GRU weights (blocks z, r, h; bias rows input, recurrent) in the PyTorch layout "
    "(blocks r, z, n; b_x, b_h)",
    mistakes=(
        Mistake(
            "no_reorder",
            "the blocks are kept in Keras's order z, r, h",
            "Keras orders the blocks z, r, h; move them to r, z, n in every array",
        ),
        Mistake(
            "recurrent_not_reordered",
            "the recurrent kernel keeps Keras's block order z, r, h",
            "reorder the recurrent kernel like the kernel",
        ),
        Mistake(
            "bias_not_reordered",
            "the biases keep Keras's block order z, r, h",
            "the biases have the same three blocks as the kernels; reorder them too",
        ),
        Mistake(
            "biases_swapped",
            "the input and recurrent biases are swapped",
            "bias[0] is added to x @ kernel (b_x), bias[1] to h_prev @ recurrent_kernel (b_h)",
        ),
        Mistake(
            "same_bias_row",
            "b_h is made from bias[0], like b_x",
            "bias has two rows: bias[0] gives b_x, bias[1] gives b_h",
        ),
        Mistake(
            "z_negated",
            "the z block is negated, as if converting to the course's side of z",
            "Keras and PyTorch both let z weight the old state: the conversion only reorders blocks, no sign "
            "changes",
        ),
    ),
)


EXERCISES = (
    GRU_STEP_FORWARD,
    GRU_STEP_BACKWARD,
    GRU_FORWARD,
    GRU_BACKWARD,
    GRU_TORCH_STEP_FORWARD,
    GRU_WEIGHTS_FROM_KERAS,
)
