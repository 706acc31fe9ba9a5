"""Helpers shared by the recurrent layers: dtypes, stable activations, buffers, chunking."""

import numpy as np

# Backward passes precompute local derivatives a few time steps at a time; a chunk
# holds about this many elements, small enough to stay in the L2 cache.
CHUNK_ELEMENTS = 1 << 16


def float_dtype(*arrays):
    """The floating dtype the floating inputs promote to (float64 if none of them is floating).

    ``None`` entries are ignored, lists are read as arrays. Only floating inputs
    count: integer or boolean ones (token ids, a one-hot x of ints) and Python
    scalars do not promote float32 weights to float64. float32 inputs stay float32;
    mixing float32 and float64 arrays gives float64, as NumPy itself would; float16
    is computed in float32.
    """
    floating = []
    for a in arrays:
        if a is None or isinstance(a, (bool, int, float)):
            continue
        dtype = a.dtype if isinstance(a, (np.ndarray, np.generic)) else np.asarray(a).dtype
        if np.issubdtype(dtype, np.floating):
            floating.append(dtype)
    if not floating:
        return np.dtype(np.float64)
    dtype = np.result_type(*floating)
    if dtype.itemsize < 4:  # float16 has no BLAS; compute in float32
        dtype = np.dtype(np.float32)
    return dtype


def check_cache(who, cache, key, forward, note=""):
    """Raise a TypeError that says what was passed when ``cache`` is not ``forward``'s cache
    (which always holds ``key``); ``note`` is added when it is not a dict at all."""
    if isinstance(cache, dict) and key in cache:
        return
    if isinstance(cache, dict):
        got = "another dict (the cache of another layer's forward?)"
    elif isinstance(cache, tuple):
        got = f"a tuple of {len(cache)} (pass the cache alone: h, cache = {forward}(...))"
    else:
        got = type(cache).__name__
    if note and not isinstance(cache, dict):
        got += f"; {note}"
    raise TypeError(f"{who}: cache must be the dict {forward} returned, got {got}")


def gate_scale(H, n_blocks, tanh_blocks, dtype):
    """Per-column factors that let one ``np.exp`` call activate fused sigmoid/tanh gates.

    sigmoid(a) = 1 / (1 + exp(-a)) and tanh(a) = 2 / (1 + exp(-2a)) - 1. Scaling the
    sigmoid columns of a pre-activation by -1 and the tanh columns by -2 (exact in
    binary, so folded into the weights) leaves ``exp_activate`` one exp, one add and
    one divide by ``num`` (1 for sigmoid columns, 2 for tanh columns), and a final
    ``- 1`` on the tanh columns. NumPy's exp is about 2x (float64) and 1.4x (float32)
    faster than its tanh on this course's reference machine (``make bench``).

    Returns ``(pre, num)``, each of shape (n_blocks * H,).
    """
    pre = np.full((n_blocks, H), -1.0, dtype=dtype)
    num = np.ones((n_blocks, H), dtype=dtype)
    for k in tanh_blocks:
        pre[k] = -2.0
        num[k] = 2.0
    return pre.reshape(-1), num.reshape(-1)


def exp_activate(a, num):
    """In place: a holds ``pre * (pre-activation)`` (see ``gate_scale``); afterwards it
    holds sigmoid(.) where num is 1 and 1 + tanh(.) where num is 2 (subtract 1 there).

    exp overflows to inf for very negative pre-activations, which gives exactly 0
    (sigmoid) or -1 (tanh); callers run under ``np.errstate(over="ignore")``.
    """
    np.exp(a, out=a)
    np.add(a, 1, out=a)
    np.divide(num, a, out=a)
    return a


def tanh_prescaled(a):
    """In place: a holds -2 * (pre-activation); afterwards it holds tanh(pre-activation),
    as 2 / (1 + exp(-2a)) - 1 (see ``gate_scale`` for why).

    Absolute error about one unit in the last place of 1; callers run under
    ``np.errstate(over="ignore")``.
    """
    exp_activate(a, 2)
    np.subtract(a, 1, out=a)
    return a


def tanh_into(a, out):
    """out = tanh(a) for an a not yet scaled by -2 (see ``tanh_prescaled``)."""
    np.multiply(a, -2, out=out)
    return tanh_prescaled(out)


def sigmoid(a, out=None):
    """Numerically stable logistic sigmoid, 1 / (1 + exp(-a)), keeping a's dtype.

    exp(-a) overflows to inf for very negative a, which gives exactly 0; the
    overflow is expected, so it raises no warning (for a = +-1e30 in float32 or float64).
    """
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    if out is None:
        out = np.empty_like(a)
    np.negative(a, out=out)
    with np.errstate(over="ignore"):
        exp_activate(out, 1)
    return out[()] if out.ndim == 0 else out


def time_major_ones(x, dtype, out=None):
    """Time-major copy of batch-first x (N, T, D) with a trailing column of ones: (T*N, D+1).

    With W1 = [W; b] (D+1, M), ``X1 @ W1`` is the input projection plus bias for
    all steps in one GEMM, and in backward ``X1.T @ dA`` gives [dW; db] in one GEMM.
    ``out``, if given, is a (T, N, D+1) buffer to fill.
    """
    N, T, D = x.shape
    X1 = np.empty((T, N, D + 1), dtype=dtype) if out is None else out
    X1[:, :, :D] = np.swapaxes(x, 0, 1)
    X1[:, :, D] = 1
    return X1.reshape(T * N, D + 1)


def stack_bias(W, b, scale):
    """[W * scale; b * scale], shape (D+1, M), for use with ``time_major_ones``."""
    W1 = np.empty((W.shape[0] + 1, W.shape[1]), dtype=W.dtype)
    np.multiply(W, scale, out=W1[:-1])
    np.multiply(b, scale, out=W1[-1])
    return W1


def batch_first(Y):
    """Contiguous batch-first copy (N, T, K) of a time-major array (T, N, K)."""
    return np.ascontiguousarray(np.swapaxes(Y, 0, 1))


def check_shapes(name, x, h0, W_x, W_h, b, n_blocks):
    """Validate the shapes of a recurrent layer's inputs; return (N, T, D, H)."""
    if x.ndim != 3:
        raise ValueError(f"{name}: x must be (N, T, D), got shape {x.shape}")
    N, T, D = x.shape
    H = W_h.shape[0]
    expected = {
        "W_x": (W_x.shape, (D, n_blocks * H)),
        "W_h": (W_h.shape, (H, n_blocks * H)),
        "b": (b.shape, (n_blocks * H,)),
        "h0": (h0.shape, (N, H)),
    }
    for key, (got, want) in expected.items():
        if got != want:
            raise ValueError(f"{name}: {key} must have shape {want}, got {got}")
    if T == 0:
        raise ValueError(f"{name}: need at least one time step")
    return N, T, D, H


def buffers(dtype, *shapes):
    """Uninitialised arrays of the given shapes, carved out of one allocation.

    One large block instead of many keeps the allocator from returning memory
    to the OS between calls (which makes every first write page-fault) and lets
    NumPy request huge pages for it. Each array starts on a 64-byte boundary.
    """
    dtype = np.dtype(dtype)
    align = max(1, 64 // dtype.itemsize)
    sizes = [int(np.prod(shape)) for shape in shapes]
    padded = [-(-size // align) * align for size in sizes]
    block = np.empty(sum(padded) + align, dtype=dtype)
    start = (-(block.ctypes.data // dtype.itemsize)) % align
    out = []
    for shape, size, pad in zip(shapes, sizes, padded):
        out.append(block[start : start + size].reshape(shape))
        start += pad
    return out


def chunk_steps(T, per_step):
    """Number of time steps per backward chunk (about CHUNK_ELEMENTS elements)."""
    return max(1, min(T, CHUNK_ELEMENTS // max(per_step, 1)))


def chunks_backward(T, per_step):
    """Time ranges [t0, t1), last first, each of at most ``chunk_steps(T, per_step)`` steps."""
    steps = chunk_steps(T, per_step)
    t1 = T
    while t1 > 0:
        t0 = max(0, t1 - steps)
        yield t0, t1
        t1 = t0
