"""Reference solutions of lesson 03 (LSTM) and the catalogued mistakes, as code.

The solution notebook ``solutions/03_lstm`` holds the same bodies; a test
proves that both agree on every public case. Gate order i, f, g, o (NOTATION.md).

The backward mistakes receive the cache of the reference forward pass (the
suite's ``call`` builds it with the ``lstm_step_forward`` / ``lstm_forward``
it is given), so they use the reference's cache layout:
step cache = (x, h_prev, c_prev, W_x, W_h, i, f, g, o, tanh_c).
"""

from __future__ import annotations

import numpy as np


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


# --------------------------------------------------------------------------
# Reference
# --------------------------------------------------------------------------


def lstm_step_forward(x, h_prev, c_prev, W_x, W_h, b):
    H = h_prev.shape[1]
    a = x @ W_x + h_prev @ W_h + b  # (N, 4H)
    i = _sigmoid(a[:, :H])
    f = _sigmoid(a[:, H : 2 * H])
    g = np.tanh(a[:, 2 * H : 3 * H])
    o = _sigmoid(a[:, 3 * H :])
    c_next = f * c_prev + i * g
    tanh_c = np.tanh(c_next)
    h_next = o * tanh_c
    cache = (x, h_prev, c_prev, W_x, W_h, i, f, g, o, tanh_c)
    return h_next, c_next, cache


def lstm_step_backward(dh_next, dc_next, cache):
    x, h_prev, c_prev, W_x, W_h, i, f, g, o, tanh_c = cache
    do = dh_next * tanh_c
    dc = dc_next + dh_next * o * (1.0 - tanh_c**2)  # both paths into c_t
    di, df, dg = dc * g, dc * c_prev, dc * i
    dc_prev = dc * f
    da = np.concatenate(
        [di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2), do * o * (1 - o)], axis=1
    )  # (N, 4H)
    dx = da @ W_x.T
    dh_prev = da @ W_h.T
    dW_x = x.T @ da
    dW_h = h_prev.T @ da
    db = da.sum(axis=0)
    return dx, dh_prev, dc_prev, dW_x, dW_h, db


def lstm_forward(x, h0, W_x, W_h, b):
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.empty((N, T, H), dtype=np.result_type(x, h0, W_x))
    cache = []
    h_prev, c_prev = h0, np.zeros_like(h0)
    for t in range(T):
        h_prev, c_prev, step_cache = lstm_step_forward(x[:, t], h_prev, c_prev, W_x, W_h, b)
        h[:, t] = h_prev
        cache.append(step_cache)
    return h, cache


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    x0, _, _, W_x, W_h = cache[0][:5]
    dx = np.empty((N, T, x0.shape[1]), dtype=dh.dtype)
    dW_x, dW_h, db = np.zeros_like(W_x), np.zeros_like(W_h), np.zeros(4 * H, dtype=dh.dtype)
    dh_prev = np.zeros((N, H), dtype=dh.dtype)
    dc_prev = np.zeros((N, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        dx_t, dh_prev, dc_prev, dW_x_t, dW_h_t, db_t = lstm_step_backward(
            dh[:, t] + dh_prev, dc_prev, cache[t]
        )
        dx[:, t] = dx_t
        dW_x += dW_x_t
        dW_h += dW_h_t
        db += db_t
    return dx, dh_prev, dW_x, dW_h, db


def peephole_lstm_step_forward(x, h_prev, c_prev, W_x, W_h, b, p_i, p_f, p_o):
    H = h_prev.shape[1]
    a = x @ W_x + h_prev @ W_h + b  # (N, 4H)
    i = _sigmoid(a[:, :H] + c_prev * p_i)
    f = _sigmoid(a[:, H : 2 * H] + c_prev * p_f)
    g = np.tanh(a[:, 2 * H : 3 * H])
    c_next = f * c_prev + i * g
    o = _sigmoid(a[:, 3 * H :] + c_next * p_o)  # the output gate sees the new cell
    h_next = o * np.tanh(c_next)
    cache = (x, h_prev, c_prev, W_x, W_h, p_i, p_f, p_o, i, f, g, o, c_next)
    return h_next, c_next, cache


def count_lstm_parameters(input_size, hidden_size):
    D, H = input_size, hidden_size
    return 4 * (D * H + H * H + H)


REFERENCE = {
    f.__name__: f
    for f in (
        lstm_step_forward,
        lstm_step_backward,
        lstm_forward,
        lstm_backward,
        peephole_lstm_step_forward,
        count_lstm_parameters,
    )
}


# --------------------------------------------------------------------------
# Catalogued mistakes: each returns what a learner who made it would return.
# --------------------------------------------------------------------------


def _blocks(a, H, order):
    """Read the four gate blocks of ``a`` assuming the columns are in ``order``."""
    return {name: a[:, k * H : (k + 1) * H] for k, name in enumerate(order)}


def _step_mistake(kind):
    def step(x, h_prev, c_prev, W_x, W_h, b):
        H = h_prev.shape[1]
        a = x @ W_x + h_prev @ W_h + b
        order = {"order_ifog": "ifog", "order_igfo": "igfo"}.get(kind, "ifgo")
        blk = _blocks(a, H, order)
        gate = np.tanh if kind == "tanh_gates" else _sigmoid
        value = _sigmoid if kind == "sigmoid_candidate" else np.tanh
        i, f, o = gate(blk["i"]), gate(blk["f"]), gate(blk["o"])
        g = value(blk["g"])
        if kind == "forget_on_candidate":
            c_next = i * c_prev + f * g
        elif kind == "no_forget_gate":
            c_next = c_prev + i * g
        else:
            c_next = f * c_prev + i * g
        h_next = o * c_next if kind == "no_tanh_c" else o * np.tanh(c_next)
        return h_next, c_next, None

    return step


def _step_backward_mistake(kind):
    def backward(dh_next, dc_next, cache):
        x, h_prev, c_prev, W_x, W_h, i, f, g, o, tanh_c = cache
        do = dh_next * tanh_c
        if kind == "modifies_upstream":
            dh_next *= o  # the caller's array
            dc = dc_next + dh_next * (1.0 - tanh_c**2)
        elif kind == "no_tanh_c_path":
            dc = dc_next
        elif kind == "tanh_c_no_derivative":
            dc = dc_next + dh_next * o
        elif kind == "dc_next_dropped":
            dc = dh_next * o * (1.0 - tanh_c**2)
        else:
            dc = dc_next + dh_next * o * (1.0 - tanh_c**2)
        di, df, dg = dc * g, dc * c_prev, dc * i
        dc_prev = dc if kind == "dc_prev_without_f" else dc * f
        if kind == "sigmoid_derivative_as_tanh":
            d_i, d_f, d_o = di * (1 - i**2), df * (1 - f**2), do * (1 - o**2)
        else:
            d_i, d_f, d_o = di * i * (1 - i), df * f * (1 - f), do * o * (1 - o)
        d_g = dg * (1 - g**2)
        blocks = {"i": d_i, "f": d_f, "g": d_g, "o": d_o}
        order = "ifog" if kind == "order_ifog" else "ifgo"
        da = np.concatenate([blocks[k] for k in order], axis=1)
        dx = da @ W_x.T
        dh_prev = da @ W_h.T
        dW_x = x.T @ da
        dW_h = h_prev.T @ da
        db = da.sum(axis=0)
        return dx, dh_prev, dc_prev, dW_x, dW_h, db

    return backward


def _forward_mistake(kind):
    def forward(x, h0, W_x, W_h, b):
        N, T, _ = x.shape
        states = []
        h_prev = np.zeros_like(h0) if kind == "h0_ignored" else h0
        c_prev = h0.copy() if kind == "c0_is_h0" else np.zeros_like(h0)
        for t in range(T):
            h_next, c_next, _ = lstm_step_forward(x[:, t], h_prev, c_prev, W_x, W_h, b)
            states.append(c_next if kind == "returns_cell" else h_next)
            h_prev = h_next
            c_prev = np.zeros_like(h0) if kind == "c_not_carried" else c_next
        if kind == "last_state_only":
            return states[-1], None
        return np.stack(states, axis=1), None

    return forward


def _backward_mistake(kind):
    def backward(dh, cache):
        N, T, H = dh.shape
        x0, _, _, W_x, W_h = cache[0][:5]
        dx = np.empty((N, T, x0.shape[1]), dtype=dh.dtype)
        dW_x, dW_h, db = np.zeros_like(W_x), np.zeros_like(W_h), np.zeros(4 * H, dtype=dh.dtype)
        dh_prev = np.zeros((N, H), dtype=dh.dtype)
        dc_prev = np.zeros((N, H), dtype=dh.dtype)
        for t in reversed(range(T)):
            if kind == "modifies_upstream":
                dh_next = dh[:, t]  # already holds the carried gradient, added in place below
            elif kind == "dh_not_carried":
                dh_next = dh[:, t]
            elif kind == "upstream_dh_ignored":
                dh_next = dh[:, t] if t == T - 1 else dh_prev
            else:
                dh_next = dh[:, t] + dh_prev
            dc_next = np.zeros_like(dc_prev) if kind == "dc_not_carried" else dc_prev
            dx_t, dh_prev, dc_prev, dW_x_t, dW_h_t, db_t = lstm_step_backward(
                dh_next, dc_next, cache[t]
            )
            dx[:, t] = dx_t
            if kind == "modifies_upstream" and t > 0:
                dh[:, t - 1] += dh_prev
            if kind == "weights_overwritten":
                dW_x, dW_h, db = dW_x_t, dW_h_t, db_t
            else:
                dW_x += dW_x_t
                dW_h += dW_h_t
                db += db_t
        return dx, dh_prev, dW_x, dW_h, db

    return backward


def _peephole_mistake(kind):
    def step(x, h_prev, c_prev, W_x, W_h, b, p_i, p_f, p_o):
        H = h_prev.shape[1]
        a = x @ W_x + h_prev @ W_h + b
        peek = h_prev if kind == "peeks_at_h" else c_prev
        if kind == "p_i_p_f_swapped":
            p_i, p_f = p_f, p_i
        if kind == "no_peepholes":
            p_i = p_f = p_o = np.zeros_like(p_i)
        i = _sigmoid(a[:, :H] + peek * p_i)
        f = _sigmoid(a[:, H : 2 * H] + peek * p_f)
        g = np.tanh(a[:, 2 * H : 3 * H])
        c_next = f * c_prev + i * g
        o_peek = {"o_peeks_at_c_prev": c_prev, "peeks_at_h": h_prev}.get(kind, c_next)
        o = _sigmoid(a[:, 3 * H :] + o_peek * p_o)
        h_next = o * np.tanh(c_next)
        return h_next, c_next, None

    return step


MISTAKES = {
    "lstm_step_forward": {
        kind: _step_mistake(kind)
        for kind in (
            "order_ifog",
            "order_igfo",
            "sigmoid_candidate",
            "tanh_gates",
            "no_tanh_c",
            "forget_on_candidate",
            "no_forget_gate",
        )
    },
    "lstm_step_backward": {
        kind: _step_backward_mistake(kind)
        for kind in (
            "no_tanh_c_path",
            "tanh_c_no_derivative",
            "dc_next_dropped",
            "dc_prev_without_f",
            "sigmoid_derivative_as_tanh",
            "order_ifog",
            "modifies_upstream",
        )
    },
    "lstm_forward": {
        kind: _forward_mistake(kind)
        for kind in ("h0_ignored", "c0_is_h0", "c_not_carried", "returns_cell", "last_state_only")
    },
    "lstm_backward": {
        kind: _backward_mistake(kind)
        for kind in (
            "dc_not_carried",
            "dh_not_carried",
            "upstream_dh_ignored",
            "weights_overwritten",
            "modifies_upstream",
        )
    },
    "peephole_lstm_step_forward": {
        kind: _peephole_mistake(kind)
        for kind in ("o_peeks_at_c_prev", "no_peepholes", "peeks_at_h", "p_i_p_f_swapped")
    },
    "count_lstm_parameters": {
        "rnn_count": lambda input_size, hidden_size: (
            input_size * hidden_size + hidden_size**2 + hidden_size
        ),
        "three_blocks": lambda input_size, hidden_size: (
            3 * (input_size * hidden_size + hidden_size**2 + hidden_size)
        ),
        "no_biases": lambda input_size, hidden_size: (
            4 * (input_size * hidden_size + hidden_size**2)
        ),
        "two_biases": lambda input_size, hidden_size: (
            4 * (input_size * hidden_size + hidden_size**2 + 2 * hidden_size)
        ),
        "one_bias_per_unit": lambda input_size, hidden_size: (
            4 * (input_size * hidden_size + hidden_size**2) + hidden_size
        ),
    },
}
