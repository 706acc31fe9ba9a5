"""Lesson 05 · deep and bidirectional RNNs: what is graded and how.

Every exercise composes the vanilla RNN layer the notebook gives in a locked
cell (``rnn_forward`` / ``rnn_backward``, fixed cache layout). Fixtures hold
only flat arrays, so each ``call`` assembles the lists and tuples the
functions take (``W_xh_0, W_hh_0, b_h_0, ...`` become ``params``) and
flattens what the backward passes return (``dh0s`` and ``dparams`` become
``dh0_0, dW_xh_0, ...``).

In the stacked cases every layer has as many units as there are input
features (D = H), so that a layer fed the wrong input or started from the wrong
state gives wrong values, not just a crash. Backward passes are graded with
the learner's own forward (``needs``); fixtures and the grader run the
reference and the mistakes with the reference forward.
"""

from __future__ import annotations

import numpy as np

from autograder.suites.core import Case, Exercise, Mistake

LESSON = "05_deep_bidirectional"
LAYER = ("W_xh", "W_hh", "b_h")


def _normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape)).astype(np.float64)


def _layer(rng, D, H, suffix):
    return {
        f"W_xh_{suffix}": _normal(rng, D, H, scale=0.6),
        f"W_hh_{suffix}": _normal(rng, H, H, scale=0.6),
        f"b_h_{suffix}": _normal(rng, H, scale=0.3),
    }



def _n_layers(inputs) -> int:
    return sum(1 for k in inputs if k.startswith("W_xh_"))


def _stack_args(inputs):
    L = _n_layers(inputs)
    h0s = [inputs[f"h0_{i}"] for i in range(L)]
    params = [tuple(inputs[f"{name}_{i}"] for name in LAYER) for i in range(L)]
    return inputs["x"], h0s, params


def _bi_args(inputs):
    params_f = tuple(inputs[f"{name}_f"] for name in LAYER)
    params_b = tuple(inputs[f"{name}_b"] for name in LAYER)
    return inputs["x"], inputs["h0_f"], inputs["h0_b"], params_f, params_b


# --------------------------------------------------------------------------
# 5.1 stacked_rnn_forward
# --------------------------------------------------------------------------


def _stacked_cases(rng: np.random.Generator, layers=(3, 3, 2)) -> list[Case]:
    N, T, D = 2, 5, 4  # every layer has H = D units

    def inputs(x, h0_scale, n_layers):
        out = {"x": x}
        for i in range(n_layers):
            out[f"h0_{i}"] = _normal(rng, N, D, scale=h0_scale)
            out.update(_layer(rng, D, D, i))
        return out

    return [
        Case(
            "3 layers, x = 0 (only the initial states drive)",
            inputs(np.zeros((N, T, D)), 0.8, layers[0]),
        ),
        Case("3 layers, initial states 0", inputs(_normal(rng, N, T, D), 0.0, layers[1])),
        Case("2 layers, everything random", inputs(_normal(rng, N, T, D), 0.5, layers[2])),
    ]


def _call_stacked_forward(fn, inputs, helpers):
    return fn(*_stack_args(inputs))


STACKED_RNN_FORWARD = Exercise(
    name="stacked_rnn_forward",
    lesson=LESSON,
    number="5.1",
    points=3,
    returns=("h", "cache"),
    graded=("h",),
    make_cases=_stacked_cases,
    call=_call_stacked_forward,
    description="a stack of RNN layers: layer l reads the states of layer l - 1; returns the top layer's states",
    mistakes=(
        Mistake(
            "layer_reads_x",
            "every layer reads the inputs x instead of the states of the layer below",
            "layer l's input is the h (N, T, H) that layer l - 1 returned; only layer 0 reads x",
        ),
        Mistake(
            "h0_ignored",
            "the layers start from zeros instead of h0s",
            "layer l starts from h0s[l]",
        ),
        Mistake(
            "first_h0_everywhere",
            "every layer starts from h0s[0]",
            "each layer has its own initial state: layer l starts from h0s[l]",
        ),
        Mistake(
            "returns_bottom_layer",
            "the states of the first layer are returned instead of the top layer's",
            "return the h of the last layer in the loop",
        ),
        Mistake(
            "same_params",
            "every layer uses the weights of layer 0",
            "layer l has its own weights params[l] = (W_xh, W_hh, b_h)",
        ),
        Mistake(
            "last_state_passed",
            "the layers above read only the last state of the layer below, at every step",
            "pass the whole sequence of states (N, T, H) up, not h[:, -1]",
        ),
    ),
)


# --------------------------------------------------------------------------
# 5.2 stacked_rnn_backward
# --------------------------------------------------------------------------

_STACKED_GRADS = ("dx", "dh0_0", "dh0_1") + tuple(
    f"d{name}_{i}" for i in range(2) for name in LAYER
)


def _stacked_backward_cases(rng: np.random.Generator) -> list[Case]:
    N, T, D = 2, 4, 3

    def inputs(dh):
        out = {"x": _normal(rng, N, T, D)}
        for i in range(2):
            out[f"h0_{i}"] = _normal(rng, N, D, scale=0.5)
            out.update(_layer(rng, D, D, i))
        out["dh"] = dh
        return out

    dh_last = np.zeros((N, T, D))
    dh_last[:, -1] = _normal(rng, N, D)
    return [
        Case("2 layers, upstream gradient at the last step only", inputs(dh_last)),
        Case("2 layers, everything random", inputs(_normal(rng, N, T, D))),
    ]


def _call_stacked_backward(fn, inputs, helpers):
    forward = helpers["stacked_rnn_forward"]
    _, cache = forward(*_stack_args(inputs))
    result = fn(inputs["dh"], cache)
    try:  # flatten (dx, [dh0_0, dh0_1], [(dW_xh_0, dW_hh_0, db_h_0), (...)])
        dx, dh0s, dparams = result
        if len(dh0s) != 2 or len(dparams) != 2 or any(len(p) != 3 for p in dparams):
            return result
        return (dx, *dh0s, *(g for layer in dparams for g in layer))
    except (TypeError, ValueError):
        return result  # the shape of the return value is reported by the check


STACKED_RNN_BACKWARD = Exercise(
    name="stacked_rnn_backward",
    lesson=LESSON,
    number="5.2",
    points=4,
    returns=_STACKED_GRADS,
    graded=_STACKED_GRADS,
    make_cases=_stacked_backward_cases,
    needs=("stacked_rnn_forward",),
    call=_call_stacked_backward,
    rtol=1e-6,
    atol=1e-9,
    description="backward through a stack: (dx, dh0s, dparams) from the cache of your stacked_rnn_forward "
    "(graded flattened: dx, dh0_0, dh0_1, dW_xh_0, dW_hh_0, db_h_0, dW_xh_1, ...)",
    mistakes=(
        Mistake(
            "no_dx_to_lower",
            "the lower layer does not receive the upper layer's dx: its gradients are zero",
            "the gradient w.r.t. layer l's outputs is the dx that rnn_backward returned for layer l + 1",
        ),
        Mistake(
            "lower_gets_top_dh",
            "every layer backpropagates the top layer's dh instead of the dx of the layer above",
            "only the top layer's outputs receive dh; pass each layer's dx down to the layer below",
        ),
        Mistake(
            "top_dh_added_to_lower",
            "the lower layer receives dx of the layer above plus the top dh again",
            "the loss reads only the top layer, so a lower layer's upstream gradient is just the dx from above",
        ),
        Mistake(
            "bottom_layer_first",
            "the layers are walked bottom-up: dh goes into layer 0 and its dx into layer 1",
            "walk the caches in reverse order (reversed(cache)): the top layer first",
        ),
        Mistake(
            "dh0s_reversed",
            "dh0s is returned top layer first",
            "return dh0s (and dparams) in layer order, bottom first, like h0s and params",
        ),
    ),
)


# --------------------------------------------------------------------------
# 5.3 bidirectional_rnn_forward
# --------------------------------------------------------------------------


def _bi_cases(rng: np.random.Generator) -> list[Case]:
    N, T, D, H = 3, 5, 2, 4

    def inputs(x, h0_scale):
        return {
            "x": x,
            "h0_f": _normal(rng, N, H, scale=h0_scale),
            "h0_b": _normal(rng, N, H, scale=h0_scale),
            **_layer(rng, D, H, "f"),
            **_layer(rng, D, H, "b"),
        }

    return [
        Case("initial states 0", inputs(_normal(rng, N, T, D), 0.0)),
        Case("x = 0 (only the initial states drive)", inputs(np.zeros((N, T, D)), 0.8)),
        Case("everything random", inputs(_normal(rng, N, T, D), 0.5)),
    ]


def _call_bi_forward(fn, inputs, helpers):
    return fn(*_bi_args(inputs))


BIDIRECTIONAL_RNN_FORWARD = Exercise(
    name="bidirectional_rnn_forward",
    lesson=LESSON,
    number="5.3",
    points=3,
    returns=("h", "cache"),
    graded=("h",),
    make_cases=_bi_cases,
    call=_call_bi_forward,
    description="a bidirectional RNN layer: h[:, t] = [forward state after x[:, :t+1], "
    "backward state after x[:, t:]], shape (N, T, 2H)",
    mistakes=(
        Mistake(
            "not_re_reversed",
            "the backward pass's states are not reversed back before concatenation",
            "the reversed pass produces its states in reversed time; flip them back with [:, ::-1] "
            "so that position t holds the state that has read x[:, t:]",
        ),
        Mistake(
            "concat_order",
            "the states are concatenated in the wrong order (backward first)",
            "h[..., :H] is the forward pass, h[..., H:] the backward pass",
        ),
        Mistake(
            "reverse_starts_from_forward_state",
            "the reversed pass starts from the forward pass's final state instead of h0_b",
            "the two directions are independent: the backward pass starts from h0_b",
        ),
        Mistake(
            "same_params",
            "the backward pass uses the forward pass's weights",
            "each direction has its own weights: params_b for the reversed pass",
        ),
        Mistake(
            "batch_axis_reversed",
            "the batch axis is reversed instead of the time axis (x[::-1] instead of x[:, ::-1])",
            "time is axis 1 in batch-first arrays: reverse with x[:, ::-1]",
        ),
        Mistake(
            "summed",
            "the two directions are summed instead of concatenated, shape (N, T, H)",
            "concatenate along the last axis: np.concatenate([h_f, h_b], axis=2) has shape (N, T, 2H)",
        ),
    ),
)


# --------------------------------------------------------------------------
# 5.4 bidirectional_rnn_backward
# --------------------------------------------------------------------------

_BI_GRADS = ("dx", "dh0_f", "dh0_b") + tuple(f"d{name}_{d}" for d in "fb" for name in LAYER)


def _bi_backward_cases(rng: np.random.Generator) -> list[Case]:
    N, T, D, H = 2, 4, 3, 4

    def inputs(dh):
        return {
            "x": _normal(rng, N, T, D),
            "h0_f": _normal(rng, N, H, scale=0.5),
            "h0_b": _normal(rng, N, H, scale=0.5),
            **_layer(rng, D, H, "f"),
            **_layer(rng, D, H, "b"),
            "dh": dh,
        }

    dh_first = np.zeros((N, T, 2 * H))
    dh_first[:, 0] = _normal(rng, N, 2 * H)
    return [
        Case("upstream gradient at the first step only", inputs(dh_first)),
        Case("everything random", inputs(_normal(rng, N, T, 2 * H))),
    ]


def _call_bi_backward(fn, inputs, helpers):
    forward = helpers["bidirectional_rnn_forward"]
    _, cache = forward(*_bi_args(inputs))
    result = fn(inputs["dh"], cache)
    try:  # flatten (dx, dh0_f, dh0_b, (dW_xh_f, dW_hh_f, db_h_f), (... _b))
        dx, dh0_f, dh0_b, dparams_f, dparams_b = result
        if len(dparams_f) != 3 or len(dparams_b) != 3:
            return result
        return (dx, dh0_f, dh0_b, *dparams_f, *dparams_b)
    except (TypeError, ValueError):
        return result


BIDIRECTIONAL_RNN_BACKWARD = Exercise(
    name="bidirectional_rnn_backward",
    lesson=LESSON,
    number="5.4",
    points=4,
    returns=_BI_GRADS,
    graded=_BI_GRADS,
    make_cases=_bi_backward_cases,
    needs=("bidirectional_rnn_forward",),
    call=_call_bi_backward,
    rtol=1e-6,
    atol=1e-9,
    description="backward through a bidirectional layer: (dx, dh0_f, dh0_b, dparams_f, dparams_b) from "
    "the cache of your bidirectional_rnn_forward",
    mistakes=(
        Mistake(
            "dh_b_not_reversed",
            "the backward half of dh is not reversed before it enters the reversed pass",
            "the reversed pass ran over x[:, ::-1]; its upstream gradient is dh[:, ::-1, H:]",
        ),
        Mistake(
            "dx_b_not_reversed",
            "the reversed pass's dx is added without flipping it back in time",
            "its dx is in reversed time: add dx_b[:, ::-1]",
        ),
        Mistake(
            "halves_swapped",
            "the two halves of dh are swapped between the directions",
            "dh[..., :H] belongs to the forward pass, dh[..., H:] to the backward pass",
        ),
        Mistake(
            "dx_forward_only",
            "dx holds only the forward pass's gradient: the reversed pass's is dropped",
            "x feeds both passes, so dx is the sum of both directions' dx",
        ),
    ),
)


EXERCISES = (
    STACKED_RNN_FORWARD,
    STACKED_RNN_BACKWARD,
    BIDIRECTIONAL_RNN_FORWARD,
    BIDIRECTIONAL_RNN_BACKWARD,
)
