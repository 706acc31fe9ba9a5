"""Lesson 02 · backpropagation through time: what is graded and how.

The forward pass is given to learners in a locked cell of the notebook, with a
fixed cache layout: one step's cache is the tuple
``(x, h_prev, W_xh, W_hh, h_next)`` and ``rnn_forward``'s cache is the list of
step caches in time order. The backward checks build that cache themselves
from the case's inputs (see :func:`_rnn_forward`), so every case is
deterministic and needs nothing from the learner but the function under test.

Besides the gradients, each backward check grades properties computed inside
:attr:`Exercise.call`, so that the self-check and the grader apply them alike.
Their names are phrased so that a report line reads as a sentence:

* :data:`NUMERICAL`: how many of the returned gradients disagree with a
  central difference of the loss ``sum(h * dh)`` taken along a random
  direction (a projection of the numerical gradient; expected 0);
* :data:`SECOND_CALL`: 1 when calling the function again on fresh copies of
  the same inputs gives different gradients, i.e. the function keeps state
  between calls (a global accumulator, a mutable default argument);
* the upstream flag (:data:`STEP_UPSTREAM`, :data:`SEQ_UPSTREAM`): 1 when the
  call changed its upstream gradient in place;
* :data:`CACHE_CHANGED`: which array of the cache the call changed in place
  (its 1-based position in the step cache, 0 when none).

The learner's function receives copies of the case's arrays, so an in-place
change is reported once, by these properties, and never contradicts the
exercise (numerical_gradient must perturb x in place and restore it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autograder.suites.common import OTHER_SEQUENCE, OTHER_STEP, random_cases
from autograder.suites.core import (
    CallProblem,
    Case,
    Exercise,
    Mistake,
    call_keeping_inputs,
    described,
)

LESSON = "02_bptt"

STEP_GRADS = ("dx", "dh_prev", "dW_xh", "dW_hh", "db_h")
SEQ_GRADS = ("dx", "dh0", "dW_xh", "dW_hh", "db_h")
CACHE_ITEMS = ("x", "h_prev", "W_xh", "W_hh", "h_next")
NUMERICAL = "gradients that disagree with numerical ones"
SECOND_CALL = "a second call on the same inputs gives other gradients (1 = yes)"
STEP_UPSTREAM = "dh_next changed in place (1 = yes)"
SEQ_UPSTREAM = "dh changed in place (1 = yes)"
CACHE_CHANGED = "cache changed in place (0 = no; 1 to 5 = x, h_prev, W_xh, W_hh, h_next)"
STEP_FLAGS = (NUMERICAL, SECOND_CALL, STEP_UPSTREAM, CACHE_CHANGED)
SEQ_FLAGS = (NUMERICAL, SECOND_CALL, SEQ_UPSTREAM, CACHE_CHANGED)
X_NOT_RESTORED = "entries of x not restored exactly"
PARAM_NAMES = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")


def _normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape)).astype(np.float64)


# --------------------------------------------------------------------------
# Shared by the calls: the given forward pass, and the extra properties
# --------------------------------------------------------------------------


def _rnn_forward(x, h0, W_xh, W_hh, b_h):
    """The notebook's locked forward pass: states (N, T, H) and the list of step caches."""
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]))
    caches = []
    h_prev = h0
    for t in range(T):
        h[:, t] = np.tanh(x[:, t] @ W_xh + h_prev @ W_hh + b_h)
        caches.append((x[:, t], h_prev, W_xh, W_hh, h[:, t]))
        h_prev = h[:, t]
    return h, caches


def _as_tuple(name: str, result: Any, names: Sequence[str]) -> tuple:
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        raise CallProblem("returns", f"{name} should return a tuple ({', '.join(names)}), got {described(result, returned=True)}")
    return tuple(np.array(r, copy=True) if isinstance(r, np.ndarray) else r for r in result)


def _as_float(value: Any) -> Any:
    """A scalar result as a 0-d float64 array, so that it is compared like an array."""
    if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    ):
        return np.asarray(value, dtype=np.float64)
    return value


def _changed(before: Sequence[np.ndarray], after: Sequence[np.ndarray]) -> int:
    return int(any(not np.array_equal(b, a, equal_nan=True) for b, a in zip(before, after)))


def _cache_changed(before: Sequence[tuple], after: Sequence[tuple]) -> int:
    """The 1-based position in the step cache of the first array changed in place, else 0."""
    for position in range(len(CACHE_ITEMS)):
        if any(
            not np.array_equal(b[position], a[position], equal_nan=True)
            for b, a in zip(before, after)
        ):
            return position + 1
    return 0


def _differ(first: Sequence[Any], second: Sequence[Any]) -> int:
    for a, b in zip(first, second):
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
            if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
                return 1
        elif type(a) is not type(b) or not np.array_equal(np.asarray(a), np.asarray(b)):
            return 1
    return 0


def _numerical_check_failures(
    loss: Callable[..., float], args: Sequence[np.ndarray], grads: Sequence[Any], seed: int
) -> int:
    """How many gradients disagree with a central difference of ``loss`` along a random direction.

    For the k-th argument, the derivative of loss along a random direction v,
    (loss(.., arg + eps v, ..) - loss(.., arg - eps v, ..)) / (2 eps), must equal
    sum(grad_k * v) to a relative 1e-6.
    """
    rng = np.random.default_rng(seed)
    eps = 1e-5
    failures = 0
    for k, (arg, grad) in enumerate(zip(args, grads)):
        v = rng.standard_normal(arg.shape)
        if not isinstance(grad, np.ndarray) or grad.shape != arg.shape:
            failures += 1
            continue
        plus, minus = list(args), list(args)
        plus[k], minus[k] = arg + eps * v, arg - eps * v
        numeric = (loss(*plus) - loss(*minus)) / (2 * eps)
        with np.errstate(all="ignore"):
            analytic = float(np.sum(grad.astype(np.float64) * v))
        if not abs(numeric - analytic) <= 1e-8 + 1e-6 * (abs(numeric) + abs(analytic)):
            failures += 1
    return failures


# --------------------------------------------------------------------------
# 2.1 rnn_step_backward
# --------------------------------------------------------------------------


def _step_backward_cases(rng: np.random.Generator) -> list[Case]:
    N, D, H = 3, 4, 5

    def params(bias=True, D=D, H=H):
        return {
            "W_xh": _normal(rng, D, H, scale=0.8),
            "W_hh": _normal(rng, H, H, scale=0.8),
            "b_h": _normal(rng, H) if bias else np.zeros(H),
        }

    zeros_x, zeros_h = np.zeros((N, D)), np.zeros((N, H))
    return [
        Case(
            "bias only (x = 0, h_prev = 0)",
            {"dh_next": _normal(rng, N, H), "x": zeros_x, "h_prev": zeros_h, **params()},
        ),
        Case(
            "input only (h_prev = 0, b_h = 0)",
            {
                "dh_next": _normal(rng, N, H),
                "x": _normal(rng, N, D),
                "h_prev": zeros_h,
                **params(False),
            },
        ),
        Case(
            "recurrence only (x = 0, b_h = 0)",
            {
                "dh_next": _normal(rng, N, H),
                "x": zeros_x,
                "h_prev": _normal(rng, N, H, scale=0.8),
                **params(False),
            },
        ),
        *random_cases(
            lambda n, d, h: {
                "dh_next": _normal(rng, n, h),
                "x": _normal(rng, n, d),
                "h_prev": np.tanh(_normal(rng, n, h)),
                **params(D=d, H=h),
            },
            (N, D, H),
            OTHER_STEP,
        ),
    ]


def _call_step_backward(fn: Callable, inputs: dict, helpers: dict) -> tuple:
    dh_next, x, h_prev, W_xh, W_hh, b_h = (
        inputs[k].copy() for k in ("dh_next", "x", "h_prev", "W_xh", "W_hh", "b_h")
    )
    h_next = np.tanh(x @ W_xh + h_prev @ W_hh + b_h)
    cache = (x, h_prev, W_xh, W_hh, h_next)
    pristine_dh, pristine_cache = dh_next.copy(), tuple(a.copy() for a in cache)
    grads = _as_tuple("rnn_step_backward", fn(dh_next, cache), STEP_GRADS)
    upstream = _changed([pristine_dh], [dh_next])
    cache_changed = _cache_changed([pristine_cache], [cache])
    fresh_cache = tuple(a.copy() for a in pristine_cache)
    again = _as_tuple("rnn_step_backward", fn(pristine_dh.copy(), fresh_cache), STEP_GRADS)

    def loss(x, h_prev, W_xh, W_hh, b_h):
        return float(np.sum(np.tanh(x @ W_xh + h_prev @ W_hh + b_h) * pristine_dh))

    failures = _numerical_check_failures(
        loss, [a.copy() for a in pristine_cache[:4]] + [b_h.copy()], grads, seed=21
    )
    return (*grads, failures, _differ(grads, again), upstream, cache_changed)


RNN_STEP_BACKWARD = Exercise(
    name="rnn_step_backward",
    lesson=LESSON,
    number="2.1",
    points=4,
    returns=STEP_GRADS + STEP_FLAGS,
    graded=STEP_GRADS + STEP_FLAGS,
    returns_as="(dx, dh_prev, dW_xh, dW_hh, db_h)",
    make_cases=_step_backward_cases,
    call=_call_step_backward,
    description="the gradients of one RNN step, given the upstream gradient dh_next and the step's cache",
    mistakes=(
        Mistake(
            "no_tanh_derivative",
            "the tanh derivative is left out: dh_next is used as the gradient of the pre-activation",
            "multiply dh_next by the tanh derivative 1 - h_next**2 before anything else",
        ),
        Mistake(
            "tanh_derivative_of_h_next",
            "the tanh derivative is taken at the wrong point: 1 - tanh(h_next)**2 applies tanh twice",
            "h_next already is tanh(a), so tanh'(a) = 1 - h_next**2; do not call np.tanh again",
        ),
        Mistake(
            "tanh_derivative_at_h_prev",
            "the tanh derivative is taken at the wrong point: 1 - h_prev**2 uses the old state",
            "the tanh of this step produced h_next, so its derivative is 1 - h_next**2",
        ),
        Mistake(
            "dW_hh_from_h_next",
            "dW_hh is built from h_next instead of h_prev",
            "W_hh multiplies h_prev in the forward pass, so dW_hh = h_prev.T @ da",
        ),
        Mistake(
            "W_hh_not_transposed",
            "dh_prev uses W_hh instead of its transpose",
            "the forward computes h_prev @ W_hh, so the gradient flows back as da @ W_hh.T",
        ),
        Mistake(
            "db_h_averaged",
            "db_h is averaged over the batch instead of summed",
            "b_h is added to every row of the batch, so its gradient is da.sum(axis=0)",
        ),
        Mistake(
            "modifies_upstream",
            "the gradients are right, but the upstream gradient dh_next is modified in place "
            "(e.g. dh_next *= 1 - h_next**2)",
            "compute da = dh_next * (1 - h_next**2) into a new array; the caller still needs dh_next",
        ),
        Mistake(
            "modifies_cache",
            "the gradients are right, but h_next in the cache is modified in place "
            "(e.g. h_next **= 2 to get h_next**2)",
            "the cache belongs to the caller: compute 1 - h_next**2 into a new array "
            "instead of changing h_next with **=, *= or +=",
        ),
    ),
)


# --------------------------------------------------------------------------
# 2.2 rnn_backward
# --------------------------------------------------------------------------


def _backward_cases(rng: np.random.Generator) -> list[Case]:
    N, T, D, H = 2, 4, 3, 5

    def params(N=N, T=T, D=D, H=H):
        return {
            "x": _normal(rng, N, T, D),
            "h0": _normal(rng, N, H, scale=0.5),
            "W_xh": _normal(rng, D, H, scale=0.7),
            "W_hh": _normal(rng, H, H, scale=0.7),
            "b_h": _normal(rng, H, scale=0.3),
        }

    dh_last, dh_first = np.zeros((N, T, H)), np.zeros((N, T, H))
    dh_last[:, -1] = _normal(rng, N, H)
    dh_first[:, 0] = _normal(rng, N, H)
    return [
        Case("upstream gradient at the last step only", {"dh": dh_last, **params()}),
        Case("upstream gradient at the first step only", {"dh": dh_first, **params()}),
        *random_cases(lambda n, t, d, h: {"dh": _normal(rng, n, t, h), **params(n, t, d, h)}, (N, T, D, H), OTHER_SEQUENCE),
    ]


def _call_backward(fn: Callable, inputs: dict, helpers: dict) -> tuple:
    dh, x, h0, W_xh, W_hh, b_h = (
        inputs[k].copy() for k in ("dh", "x", "h0", "W_xh", "W_hh", "b_h")
    )
    _, cache = _rnn_forward(x, h0, W_xh, W_hh, b_h)
    pristine_dh = dh.copy()
    pristine_cache = [tuple(a.copy() for a in step) for step in cache]
    grads = _as_tuple("rnn_backward", fn(dh, cache), SEQ_GRADS)
    upstream = _changed([pristine_dh], [dh])
    cache_changed = _cache_changed(pristine_cache, cache)
    fresh_cache = [tuple(a.copy() for a in step) for step in pristine_cache]
    again = _as_tuple("rnn_backward", fn(pristine_dh.copy(), fresh_cache), SEQ_GRADS)
    args = [inputs[k].copy() for k in ("x", "h0", "W_xh", "W_hh", "b_h")]

    def loss(x, h0, W_xh, W_hh, b_h):
        return float(np.sum(_rnn_forward(x, h0, W_xh, W_hh, b_h)[0] * pristine_dh))

    failures = _numerical_check_failures(loss, args, grads, seed=22)
    return (*grads, failures, _differ(grads, again), upstream, cache_changed)


RNN_BACKWARD = Exercise(
    name="rnn_backward",
    lesson=LESSON,
    number="2.2",
    points=4,
    returns=SEQ_GRADS + SEQ_FLAGS,
    graded=SEQ_GRADS + SEQ_FLAGS,
    returns_as="(dx, dh0, dW_xh, dW_hh, db_h)",
    make_cases=_backward_cases,
    call=_call_backward,
    uses=("rnn_step_backward",),
    description="backpropagation through time over a whole sequence, given the upstream gradient of every state",
    mistakes=(
        Mistake(
            "grads_overwritten",
            "the weight gradients are overwritten at each step instead of accumulated over time",
            "the weights are shared by every step: start dW_xh, dW_hh, db_h at zero and add (+=) each step's share",
        ),
        Mistake(
            "upstream_not_added",
            "the upstream gradient dh[:, t] of a step is not added to the gradient flowing back "
            "(only the last step's is used)",
            "the gradient reaching h_t is dh[:, t] + the dh_prev returned by step t + 1",
        ),
        Mistake(
            "not_carried",
            "the gradient does not flow back through time: each step sees only its own dh[:, t]",
            "pass dh[:, t] + dh_prev to the step, where dh_prev came back from step t + 1",
        ),
        Mistake(
            "forward_in_time",
            "the loop runs forward in time (t = 0, 1, ...) instead of backward",
            "the gradient of step t needs what comes back from step t + 1: loop for t in reversed(range(T))",
        ),
        Mistake(
            "modifies_upstream",
            "the gradients are right, but the upstream array dh is modified in place "
            "(e.g. dh[:, t - 1] += dh_prev)",
            "keep the carried gradient in its own variable and add it as dh[:, t] + dh_prev",
        ),
    ),
)


# --------------------------------------------------------------------------
# 2.3 numerical_gradient
# --------------------------------------------------------------------------


def _numerical_cases(rng: np.random.Generator) -> list[Case]:
    def case(shape, **eps):
        return {
            "x": _normal(rng, *shape),
            "w": _normal(rng, *shape),
            "c": _normal(rng, *shape, scale=0.5),
            **eps,
        }

    return [
        Case("a vector x (5,), eps = 1e-3", case((5,), eps=1e-3)),
        Case("a matrix x (3, 4), eps = 1e-2", case((3, 4), eps=1e-2)),
        Case(
            "f reads x itself, not its argument (as a loss reads a model's weights), x (4,)",
            {**case((4,)), "f_reads_x": 1},
        ),
        Case("a random matrix x (2, 3), the default eps", case((2, 3))),
    ]


def _call_numerical(fn: Callable, inputs: dict, helpers: dict) -> tuple:
    x, w, c = inputs["x"].copy(), inputs["w"], inputs["c"]
    before = x.copy()

    def loss(z):
        # loss(z) = sum(w * tanh(z)) + (sum(c * z))**2 / 2: the square couples the entries
        return float(np.sum(w * np.tanh(z)) + 0.5 * np.sum(c * z) ** 2)

    if inputs.get("f_reads_x"):

        def f(z):
            return loss(x)  # the array the learner was given, wherever the argument points

    else:
        f = loss

    grad = fn(f, x, inputs["eps"]) if "eps" in inputs else fn(f, x)  # positional: the name is the learner's
    # Not "x changed" but how many entries differ: restoring by arithmetic leaves 1e-16 residues.
    not_restored = int(np.count_nonzero(~((x == before) | (np.isnan(x) & np.isnan(before)))))
    return grad, not_restored


NUMERICAL_GRADIENT = Exercise(
    name="numerical_gradient",
    lesson=LESSON,
    number="2.3",
    points=2,
    returns=("grad", X_NOT_RESTORED),
    graded=("grad", X_NOT_RESTORED),
    returns_as="grad",
    make_cases=_numerical_cases,
    call=_call_numerical,
    rtol=1e-6,
    atol=1e-7,
    description="the central-difference gradient of a scalar function f at x, restoring x after each entry",
    mistakes=(
        Mistake(
            "forward_difference",
            "a one-sided (forward) difference (f(x + eps) - f(x)) / eps is used",
            "use the central difference (f(x + eps) - f(x - eps)) / (2 * eps): its error is O(eps**2), not O(eps)",
        ),
        Mistake(
            "missing_factor_two",
            "the central difference is divided by eps instead of 2 * eps",
            "x + eps and x - eps are 2 * eps apart",
        ),
        Mistake(
            "not_restored",
            "x is not restored after an entry is perturbed: it stays at old - eps",
            "save old = x[idx] and set x[idx] = old after the two evaluations",
        ),
        Mistake(
            "restored_by_arithmetic",
            "x is not restored exactly: it is put back by arithmetic (x[idx] += eps, then -= 2 * eps, "
            "then += eps), and x + eps - 2*eps + eps is not always x in floating point "
            "(changes of about 1e-16 remain)",
            "save old = x[idx] before perturbing and assign it back, x[idx] = old, after the two evaluations",
        ),
        Mistake(
            "all_at_once",
            "every entry is perturbed at the same time, so all entries of the result are equal",
            "perturb one entry at a time (loop over np.ndindex(x.shape)) and fill grad[idx]",
        ),
        Mistake(
            "flat_gradient",
            "the gradient is returned flat, shape (x.size,), instead of shaped like x",
            "allocate grad = np.zeros(x.shape) and index it with the same idx as x",
        ),
        Mistake(
            "perturbs_a_copy",
            "each entry is perturbed in a copy of x, never in x itself: an f that reads x itself (as a "
            "loss reads a model's weights), not its argument, never sees the change, and every entry "
            "comes out 0",
            "perturb x in place, x[idx] = old + eps, call f(x), then x[idx] = old - eps, and put the "
            "entry back, x[idx] = old: then f sees each change whether it reads its argument or x",
        ),
    ),
)


# --------------------------------------------------------------------------
# 2.4 relative_error
# --------------------------------------------------------------------------


def _relative_cases(rng: np.random.Generator) -> list[Case]:
    a = _normal(rng, 3, 4)
    big = 1e3 * _normal(rng, 5)
    return [
        Case(
            "equal arrays, with zeros in both",
            {"a": np.array([0.0, 1.5, -2.0, 0.0]), "b": np.array([0.0, 1.5, -2.0, 0.0])},
        ),
        Case(
            "opposite signs in one entry",
            {"a": np.array([1.0, -2.0, 0.5, 3.0]), "b": np.array([-1.0, -2.1, 0.5, 3.0])},
        ),
        Case("a close to b, (3, 4)", {"a": a, "b": a * (1 + 1e-3 * _normal(rng, 3, 4))}),
        Case(
            "near-zeros: |a| + |b| below 1e-8 in the first entry",
            {"a": np.array([1e-10, 2.0, -1.0, 0.0]), "b": np.array([-1e-10, 2.0, -1.0, 0.0])},
        ),
        Case("random large values, (5,)", {"a": big, "b": big + _normal(rng, 5)}),
    ]


RELATIVE_ERROR = Exercise(
    name="relative_error",
    lesson=LESSON,
    number="2.4",
    points=1,
    returns=("error",),
    graded=("error",),
    make_cases=_relative_cases,
    call=lambda fn, inputs, helpers: _as_float(fn(inputs["a"], inputs["b"])),
    # Looser than the default: the text defines the error to a few digits, and no use of it needs more.
    rtol=1e-6,
    atol=1e-8,
    description="the largest entrywise |a - b| / max(|a| + |b|, 1e-8): entries that are 0, or below "
    "1e-8 in size, on both sides are measured against 1e-8",
    mistakes=(
        Mistake(
            "no_zero_guard",
            "entries where a and b are both 0 give 0 / 0 = nan",
            "count such entries as 0: np.maximum(|a| + |b|, 1e-8) in the denominator does it",
        ),
        Mistake(
            "mean_not_max",
            "the mean of the entrywise errors is returned instead of the largest",
            "one bad entry must show: take .max()",
        ),
        Mistake(
            "relative_to_a",
            "the error is relative to a alone, |a - b| / |a|",
            "divide by |a| + |b|, so that relative_error(a, b) == relative_error(b, a)",
        ),
        Mistake(
            "abs_of_sum",
            "the denominator is |a + b| instead of |a| + |b|",
            "take the absolute values first: np.abs(a) + np.abs(b) (a + b can cancel to 0)",
        ),
        Mistake(
            "absolute_error",
            "the absolute error max |a - b| is returned, without dividing",
            "divide each |a - b| by |a| + |b|, so that the size of the numbers does not matter",
        ),
        Mistake(
            "exact_zero_guard",
            "only entries that are exactly 0 on both sides are guarded (np.where, or np.divide(..., "
            "where=...)); near-zeros are divided by their own tiny size, so 1e-10 and -1e-10 count as "
            "100% apart",
            "the denominator is max(|a| + |b|, 1e-8): np.maximum(np.abs(a) + np.abs(b), 1e-8) guards "
            "exact zeros and near-zeros alike, which are zeros up to rounding",
        ),
        Mistake(
            "epsilon_added",
            "1e-8 is added to the denominator, |a| + |b| + 1e-8, instead of being its floor, "
            "max(|a| + |b|, 1e-8): the same for ordinary entries, not for entries below 1e-8",
            "use np.maximum(np.abs(a) + np.abs(b), 1e-8): the floor replaces only the denominators "
            "smaller than 1e-8 and leaves every other one as it is",
        ),
    ),
)


# --------------------------------------------------------------------------
# 2.5 clip_by_global_norm
# --------------------------------------------------------------------------


def _clip_cases(rng: np.random.Generator) -> list[Case]:
    def grads(scale):
        return {
            "g0": _normal(rng, 3, 4, scale=scale),
            "g1": _normal(rng, 4, 4, scale=scale),
            "g2": _normal(rng, 4, scale=scale),
        }

    unit = {k: g / np.linalg.norm(g) for k, g in grads(1.0).items()}  # norms 1, total sqrt(3)
    spike = grads(0.1)
    spike["g1"][2, 1] = 8.0
    return [
        Case("total norm below max_norm: nothing to clip", {**grads(0.1), "max_norm": 5.0}),
        Case("every array below max_norm, the total above it", {**unit, "max_norm": 1.5}),
        Case("one large entry", {**spike, "max_norm": 1.0}),
        Case("everything random and large", {**grads(3.0), "max_norm": 2.0}),
    ]


def _call_clip(fn: Callable, inputs: dict, helpers: dict) -> tuple:
    arrays = [inputs["g0"].copy(), inputs["g1"].copy(), inputs["g2"].copy()]
    before = [g.copy() for g in arrays]
    result = fn(list(arrays), inputs["max_norm"])
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        got = described(result, returned=True)
        raise CallProblem(
            "returns", f"clip_by_global_norm should return a tuple (clipped, total_norm), got {got}"
        )
    clipped, total_norm = result
    if isinstance(total_norm, (list, tuple)) and not isinstance(clipped, (list, tuple)):
        raise CallProblem(
            "returns",
            f"clipped got {described(clipped)} and total_norm {described(total_norm)}: the two are in the wrong "
            "order? Return (clipped, total_norm)",
        )
    if not isinstance(clipped, (list, tuple)) or len(clipped) != len(arrays):
        raise CallProblem(
            "returns",
            f"clipped should be a list with one array per gradient ({len(arrays)}), got {described(clipped)}",
        )
    return (*clipped, _as_float(total_norm), _changed(before, arrays))


CLIP_CHANGED = "gradients you were given changed in place (1 = yes)"


CLIP_BY_GLOBAL_NORM = Exercise(
    name="clip_by_global_norm",
    lesson=LESSON,
    number="2.5",
    points=2,
    returns=("clipped[0]", "clipped[1]", "clipped[2]", "total_norm", CLIP_CHANGED),
    graded=("clipped[0]", "clipped[1]", "clipped[2]", "total_norm", CLIP_CHANGED),
    returns_as="(clipped, total_norm)",
    make_cases=_clip_cases,
    call=_call_clip,
    # Looser than the default: max_norm / (total_norm + 1e-6), PyTorch's form, is a harmless habit here.
    rtol=1e-6,
    atol=1e-8,
    description="rescale a list of gradients together so that their global norm is at most max_norm",
    mistakes=(
        Mistake(
            "elementwise",
            "each entry is clipped to [-max_norm, max_norm] instead of rescaling by the global norm",
            "np.clip changes the direction of the gradient; multiply every array by max_norm / total_norm instead",
        ),
        Mistake(
            "per_array",
            "each array is rescaled by its own norm instead of the global norm of all of them",
            "compute one total_norm = sqrt(sum of every array's sum of squares) and one scale for all",
        ),
        Mistake(
            "always_scales",
            "the gradients are rescaled even when total_norm is below max_norm (small gradients grow)",
            "only rescale when total_norm > max_norm; otherwise return copies unchanged",
        ),
        Mistake(
            "sum_of_norms",
            "total_norm is the sum of the arrays' norms, not the norm of all entries together",
            "total_norm = sqrt(sum over arrays of np.sum(g**2)): square, add everything, then one sqrt",
        ),
        Mistake(
            "no_sqrt",
            "total_norm is the sum of squares, without the square root",
            "take np.sqrt of the sum of squares",
        ),
        Mistake(
            "in_place",
            "the input arrays are rescaled in place (g *= scale)",
            "build new arrays, [g * scale for g in grads]: the caller's gradients must not change",
        ),
    ),
)


# --------------------------------------------------------------------------
# 2.6 truncated_bptt
# --------------------------------------------------------------------------


def _tbptt_cases(rng: np.random.Generator) -> list[Case]:
    N, D, H, V = 2, 3, 4, 3

    def inputs(T, chunk_len, h0_zero):
        return {
            "x": _normal(rng, N, T, D),
            "y": rng.integers(0, V, size=(N, T)).astype(np.int64),
            "h0": np.zeros((N, H)) if h0_zero else _normal(rng, N, H, scale=0.5),
            "W_xh": _normal(rng, D, H, scale=0.7),
            "W_hh": _normal(rng, H, H, scale=0.7),
            "b_h": _normal(rng, H, scale=0.3),
            "W_hy": _normal(rng, H, V),
            "b_y": _normal(rng, V, scale=0.3),
            "chunk_len": chunk_len,
        }

    return [
        Case("one chunk (chunk_len = T = 5)", inputs(5, 5, h0_zero=False)),
        Case("two chunks of 3 (T = 6), h0 = 0", inputs(6, 3, h0_zero=True)),
        Case(
            "everything random: T = 7 in chunks of 3 (the last one shorter), h0 random",
            inputs(7, 3, h0_zero=False),
            hint="the last chunk here has 1 step, not chunk_len = 3: a crash usually means an index "
            "computed from chunk_len (h[:, chunk_len - 1]); slice x[:, start:start + chunk_len] and "
            "take the chunk's last state as h[:, -1]",
        ),
    ]


def _call_tbptt(fn: Callable, inputs: dict, helpers: dict) -> tuple:
    params = {k: inputs[k] for k in PARAM_NAMES}
    result = call_keeping_inputs(
        fn, "truncated_bptt", x=inputs["x"], y=inputs["y"], h0=inputs["h0"], params=params,
        chunk_len=inputs["chunk_len"],
    )
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        got = described(result, returned=True)
        raise CallProblem("returns", f"truncated_bptt should return a tuple (loss, grads, h_last), got {got}")
    loss, grads, h_last = result
    if not isinstance(grads, dict) or set(grads) != set(PARAM_NAMES):
        keys = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
        raise CallProblem(
            "returns", f"grads should be a dict with the keys of params {list(PARAM_NAMES)}, got {keys}"
        )
    return (_as_float(loss), *(grads[k] for k in PARAM_NAMES), h_last)


TRUNCATED_BPTT = Exercise(
    name="truncated_bptt",
    lesson=LESSON,
    number="2.6",
    points=3,
    returns=("loss", "dW_xh", "dW_hh", "db_h", "dW_hy", "db_y", "h_last"),
    graded=("loss", "dW_xh", "dW_hh", "db_h", "dW_hy", "db_y", "h_last"),
    returns_as="(loss, grads, h_last)",
    shown=tuple((f"d{k}", f"grads['{k}']") for k in PARAM_NAMES),
    make_cases=_tbptt_cases,
    call=_call_tbptt,
    uses=("rnn_backward",),
    description="loss and gradients of a sequence processed in chunks: the state is carried, the gradient stops",
    mistakes=(
        Mistake(
            "state_reset_to_zero",
            "the hidden state is reset to zero at the start of every chunk",
            "start the first chunk from h0 and each later chunk from the last state of the previous one",
        ),
        Mistake(
            "state_reset_to_h0",
            "every chunk starts again from h0 instead of the last state of the previous chunk",
            "after each chunk, set h_carry = h[:, -1] and start the next chunk from it",
        ),
        Mistake(
            "gradient_across_chunks",
            "the gradient flows across chunk boundaries: this is full BPTT, not truncated",
            "drop the dh0 that rnn_backward returns for a chunk; do not feed it into the previous chunk",
        ),
        Mistake(
            "grads_overwritten",
            "the gradients of each chunk overwrite those of the previous chunks",
            "the weights are the same in every chunk: add (+=) each chunk's gradients into grads",
        ),
        Mistake(
            "last_chunk_dropped",
            "the last, shorter chunk is dropped when T is not a multiple of chunk_len",
            "loop for start in range(0, T, chunk_len) and slice x[:, start:start + chunk_len]",
        ),
    ),
)


EXERCISES = (
    RNN_STEP_BACKWARD,
    RNN_BACKWARD,
    NUMERICAL_GRADIENT,
    RELATIVE_ERROR,
    CLIP_BY_GLOBAL_NORM,
    TRUNCATED_BPTT,
)
