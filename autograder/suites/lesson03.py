"""Lesson 03 · LSTM: what is graded and how.

Gate order i, f, g, o in fused weights W_x (D, 4H), W_h (H, 4H), b (4H,), as
in NOTATION.md. Sizes differ from each other (D != H, and 4H differs from
both) so a transposed or mis-sliced weight shows up as a wrong shape.

The backward exercises are run through ``call``: the learner's own forward
pass (``needs``) builds the cache, so any cache layout works. Every array the
learner's functions receive is a copy, and the numerical loss is built from
pristine copies taken before the call, so a backward that changes its upstream
gradient in place still has its gradients judged correctly. Besides the
gradients, ``call`` returns properties whose names read as sentences in the
report:

* the outputs of the learner's forward on the case (graded first, so that a
  wrong forward is the first thing the report names: the backward is checked
  against that forward);
* :data:`NUMERICAL`: how many of the returned gradients disagree with central
  differences of the learner's own forward pass (float64, relative error above
  1e-5); the reference gets 0;
* the upstream flag: which upstream arrays the call changed in place (1 for dh_next
  or dh, 2 for dc_next, 3 for both), so that each in-place mistake is told apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from autograder.suites.common import OTHER_SEQUENCE, OTHER_STEP, random_cases
from autograder.suites.core import (
    CallProblem,
    Case,
    Exercise,
    Mistake,
    call_backward,
    described,
    watch_step_caches,
)

LESSON = "03_lstm"

NUMERICAL = "gradients that disagree with numerical derivatives of your forward"
STEP_UPSTREAM = "upstream arrays changed in place (0 = none, 1 = dh_next, 2 = dc_next, 3 = both)"
SEQ_UPSTREAM = "dh changed in place (1 = yes)"
NUMERICAL_STEP = 1e-5  # central-difference step
NUMERICAL_RTOL = 1e-5  # a gradient disagrees when ||analytic - numerical|| / scale exceeds this


def _normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape)).astype(np.float64)


def _params(rng: np.random.Generator, D: int, H: int, *, bias: bool = True) -> dict:
    return {
        "W_x": _normal(rng, D, 4 * H, scale=0.6),
        "W_h": _normal(rng, H, 4 * H, scale=0.6),
        "b": _normal(rng, 4 * H) if bias else np.zeros(4 * H),
    }


# --------------------------------------------------------------------------
# Numerical gradients (float64 central differences), used by the backward checks
# --------------------------------------------------------------------------


def numerical_gradient(
    loss: Callable[[dict], float], inputs: Mapping, name: str, step: float = NUMERICAL_STEP
):
    """d loss / d inputs[name] by central differences; ``inputs`` is never modified."""
    base = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in inputs.items()}
    value = np.array(base[name], dtype=np.float64)
    grad = np.zeros_like(value)
    for idx in np.ndindex(value.shape):
        old = value[idx]
        value[idx] = old + step
        plus = loss({**base, name: value.copy()})
        value[idx] = old - step
        minus = loss({**base, name: value.copy()})
        value[idx] = old
        grad[idx] = (plus - minus) / (2 * step)
    return grad


def count_numerical_mismatches(
    loss: Callable[[dict], float], inputs: Mapping, names: Sequence[str], grads: Sequence
) -> int:
    """How many of ``grads`` (the gradients with respect to ``names``) disagree numerically."""
    mismatches = 0
    for name, grad in zip(names, grads):
        num = numerical_gradient(loss, inputs, name)
        if not isinstance(grad, np.ndarray) or grad.shape != num.shape:
            mismatches += 1
            continue
        with np.errstate(all="ignore"):
            diff = float(np.linalg.norm(grad.astype(np.float64) - num))
            scale = max(float(np.linalg.norm(grad) + np.linalg.norm(num)), 1e-3)
        if not diff <= NUMERICAL_RTOL * scale:  # also catches NaN
            mismatches += 1
    return mismatches


def _as_gradients(name: str, raw, count: int, names: str) -> tuple:
    """The returned gradients as a tuple (a list is fine too), copied."""
    if not isinstance(raw, (tuple, list)) or len(raw) != count:
        raise CallProblem("returns", f"{name} should return a tuple of {count} gradients ({names}), got {described(raw, returned=True)}")
    return tuple(np.array(r, copy=True) if isinstance(r, np.ndarray) else r for r in raw)


def _copies(inputs: Mapping, names: Sequence[str]) -> dict:
    return {k: np.array(inputs[k], copy=True) for k in names}


def _changed(before: Sequence[np.ndarray], after: Sequence[np.ndarray]) -> int:
    return int(any(not np.array_equal(b, a, equal_nan=True) for b, a in zip(before, after)))


def _random_step(rng: np.random.Generator, N: int, D: int, H: int) -> dict:
    """Random inputs of one LSTM step: x, h_prev, c_prev and the weights."""
    return {
        "x": _normal(rng, N, D),
        "h_prev": _normal(rng, N, H, scale=0.8),
        "c_prev": _normal(rng, N, H),
        **_params(rng, D, H),
    }


# --------------------------------------------------------------------------
# 3.1 lstm_step_forward
# --------------------------------------------------------------------------


def _step_cases(rng: np.random.Generator) -> list[Case]:
    N, D, H = 3, 4, 5
    zx, zh = np.zeros((N, D)), np.zeros((N, H))
    return [
        Case(
            "bias only (x = 0, h_prev = 0, c_prev = 0)",
            {"x": zx, "h_prev": zh, "c_prev": zh, **_params(rng, D, H)},
        ),
        Case(
            "old cell only (x = 0, h_prev = 0, c_prev random)",
            {"x": zx, "h_prev": zh, "c_prev": _normal(rng, N, H), **_params(rng, D, H)},
        ),
        Case(
            "input only (h_prev = 0, c_prev = 0, b = 0)",
            {"x": _normal(rng, N, D), "h_prev": zh, "c_prev": zh, **_params(rng, D, H, bias=False)},
        ),
        Case(
            "recurrence only (x = 0, c_prev = 0, b = 0)",
            {
                "x": zx,
                "h_prev": _normal(rng, N, H, scale=0.8),
                "c_prev": zh,
                **_params(rng, D, H, bias=False),
            },
        ),
        *random_cases(lambda n, d, h: _random_step(rng, n, d, h), (N, D, H), OTHER_STEP),
    ]


LSTM_STEP_FORWARD = Exercise(
    name="lstm_step_forward",
    lesson=LESSON,
    number="3.1",
    points=4,
    returns=("h_next", "c_next", "cache"),
    graded=("h_next", "c_next"),
    make_cases=_step_cases,
    description="one LSTM step, gates i, f, g, o: c_next = f * c_prev + i * g, h_next = o * tanh(c_next)",
    mistakes=(
        Mistake(
            "order_ifog",
            "the gate blocks are read in the order i, f, o, g (the last two swapped)",
            "the columns of a are [i | f | g | o]: g is a[:, 2H:3H] and o is a[:, 3H:4H] (NOTATION.md)",
        ),
        Mistake(
            "order_igfo",
            "the gate blocks are read in the order i, g, f, o",
            "the columns of a are [i | f | g | o]: f is a[:, H:2H] and g is a[:, 2H:3H] (NOTATION.md)",
        ),
        Mistake(
            "sigmoid_candidate",
            "a sigmoid is applied to the candidate g",
            "g is a value that may be negative: it takes np.tanh; only the gates i, f, o take a sigmoid",
        ),
        Mistake(
            "tanh_gates",
            "tanh is applied to the gates i, f, o",
            "a gate is a fraction between 0 and 1: use the sigmoid 1 / (1 + exp(-a)) for i, f and o",
        ),
        Mistake(
            "no_tanh_c",
            "h_next = o * c_next, without the tanh of the cell",
            "the output squashes the cell first: h_next = o * np.tanh(c_next)",
        ),
        Mistake(
            "forget_on_candidate",
            "the forget gate multiplies the candidate and the input gate the old cell (c = i * c_prev + f * g)",
            "f decides how much of the old cell c_prev to keep, i how much of the candidate g to write: c = f * c_prev + i * g",
        ),
        Mistake(
            "no_forget_gate",
            "the forget gate is left out: c_next = c_prev + i * g",
            "multiply the old cell by the forget gate: f * c_prev",
        ),
    ),
)


# --------------------------------------------------------------------------
# 3.2 lstm_step_backward
# --------------------------------------------------------------------------

_STEP_FORWARD_ARGS = ("x", "h_prev", "c_prev", "W_x", "W_h", "b")
_STEP_GRADS = ("dx", "dh_prev", "dc_prev", "dW_x", "dW_h", "db")
_STEP_WRT = ("x", "h_prev", "c_prev", "W_x", "W_h", "b")


_STEP_FORWARD_OUT = tuple(
    f"{v} of your lstm_step_forward (your backward is checked against it)"
    for v in ("h_next", "c_next")
)


def _call_step_backward(fn, inputs, helpers):
    forward = helpers["lstm_step_forward"]
    pristine = _copies(inputs, _STEP_FORWARD_ARGS)
    dh0, dc0 = np.array(inputs["dh_next"], copy=True), np.array(inputs["dc_next"], copy=True)
    copies = _copies(pristine, _STEP_FORWARD_ARGS)
    dh_next, dc_next = dh0.copy(), dc0.copy()
    (h_next, c_next, _), raw = call_backward(
        fn,
        "lstm_step_backward",
        helpers,
        "lstm_step_forward",
        [copies[k] for k in _STEP_FORWARD_ARGS],
        [dh_next, dc_next],
        returns="(h_next, c_next, cache)",
    )
    forward_out = (h_next, c_next)
    grads = _as_gradients("lstm_step_backward", raw, 6, ", ".join(_STEP_GRADS))
    upstream = _changed([dh0], [dh_next]) + 2 * _changed([dc0], [dc_next])

    def loss(values):
        h, c, _ = forward(*(values[k] for k in _STEP_FORWARD_ARGS))
        return float(np.sum(h * dh0) + np.sum(c * dc0))

    mismatches = count_numerical_mismatches(loss, pristine, _STEP_WRT, grads)
    return (*forward_out, *grads, mismatches, upstream)


def _step_backward_cases(rng: np.random.Generator) -> list[Case]:
    N, D, H = 3, 4, 5

    def forward_inputs(N=N, D=D, H=H):
        return _random_step(rng, N, D, H)

    return [
        Case(
            "gradient from h_next only (dc_next = 0)",
            {**forward_inputs(), "dh_next": _normal(rng, N, H), "dc_next": np.zeros((N, H))},
        ),
        Case(
            "gradient from c_next only (dh_next = 0)",
            {**forward_inputs(), "dh_next": np.zeros((N, H)), "dc_next": _normal(rng, N, H)},
        ),
        *random_cases(
            lambda n, d, h: {**forward_inputs(n, d, h), "dh_next": _normal(rng, n, h), "dc_next": _normal(rng, n, h)},
            (N, D, H),
            OTHER_STEP,
        ),
    ]


LSTM_STEP_BACKWARD = Exercise(
    name="lstm_step_backward",
    lesson=LESSON,
    number="3.2",
    points=5,
    returns=(*_STEP_FORWARD_OUT, *_STEP_GRADS, NUMERICAL, STEP_UPSTREAM),
    graded=(*_STEP_FORWARD_OUT, *_STEP_GRADS, NUMERICAL, STEP_UPSTREAM),
    make_cases=_step_backward_cases,
    needs=("lstm_step_forward",),
    call=_call_step_backward,
    returns_as="(dx, dh_prev, dc_prev, dW_x, dW_h, db)",
    description="gradients of one LSTM step, given dh_next and dc_next and the cache of your "
    "lstm_step_forward; your backward is checked against your own forward, so the report names a "
    "wrong forward first (fix lstm_step_forward first), then counts the gradients that disagree "
    "with central differences of your forward",
    mistakes=(
        Mistake(
            "no_tanh_c_path",
            "the cell gradient misses the path through h_next = o * tanh(c_next): dc = dc_next",
            "c_next reaches the loss twice, directly (dc_next) and through h_next: "
            "dc = dc_next + dh_next * o * (1 - tanh(c_next)**2)",
        ),
        Mistake(
            "tanh_c_no_derivative",
            "the path through tanh(c_next) leaves out the tanh derivative: dc = dc_next + dh_next * o",
            "d tanh(c) / dc = 1 - tanh(c)**2; multiply dh_next * o by it",
        ),
        Mistake(
            "dc_next_dropped",
            "the incoming cell gradient dc_next is ignored",
            "add dc_next to the gradient that arrives through h_next",
        ),
        Mistake(
            "dc_prev_without_f",
            "dc_prev is not multiplied by the forget gate",
            "c_next = f * c_prev + ..., so dc_prev = dc * f",
        ),
        Mistake(
            "sigmoid_derivative_as_tanh",
            "the gates' derivative is taken as 1 - s**2 (the tanh derivative)",
            "for a sigmoid s the derivative is s * (1 - s); only the candidate g uses 1 - g**2",
        ),
        Mistake(
            "order_ifog",
            "the gate gradients are concatenated in the order i, f, o, g",
            "da must have the same column blocks as the forward pre-activation: [di | df | dg | do]",
        ),
        Mistake(
            "modifies_upstream",
            "the gradients are right, but dh_next is modified in place (e.g. dh_next *= o)",
            "the caller still needs dh_next: compute new arrays, e.g. dh_o = dh_next * o, "
            "instead of *=, += on the arguments",
        ),
    ),
)


# --------------------------------------------------------------------------
# 3.3 lstm_forward
# --------------------------------------------------------------------------


def _forward_cases(rng: np.random.Generator) -> list[Case]:
    N, T, D, H = 2, 5, 3, 4
    x_first_only = np.zeros((N, T, D))
    x_first_only[:, 0] = _normal(rng, N, D, scale=2.0)
    return [
        Case(
            "only h0 is non-zero (x = 0)",
            {"x": np.zeros((N, T, D)), "h0": _normal(rng, N, H), **_params(rng, D, H)},
        ),
        Case(
            "an input at t = 0 only, h0 = 0",
            {"x": x_first_only, "h0": np.zeros((N, H)), **_params(rng, D, H)},
        ),
        *random_cases(
            lambda n, t, d, h: {"x": _normal(rng, n, t, d), "h0": _normal(rng, n, h, scale=0.5), **_params(rng, d, h)},
            (N, T, D, H),
            OTHER_SEQUENCE,
        ),
    ]


LSTM_FORWARD = Exercise(
    name="lstm_forward",
    lesson=LESSON,
    number="3.3",
    points=3,
    returns=("h", "cache"),
    graded=("h",),
    make_cases=_forward_cases,
    uses=("lstm_step_forward",),
    call=watch_step_caches("lstm_forward", "lstm_step_forward"),
    description="the LSTM unrolled over a sequence from h0 and c0 = 0: h[:, t] is the hidden state after x[:, t]",
    mistakes=(
        Mistake(
            "h0_ignored",
            "h0 is ignored: the first step starts from h = 0",
            "the first step's h_prev must be the h0 argument",
        ),
        Mistake(
            "c0_is_h0",
            "the cell starts from h0 instead of zeros",
            "c0 = 0 here: start with c_prev = np.zeros_like(h0)",
        ),
        Mistake(
            "c_not_carried",
            "the cell state is not carried: every step starts from c_prev = 0",
            "after each step, c_next becomes the next step's c_prev, like h_next becomes h_prev",
        ),
        Mistake(
            "returns_cell",
            "the cell states c are returned instead of the hidden states h",
            "store h_next in h[:, t]; the cell state stays inside the layer",
        ),
        Mistake(
            "last_state_only",
            "only the last hidden state is returned, shape (N, H)",
            "return the hidden state of every step, stacked into shape (N, T, H)",
        ),
    ),
)


# --------------------------------------------------------------------------
# 3.4 lstm_backward
# --------------------------------------------------------------------------

_FORWARD_ARGS = ("x", "h0", "W_x", "W_h", "b")
_SEQ_GRADS = ("dx", "dh0", "dW_x", "dW_h", "db")


_SEQ_FORWARD_OUT = ("h of your lstm_forward (your backward is checked against it)",)


def _call_backward(fn, inputs, helpers):
    forward = helpers["lstm_forward"]
    pristine = _copies(inputs, _FORWARD_ARGS)
    dh0 = np.array(inputs["dh"], copy=True)
    copies = _copies(pristine, _FORWARD_ARGS)
    dh = dh0.copy()
    (forward_out, _), raw = call_backward(
        fn, "lstm_backward", helpers, "lstm_forward", [copies[k] for k in _FORWARD_ARGS], [dh], returns="(h, cache)"
    )
    grads = _as_gradients("lstm_backward", raw, 5, ", ".join(_SEQ_GRADS))
    upstream = _changed([dh0], [dh])

    def loss(values):
        h, _ = forward(*(values[k] for k in _FORWARD_ARGS))
        return float(np.sum(h * dh0))

    mismatches = count_numerical_mismatches(loss, pristine, _FORWARD_ARGS, grads)
    return (forward_out, *grads, mismatches, upstream)


def _backward_cases(rng: np.random.Generator) -> list[Case]:
    N, T, D, H = 2, 4, 3, 5

    def forward_inputs(N=N, T=T, D=D, H=H):
        return {
            "x": _normal(rng, N, T, D),
            "h0": _normal(rng, N, H, scale=0.5),
            **_params(rng, D, H),
        }

    dh_last = np.zeros((N, T, H))
    dh_last[:, -1] = _normal(rng, N, H)
    dh_first = np.zeros((N, T, H))
    dh_first[:, 0] = _normal(rng, N, H)
    return [
        Case("gradient at the last step only", {**forward_inputs(), "dh": dh_last}),
        Case("gradient at the first step only", {**forward_inputs(), "dh": dh_first}),
        *random_cases(
            lambda n, t, d, h: {**forward_inputs(n, t, d, h), "dh": _normal(rng, n, t, h)}, (N, T, D, H), OTHER_SEQUENCE
        ),
    ]


LSTM_BACKWARD = Exercise(
    name="lstm_backward",
    lesson=LESSON,
    number="3.4",
    points=4,
    returns=(*_SEQ_FORWARD_OUT, *_SEQ_GRADS, NUMERICAL, SEQ_UPSTREAM),
    graded=(*_SEQ_FORWARD_OUT, *_SEQ_GRADS, NUMERICAL, SEQ_UPSTREAM),
    make_cases=_backward_cases,
    needs=("lstm_forward",),
    uses=("lstm_step_backward",),
    call=_call_backward,
    returns_as="(dx, dh0, dW_x, dW_h, db)",
    description="backpropagation through time for the LSTM, given dh (N, T, H) and the cache of "
    "your lstm_forward; your backward is checked against your own forward, so the report names a "
    "wrong forward first (fix lstm_forward first), then counts the gradients that disagree with "
    "central differences of your forward",
    mistakes=(
        Mistake(
            "dc_not_carried",
            "the cell gradient is not carried to the previous step: every step gets dc_next = 0",
            "keep the dc_prev a step returns and pass it as dc_next to the step before (it starts at 0 after the last step)",
        ),
        Mistake(
            "dh_not_carried",
            "the hidden-state gradient from later steps is not carried: each step gets only dh[:, t]",
            "each step's dh_next is dh[:, t] plus the dh_prev returned by the step after it",
        ),
        Mistake(
            "upstream_dh_ignored",
            "the upstream dh[:, t] is used at the last step only; earlier steps get only the carried gradient",
            "every step's hidden state feeds the loss directly too: add dh[:, t] at every t",
        ),
        Mistake(
            "weights_overwritten",
            "dW_x, dW_h and db are overwritten at each step instead of summed over time",
            "the weights are shared by all steps, so their gradients add up: dW_x += dW_x_t",
        ),
        Mistake(
            "modifies_upstream",
            "the gradients are right, but the upstream array dh is modified in place "
            "(e.g. dh[:, t - 1] += dh_prev)",
            "keep the carried gradient in its own variable and pass dh[:, t] + dh_prev to the step",
        ),
    ),
)


# --------------------------------------------------------------------------
# 3.5 peephole_lstm_step_forward
# --------------------------------------------------------------------------


def _peephole_cases(rng: np.random.Generator) -> list[Case]:
    N, D, H = 3, 4, 5
    zx, zh = np.zeros((N, D)), np.zeros((N, H))

    def peepholes(which="ifo", H=H):
        return {f"p_{k}": (_normal(rng, H) if k in which else np.zeros(H)) for k in "ifo"}

    return [
        Case(
            "old cell only (x = 0, h_prev = 0, c_prev random)",
            {
                "x": zx,
                "h_prev": zh,
                "c_prev": _normal(rng, N, H),
                **_params(rng, D, H),
                **peepholes(),
            },
        ),
        Case(
            "output peephole only (p_i = p_f = 0, c_prev = 0)",
            {
                "x": _normal(rng, N, D),
                "h_prev": zh,
                "c_prev": zh,
                **_params(rng, D, H),
                **peepholes("o"),
            },
        ),
        *random_cases(lambda n, d, h: {**_random_step(rng, n, d, h), **peepholes(H=h)}, (N, D, H), OTHER_STEP),
    ]


PEEPHOLE_LSTM_STEP_FORWARD = Exercise(
    name="peephole_lstm_step_forward",
    lesson=LESSON,
    number="3.5",
    points=3,
    returns=("h_next", "c_next", "cache"),
    graded=("h_next", "c_next"),
    make_cases=_peephole_cases,
    description="one LSTM step with peephole connections: i and f also see c_prev * p_i, c_prev * p_f; "
    "o sees c_next * p_o",
    mistakes=(
        Mistake(
            "o_peeks_at_c_prev",
            "the output gate peeks at the old cell c_prev instead of the new one",
            "compute c_next first; the output gate's peephole term is c_next * p_o",
        ),
        Mistake(
            "no_peepholes",
            "the peephole terms are left out (a plain LSTM step)",
            "add c_prev * p_i and c_prev * p_f inside the sigmoids of i and f, and c_next * p_o inside o's",
        ),
        Mistake(
            "peeks_at_h",
            "the peepholes look at the hidden state h_prev instead of the cell",
            "a peephole lets a gate see the cell state: use c_prev (and c_next for o)",
        ),
        Mistake(
            "p_i_p_f_swapped",
            "p_i and p_f are swapped",
            "the input gate uses p_i and the forget gate p_f",
        ),
    ),
)


# --------------------------------------------------------------------------
# 3.6 count_lstm_parameters
# --------------------------------------------------------------------------


def _count_cases(rng: np.random.Generator) -> list[Case]:
    sizes = [(3, 5), (1, 8), (10, 3)]
    D, H = (int(v) for v in rng.integers(2, 40, size=2))
    sizes.append((D, H + 41))  # H > 40 keeps H distinct from D
    names = ["small sizes", "one input feature", "more inputs than units", "random sizes"]
    return [
        # the random sizes are the hidden case's inputs: its name must not show them
        Case(name if name == "random sizes" else f"{name}: input_size={d}, hidden_size={h}", {"input_size": d, "hidden_size": h})
        for name, (d, h) in zip(names, sizes)
    ]


COUNT_LSTM_PARAMETERS = Exercise(
    name="count_lstm_parameters",
    lesson=LESSON,
    number="3.6",
    points=1,
    returns=("count",),
    graded=("count",),
    make_cases=_count_cases,
    description="the number of trainable numbers of an LSTM layer (W_x, W_h, b; no output layer)",
    mistakes=(
        Mistake(
            "rnn_count",
            "only one block is counted, as for a vanilla RNN",
            "the LSTM has four blocks (i, f, g, o), each as large as a vanilla RNN layer: W_x is (D, 4H)",
        ),
        Mistake(
            "three_blocks",
            "three blocks are counted instead of four",
            "there are three gates and a candidate: four blocks of D*H + H*H + H",
        ),
        Mistake(
            "no_biases",
            "the bias b is not counted",
            "b has shape (4H,): 4H numbers",
        ),
        Mistake(
            "two_biases",
            "two biases are counted (as PyTorch stores b_ih and b_hh)",
            "this course uses one bias b of shape (4H,); PyTorch's two biases are redundant, their sum acts as one",
        ),
        Mistake(
            "one_bias_per_unit",
            "the bias is counted as H numbers instead of 4H",
            "every block has its own bias: b has shape (4H,)",
        ),
    ),
)


EXERCISES = (
    LSTM_STEP_FORWARD,
    LSTM_STEP_BACKWARD,
    LSTM_FORWARD,
    LSTM_BACKWARD,
    PEEPHOLE_LSTM_STEP_FORWARD,
    COUNT_LSTM_PARAMETERS,
)
