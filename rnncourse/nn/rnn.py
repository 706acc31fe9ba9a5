"""Vanilla (Elman) RNN over a whole sequence: h_t = tanh(x_t @ W_xh + h_{t-1} @ W_hh + b_h)."""

import numpy as np

from ._common import (
    batch_first,
    buffers,
    check_cache,
    check_shapes,
    chunks_backward,
    float_dtype,
    stack_bias,
    tanh_prescaled,
    time_major_ones,
)
from ._threads import backward_sizes, forward_sizes, one_thread_when_small


@one_thread_when_small(1, forward_sizes)
def rnn_forward(x, h0, W_xh, W_hh, b_h):
    """Run a tanh RNN over a batch of sequences.

    Inputs:
        x: (N, T, D) inputs, batch-first.
        h0: (N, H) initial hidden state (``None`` means zeros).
        W_xh: (D, H) input-to-hidden weights.
        W_hh: (H, H) hidden-to-hidden weights.
        b_h: (H,) bias.

    Returns:
        h: (N, T, H) hidden state of every step (h[:, -1] is the final state).
        cache: dict for ``rnn_backward``.

    All arrays are computed in the promoted floating dtype of x and the weights
    (float32 stays float32); h0 is cast to it. The input projection of all T steps is one GEMM;
    the time loop does one GEMM, an add and an in-place tanh (four ufuncs) per step.
    """
    x = np.asarray(x)
    dtype = float_dtype(x, W_xh, W_hh, b_h)  # h0 is cast to it
    x = x.astype(dtype, copy=False)
    W_xh = np.asarray(W_xh, dtype=dtype)
    W_hh = np.asarray(W_hh, dtype=dtype)
    b_h = np.asarray(b_h, dtype=dtype)
    H = W_hh.shape[0]
    h0 = np.zeros((x.shape[0], H), dtype) if h0 is None else np.asarray(h0, dtype=dtype)
    N, T, D, H = check_shapes("rnn_forward", x, h0, W_xh, W_hh, b_h, 1)

    X1, Hs = buffers(dtype, (T, N, D + 1), (T + 1, N, H))
    X1 = time_major_ones(x, dtype, out=X1)  # (T*N, D+1): time-major x and a ones column
    Hs[0] = h0  # Hs[0] = h0, Hs[t + 1] = h after step t
    # -2 (x_t @ W_xh + b_h) for all steps in one GEMM, written where h_t will be:
    # the weights carry the -2 of tanh(a) = 2 / (1 + exp(-2a)) - 1 (see gate_scale).
    np.matmul(X1, stack_bias(W_xh, b_h, -2), out=Hs[1:].reshape(T * N, H))
    W_hh2 = W_hh * -2
    a_h = np.empty((N, H), dtype=dtype)
    with np.errstate(over="ignore"):
        for t in range(T):
            h = Hs[t + 1]
            np.matmul(Hs[t], W_hh2, out=a_h)
            np.add(h, a_h, out=h)
            tanh_prescaled(h)

    cache = {"X1": X1, "Hs": Hs, "W_xh": W_xh, "W_hh": W_hh, "shape": (N, T, D, H)}
    return batch_first(Hs[1:]), cache


@one_thread_when_small(1, backward_sizes)
def rnn_backward(dh, cache):
    """Backpropagation through time for ``rnn_forward``.

    Inputs:
        dh: (N, T, H) upstream gradient of the loss w.r.t. every hidden state.
        cache: from ``rnn_forward``.

    Returns:
        dx (N, T, D), dh0 (N, H), dW_xh (D, H), dW_hh (H, H), db_h (H,).

    The per-step d(pre-activation) is collected in a (T, N, H) buffer and the
    weight gradients and dx are a few large GEMMs after the time loop.
    """
    check_cache("rnn_backward", cache, "W_xh", "rnn_forward")
    X1, Hs, W_xh, W_hh = cache["X1"], cache["Hs"], cache["W_xh"], cache["W_hh"]
    N, T, D, H = cache["shape"]
    dtype = Hs.dtype
    dh = np.asarray(dh, dtype=dtype)
    if dh.shape != (N, T, H):
        raise ValueError(f"rnn_backward: dh must have shape {(N, T, H)}, got {dh.shape}")
    dhT = np.swapaxes(dh, 0, 1)  # (T, N, H) view

    # dA: d(pre-activation) of every step; dxT: dx, time-major
    dA, dxT, dh_t = buffers(dtype, (T, N, H), (T * N, D), (N, H))
    W_hhT = np.ascontiguousarray(W_hh.T)
    dh_next = np.zeros((N, H), dtype=dtype)  # gradient flowing into h_t from step t+1
    for t0, t1 in chunks_backward(T, N * H):
        h = Hs[t0 + 1 : t1 + 1]
        np.multiply(h, h, out=dA[t0:t1])
        np.subtract(1, dA[t0:t1], out=dA[t0:t1])  # tanh' = 1 - h^2, a chunk of steps at once
        for t in range(t1 - 1, t0 - 1, -1):
            np.add(dhT[t], dh_next, out=dh_t)
            np.multiply(dA[t], dh_t, out=dA[t])
            np.matmul(dA[t], W_hhT, out=dh_next)

    dA2 = dA.reshape(T * N, H)
    Hprev = Hs[:-1].reshape(T * N, H)
    dW1 = np.matmul(X1.T, dA2)  # (D+1, H): [dW_xh; db_h]
    dW_xh, db_h = dW1[:D], dW1[D].copy()
    dW_hh = np.matmul(Hprev.T, dA2)
    np.matmul(dA2, W_xh.T, out=dxT)
    dx = batch_first(dxT.reshape(T, N, D))
    return dx, dh_next, dW_xh, dW_hh, db_h
