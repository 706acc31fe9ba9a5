"""Feed-forward pieces around the recurrent cells: embedding, linear, softmax loss."""

import numpy as np

from ._common import float_dtype


def embedding_forward(idx, W):
    """Look up rows of an embedding table.

    Inputs:
        idx: integer array of any shape, e.g. (N, T), values in [0, V).
        W: (V, D) embedding table.

    Returns:
        out: idx.shape + (D,), ``out[..., :] = W[idx]``; cache for ``embedding_backward``.
    """
    idx = np.asarray(idx)
    if not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"embedding_forward: idx must be integers, got {idx.dtype}")
    W = np.asarray(W)
    V = W.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= V):  # NumPy would wrap -1 round to the last row
        raise IndexError(
            f"embedding_forward: ids must be in [0, {V}), got {idx.min()} to {idx.max()}"
        )
    # The cache keeps its own copy of idx: a caller reusing its batch buffer must not change dW.
    return W[idx], (idx.copy(), W.shape, W.dtype)


def embedding_backward(dout, cache):
    """Gradient of ``embedding_forward`` w.r.t. the table.

    Inputs: dout idx.shape + (D,), cache. Returns dW (V, D); rows used several
    times accumulate, rows never used are zero. (idx has no gradient.)
    """
    idx, shape, dtype = cache
    ids = idx.reshape(-1)
    rows = np.asarray(dout, dtype=dtype).reshape(-1, shape[1])
    dW = np.zeros(shape, dtype=dtype)
    if ids.size == 0:
        return dW
    # Sum the rows of each id: sort the ids once, then one reduceat per run of equal ids
    # (several times faster than np.add.at, which visits the rows one by one).
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    dW[sorted_ids[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return dW


def linear_forward(x, W, b):
    """Affine layer on the last axis: out = x @ W + b.

    Inputs: x (..., D), W (D, M), b (M,). Returns out (..., M) and a cache.
    Leading axes are flattened so the product is a single GEMM.
    """
    x = np.asarray(x)
    dtype = float_dtype(x, W, b)
    W = np.asarray(W, dtype=dtype)
    b = np.asarray(b, dtype=dtype)
    x2 = x.reshape(-1, x.shape[-1]).astype(dtype, copy=False)  # (prod(...), D)
    out = x2 @ W
    out += b
    return out.reshape(*x.shape[:-1], W.shape[1]), (x2, W, x.shape)


def linear_backward(dout, cache):
    """Gradients of ``linear_forward``: returns dx (..., D), dW (D, M), db (M,)."""
    x2, W, x_shape = cache
    dout2 = np.asarray(dout, dtype=W.dtype).reshape(-1, W.shape[1])  # (prod(...), M)
    dx = (dout2 @ W.T).reshape(x_shape)
    dW = x2.T @ dout2
    db = dout2.sum(axis=0)
    return dx, dW, db


def softmax_cross_entropy(scores, y, mask=None):
    """Mean softmax cross-entropy over the unmasked positions, and its gradient.

    Inputs:
        scores: (N, T, V) or (N, V) unnormalised log-probabilities.
        y: (N, T) or (N,) integer targets in [0, V) (any value where masked out).
        mask: optional, shape of y; True/1 where the position counts. Non-binary
            values act as weights: loss = sum(mask * nll) / sum(mask).

    Returns:
        loss: Python float, the average over the counted positions (0.0 if none).
        dscores: gradient of loss w.r.t. scores, same shape and dtype as scores.

    Stable for any scores: the row maximum is subtracted before exponentiating.
    """
    scores = np.asarray(scores)
    dtype = float_dtype(scores)
    scores = scores.astype(dtype, copy=False)
    y = np.asarray(y)
    V = scores.shape[-1]
    if y.shape != scores.shape[:-1]:
        raise ValueError(f"softmax_cross_entropy: y shape {y.shape} != scores {scores.shape[:-1]}")
    s = scores.reshape(-1, V)
    y = y.reshape(-1)
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(
            f"softmax_cross_entropy: y must hold integer class ids, got dtype {y.dtype}"
        )
    if mask is None:
        w = None
        count = y.shape[0]
    else:
        mask = np.asarray(mask)
        if mask.shape != scores.shape[:-1]:
            raise ValueError(
                f"softmax_cross_entropy: mask must have y's shape {scores.shape[:-1]}, got {mask.shape}"
            )
        w = mask.reshape(-1).astype(dtype)
        if np.any(w < 0) or not np.all(np.isfinite(w)):
            raise ValueError(
                "softmax_cross_entropy: mask must hold 0/1 (or non-negative, finite weights), got "
                f"values from {w.min()} to {w.max()}"
            )
        y = np.where(w != 0, y, 0)  # padding targets may be out of range
        count = float(w.sum())
    bad = (y < 0) | (y >= V)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"softmax_cross_entropy: targets must be in [0, {V}) where they count; y = {int(y[i])} at flat "
            f"position {i} (mask out padding positions instead of giving them an id)"
        )
    rows = np.arange(y.shape[0])
    if count == 0:
        return 0.0, np.zeros_like(scores)

    shifted = s - s.max(axis=1, keepdims=True)  # (M, V)
    probs = np.exp(shifted)  # one exp, reused for the softmax
    z = probs.sum(axis=1)  # (M,)
    nll = np.log(z) - shifted[rows, y]  # (M,)
    probs /= z[:, None]  # softmax
    probs[rows, y] -= 1
    dscores = probs
    if w is None:
        loss = float(nll.sum()) / count
        dscores /= count
    else:
        # Positions that do not count are left out, not multiplied by 0 (their NaN or
        # -inf scores, e.g. from padding, would turn 0 * nan into NaN).
        counted = w != 0
        loss = float((nll[counted] * w[counted]).sum()) / count
        dscores *= (w / count)[:, None]
        dscores[~counted] = 0
    return loss, dscores.reshape(scores.shape)
