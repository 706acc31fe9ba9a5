"""LSTM over a whole sequence, fused gates in the order i, f, g, o (see NOTATION.md).

a = x_t @ W_x + h_{t-1} @ W_h + b          # (N, 4H)
i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);  g = tanh(a_g)
c_t = f * c_{t-1} + i * g
h_t = o * tanh(c_t)
"""

import numpy as np

from ._common import (
    batch_first,
    buffers,
    check_cache,
    check_shapes,
    chunk_steps,
    chunks_backward,
    exp_activate,
    float_dtype,
    gate_scale,
    stack_bias,
    tanh_into,
)
from ._threads import backward_sizes, forward_sizes, one_thread_when_small


@one_thread_when_small(4, forward_sizes)
def lstm_forward(x, h0, W_x, W_h, b, c0=None, return_state=False):
    """Run an LSTM over a batch of sequences.

    Inputs:
        x: (N, T, D) inputs, batch-first.
        h0: (N, H) initial hidden state (``None`` means zeros).
        W_x: (D, 4H) input weights, column blocks i, f, g, o.
        W_h: (H, 4H) recurrent weights, same blocks.
        b: (4H,) bias.
        c0: (N, H) initial cell state; ``None`` means zeros.
        return_state: if True, also return the final cell state c_T, which
            truncated BPTT feeds to the next chunk as its c0.

    Returns:
        ``(h, cache)``, or ``(h, c_T, cache)`` with ``return_state=True``:
        h: (N, T, H) hidden state of every step; h[:, -1] is h_T.
        c_T: (N, H) final cell state (also in ``cache["c_T"]``).
        cache: dict for ``lstm_backward``.

    Works in the promoted floating dtype of x and the weights (float32 stays float32);
    h0 and c0 are cast to it, so a float64 np.zeros((N, H)) does not turn a float32
    model into float64.
    """
    x = np.asarray(x)
    dtype = float_dtype(x, W_x, W_h, b)  # h0 and c0 are cast to it
    x = x.astype(dtype, copy=False)
    W_x = np.asarray(W_x, dtype=dtype)
    W_h = np.asarray(W_h, dtype=dtype)
    b = np.asarray(b, dtype=dtype)
    H = W_h.shape[0]
    h0 = np.zeros((x.shape[0], H), dtype) if h0 is None else np.asarray(h0, dtype=dtype)
    N, T, D, H = check_shapes("lstm_forward", x, h0, W_x, W_h, b, 4)
    if c0 is not None and np.shape(c0) != (N, H):
        raise ValueError(f"lstm_forward: c0 must have shape {(N, H)}, got {np.shape(c0)}")

    # Scaling the sigmoid columns by -1 and the g columns by -2 (exact in binary)
    # lets one exp call activate all four gates (see gate_scale).
    pre, num = gate_scale(H, 4, (2,), dtype)
    Z, G, Cs, TC, a_h, ig = buffers(
        dtype,
        (T + 1, N, H + D + 1),  # Z[t] = [h_{t-1}, x_t, 1]; Z[T, :, :H] = h_T
        (T, N, 4 * H),  # scaled input projection, then the gates i, f, g, o
        (T + 1, N, H),  # Cs[0] = c0, Cs[t + 1] = c after step t
        (T, N, H),  # tanh(c) after every step
        (N, 4 * H),  # scratch: h_{t-1} @ W_h
        (N, H),  # scratch: i * g
    )
    # One array holds h_{t-1}, x_t and a ones column side by side, so that in
    # backward [dW_h; dW_x; db] is a single GEMM. Every piece is a BLAS-ready view.
    Z[0, :, :H] = h0
    Z[:T, :, H : H + D] = np.swapaxes(x, 0, 1)
    Z[:T, :, H + D] = 1
    Z[T, :, H:] = 0
    X1 = Z[:T, :, H:].reshape(T * N, D + 1)  # time-major [x_t, 1]
    np.matmul(X1, stack_bias(W_x, b, pre), out=G.reshape(T * N, 4 * H))
    W_hs = W_h * pre  # (H, 4H)
    Cs[0] = 0 if c0 is None else c0
    # Tiled to (N*4H,) so the divide runs as one contiguous 1-D loop
    # (broadcasting a (4H,) vector over N rows is several times slower).
    num = np.tile(num, N)
    with np.errstate(over="ignore"):  # exp(-a) = inf is exact here: see gate_scale
        for t in range(T):
            a = G[t]  # (N, 4H), becomes the activated gates in place
            np.matmul(Z[t, :, :H], W_hs, out=a_h)
            np.add(a, a_h, out=a)
            exp_activate(a.reshape(-1), num)
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            np.subtract(g, 1, out=g)
            np.multiply(f, Cs[t], out=Cs[t + 1])
            np.multiply(i, g, out=ig)
            np.add(Cs[t + 1], ig, out=Cs[t + 1])
            tanh_into(Cs[t + 1], out=TC[t])
            np.multiply(o, TC[t], out=Z[t + 1, :, :H])

    cache = {
        "Z": Z,  # (T+1, N, H+D+1) [h_{t-1}, x_t, 1] of every step
        "G": G,  # (T, N, 4H) gate activations i, f, g, o
        "Cs": Cs,  # (T+1, N, H) c0 and the cell state after every step
        "TC": TC,  # (T, N, H) tanh(c_t)
        "W_x": W_x,
        "W_h": W_h,
        "c_T": Cs[T].copy(),
        "shape": (N, T, D, H),
    }
    h = batch_first(Z[1:, :, :H])
    if return_state:
        return h, cache["c_T"], cache
    return h, cache


def _local_derivatives(cache, t0, t1, gates, P, K):
    """Step-local derivatives of steps t0..t1-1, all gate-major (n = t1 - t0 steps).

    Fills ``gates`` (4, n, N, H) with a gate-major copy of i, f, g, o, and
    P (4, n, N, H), K (n, N, H) with the factors of the recursion below. With
    dh_t the total gradient into h_t and dc the total gradient into c_t:
        dc   = dc_next + dh_t * K,            K   = o * (1 - tanh(c)^2)
        da_i = dc * P_i,                      P_i = g * i * (1 - i)
        da_f = dc * P_f,                      P_f = c_{t-1} * f * (1 - f)
        da_g = dc * P_g,                      P_g = i * (1 - g^2)
        da_o = dh_t * P_o,                    P_o = tanh(c) * o * (1 - o)
    None of them depends on the recursion, so one ufunc call covers several
    steps; after one strided copy every operand is contiguous (NumPy is much
    slower on strided views, above all when writing to them in place).
    """
    n = t1 - t0
    H = K.shape[-1]
    np.copyto(gates[:, :n], cache["G"][t0:t1].reshape(n, -1, 4, H).transpose(2, 0, 1, 3))
    i, f, g, o = gates[:, :n]
    TC, C_prev, K = cache["TC"][t0:t1], cache["Cs"][t0:t1], K[:n]
    P_i, P_f, P_g, P_o = P[:, :n]
    np.subtract(1, i, out=P_i)
    np.multiply(P_i, i, out=P_i)
    np.multiply(P_i, g, out=P_i)
    np.subtract(1, f, out=P_f)
    np.multiply(P_f, f, out=P_f)
    np.multiply(P_f, C_prev, out=P_f)
    np.multiply(g, g, out=P_g)
    np.subtract(1, P_g, out=P_g)
    np.multiply(P_g, i, out=P_g)
    np.subtract(1, o, out=P_o)
    np.multiply(P_o, o, out=P_o)
    np.multiply(P_o, TC, out=P_o)
    np.multiply(TC, TC, out=K)
    np.subtract(1, K, out=K)
    np.multiply(K, o, out=K)


@one_thread_when_small(4, backward_sizes)
def lstm_backward(dh, cache, dc_T=None, return_dc0=False):
    """Backpropagation through time for ``lstm_forward``.

    Inputs:
        dh: (N, T, H) upstream gradient w.r.t. every hidden state h_t.
        cache: from ``lstm_forward``.
        dc_T: optional (N, H) upstream gradient w.r.t. the final cell state c_T.
        return_dc0: if True, also return the gradient w.r.t. c0.

    Returns:
        dx (N, T, D), dh0 (N, H), dW_x (D, 4H), dW_h (H, 4H), db (4H,),
        followed by dc0 (N, H) when ``return_dc0=True``.

    d(pre-activation) of every step goes into one (T, N, 4H) buffer; dW_x,
    dW_h, db and dx are computed from it after the loop with a few large GEMMs.
    The cache is not modified, so backward may be called more than once.
    """
    check_cache(
        "lstm_backward",
        cache,
        "Z",
        "lstm_forward",
        note="with return_state=True the forward returns (h, c_T, cache): the cache is last",
    )
    Z, G, W_x, W_h = cache["Z"], cache["G"], cache["W_x"], cache["W_h"]
    N, T, D, H = cache["shape"]
    dtype = G.dtype
    dh = np.asarray(dh, dtype=dtype)
    if dh.shape != (N, T, H):
        raise ValueError(f"lstm_backward: dh must have shape {(N, T, H)}, got {dh.shape}")
    dhT = np.swapaxes(dh, 0, 1)  # (T, N, H) view

    steps = chunk_steps(T, N * 4 * H)
    dA, dxT, gates, P, K, dh_t, dc = buffers(
        dtype,
        (T, N, 4 * H),  # d(pre-activation) of every step
        (T * N, D),  # dx, time-major
        (4, steps, N, H),  # gate-major gates of one chunk of steps
        (4, steps, N, H),  # local derivatives of one chunk
        (steps, N, H),
        (N, H),
        (N, H),
    )
    dA4 = dA.reshape(T, N, 4, H)
    W_hT = np.ascontiguousarray(W_h.T)  # (4H, H)
    dh_next = np.zeros((N, H), dtype=dtype)
    dc_next = np.zeros((N, H), dtype=dtype)
    if dc_T is not None and np.shape(dc_T) != (N, H):
        raise ValueError(f"lstm_backward: dc_T must have shape {(N, H)}, got {np.shape(dc_T)}")
    if dc_T is not None:
        dc_next[...] = dc_T
    for t0, t1 in chunks_backward(T, N * 4 * H):
        _local_derivatives(cache, t0, t1, gates, P, K)
        for t in range(t1 - 1, t0 - 1, -1):
            Pt, dAt = P[:, t - t0], dA4[t]  # (4, N, H), (N, 4, H)
            np.add(dhT[t], dh_next, out=dh_t)
            np.multiply(dh_t, K[t - t0], out=dc)
            np.add(dc, dc_next, out=dc)
            np.multiply(Pt[0], dc, out=dAt[:, 0])  # da_i
            np.multiply(Pt[1], dc, out=dAt[:, 1])  # da_f
            np.multiply(Pt[2], dc, out=dAt[:, 2])  # da_g
            np.multiply(Pt[3], dh_t, out=dAt[:, 3])  # da_o
            np.multiply(dc, gates[1, t - t0], out=dc_next)  # forget gate
            np.matmul(dA[t], W_hT, out=dh_next)

    dA2 = dA.reshape(T * N, 4 * H)
    dW = np.matmul(Z[:T].reshape(T * N, H + D + 1).T, dA2)  # (H+D+1, 4H): [dW_h; dW_x; db]
    dW_h, dW_x, db = dW[:H], dW[H : H + D], dW[H + D].copy()
    np.matmul(dA2, W_x.T, out=dxT)
    dx = batch_first(dxT.reshape(T, N, D))
    if return_dc0:
        return dx, dh_next, dW_x, dW_h, db, dc_next
    return dx, dh_next, dW_x, dW_h, db
