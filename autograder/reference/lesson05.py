"""Reference solutions of lesson 05 (deep and bidirectional RNNs) and the catalogued mistakes.

``rnn_forward`` / ``rnn_backward`` are the vanilla RNN layer the notebook gives
in a locked cell (same code, same cache layout); the graded exercises compose
it. The solution notebook ``solutions/05_deep_bidirectional`` holds the same
bodies; a test proves that both agree on every public case. Backward
references and mistakes read the cache of the reference forward, which
fixtures and the grader pass as the ``needs`` helper.
"""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------
# The provided vanilla RNN layer (a locked cell of the notebook)
# --------------------------------------------------------------------------


def rnn_forward(x, h0, W_xh, W_hh, b_h):
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]), dtype=np.result_type(x, h0, W_xh))
    xw = x @ W_xh + b_h  # (N, T, H): the input part of every step at once
    h_prev = h0
    for t in range(T):
        h_prev = np.tanh(xw[:, t] + h_prev @ W_hh)
        h[:, t] = h_prev
    cache = (x, h0, W_xh, W_hh, h)
    return h, cache


def rnn_backward(dh, cache):
    x, h0, W_xh, W_hh, h = cache
    N, T, H = h.shape
    da = np.empty_like(h)  # gradient w.r.t. each step's pre-activation
    dh_carry = np.zeros_like(h0)
    for t in reversed(range(T)):
        da[:, t] = (dh[:, t] + dh_carry) * (1.0 - h[:, t] ** 2)
        dh_carry = da[:, t] @ W_hh.T
    h_prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)  # (N, T, H)
    dx = da @ W_xh.T
    dW_xh = np.einsum("ntd,nth->dh", x, da)
    dW_hh = np.einsum("ntk,nth->kh", h_prev, da)
    db_h = da.sum(axis=(0, 1))
    return dx, dh_carry, dW_xh, dW_hh, db_h


# --------------------------------------------------------------------------
# The exercises
# --------------------------------------------------------------------------


def stacked_rnn_forward(x, h0s, params):
    h, cache = x, []
    for h0, (W_xh, W_hh, b_h) in zip(h0s, params):
        h, layer_cache = rnn_forward(h, h0, W_xh, W_hh, b_h)
        cache.append(layer_cache)
    return h, cache


def stacked_rnn_backward(dh, cache):
    dh0s, dparams = [], []
    for layer_cache in reversed(cache):
        dh, dh0, dW_xh, dW_hh, db_h = rnn_backward(dh, layer_cache)
        dh0s.append(dh0)
        dparams.append((dW_xh, dW_hh, db_h))
    return dh, dh0s[::-1], dparams[::-1]


def bidirectional_rnn_forward(x, h0_f, h0_b, params_f, params_b):
    h_f, cache_f = rnn_forward(x, h0_f, *params_f)
    h_b_reversed, cache_b = rnn_forward(x[:, ::-1], h0_b, *params_b)
    h = np.concatenate([h_f, h_b_reversed[:, ::-1]], axis=2)  # (N, T, 2H)
    return h, (cache_f, cache_b)


def bidirectional_rnn_backward(dh, cache):
    cache_f, cache_b = cache
    H = dh.shape[2] // 2
    dx_f, dh0_f, *dparams_f = rnn_backward(dh[:, :, :H], cache_f)
    dx_b_reversed, dh0_b, *dparams_b = rnn_backward(dh[:, ::-1, H:], cache_b)
    dx = dx_f + dx_b_reversed[:, ::-1]
    return dx, dh0_f, dh0_b, tuple(dparams_f), tuple(dparams_b)


REFERENCE = {
    f.__name__: f
    for f in (
        stacked_rnn_forward,
        stacked_rnn_backward,
        bidirectional_rnn_forward,
        bidirectional_rnn_backward,
    )
}


# --------------------------------------------------------------------------
# Catalogued mistakes
# --------------------------------------------------------------------------


def _stacked_forward_mistake(kind):
    def forward(x, h0s, params):
        if kind == "three_layers_hard_coded":
            h, cache = x, []
            for layer in range(3):
                h, layer_cache = rnn_forward(h, h0s[layer], *params[layer])
                cache.append(layer_cache)
            return h, cache
        if kind == "x_cast_to_float32":  # float64 again after the first layer, but rounded to ~7 digits
            h = x.astype(np.float32)
            for h0, layer_params in zip(h0s, params):
                h, _ = rnn_forward(h, h0, *layer_params)
            return h, None
        if kind == "lists_emptied":  # right values, but the caller's lists are empty afterwards
            h, cache = x, []
            while h0s:
                h, layer_cache = rnn_forward(h, h0s.pop(0), *params.pop(0))
                cache.append(layer_cache)
            return h, cache
        h, states = x, []
        for layer, (h0, layer_params) in enumerate(zip(h0s, params)):
            layer_input = h
            if kind == "layer_reads_x":
                layer_input = x
            elif kind == "last_state_passed" and layer > 0:
                layer_input = np.repeat(h[:, -1:], x.shape[1], axis=1)
            start = {"h0_ignored": np.zeros_like(h0), "first_h0_everywhere": h0s[0]}.get(kind, h0)
            use = params[0] if kind == "same_params" else layer_params
            h, _ = rnn_forward(layer_input, start, *use)
            states.append(h)
        return (states[0] if kind == "returns_bottom_layer" else h), None

    return forward


def _stacked_backward_mistake(kind):
    def backward(dh, cache):
        if kind == "three_layers_hard_coded":
            dh0s, dparams = [None] * 3, [None] * 3
            for layer in (2, 1, 0):
                dh, dh0s[layer], *grads = rnn_backward(dh, cache[layer])
                dparams[layer] = tuple(grads)
            return dh, dh0s, dparams
        if kind == "reverse_returned":  # list.reverse() reverses in place and returns None
            dh0s, dparams = [], []
            for layer_cache in reversed(cache):
                dh, dh0, *grads = rnn_backward(dh, layer_cache)
                dh0s.append(dh0)
                dparams.append(tuple(grads))
            return dh, dh0s.reverse(), dparams.reverse()
        if kind == "bottom_layer_missing":  # the loop stops before layer 0, or its cache never got in
            cache = cache[1:]
        elif kind == "cache_holds_top_layer_only":  # the forward's loop rebinds cache = layer_cache
            cache = cache[-1]
        if kind == "cache_reversed_in_place":
            cache.reverse()
            dh0s, dparams = [], []
            for layer_cache in cache:
                dh, dh0, *grads = rnn_backward(dh, layer_cache)
                dh0s.insert(0, dh0)
                dparams.insert(0, tuple(grads))
            return dh, dh0s, dparams
        dh_top = dh
        layers = list(range(len(cache)))
        order = layers if kind == "bottom_layer_first" else layers[::-1]
        dh0s, dparams = [None] * len(cache), [None] * len(cache)
        upstream = dh
        for i, layer in enumerate(order):
            if i > 0:
                if kind == "no_dx_to_lower":
                    upstream = np.zeros_like(upstream)
                elif kind == "lower_gets_top_dh":
                    upstream = dh_top
                elif kind == "top_dh_added_to_lower":
                    upstream = upstream + dh_top
            dx, dh0, dW_xh, dW_hh, db_h = rnn_backward(upstream, cache[layer])
            if kind != "dx_not_passed_on" or i == 0:
                upstream = dx
            dh0s[layer], dparams[layer] = dh0, (dW_xh, dW_hh, db_h)
            if kind == "top_dx_returned" and i == 0:
                dx_top = dx
        if kind in ("dh0s_reversed", "lists_reversed"):
            dh0s = dh0s[::-1]
        if kind in ("lists_reversed", "dparams_reversed"):
            dparams = dparams[::-1]
        if kind == "top_dx_returned":
            dx = dx_top
        if kind == "dparams_by_parameter":
            dparams = [tuple(layer[k] for layer in dparams) for k in range(3)]
        return dx, dh0s, dparams
    return backward


def _bidirectional_forward_mistake(kind):
    def forward(x, h0_f, h0_b, params_f, params_b):
        h_f, _ = rnn_forward(x, h0_f, *params_f)
        flips = {
            "batch_axis_reversed": lambda a: a[::-1],
            "all_axes_flipped": np.flip,  # np.flip(a) with no axis reverses every axis
            "feature_axis_reversed": lambda a: a[:, :, ::-1],
        }
        flip = flips.get(kind, lambda a: a[:, ::-1])
        reversed_x = x if kind == "input_not_reversed" else flip(x)
        if kind == "h0s_swapped":  # the forward direction starts from h0_b, the reverse one from h0_f
            h_f, _ = rnn_forward(x, h0_b, *params_f)
        start = {
            "reverse_starts_from_forward_state": h_f[:, -1],
            "reverse_starts_from_h0_f": h0_f,
            "h0s_swapped": h0_f,
        }.get(kind, h0_b)
        use = params_f if kind == "same_params" else params_b
        h_b, _ = rnn_forward(reversed_x, start, *use)
        if kind != "not_re_reversed":
            h_b = flip(h_b)
        if kind == "summed":
            return h_f + h_b, None
        pair = [h_b, h_f] if kind == "concat_order" else [h_f, h_b]
        return np.concatenate(pair, axis=1 if kind == "concat_time_axis" else 2), None

    return forward


def _bidirectional_backward_mistake(kind):
    def backward(dh, cache):
        cache_f, cache_b = cache
        H = dh.shape[1] if kind == "H_from_time_axis" else dh.shape[2] // 2
        if kind == "dh_reversed_whole":  # dh = dh[:, ::-1] before the split: both halves in reversed time
            dh = dh[:, ::-1]
        dh_f, dh_b = dh[:, :, :H], dh[:, :, H:]
        if kind == "halves_swapped":
            dh_f, dh_b = dh_b, dh_f
        dx_f, dh0_f, *dparams_f = rnn_backward(dh_f, cache_f)
        dh_b_in = dh_b if kind in ("dh_b_not_reversed", "no_time_flips", "dh_reversed_whole") else dh_b[:, ::-1]
        dx_b, dh0_b, *dparams_b = rnn_backward(dh_b_in, cache_b)
        if kind == "dx_forward_only":
            dx = dx_f
        elif kind in ("dx_b_not_reversed", "no_time_flips"):
            dx = dx_f + dx_b
        elif kind == "dx_averaged":
            dx = (dx_f + dx_b[:, ::-1]) / 2
        elif kind == "dx_concatenated":
            dx = np.concatenate([dx_f, dx_b[:, ::-1]], axis=2)
        else:
            dx = dx_f + dx_b[:, ::-1]
        return dx, dh0_f, dh0_b, tuple(dparams_f), tuple(dparams_b)
    return backward


MISTAKES = {
    "stacked_rnn_forward": {
        kind: _stacked_forward_mistake(kind)
        for kind in (
            "layer_reads_x",
            "h0_ignored",
            "first_h0_everywhere",
            "returns_bottom_layer",
            "same_params",
            "last_state_passed",
            "lists_emptied",
            "three_layers_hard_coded",
            "x_cast_to_float32",
        )
    },
    "stacked_rnn_backward": {
        kind: _stacked_backward_mistake(kind)
        for kind in (
            "no_dx_to_lower",
            "lower_gets_top_dh",
            "top_dh_added_to_lower",
            "bottom_layer_first",
            "dx_not_passed_on",
            "dh0s_reversed",
            "lists_reversed",
            "dparams_reversed",
            "top_dx_returned",
            "three_layers_hard_coded",
            "dparams_by_parameter",
            "cache_reversed_in_place",
            "reverse_returned",
            "bottom_layer_missing",
            "cache_holds_top_layer_only",
        )
    },
    "bidirectional_rnn_forward": {
        kind: _bidirectional_forward_mistake(kind)
        for kind in (
            "not_re_reversed",
            "concat_order",
            "reverse_starts_from_forward_state",
            "h0s_swapped",
            "reverse_starts_from_h0_f",
            "same_params",
            "batch_axis_reversed",
            "all_axes_flipped",
            "feature_axis_reversed",
            "input_not_reversed",
            "summed",
            "concat_time_axis",
        )
    },
    "bidirectional_rnn_backward": {
        kind: _bidirectional_backward_mistake(kind)
        for kind in (
            "dh_b_not_reversed",
            "dx_b_not_reversed",
            "no_time_flips",
            "halves_swapped",
            "dx_forward_only",
            "dx_concatenated",
            "dx_averaged",
            "H_from_time_axis",
            "dh_reversed_whole",
        )
    },
}
