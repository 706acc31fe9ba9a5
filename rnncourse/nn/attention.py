"""Attention over a sequence of keys, for many queries at once (lesson 09).

Additive (Bahdanau) scores, ``e[n, t, s] = v · tanh(q[n, t] @ W_q + k[n, s] @ W_k)``, and
scaled dot-product scores, ``e = Q Kᵀ / sqrt(d)``; both followed by a softmax over the
key positions ``s`` that gives masked positions exactly zero weight, and a weighted
sum of the values. A query is any vector that asks (a decoder state), a key what
is asked about (an encoder state); in additive attention the keys are also the
values, as in Bahdanau et al. (2015).

Shapes (batch-first): queries (N, T, ·), keys (N, S, ·), masks (N, S) (a padding
mask, the same for every query) or (N, T, S) (one row per query, e.g. causal).
Every row of a mask must keep at least one position.
"""

import numpy as np

from ._common import float_dtype


def _full_mask(mask, N, T, S):
    mask = np.asarray(mask, dtype=bool)
    if mask.shape == (N, S):
        mask = mask[:, None, :]
    if mask.shape not in ((N, 1, S), (N, T, S)):
        raise ValueError(
            f"attention: mask must have shape ({N}, {S}) or ({N}, {T}, {S}), got {mask.shape}"
        )
    if not mask.any(axis=-1).all():
        raise ValueError(
            "attention: every query must be allowed at least one key (a mask row is all False)"
        )
    return mask


def _masked_softmax(e, mask):
    """Softmax over the last axis of ``e`` where ``mask`` holds; exactly 0 elsewhere."""
    e = np.where(mask, e, -np.inf)
    e -= e.max(axis=-1, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def _softmax_backward(dalpha, alpha):
    """d(loss)/d(scores) from d(loss)/d(weights) through a softmax over the last axis."""
    return alpha * (dalpha - np.sum(alpha * dalpha, axis=-1, keepdims=True))


def additive_attention_forward(q, k, mask, W_q, W_k, v):
    """Additive attention of T queries over S keys, per sequence of the batch.

    Inputs:
        q: (N, T, Hq) queries; k: (N, S, Hk) keys, also the values.
        mask: (N, S) or (N, T, S) bool, True where a key may be attended to.
        W_q: (Hq, A), W_k: (Hk, A), v: (A,).

    Returns:
        context: (N, T, Hk), ``context[n, t] = sum_s alpha[n, t, s] k[n, s]``.
        alpha: (N, T, S) attention weights (each row sums to 1; 0 where masked).
        cache: for ``additive_attention_backward``.
    """
    dtype = float_dtype(q, k, W_q, W_k, v)
    q, k = np.asarray(q, dtype=dtype), np.asarray(k, dtype=dtype)
    W_q, W_k, v = (np.asarray(a, dtype=dtype) for a in (W_q, W_k, v))
    N, T, _ = q.shape
    S = k.shape[1]
    mask = _full_mask(mask, N, T, S)
    qp = q @ W_q  # (N, T, A)
    kp = k @ W_k  # (N, S, A)
    z = qp[:, :, None, :] + kp[:, None, :, :]  # (N, T, S, A)
    np.tanh(z, out=z)
    e = z @ v  # (N, T, S)
    alpha = _masked_softmax(e, mask)
    context = alpha @ k  # (N, T, Hk)
    return context, alpha, (q, k, W_q, W_k, v, z, alpha)


def additive_attention_backward(dcontext, cache, dalpha=None):
    """Gradients of ``additive_attention_forward``.

    Inputs: dcontext (N, T, Hk); cache; optionally dalpha (N, T, S), a gradient
    w.r.t. the weights themselves (e.g. from a penalty on them).
    Returns: dq (N, T, Hq), dk (N, S, Hk), dW_q, dW_k, dv.
    """
    q, k, W_q, W_k, v, z, alpha = cache
    dcontext = np.asarray(dcontext, dtype=k.dtype)
    dk = np.swapaxes(alpha, 1, 2) @ dcontext  # k as the values
    da = dcontext @ np.swapaxes(k, 1, 2)  # (N, T, S)
    if dalpha is not None:
        da = da + dalpha
    de = _softmax_backward(da, alpha)  # 0 where masked, since alpha is
    dv = np.einsum("ntsa,nts->a", z, de)
    dpre = de[..., None] * v  # (N, T, S, A)
    slope = np.multiply(z, z)
    np.subtract(1.0, slope, out=slope)  # 1 - z^2 in one buffer
    dpre *= slope
    dqp = dpre.sum(axis=2)  # (N, T, A)
    dkp = dpre.sum(axis=1)  # (N, S, A)
    dq = dqp @ W_q.T
    dk += dkp @ W_k.T  # k as the keys
    A = W_q.shape[1]
    dW_q = q.reshape(-1, q.shape[-1]).T @ dqp.reshape(-1, A)
    dW_k = k.reshape(-1, k.shape[-1]).T @ dkp.reshape(-1, A)
    return dq, dk, dW_q, dW_k, dv


def dot_attention_forward(Q, K, V, mask):
    """Scaled dot-product attention, ``softmax(Q Kᵀ / sqrt(d)) V`` with a mask.

    Inputs: Q (N, T, d), K (N, S, d), V (N, S, d_v), mask (N, S) or (N, T, S) bool.
    Returns: out (N, T, d_v), alpha (N, T, S), cache.
    """
    dtype = float_dtype(Q, K, V)
    Q, K, V = (np.asarray(a, dtype=dtype) for a in (Q, K, V))
    N, T, d = Q.shape
    mask = _full_mask(mask, N, T, K.shape[1])
    scale = 1.0 / np.sqrt(d)
    alpha = _masked_softmax((Q @ np.swapaxes(K, 1, 2)) * scale, mask)
    return alpha @ V, alpha, (Q, K, V, alpha, scale)


def dot_attention_backward(dout, cache):
    """Gradients of ``dot_attention_forward``: returns dQ, dK, dV."""
    Q, K, V, alpha, scale = cache
    dout = np.asarray(dout, dtype=V.dtype)
    dV = np.swapaxes(alpha, 1, 2) @ dout
    de = _softmax_backward(dout @ np.swapaxes(V, 1, 2), alpha) * scale
    return de @ K, np.swapaxes(de, 1, 2) @ Q, dV
