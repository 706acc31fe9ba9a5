"""GRU over a whole sequence, fused gates in the order r, z, n.

Course convention (NOTATION.md): the reset gate multiplies h_{t-1} before the
recurrent matmul and z weights the new candidate:

    r = sigmoid(x_t @ W_x[:, r] + h_{t-1} @ W_h[:, r] + b[r])
    z = sigmoid(x_t @ W_x[:, z] + h_{t-1} @ W_h[:, z] + b[z])
    n = tanh(x_t @ W_x[:, n] + (r * h_{t-1}) @ W_h[:, n] + b[n])
    h_t = (1 - z) * h_{t-1} + z * n

``gru_torch_forward`` / ``gru_torch_backward`` implement PyTorch's variant
(reset after the matmul, two biases, z weights the old state) for comparison.
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
    tanh_prescaled,
    time_major_ones,
)
from ._threads import backward_sizes, forward_sizes, one_thread_when_small


def _prepare(name, x, h0, W_x, W_h, biases):
    x = np.asarray(x)
    dtype = float_dtype(x, W_x, W_h, *biases)  # h0 is cast to it
    x = x.astype(dtype, copy=False)
    W_x = np.asarray(W_x, dtype=dtype)
    W_h = np.asarray(W_h, dtype=dtype)
    biases = [np.asarray(bias, dtype=dtype) for bias in biases]
    H = W_h.shape[0]
    h0 = np.zeros((x.shape[0], H), dtype) if h0 is None else np.asarray(h0, dtype=dtype)
    for bias in biases:
        check_shapes(name, x, h0, W_x, W_h, bias, 3)
    return dtype, x, h0, W_x, W_h, biases


@one_thread_when_small(3, forward_sizes)
def gru_forward(x, h0, W_x, W_h, b):
    """Run a GRU (course convention) over a batch of sequences.

    Inputs:
        x: (N, T, D) inputs, batch-first.
        h0: (N, H) initial hidden state (``None`` means zeros).
        W_x: (D, 3H) input weights, column blocks r, z, n.
        W_h: (H, 3H) recurrent weights, same blocks.
        b: (3H,) bias.

    Returns:
        h: (N, T, H) hidden state of every step; cache: dict for ``gru_backward``.
    """
    dtype, x, h0, W_x, W_h, (b,) = _prepare("gru_forward", x, h0, W_x, W_h, [b])
    N, T, D, H = check_shapes("gru_forward", x, h0, W_x, W_h, b, 3)

    pre, _ = gate_scale(H, 3, (2,), dtype)  # -1 for r, z; -2 for n
    X1, Xp, Hs, RZ, Nc, RH, tmp = buffers(
        dtype,
        (T, N, D + 1),  # time-major x and a ones column
        (T, N, 3 * H),  # scaled input projection of every step
        (T + 1, N, H),  # Hs[0] = h0, Hs[t + 1] = h after step t
        (T, N, 2 * H),  # gates r, z
        (T, N, H),  # candidate n
        (T, N, H),  # r * h_{t-1}
        (N, H),  # scratch
    )
    X1 = time_major_ones(x, dtype, out=X1)  # (T*N, D+1)
    np.matmul(X1, stack_bias(W_x, b, pre), out=Xp.reshape(T * N, 3 * H))
    # Scaled like the input projection, for activation by exp (see gate_scale).
    W_hrz = W_h[:, : 2 * H] * -1  # (H, 2H)
    W_hn = W_h[:, 2 * H :] * -2  # (H, H)

    Hs[0] = h0
    with np.errstate(over="ignore"):  # exp(-a) = inf is exact here: see gate_scale
        for t in range(T):
            h_prev, rz, n = Hs[t], RZ[t], Nc[t]  # contiguous per-step buffers
            np.matmul(h_prev, W_hrz, out=rz)
            np.add(rz, Xp[t, :, : 2 * H], out=rz)
            exp_activate(rz, 1)
            r, z = rz[:, :H], rz[:, H:]
            np.multiply(r, h_prev, out=RH[t])
            np.matmul(RH[t], W_hn, out=n)
            np.add(n, Xp[t, :, 2 * H :], out=n)
            tanh_prescaled(n)
            np.subtract(n, h_prev, out=tmp)  # h_t = h_prev + z * (n - h_prev)
            np.multiply(tmp, z, out=tmp)
            np.add(h_prev, tmp, out=Hs[t + 1])

    cache = {
        "X1": X1,  # (T*N, D+1) time-major inputs and a ones column
        "RZ": RZ,  # (T, N, 2H)
        "Nc": Nc,  # (T, N, H)
        "Hs": Hs,  # (T+1, N, H)
        "RH": RH,  # (T, N, H)
        "W_x": W_x,
        "W_h": W_h,
        "shape": (N, T, D, H),
    }
    return batch_first(Hs[1:]), cache


@one_thread_when_small(3, backward_sizes)
def gru_backward(dh, cache):
    """Backpropagation through time for ``gru_forward``.

    Inputs:
        dh: (N, T, H) upstream gradient w.r.t. every hidden state.
        cache: from ``gru_forward``.

    Returns:
        dx (N, T, D), dh0 (N, H), dW_x (D, 3H), dW_h (H, 3H), db (3H,).
    """
    # RH (r * h_prev) is in no gru_torch_forward cache: the two conventions are told apart.
    check_cache("gru_backward", cache, "RH", "gru_forward")
    X1, RZ, Nc, Hs, RH, W_x, W_h = (cache[k] for k in ("X1", "RZ", "Nc", "Hs", "RH", "W_x", "W_h"))
    N, T, D, H = cache["shape"]
    dtype = Hs.dtype
    dh = np.asarray(dh, dtype=dtype)
    if dh.shape != (N, T, H):
        raise ValueError(f"gru_backward: dh must have shape {(N, T, H)}, got {dh.shape}")
    dhT = np.swapaxes(dh, 0, 1)  # (T, N, H) view
    Hprev = Hs[:-1]

    # Step-local derivatives (gate-major chunk buffer P (4, steps, N, H)):
    #   da_n = dh_t * z (1 - n^2)                    P[2]
    #   da_z = dh_t * (n - h_prev) z (1 - z)         P[1]
    #   d(rh) = da_n @ W_hn^T;  da_r = d(rh) * h_prev r (1 - r)    P[0]
    #   dh_prev = dh_t (1 - z) + d(rh) * r + [da_r, da_z] @ W_hrz^T      P[3] = 1 - z
    steps = chunk_steps(T, N * 3 * H)
    PRZ, PN, dxT, P, dh_t, drh, tmp = buffers(
        dtype,
        (T, N, 2 * H),  # [da_r, da_z] of every step
        (T, N, H),  # da_n of every step
        (T * N, D),  # dx, time-major
        (4, steps, N, H),  # local derivatives of one chunk of steps
        (N, H),
        (N, H),
        (N, H),
    )
    W_hrzT = np.ascontiguousarray(W_h[:, : 2 * H].T)  # (2H, H)
    W_hnT = np.ascontiguousarray(W_h[:, 2 * H :].T)  # (H, H)
    dh_next = np.zeros((N, H), dtype=dtype)
    for t0, t1 in chunks_backward(T, N * 3 * H):
        n_steps = t1 - t0
        r, z, n = RZ[t0:t1, :, :H], RZ[t0:t1, :, H:], Nc[t0:t1]
        h_prev = Hprev[t0:t1]
        P_r, P_z, P_n, Q = P[:, :n_steps]
        np.subtract(1, r, out=P_r)
        np.multiply(P_r, r, out=P_r)
        np.multiply(P_r, h_prev, out=P_r)
        np.subtract(1, z, out=Q)
        np.multiply(Q, z, out=P_z)
        np.subtract(n, h_prev, out=P_n)
        np.multiply(P_z, P_n, out=P_z)
        np.multiply(n, n, out=P_n)
        np.subtract(1, P_n, out=P_n)
        np.multiply(P_n, z, out=P_n)
        for t in range(t1 - 1, t0 - 1, -1):
            Pt, dA_rz, da_n = P[:, t - t0], PRZ[t], PN[t]
            np.add(dhT[t], dh_next, out=dh_t)
            np.multiply(Pt[2], dh_t, out=da_n)
            np.multiply(Pt[1], dh_t, out=dA_rz[:, H:])  # da_z
            np.matmul(da_n, W_hnT, out=drh)
            np.multiply(Pt[0], drh, out=dA_rz[:, :H])  # da_r
            np.multiply(dh_t, Pt[3], out=dh_next)
            np.multiply(drh, RZ[t, :, :H], out=drh)
            np.add(dh_next, drh, out=dh_next)
            np.matmul(dA_rz, W_hrzT, out=tmp)
            np.add(dh_next, tmp, out=dh_next)

    dA_rz = PRZ.reshape(T * N, 2 * H)
    dA_n = PN.reshape(T * N, H)
    dW1 = np.empty((D + 1, 3 * H), dtype=dtype)  # [dW_x; db]
    np.matmul(X1.T, dA_rz, out=dW1[:, : 2 * H])
    np.matmul(X1.T, dA_n, out=dW1[:, 2 * H :])
    dW_x, db = dW1[:D], dW1[D].copy()
    dW_h = np.empty_like(W_h)
    np.matmul(Hprev.reshape(T * N, H).T, dA_rz, out=dW_h[:, : 2 * H])
    np.matmul(RH.reshape(T * N, H).T, dA_n, out=dW_h[:, 2 * H :])
    np.matmul(dA_rz, W_x[:, : 2 * H].T, out=dxT)
    dxT += np.matmul(dA_n, W_x[:, 2 * H :].T)
    dx = batch_first(dxT.reshape(T, N, D))
    return dx, dh_next, dW_x, dW_h, db


@one_thread_when_small(3, forward_sizes)
def gru_torch_forward(x, h0, W_x, W_h, b_x, b_h):
    """Run a GRU in PyTorch's convention (``torch.nn.GRU``), fused blocks r, z, n.

        r = sigmoid(x_t W_x[:, r] + b_x[r] + h_{t-1} W_h[:, r] + b_h[r])
        z = sigmoid(x_t W_x[:, z] + b_x[z] + h_{t-1} W_h[:, z] + b_h[z])
        n = tanh(x_t W_x[:, n] + b_x[n] + r * (h_{t-1} W_h[:, n] + b_h[n]))
        h_t = (1 - z) * n + z * h_{t-1}

    Inputs: x (N, T, D), h0 (N, H), W_x (D, 3H), W_h (H, 3H), b_x (3H,), b_h (3H,);
    the two biases cannot be merged because b_h[n] sits inside r * (...).
    ``gru_params_from_torch`` converts a torch module's tensors to these.

    Returns: h (N, T, H) and a cache for ``gru_torch_backward``.
    """
    dtype, x, h0, W_x, W_h, (b_x, b_h) = _prepare("gru_torch_forward", x, h0, W_x, W_h, [b_x, b_h])
    N, T, D, H = check_shapes("gru_torch_forward", x, h0, W_x, W_h, b_x, 3)

    pre, _ = gate_scale(H, 3, (2,), dtype)
    pre[2 * H :] = 1  # n's input part is scaled after r * (...) is added: see the loop
    X1, Xp, Hs, RZ, Nc, HN, a_h, tmp = buffers(
        dtype,
        (T, N, D + 1),  # time-major x and a ones column
        (T, N, 3 * H),  # scaled input projection of every step
        (T + 1, N, H),  # Hs[0] = h0, Hs[t + 1] = h after step t
        (T, N, 2 * H),  # gates r, z
        (T, N, H),  # candidate n
        (T, N, H),  # h_{t-1} W_hn + b_hn
        (N, 3 * H),  # scratch
        (N, H),  # scratch
    )
    X1 = time_major_ones(x, dtype, out=X1)  # (T*N, D+1)
    b_rz = b_x.copy()
    b_rz[: 2 * H] += b_h[: 2 * H]  # b_h[n] stays inside r * (...)
    np.matmul(X1, stack_bias(W_x, b_rz, pre), out=Xp.reshape(T * N, 3 * H))
    W_hs = W_h * pre  # (H, 3H)
    b_hn = b_h[2 * H :]
    Hs[0] = h0
    with np.errstate(over="ignore"):  # exp(-a) = inf is exact here: see gate_scale
        for t in range(T):
            h_prev, rz, n = Hs[t], RZ[t], Nc[t]
            np.matmul(h_prev, W_hs, out=a_h)
            np.add(a_h[:, : 2 * H], Xp[t, :, : 2 * H], out=rz)
            exp_activate(rz, 1)
            r, z = rz[:, :H], rz[:, H:]
            np.add(a_h[:, 2 * H :], b_hn, out=HN[t])
            np.multiply(r, HN[t], out=n)
            np.add(n, Xp[t, :, 2 * H :], out=n)
            tanh_into(n, out=n)
            np.subtract(h_prev, n, out=tmp)  # h_t = n + z * (h_prev - n)
            np.multiply(tmp, z, out=tmp)
            np.add(n, tmp, out=Hs[t + 1])

    cache = {
        "X1": X1,
        "RZ": RZ,
        "Nc": Nc,
        "Hs": Hs,
        "HN": HN,
        "W_x": W_x,
        "W_h": W_h,
        "shape": (N, T, D, H),
    }
    return batch_first(Hs[1:]), cache


@one_thread_when_small(3, backward_sizes)
def gru_torch_backward(dh, cache):
    """Backpropagation through time for ``gru_torch_forward``.

    Returns dx (N, T, D), dh0 (N, H), dW_x (D, 3H), dW_h (H, 3H), db_x (3H,), db_h (3H,).
    """
    check_cache("gru_torch_backward", cache, "HN", "gru_torch_forward")
    X1, RZ, Nc, Hs, HN, W_x, W_h = (cache[k] for k in ("X1", "RZ", "Nc", "Hs", "HN", "W_x", "W_h"))
    N, T, D, H = cache["shape"]
    dtype = Hs.dtype
    dh = np.asarray(dh, dtype=dtype)
    if dh.shape != (N, T, H):
        raise ValueError(f"gru_torch_backward: dh must have shape {(N, T, H)}, got {dh.shape}")
    dhT = np.swapaxes(dh, 0, 1)
    Hprev = Hs[:-1]

    # Chunk buffer P (3, steps, N, H) of step-local factors:
    #   da_n = dh_t (1 - z)(1 - n^2)           P[2]
    #   da_z = dh_t (h_prev - n) z (1 - z)     P[1]
    #   da_r = da_n * hn r (1 - r)             P[0]
    #   dhn  = da_n * r   (gradient w.r.t. h_prev W_hn + b_hn)
    # DAh collects the hidden-side gradient [da_r, da_z, dhn], DAn the input-side da_n.
    steps = chunk_steps(T, N * 3 * H)
    DAh, DAn, dxT, P, dh_t, tmp = buffers(
        dtype, (T, N, 3 * H), (T, N, H), (T * N, D), (3, steps, N, H), (N, H), (N, H)
    )
    W_hT = np.ascontiguousarray(W_h.T)  # (3H, H)
    dh_next = np.zeros((N, H), dtype=dtype)
    for t0, t1 in chunks_backward(T, N * 3 * H):
        n_steps = t1 - t0
        r, z, n = RZ[t0:t1, :, :H], RZ[t0:t1, :, H:], Nc[t0:t1]
        P_r, P_z, P_n = P[:, :n_steps]
        np.subtract(1, r, out=P_r)
        np.multiply(P_r, r, out=P_r)
        np.multiply(P_r, HN[t0:t1], out=P_r)
        np.subtract(1, z, out=P_n)
        np.multiply(P_n, z, out=P_z)
        np.subtract(Hprev[t0:t1], n, out=DAn[t0:t1])  # DAn as scratch, overwritten below
        np.multiply(P_z, DAn[t0:t1], out=P_z)
        np.multiply(n, n, out=DAn[t0:t1])
        np.subtract(1, DAn[t0:t1], out=DAn[t0:t1])
        np.multiply(P_n, DAn[t0:t1], out=P_n)
        for t in range(t1 - 1, t0 - 1, -1):
            k = t - t0
            dAh, da_n = DAh[t], DAn[t]
            np.add(dhT[t], dh_next, out=dh_t)
            np.multiply(P_n[k], dh_t, out=da_n)
            np.multiply(P_z[k], dh_t, out=dAh[:, H : 2 * H])  # da_z
            np.multiply(P_r[k], da_n, out=dAh[:, :H])  # da_r
            np.multiply(RZ[t, :, :H], da_n, out=dAh[:, 2 * H :])  # dhn
            np.matmul(dAh, W_hT, out=dh_next)
            np.multiply(dh_t, RZ[t, :, H:], out=tmp)
            np.add(dh_next, tmp, out=dh_next)

    dAh = DAh.reshape(T * N, 3 * H)
    dAn = DAn.reshape(T * N, H)
    dW_h = np.matmul(Hprev.reshape(T * N, H).T, dAh)
    db_h = dAh.sum(axis=0)
    dW1 = np.empty((D + 1, 3 * H), dtype=dtype)  # [dW_x; db_x]
    np.matmul(X1.T, dAh[:, : 2 * H], out=dW1[:, : 2 * H])
    np.matmul(X1.T, dAn, out=dW1[:, 2 * H :])
    dW_x, db_x = dW1[:D], dW1[D].copy()
    np.matmul(dAh[:, : 2 * H], W_x[:, : 2 * H].T, out=dxT)
    dxT += np.matmul(dAn, W_x[:, 2 * H :].T)
    dx = batch_first(dxT.reshape(T, N, D))
    return dx, dh_next, dW_x, dW_h, db_x, db_h
