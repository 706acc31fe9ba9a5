"""Lesson 05 · deep and bidirectional RNNs: what is graded and how.

Every exercise composes the vanilla RNN layer the notebook gives in a locked
cell (``rnn_forward`` / ``rnn_backward``, fixed cache layout). Fixtures hold
only flat arrays, so each ``call`` assembles the lists and tuples the
functions take (``W_xh_0, W_hh_0, b_h_0, ...`` become ``params``) and
flattens what the backward passes return (``dh0s`` and ``dparams`` become
``dh0_0, dW_xh_0, ...``).

In the stacked cases every layer but the last two cases' has as many units
as there are input features (D = H), so that a layer fed the wrong input or
started from the wrong state gives wrong values, not just a crash; the last
case but one gives every layer its own width (D != H_0 != H_1 ...), so that code
which confuses the sizes fails too (a crash there gets a hint that says so); the
last case, like the bidirectional layer's last, is one sequence (N = 1) with more
inputs than units, so that code which squeezes the batch axis away fails. Mistakes
that crash on it are named from the cases before. The stacks have 2, 3 or 4
layers, so that code written for one number of layers fails; the flattened
gradients are named for up to ``MAX_LAYERS`` layers, and a case with fewer has
None in the places of the layers it lacks, which are not compared. In the
bidirectional backward cases T != H, so that a size read from the wrong axis
fails. Backward passes are graded with the learner's own forward (``needs``);
fixtures and the grader run the reference and the mistakes with the reference
forward. The nested return values are checked for their structure first, with
a message that names the part that is wrong, and the list and tuple arguments
for being left as they came.
"""

from __future__ import annotations

import numpy as np

from autograder.suites.common import OTHER_SEQUENCE, OTHER_SEQUENCE_SIZES
from autograder.suites.core import (
    CallProblem,
    Case,
    Exercise,
    Mistake,
    article,
    call_backward,
    call_keeping_inputs,
    described,
)

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


def _stack_inputs(rng, x, widths, h0_scale):
    """x and, per layer l of width widths[l], h0_l and the weights (layer 0 reads x)."""
    N, _, D = x.shape
    out = {"x": x}
    for i, (fan_in, H) in enumerate(zip((D, *widths), widths)):
        out[f"h0_{i}"] = _normal(rng, N, H, scale=h0_scale)
        out.update(_layer(rng, fan_in, H, i))
    return out


def _widths_hint(D, widths, backward=False) -> str:
    culprit = (
        "a gradient buffer shaped like dh (np.zeros_like(dh)) reused for a lower layer, whose "
        "states have that layer's own width H_l"
        if backward
        else "a buffer shaped like x (np.zeros_like(x)) or one with D columns where a layer has H_l"
    )
    return (
        f"this is the first case whose layers have their own widths (D = {D}, "
        f"H = {', '.join(map(str, widths))}; before, every layer had D units): a crash here usually "
        f"means a size taken from the wrong array, e.g. {culprit}, or a layer given the inputs or "
        "weights of another layer"
    )


def _one_sequence_hint(sizes: str) -> str:
    return (
        f"this is the first case with one sequence ({sizes}): a crash or a wrong shape here usually "
        "means np.squeeze, or a size taken from the wrong axis or the wrong array"
    )


# One sequence, more inputs than units: the stacks' last case (two layers) and the
# bidirectional layer's, so that code which drops the batch axis or confuses D and H fails.
_ONE_N, _ONE_T, _ONE_D, _ONE_H = OTHER_SEQUENCE
_ONE_STACK = f"one sequence (N = 1, T = {_ONE_T}), 2 layers of widths {_ONE_H}, 2 on D = {_ONE_D} inputs"
_ONE_STACK_HINT = _one_sequence_hint(f"N = 1, T = {_ONE_T}, D = {_ONE_D}, layer widths {_ONE_H}, 2")


def _layers_hint(L: int) -> str:
    return (
        f"this stack has {L} layers, the cases before had 3: a crash here usually means a number of "
        "layers fixed in the code (range(3), h0s[2]); take it from the lists (len(params), "
        "zip(h0s, params), reversed(cache))"
    )


def _stacked_cases(rng: np.random.Generator) -> list[Case]:
    N, T, D = 2, 5, 4  # every layer has H = D units, but in the last case

    return [
        Case(
            "3 layers, x = 0 (only the initial states drive)",
            _stack_inputs(rng, np.zeros((N, T, D)), (D, D, D), 0.8),
        ),
        Case("3 layers, initial states 0", _stack_inputs(rng, _normal(rng, N, T, D), (D, D, D), 0.0)),
        Case(
            "2 layers, everything random", _stack_inputs(rng, _normal(rng, N, T, D), (D, D), 0.5), hint=_layers_hint(2)
        ),
        Case(
            "3 layers of widths 5, 3, 4 on D = 2 inputs, everything random",
            _stack_inputs(rng, _normal(rng, N, T, 2), (5, 3, 4), 0.5),
            hint=_widths_hint(2, (5, 3, 4)),
        ),
        Case(
            f"{_ONE_STACK}, everything random",
            _stack_inputs(rng, _normal(rng, _ONE_N, _ONE_T, _ONE_D), (_ONE_H, 2), 0.5),
            hint=_ONE_STACK_HINT,
        ),
    ]


def _call_stacked_forward(fn, inputs, helpers):
    x, h0s, params = _stack_args(inputs)
    return call_keeping_inputs(fn, "stacked_rnn_forward", x=x, h0s=h0s, params=params)


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
        Mistake(
            "lists_emptied",
            "the loop takes the layers out of the caller's lists (h0s.pop(0), params.pop(0)), "
            "which are empty afterwards",
            "loop over zip(h0s, params): it reads the lists and leaves them as they came; the caller "
            "(a training loop, the backward check) still needs them",
        ),
        Mistake(
            "three_layers_hard_coded",
            "the number of layers is fixed at 3 (h0s[2], params[2], range(3)) instead of taken from the lists",
            "a stack may have any number of layers: loop over zip(h0s, params), one layer per pair",
        ),
        Mistake(
            "x_cast_to_float32",
            "the inputs are cast to float32 (x.astype(np.float32)) before the layers run: h comes out as "
            "float64 again, but every value is off by about 1e-7, float32's rounding",
            "keep float64 throughout: drop the .astype(np.float32) (or dtype=np.float32); the given "
            "rnn_forward keeps the precision of what it is given",
        ),
    ),
)


# --------------------------------------------------------------------------
# 5.2 stacked_rnn_backward
# --------------------------------------------------------------------------

# The flattened gradients are named for up to MAX_LAYERS layers; a case with fewer
# layers has None in the places of the layers it lacks (not compared).
MAX_LAYERS = 4
_STACKED_GRADS = ("dx",) + tuple(f"dh0_{i}" for i in range(MAX_LAYERS)) + tuple(
    f"d{name}_{i}" for i in range(MAX_LAYERS) for name in LAYER
)
# Messages name each part as the learner wrote it: dparams[2][0], not dW_xh_2.
_STACKED_SHOWN = tuple((f"dh0_{i}", f"dh0s[{i}]") for i in range(MAX_LAYERS)) + tuple(
    (f"d{name}_{i}", f"dparams[{i}][{k}] (d{name} of layer {i})")
    for i in range(MAX_LAYERS)
    for k, name in enumerate(LAYER)
)


def _stacked_backward_cases(rng: np.random.Generator) -> list[Case]:
    N, T, D = 2, 4, 3  # every layer has H = D units, but in the last case

    def inputs(dh, x, widths):
        return {**_stack_inputs(rng, x, widths, 0.5), "dh": dh}

    dh_last = np.zeros((N, T, D))
    dh_last[:, -1] = _normal(rng, N, D)
    return [
        Case("3 layers, upstream gradient at the last step only", inputs(dh_last, _normal(rng, N, T, D), (D,) * 3)),
        Case(
            "4 layers, everything random",
            inputs(_normal(rng, N, T, D), _normal(rng, N, T, D), (D,) * 4),
            hint=_layers_hint(4),
        ),
        Case(
            "2 layers, everything random",
            inputs(_normal(rng, N, T, D), _normal(rng, N, T, D), (D,) * 2),
            hint=_layers_hint(2),
        ),
        Case(
            "3 layers of widths 4, 2, 3 on D = 5 inputs, everything random",
            inputs(_normal(rng, N, T, 3), _normal(rng, N, T, 5), (4, 2, 3)),
            hint=_widths_hint(5, (4, 2, 3), backward=True),
        ),
        Case(
            f"{_ONE_STACK}, everything random",
            inputs(_normal(rng, _ONE_N, _ONE_T, 2), _normal(rng, _ONE_N, _ONE_T, _ONE_D), (_ONE_H, 2)),
            hint=_ONE_STACK_HINT,
        ),
    ]


def _kind(value, returned: bool = False) -> str:
    if hasattr(value, "__next__"):  # reversed(...), zip(...), a generator: not a list yet
        return f"{article(type(value).__name__)} (an iterator: make it a list with list(...))"
    return described(value, returned=returned)


def _grad_list(what: str, value, count: int, per_item: str) -> list:
    """``value`` as a list of ``count`` items, or a CallProblem that says how it is not one."""
    if not isinstance(value, (list, tuple)) or len(value) != count:
        raise CallProblem(
            "returns",
            f"{what} should hold {count} {per_item} (the stack in this case has {count} layers), "
            f"got {_kind(value)}",
        )
    return list(value)


def _holds(value, kind) -> bool:
    """A non-empty list or tuple whose every item is a ``kind``."""
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(isinstance(v, kind) for v in value)


def _layer_grads(what: str, value) -> tuple:
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise CallProblem(
            "returns",
            f"{what} should be the tuple (dW_xh, dW_hh, db_h), got {_kind(value)}"
            + (" (rnn_backward returns 5 values: keep only the last 3)" if _kind(value).endswith(" of 5") else ""),
        )
    return tuple(value)


def _shape(value):
    return value.shape if isinstance(value, np.ndarray) else None


def _grouped_by_parameter(dparams, params) -> bool:
    """Is dparams (dW_xh of every layer, dW_hh of every layer, db_h of every layer)?

    Told apart from the right grouping by the shapes: db_h is a vector, dW_xh
    and dW_hh are matrices, so no layer's (dW_xh, dW_hh, db_h) has the shapes
    of a group of one parameter.
    """
    L = len(params)
    if not isinstance(dparams, (list, tuple)) or len(dparams) != len(LAYER):
        return False
    if not all(isinstance(group, (list, tuple)) and len(group) == L for group in dparams):
        return False
    return all(_shape(dparams[k][i]) == params[i][k].shape for k in range(len(LAYER)) for i in range(L))


def _call_stacked_backward(fn, inputs, helpers):
    name = "stacked_rnn_backward"
    _, result = call_backward(fn, name, helpers, "stacked_rnn_forward", _stack_args(inputs), [inputs["dh"]], "(h, cache)")
    params = _stack_args(inputs)[2]  # lists of its own: the learner's forward may have emptied its own
    L = len(params)
    assert L <= MAX_LAYERS, f"a case of {L} layers: raise MAX_LAYERS"
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise CallProblem("returns", f"{name} should return a tuple (dx, dh0s, dparams), got {_kind(result, returned=True)}")
    dx, dh0s, dparams = result
    if _grouped_by_parameter(dparams, params):
        raise CallProblem(
            "returns",
            "dparams is grouped by parameter (every layer's dW_xh, then every layer's dW_hh, then "
            "every layer's db_h); group it by layer: dparams[l] = (dW_xh, dW_hh, db_h) of layer l, "
            "bottom layer first, like params",
        )
    if _holds(dh0s, (list, tuple)) and _holds(dparams, np.ndarray):
        raise CallProblem(
            "returns",
            "dh0s holds tuples and dparams holds arrays: the two are in the wrong order? Return (dx, dh0s, dparams)",
        )
    dh0s = _grad_list("dh0s", dh0s, L, "arrays, one per layer")
    dparams = _grad_list("dparams", dparams, L, "tuples (dW_xh, dW_hh, db_h), one per layer")
    grads = [_layer_grads(f"dparams[{i}]", p) for i, p in enumerate(dparams)]
    missing = MAX_LAYERS - L  # the layers this case does not have: None, not compared
    return (dx, *dh0s, *[None] * missing, *(g for layer in grads for g in layer), *[None] * (3 * missing))


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
    returns_as="(dx, dh0s, dparams)",
    shown=_STACKED_SHOWN,
    description="backward through a stack: (dx, dh0s, dparams) from the cache of your stacked_rnn_forward, "
    "for stacks of 2 to 4 layers (graded part by part: dx, then dh0s[l] and dparams[l] = (dW_xh, dW_hh, "
    "db_h) for each layer l of the case)",
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
            "dx_not_passed_on",
            "every layer below the top receives the top layer's dx, not the dx of the layer just above it",
            "inside the loop, the dx each rnn_backward returns becomes the upstream gradient of the next "
            "layer down: update it on every pass, not only after the top layer",
        ),
        Mistake(
            "dh0s_reversed",
            "dh0s is returned top layer first",
            "return dh0s (and dparams) in layer order, bottom first, like h0s and params",
        ),
        Mistake(
            "lists_reversed",
            "dh0s and dparams are both returned top layer first",
            "you fill the lists walking down from the top; reverse both (or insert at the front) "
            "so that dh0s[l] and dparams[l] belong to layer l, like h0s and params",
        ),
        Mistake(
            "dparams_reversed",
            "dparams is returned top layer first (dh0s is in order)",
            "you fill dparams walking down from the top; reverse it (or insert at the front) so that "
            "dparams[l] holds the gradients of params[l], as dh0s[l] does",
        ),
        Mistake(
            "top_dx_returned",
            "the returned dx is the top layer's dx (the gradient w.r.t. the states of the layer below), "
            "not the bottom layer's",
            "dx is the gradient w.r.t. the stack's input x: return the dx of the last rnn_backward "
            "call, the one for layer 0",
        ),
        Mistake(
            "three_layers_hard_coded",
            "the number of layers is fixed at 3 (layers 2, 1, 0 by index) instead of taken from the cache",
            "a stack may have any number of layers: loop over reversed(cache) (or "
            "reversed(range(len(cache)))) and build dh0s and dparams with one entry per layer",
        ),
        Mistake(
            "dparams_by_parameter",
            "dparams is grouped by parameter (all dW_xh, all dW_hh, all db_h) instead of by layer",
            "append one tuple (dW_xh, dW_hh, db_h) per layer, so that dparams[l] matches params[l]",
        ),
        Mistake(
            "cache_reversed_in_place",
            "the cache is reversed in place (cache.reverse()) to walk the layers top first",
            "walk reversed(cache) or cache[::-1]: both leave the forward pass's cache as it was, so a "
            "second backward call (a gradient check) still finds the layers in order",
        ),
        Mistake(
            "reverse_returned",
            "dh0s and dparams are returned as what list.reverse() returns, which is None",
            "list.reverse() (like append, insert and sort) changes the list in place and returns None: "
            "return dh0s[::-1] and dparams[::-1], or call .reverse() on a line of its own and return the lists",
        ),
        Mistake(
            "bottom_layer_missing",
            "layer 0 is not backpropagated: dh0s and dparams stop at layer 1, and dx is the gradient "
            "w.r.t. layer 0's states, not x",
            "count the caches your stacked_rnn_forward returns: it must append one per layer, layer 0 too "
            "(a layer 0 run before the loop is easily left out); then walk all of them, e.g. reversed(cache), "
            "not range(L - 1, 0, -1), which stops before 0",
        ),
        Mistake(
            "cache_holds_top_layer_only",
            "the cache holds only the top layer's (x, h0, W_xh, W_hh, h), not one cache per layer, so "
            "rnn_backward is handed a single array where it expects a layer's cache",
            "look at your stacked_rnn_forward, which passes its own check because the cache is not graded "
            "there: a loop that rebinds h, cache = rnn_forward(...) keeps only the last layer's cache; "
            "append each layer's cache to a list and return the list",
        ),
    ),
)


# --------------------------------------------------------------------------
# 5.3 bidirectional_rnn_forward
# --------------------------------------------------------------------------


def _bi_cases(rng: np.random.Generator) -> list[Case]:
    N, T, D, H = 3, 5, 2, 4

    def inputs(x, h0_scale, H=H):
        N, _, D = x.shape
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
        Case(
            OTHER_SEQUENCE_SIZES,
            inputs(_normal(rng, _ONE_N, _ONE_T, _ONE_D), 0.5, H=_ONE_H),
            hint=_one_sequence_hint(f"N = 1, T = {_ONE_T}, D = {_ONE_D}, H = {_ONE_H}"),
        ),
    ]


def _call_bi_forward(fn, inputs, helpers):
    x, h0_f, h0_b, params_f, params_b = _bi_args(inputs)
    return call_keeping_inputs(
        fn, "bidirectional_rnn_forward", x=x, h0_f=h0_f, h0_b=h0_b, params_f=params_f, params_b=params_b
    )


def _which_half(name, expected, actual, close) -> str:
    """Which direction's half of h is wrong, when only one is."""
    H = expected.shape[-1] // 2
    halves = (
        ("the forward direction's half", f"h[..., :{H}]", close(actual[..., :H], expected[..., :H])),
        ("the reverse direction's half", f"h[..., {H}:]", close(actual[..., H:], expected[..., H:])),
    )
    right = [f"{what} {where}" for what, where, ok in halves if ok]
    wrong = [f"{what} {where}" for what, where, ok in halves if not ok]
    if right:
        return f"{right[0]} matches, {wrong[0]} does not"
    return f"both halves differ, the forward direction's {halves[0][1]} and the reverse direction's {halves[1][1]}"


BIDIRECTIONAL_RNN_FORWARD = Exercise(
    name="bidirectional_rnn_forward",
    lesson=LESSON,
    number="5.3",
    points=3,
    returns=("h", "cache"),
    graded=("h",),
    make_cases=_bi_cases,
    call=_call_bi_forward,
    explain=_which_half,
    description="a bidirectional RNN layer: h[:, t] = [forward-direction state after x[:, :t+1], "
    "reverse-direction state after x[:, t:]], shape (N, T, 2H)",
    mistakes=(
        Mistake(
            "not_re_reversed",
            "the reverse direction's states are not flipped back into time order before concatenation",
            "the reverse direction produces its states in reversed time; flip them back with [:, ::-1] "
            "so that position t holds the state that has read x[:, t:]",
        ),
        Mistake(
            "concat_order",
            "the states are concatenated in the wrong order (reverse direction first)",
            "h[..., :H] is the forward direction, h[..., H:] the reverse direction",
        ),
        Mistake(
            "reverse_starts_from_forward_state",
            "the reverse direction starts from the forward direction's final state instead of h0_b",
            "the two directions are independent: the reverse direction starts from h0_b",
        ),
        Mistake(
            "h0s_swapped",
            "h0_f and h0_b are swapped: the forward direction starts from h0_b, the reverse direction "
            "from h0_f",
            "the forward direction, rnn_forward(x, h0_f, *params_f), starts from h0_f; the reverse "
            "direction, which reads x[:, ::-1], starts from h0_b",
        ),
        Mistake(
            "reverse_starts_from_h0_f",
            "the reverse direction starts from h0_f instead of h0_b",
            "each direction has its own initial state: the forward one starts from h0_f, the "
            "reverse one from h0_b",
        ),
        Mistake(
            "same_params",
            "the reverse direction uses the forward direction's weights",
            "each direction has its own weights: params_b for the reverse direction",
        ),
        Mistake(
            "batch_axis_reversed",
            "the batch axis is reversed instead of the time axis (x[::-1] instead of x[:, ::-1])",
            "time is axis 1 in batch-first arrays: reverse with x[:, ::-1]",
        ),
        Mistake(
            "all_axes_flipped",
            "every axis is reversed (np.flip without an axis), not only time",
            "np.flip(a) reverses batch, time and features alike; reverse time only: x[:, ::-1] "
            "(or np.flip(x, axis=1)), and the same for the reverse direction's states",
        ),
        Mistake(
            "feature_axis_reversed",
            "the feature axis is reversed instead of the time axis (x[:, :, ::-1] instead of x[:, ::-1])",
            "time is axis 1 in batch-first arrays: reverse with x[:, ::-1]",
        ),
        Mistake(
            "input_not_reversed",
            "the reverse direction reads x in forward order; only its states are flipped",
            "the reverse direction must read the reversed sequence: run it on x[:, ::-1], then flip "
            "its states back",
        ),
        Mistake(
            "summed",
            "the two directions are summed instead of concatenated, shape (N, T, H)",
            "concatenate along the last axis: np.concatenate([h_f, h_b], axis=2) has shape (N, T, 2H)",
        ),
        Mistake(
            "concat_time_axis",
            "the two directions are joined along the time axis (axis=1, or np.hstack, which joins 3-D "
            "arrays on axis 1), shape (N, 2T, H)",
            "join the features, not the steps: np.concatenate([h_f, h_b], axis=2) (or axis=-1) has shape "
            "(N, T, 2H)",
        ),
    ),
)


# --------------------------------------------------------------------------
# 5.4 bidirectional_rnn_backward
# --------------------------------------------------------------------------

_BI_GRADS = ("dx", "dh0_f", "dh0_b") + tuple(f"d{name}_{d}" for d in "fb" for name in LAYER)
_BI_SHOWN = tuple(
    (f"d{name}_{d}", f"dparams_{d}[{k}] (d{name} of the {way} direction)")
    for d, way in (("f", "forward"), ("b", "reverse"))
    for k, name in enumerate(LAYER)
)


def _bi_backward_cases(rng: np.random.Generator) -> list[Case]:
    N, T, D, H = 2, 6, 3, 4  # all different: a size read from the wrong axis shows

    def hint(N, T, D, H):
        return (
            f"here N = {N}, T = {T}, D = {D}, H = {H} and dh is (N, T, 2H) = ({N}, {T}, {2 * H}): a crash "
            "usually means a size read from the wrong axis or the wrong axis sliced (or np.squeeze); H is "
            "dh.shape[2] // 2 (or h0.shape[1] of a cached layer), T is dh.shape[1], and the halves are "
            "split on the last axis: dh[..., :H], dh[..., H:]"
        )

    def inputs(dh, D=D):
        N, T, H2 = dh.shape
        H = H2 // 2
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
        Case("upstream gradient at the first step only", inputs(dh_first), hint=hint(N, T, D, H)),
        Case("everything random", inputs(_normal(rng, N, T, 2 * H)), hint=hint(N, T, D, H)),
        Case(
            OTHER_SEQUENCE_SIZES,
            inputs(_normal(rng, _ONE_N, _ONE_T, 2 * _ONE_H), D=_ONE_D),
            hint=hint(*OTHER_SEQUENCE),
        ),
    ]


def _call_bi_backward(fn, inputs, helpers):
    name = "bidirectional_rnn_backward"
    _, result = call_backward(fn, name, helpers, "bidirectional_rnn_forward", _bi_args(inputs), [inputs["dh"]], "(h, cache)")
    if not isinstance(result, (tuple, list)) or len(result) != 5:
        raise CallProblem(
            "returns",
            f"{name} should return a tuple (dx, dh0_f, dh0_b, dparams_f, dparams_b), got {_kind(result, returned=True)}"
            + (" (dparams_f and dparams_b are each one tuple (dW_xh, dW_hh, db_h))" if _kind(result).endswith(" of 9") else ""),
        )
    dx, dh0_f, dh0_b, dparams_f, dparams_b = result
    grads_f = _layer_grads("dparams_f", dparams_f)
    grads_b = _layer_grads("dparams_b", dparams_b)
    return (dx, dh0_f, dh0_b, *grads_f, *grads_b)


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
    returns_as="(dx, dh0_f, dh0_b, dparams_f, dparams_b)",
    shown=_BI_SHOWN,
    description="backward through a bidirectional layer: (dx, dh0_f, dh0_b, dparams_f, dparams_b) from "
    "the cache of your bidirectional_rnn_forward",
    mistakes=(
        Mistake(
            "dh_b_not_reversed",
            "the reverse direction's half of dh is not flipped in time before it enters its rnn_backward",
            "the reverse direction ran over x[:, ::-1]; its upstream gradient is dh[:, ::-1, H:]",
        ),
        Mistake(
            "dx_b_not_reversed",
            "the reverse direction's dx is added without flipping it back in time",
            "its dx is in reversed time: add dx_b[:, ::-1]",
        ),
        Mistake(
            "no_time_flips",
            "neither dh[..., H:] nor the reverse direction's dx is flipped in time",
            "the reverse direction ran on reversed time: feed it dh[:, ::-1, H:] and flip its dx back "
            "with [:, ::-1] before adding it",
        ),
        Mistake(
            "halves_swapped",
            "the two halves of dh are swapped between the directions",
            "dh[..., :H] belongs to the forward direction, dh[..., H:] to the reverse direction",
        ),
        Mistake(
            "dx_forward_only",
            "dx holds only the forward direction's gradient: the reverse direction's is dropped",
            "x feeds both directions, so dx is the sum of both directions' dx",
        ),
        Mistake(
            "dx_concatenated",
            "the two directions' dx are concatenated (np.concatenate(..., axis=2)), shape (N, T, 2D), "
            "instead of summed",
            "x feeds both directions, and the gradients of one input add up: dx = dx_f + (the reverse "
            "direction's dx flipped back in time), shape (N, T, D) like x. h is concatenated because the "
            "two directions' states are two outputs; dx is one input's gradient",
        ),
        Mistake(
            "dx_averaged",
            "dx is the average of the two directions' dx, half the right value",
            "x feeds both directions, and gradients of a shared input add up: sum the two dx, do not "
            "average them",
        ),
        Mistake(
            "H_from_time_axis",
            "H is read from the time axis (dh.shape[1], or axis 1 of a cached (N, T, H) array), so dh is "
            "split at T instead of H",
            "dh has shape (N, T, 2H), so H = dh.shape[2] // 2; axis 1 is time",
        ),
        Mistake(
            "dh_reversed_whole",
            "the whole dh is flipped in time (dh[:, ::-1]) before it is split, so the forward direction "
            "gets its half in reversed time too",
            "only the reverse direction ran on reversed time: the forward direction takes dh[:, :, :H] as "
            "it is, the reverse direction dh[:, ::-1, H:]",
        ),
    ),
)


EXERCISES = (
    STACKED_RNN_FORWARD,
    STACKED_RNN_BACKWARD,
    BIDIRECTIONAL_RNN_FORWARD,
    BIDIRECTIONAL_RNN_BACKWARD,
)
