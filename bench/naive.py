"""Straightforward per-gate NumPy RNN, LSTM and GRU: the baseline the benchmark compares to.

What a first implementation looks like: per time step, one matmul per gate
for the input and one for the recurrent weights, fresh arrays for every
intermediate, and weight gradients accumulated step by step in backward. Same
fused parameters and returns as rnncourse.nn (course conventions), so the
benchmark can check that both agree.
"""

import numpy as np


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _blocks(W, n, H):
    return [W[..., k * H : (k + 1) * H] for k in range(n)]


def rnn_forward(x, h0, W_xh, W_hh, b_h):
    hs = [h0]
    for t in range(x.shape[1]):
        hs.append(np.tanh(x[:, t] @ W_xh + hs[-1] @ W_hh + b_h))
    return np.stack(hs[1:], axis=1), (x, hs, W_xh, W_hh)


def rnn_backward(dh, cache):
    x, hs, W_xh, W_hh = cache
    dx = np.zeros_like(x)
    dW_xh, dW_hh = np.zeros_like(W_xh), np.zeros_like(W_hh)
    db_h = np.zeros(W_hh.shape[1], dtype=x.dtype)
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(x.shape[1])):
        da = (dh[:, t] + dh_next) * (1 - hs[t + 1] ** 2)
        dx[:, t] = da @ W_xh.T
        dW_xh += x[:, t].T @ da
        dW_hh += hs[t].T @ da
        db_h += da.sum(axis=0)
        dh_next = da @ W_hh.T
    return dx, dh_next, dW_xh, dW_hh, db_h


def lstm_forward(x, h0, W_x, W_h, b):
    H = h0.shape[1]
    Wx, Wh, bb = _blocks(W_x, 4, H), _blocks(W_h, 4, H), _blocks(b, 4, H)
    h, c = h0, np.zeros_like(h0)
    steps = []
    for t in range(x.shape[1]):
        x_t = x[:, t]
        i = _sigmoid(x_t @ Wx[0] + h @ Wh[0] + bb[0])
        f = _sigmoid(x_t @ Wx[1] + h @ Wh[1] + bb[1])
        g = np.tanh(x_t @ Wx[2] + h @ Wh[2] + bb[2])
        o = _sigmoid(x_t @ Wx[3] + h @ Wh[3] + bb[3])
        c_new = f * c + i * g
        tc = np.tanh(c_new)
        steps.append((x_t, h, c, i, f, g, o, tc))
        h, c = o * tc, c_new
        steps[-1] = steps[-1] + (h,)
    return np.stack([s[-1] for s in steps], axis=1), (steps, Wx, Wh, x.shape)


def lstm_backward(dh, cache):
    steps, Wx, Wh, x_shape = cache
    dWx = [np.zeros_like(W) for W in Wx]
    dWh = [np.zeros_like(W) for W in Wh]
    db = [np.zeros(W.shape[1], dtype=W.dtype) for W in Wh]
    dx = np.zeros(x_shape, dtype=Wx[0].dtype)
    dh_next = np.zeros_like(steps[0][1])
    dc_next = np.zeros_like(dh_next)
    for t in reversed(range(x_shape[1])):
        x_t, h_prev, c_prev, i, f, g, o, tc, _ = steps[t]
        dh_t = dh[:, t] + dh_next
        do = dh_t * tc
        dc = dc_next + dh_t * o * (1 - tc**2)
        da = [
            dc * g * i * (1 - i),
            dc * c_prev * f * (1 - f),
            dc * i * (1 - g**2),
            do * o * (1 - o),
        ]
        dh_next = np.zeros_like(h_prev)
        for k in range(4):
            dWx[k] += x_t.T @ da[k]
            dWh[k] += h_prev.T @ da[k]
            db[k] += da[k].sum(axis=0)
            dx[:, t] += da[k] @ Wx[k].T
            dh_next += da[k] @ Wh[k].T
        dc_next = dc * f
    return dx, dh_next, np.concatenate(dWx, 1), np.concatenate(dWh, 1), np.concatenate(db)


def gru_forward(x, h0, W_x, W_h, b):
    H = h0.shape[1]
    Wx, Wh, bb = _blocks(W_x, 3, H), _blocks(W_h, 3, H), _blocks(b, 3, H)
    h = h0
    steps = []
    for t in range(x.shape[1]):
        x_t = x[:, t]
        r = _sigmoid(x_t @ Wx[0] + h @ Wh[0] + bb[0])
        z = _sigmoid(x_t @ Wx[1] + h @ Wh[1] + bb[1])
        n = np.tanh(x_t @ Wx[2] + (r * h) @ Wh[2] + bb[2])
        h_new = (1 - z) * h + z * n
        steps.append((x_t, h, r, z, n, h_new))
        h = h_new
    return np.stack([s[-1] for s in steps], axis=1), (steps, Wx, Wh, x.shape)


def gru_backward(dh, cache):
    steps, Wx, Wh, x_shape = cache
    dWx = [np.zeros_like(W) for W in Wx]
    dWh = [np.zeros_like(W) for W in Wh]
    db = [np.zeros(W.shape[1], dtype=W.dtype) for W in Wh]
    dx = np.zeros(x_shape, dtype=Wx[0].dtype)
    dh_next = np.zeros_like(steps[0][1])
    for t in reversed(range(x_shape[1])):
        x_t, h_prev, r, z, n, _ = steps[t]
        dh_t = dh[:, t] + dh_next
        da_n = dh_t * z * (1 - n**2)
        da_z = dh_t * (n - h_prev) * z * (1 - z)
        drh = da_n @ Wh[2].T
        da_r = drh * h_prev * r * (1 - r)
        dh_next = dh_t * (1 - z) + drh * r + da_r @ Wh[0].T + da_z @ Wh[1].T
        for k, da in enumerate((da_r, da_z, da_n)):
            dWx[k] += x_t.T @ da
            db[k] += da.sum(axis=0)
            dx[:, t] += da @ Wx[k].T
        dWh[0] += h_prev.T @ da_r
        dWh[1] += h_prev.T @ da_z
        dWh[2] += (r * h_prev).T @ da_n
    return dx, dh_next, np.concatenate(dWx, 1), np.concatenate(dWh, 1), np.concatenate(db)


CELLS = {
    "rnn": (rnn_forward, rnn_backward),
    "lstm": (lstm_forward, lstm_backward),
    "gru": (gru_forward, gru_backward),
}
