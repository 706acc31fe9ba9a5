"""Reference solutions of lesson 01 and the catalogued mistakes, as code.

The solution notebook ``solutions/01_rnn_cell`` holds the same bodies; a test
proves that both agree on every public case.
"""

from __future__ import annotations

import numpy as np

from autograder.reference.common import unroll_mistakes


def rnn_step_forward(x, h_prev, W_xh, W_hh, b_h):
    a = x @ W_xh + h_prev @ W_hh + b_h  # (N, H)
    h_next = np.tanh(a)
    cache = (x, h_prev, W_xh, W_hh, h_next)
    return h_next, cache


def rnn_forward(x, h0, W_xh, W_hh, b_h):
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.empty((N, T, H), dtype=np.result_type(x, h0, W_xh))
    caches = []
    h_prev = h0
    for t in range(T):
        h_prev, cache = rnn_step_forward(x[:, t], h_prev, W_xh, W_hh, b_h)
        h[:, t] = h_prev
        caches.append(cache)
    return h, caches


def softmax(scores):
    shifted = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def rnn_output_forward(h, W_hy, b_y):
    return softmax(h @ W_hy + b_y)


def jordan_step_forward(x, y_prev, W_xh, W_yh, b_h, W_hy, b_y):
    h_next = np.tanh(x @ W_xh + y_prev @ W_yh + b_h)
    y_next = softmax(h_next @ W_hy + b_y)
    return h_next, y_next


def count_rnn_parameters(input_size, hidden_size, output_size, seq_len):
    D, H, V = input_size, hidden_size, output_size
    return D * H + H * H + H + H * V + V


REFERENCE = {
    f.__name__: f
    for f in (
        rnn_step_forward,
        rnn_forward,
        softmax,
        rnn_output_forward,
        jordan_step_forward,
        count_rnn_parameters,
    )
}


# --------------------------------------------------------------------------
# Catalogued mistakes: each returns what a learner who made it would return.
# --------------------------------------------------------------------------


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _step(activation, *, bias=True, W_hh_T=False, each=False, use_h=True):
    def step(x, h_prev, W_xh, W_hh, b_h):
        W = W_hh.T if W_hh_T else W_hh
        if each:
            h_next = np.tanh(x @ W_xh) + np.tanh(h_prev @ W) + np.tanh(b_h)
        else:
            a = x @ W_xh + (h_prev @ W if use_h else 0.0) + (b_h if bias else 0.0)
            h_next = activation(a)
        return h_next, None

    return step



def _softmax_unstable(scores):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(scores)
        return e / e.sum(axis=-1, keepdims=True)


def _softmax_global_max(scores):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(scores - scores.max())
        return e / e.sum(axis=-1, keepdims=True)


def _softmax_axis0(scores):
    e = np.exp(scores - scores.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _softmax_global(scores):
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum()


def _softmax_no_exp(scores):
    return scores / scores.sum(axis=-1, keepdims=True)


def _output_softmax_over_time(h, W_hy, b_y):
    s = h @ W_hy + b_y
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _jordan(kind):
    def step(x, y_prev, W_xh, W_yh, b_h, W_hy, b_y):
        a = x @ W_xh + (0.0 if kind == "y_prev_ignored" else y_prev @ W_yh)
        a = a + (0.0 if kind == "no_bias" else b_h)
        h_next = a if kind == "no_tanh" else np.tanh(a)
        source = a if kind == "output_from_preactivation" else h_next
        scores = source @ W_hy + b_y
        y_next = scores if kind == "no_softmax" else softmax(scores)
        return h_next, y_next

    return step


MISTAKES = {
    "rnn_step_forward": {
        "no_bias": _step(np.tanh, bias=False),
        "sigmoid": _step(_sigmoid),
        "no_activation": _step(lambda a: a),
        "W_hh_transposed": _step(np.tanh, W_hh_T=True),
        "tanh_each_term": _step(np.tanh, each=True),
        "h_prev_ignored": _step(np.tanh, use_h=False),
    },
    "rnn_forward": unroll_mistakes(rnn_step_forward),
    "softmax": {
        "unstable": _softmax_unstable,
        "global_max": _softmax_global_max,
        "axis0": _softmax_axis0,
        "global_sum": _softmax_global,
        "no_exp": _softmax_no_exp,
    },
    "rnn_output_forward": {
        "no_bias": lambda h, W_hy, b_y: softmax(h @ W_hy),
        "no_softmax": lambda h, W_hy, b_y: h @ W_hy + b_y,
        "softmax_over_time": _output_softmax_over_time,
        "sigmoid": lambda h, W_hy, b_y: _sigmoid(h @ W_hy + b_y),
    },
    "jordan_step_forward": {
        kind: _jordan(kind)
        for kind in ("y_prev_ignored", "no_softmax", "no_tanh", "no_bias", "output_from_preactivation")
    },
    "count_rnn_parameters": {
        "no_biases": lambda input_size, hidden_size, output_size, seq_len: (
            input_size * hidden_size + hidden_size**2 + hidden_size * output_size
        ),
        "no_recurrent": lambda input_size, hidden_size, output_size, seq_len: (
            input_size * hidden_size + hidden_size + hidden_size * output_size + output_size
        ),
        "times_seq_len": lambda input_size, hidden_size, output_size, seq_len: seq_len
        * count_rnn_parameters(input_size, hidden_size, output_size, seq_len),
        "no_output_layer": lambda input_size, hidden_size, output_size, seq_len: (
            input_size * hidden_size + hidden_size**2 + hidden_size
        ),
        "recurrent_as_vector": lambda input_size, hidden_size, output_size, seq_len: (
            input_size * hidden_size + 2 * hidden_size + hidden_size * output_size + output_size
        ),
    },
}
