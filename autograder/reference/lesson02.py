"""Reference solutions of lesson 02 and the catalogued mistakes, as code.

The solution notebook ``solutions/02_bptt`` holds the same bodies; a test
proves that both agree on every public case. The forward pass and the loss
layer are given to learners in a locked cell of the notebook; their copies
here (``_rnn_step_forward``, ``_rnn_forward``, ``_softmax_loss``) are private
so that they never shadow lesson 01's graded ``rnn_step_forward`` and
``rnn_forward`` in :data:`autograder.reference.REFERENCE`.
"""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------
# Provided in the notebook's locked cell (same code, same cache layout)
# --------------------------------------------------------------------------


def _rnn_step_forward(x, h_prev, W_xh, W_hh, b_h):
    h_next = np.tanh(x @ W_xh + h_prev @ W_hh + b_h)  # (N, H)
    cache = (x, h_prev, W_xh, W_hh, h_next)
    return h_next, cache


def _rnn_forward(x, h0, W_xh, W_hh, b_h):
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]), dtype=np.result_type(x, h0, W_xh))
    cache = []
    h_prev = h0
    for t in range(T):
        h_prev, step_cache = _rnn_step_forward(x[:, t], h_prev, W_xh, W_hh, b_h)
        h[:, t] = h_prev
        cache.append(step_cache)
    return h, cache


def _softmax_loss(h, W_hy, b_y, y):
    N, T, H = h.shape
    scores = h @ W_hy + b_y  # (N, T, V)
    shifted = scores - scores.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    n_idx, t_idx = np.meshgrid(np.arange(N), np.arange(T), indexing="ij")
    loss = -log_probs[n_idx, t_idx, y].sum() / N
    dscores = np.exp(log_probs)
    dscores[n_idx, t_idx, y] -= 1.0
    dscores /= N
    dW_hy = h.reshape(N * T, H).T @ dscores.reshape(N * T, -1)
    db_y = dscores.sum(axis=(0, 1))
    dh = dscores @ W_hy.T
    return float(loss), dh, dW_hy, db_y


# --------------------------------------------------------------------------
# Graded exercises
# --------------------------------------------------------------------------


def rnn_step_backward(dh_next, cache):
    x, h_prev, W_xh, W_hh, h_next = cache
    da = dh_next * (1.0 - h_next**2)  # (N, H) gradient of the pre-activation
    dx = da @ W_xh.T
    dh_prev = da @ W_hh.T
    dW_xh = x.T @ da
    dW_hh = h_prev.T @ da
    db_h = da.sum(axis=0)
    return dx, dh_prev, dW_xh, dW_hh, db_h


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    x0, _, W_xh, W_hh, _ = cache[0]
    dx = np.empty((N, T, x0.shape[1]), dtype=dh.dtype)
    dW_xh, dW_hh, db_h = np.zeros_like(W_xh), np.zeros_like(W_hh), np.zeros(H, dtype=dh.dtype)
    dh_prev = np.zeros((N, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        dx[:, t], dh_prev, dWx, dWh, db = rnn_step_backward(dh[:, t] + dh_prev, cache[t])
        dW_xh += dWx
        dW_hh += dWh
        db_h += db
    return dx, dh_prev, dW_xh, dW_hh, db_h


def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        f_plus = f(x)
        x[idx] = old - eps
        f_minus = f(x)
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(a, b):
    # Entries below 1e-8 in size on both sides are zeros up to rounding: measured against 1e-8.
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8)))


def clip_by_global_norm(grads, max_norm):
    total_norm = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
    scale = max_norm / total_norm if total_norm > max_norm else 1.0
    clipped = [g * scale for g in grads]
    return clipped, total_norm


PARAM_NAMES = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")


def truncated_bptt(x, y, h0, params, chunk_len):
    W_xh, W_hh, b_h, W_hy, b_y = (params[k] for k in PARAM_NAMES)
    T = x.shape[1]
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    loss = 0.0
    h_carry = h0
    for start in range(0, T, chunk_len):
        chunk = slice(start, start + chunk_len)
        h, cache = _rnn_forward(x[:, chunk], h_carry, W_xh, W_hh, b_h)
        chunk_loss, dh, dW_hy, db_y = _softmax_loss(h, W_hy, b_y, y[:, chunk])
        _, _, dW_xh, dW_hh, db_h = rnn_backward(dh, cache)  # dh0 dropped: the gradient stops here
        loss += chunk_loss
        for k, g in zip(PARAM_NAMES, (dW_xh, dW_hh, db_h, dW_hy, db_y)):
            grads[k] += g
        h_carry = h[:, -1]  # the state goes on; it is a constant for the next chunk
    return loss, grads, h_carry


REFERENCE = {
    f.__name__: f
    for f in (
        rnn_step_backward,
        rnn_backward,
        numerical_gradient,
        relative_error,
        clip_by_global_norm,
        truncated_bptt,
    )
}


# --------------------------------------------------------------------------
# Catalogued mistakes: each returns what a learner who made it would return.
# --------------------------------------------------------------------------


def _step_backward(kind):
    def step(dh_next, cache):
        x, h_prev, W_xh, W_hh, h_next = cache
        if kind == "no_tanh_derivative":
            da = dh_next
        elif kind == "tanh_derivative_of_h_next":
            da = dh_next * (1.0 - np.tanh(h_next) ** 2)
        elif kind == "tanh_derivative_at_h_prev":
            da = dh_next * (1.0 - h_prev**2)
        elif kind == "modifies_upstream":
            dh_next *= 1.0 - h_next**2
            da = dh_next
        elif kind == "modifies_cache":
            h_next **= 2
            da = dh_next * (1.0 - h_next)
        else:
            da = dh_next * (1.0 - h_next**2)
        dx = da @ W_xh.T
        dh_prev = da @ (W_hh if kind == "W_hh_not_transposed" else W_hh.T)
        dW_xh = x.T @ da
        dW_hh = (h_next if kind == "dW_hh_from_h_next" else h_prev).T @ da
        db_h = da.mean(axis=0) if kind == "db_h_averaged" else da.sum(axis=0)
        return dx, dh_prev, dW_xh, dW_hh, db_h

    return step


def _backward(kind):
    def backward(dh, cache):
        N, T, H = dh.shape
        x0, _, W_xh, W_hh, _ = cache[0]
        dx = np.empty((N, T, x0.shape[1]))
        dW_xh, dW_hh, db_h = np.zeros_like(W_xh), np.zeros_like(W_hh), np.zeros(H)
        dh_prev = dh[:, -1].copy() if kind == "upstream_not_added" else np.zeros((N, H))
        steps = range(T) if kind == "forward_in_time" else reversed(range(T))
        for t in steps:
            if kind == "upstream_not_added":
                dh_t = dh_prev
            elif kind == "not_carried":
                dh_t = dh[:, t]
            elif kind == "modifies_upstream":
                dh_t = dh[:, t]  # already holds the carried gradient, added in place below
            else:
                dh_t = dh[:, t] + dh_prev
            dx[:, t], dh_prev, dWx, dWh, db = rnn_step_backward(dh_t, cache[t])
            if kind == "modifies_upstream" and t > 0:
                dh[:, t - 1] += dh_prev
            if kind == "grads_overwritten":
                dW_xh, dW_hh, db_h = dWx, dWh, db
            else:
                dW_xh += dWx
                dW_hh += dWh
                db_h += db
        return dx, dh_prev, dW_xh, dW_hh, db_h

    return backward


def _numerical(kind):
    def numgrad(f, x, eps=1e-6):
        if kind == "perturbs_a_copy":  # right when f reads its argument; blind when f reads x itself
            grad = np.zeros(x.shape)
            for idx in np.ndindex(x.shape):
                x_plus, x_minus = x.copy(), x.copy()
                x_plus[idx] += eps
                x_minus[idx] -= eps
                grad[idx] = (f(x_plus) - f(x_minus)) / (2 * eps)
            return grad
        if kind == "all_at_once":
            g = (f(x + eps) - f(x - eps)) / (2 * eps)
            return np.full(x.shape, g)
        grad = np.zeros(x.shape)
        for idx in np.ndindex(x.shape):
            if kind == "restored_by_arithmetic":
                x[idx] += eps
                f_plus = f(x)
                x[idx] -= 2 * eps
                f_minus = f(x)
                x[idx] += eps
                grad[idx] = (f_plus - f_minus) / (2 * eps)
                continue
            old = x[idx]
            x[idx] = old + eps
            f_plus = f(x)
            if kind == "forward_difference":
                x[idx] = old
                grad[idx] = (f_plus - f(x)) / eps
                continue
            x[idx] = old - eps
            f_minus = f(x)
            if kind != "not_restored":
                x[idx] = old
            grad[idx] = (f_plus - f_minus) / (eps if kind == "missing_factor_two" else 2 * eps)
        return grad.reshape(-1) if kind == "flat_gradient" else grad

    return numgrad


def _relative(kind):
    def rel(a, b):
        diff = np.abs(a - b)
        if kind == "absolute_error":
            return float(diff.max())
        if kind == "no_zero_guard":
            with np.errstate(invalid="ignore", divide="ignore"):
                return float((diff / (np.abs(a) + np.abs(b))).max())
        if kind == "exact_zero_guard":  # 0 where both are 0, every other entry divided by its own size
            scale = np.abs(a) + np.abs(b)
            return float(np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0).max())
        if kind == "epsilon_added":
            return float((diff / (np.abs(a) + np.abs(b) + 1e-8)).max())
        scale = (
            np.abs(a)
            if kind == "relative_to_a"
            else np.abs(a + b)
            if kind == "abs_of_sum"
            else None
        )
        if scale is None:
            scale = np.abs(a) + np.abs(b)
        ratio = diff / np.maximum(scale, 1e-8)
        return float(ratio.mean() if kind == "mean_not_max" else ratio.max())

    return rel


def _clip(kind):
    def clip(grads, max_norm):
        norms = [float(np.sqrt(np.sum(g * g))) for g in grads]
        total = float(np.sqrt(sum(n * n for n in norms)))
        if kind == "sum_of_norms":
            total = sum(norms)
        elif kind == "no_sqrt":
            total = sum(n * n for n in norms)
        if kind == "elementwise":
            return [np.clip(g, -max_norm, max_norm) for g in grads], total
        if kind == "per_array":
            return [
                g * (max_norm / n) if n > max_norm else g * 1.0 for g, n in zip(grads, norms)
            ], total
        if kind == "always_scales":
            return [g * (max_norm / total) for g in grads], total
        if kind == "in_place":
            if total > max_norm:
                for g in grads:
                    g *= max_norm / total
            return list(grads), total
        scale = max_norm / total if total > max_norm else 1.0
        return [g * scale for g in grads], total

    return clip


def _tbptt(kind):
    def tbptt(x, y, h0, params, chunk_len):
        W_xh, W_hh, b_h, W_hy, b_y = (params[k] for k in PARAM_NAMES)
        N, T, _ = x.shape
        if kind == "gradient_across_chunks":
            h, cache = _rnn_forward(x, h0, W_xh, W_hh, b_h)
            loss, dh, dW_hy, db_y = _softmax_loss(h, W_hy, b_y, y)
            _, _, dW_xh, dW_hh, db_h = rnn_backward(dh, cache)
            grads = dict(zip(PARAM_NAMES, (dW_xh, dW_hh, db_h, dW_hy, db_y)))
            return loss, grads, h[:, -1]
        grads = {k: np.zeros_like(v) for k, v in params.items()}
        loss = 0.0
        h_carry = h0
        stop = (T // chunk_len) * chunk_len if kind == "last_chunk_dropped" else T
        for start in range(0, stop, chunk_len):
            chunk = slice(start, start + chunk_len)
            if kind == "state_reset_to_zero":
                h_carry = np.zeros_like(h0)
            elif kind == "state_reset_to_h0":
                h_carry = h0
            h, cache = _rnn_forward(x[:, chunk], h_carry, W_xh, W_hh, b_h)
            chunk_loss, dh, dW_hy, db_y = _softmax_loss(h, W_hy, b_y, y[:, chunk])
            _, _, dW_xh, dW_hh, db_h = rnn_backward(dh, cache)
            loss += chunk_loss
            for k, g in zip(PARAM_NAMES, (dW_xh, dW_hh, db_h, dW_hy, db_y)):
                grads[k] = g if kind == "grads_overwritten" else grads[k] + g
            h_carry = h[:, -1]
        return loss, grads, h_carry

    return tbptt


MISTAKES = {
    "rnn_step_backward": {
        kind: _step_backward(kind)
        for kind in (
            "no_tanh_derivative",
            "tanh_derivative_of_h_next",
            "tanh_derivative_at_h_prev",
            "dW_hh_from_h_next",
            "W_hh_not_transposed",
            "db_h_averaged",
            "modifies_upstream",
            "modifies_cache",
        )
    },
    "rnn_backward": {
        kind: _backward(kind)
        for kind in (
            "grads_overwritten",
            "upstream_not_added",
            "not_carried",
            "forward_in_time",
            "modifies_upstream",
        )
    },
    "numerical_gradient": {
        kind: _numerical(kind)
        for kind in (
            "forward_difference",
            "missing_factor_two",
            "not_restored",
            "restored_by_arithmetic",
            "all_at_once",
            "flat_gradient",
            "perturbs_a_copy",
        )
    },
    "relative_error": {
        kind: _relative(kind)
        for kind in (
            "no_zero_guard",
            "mean_not_max",
            "relative_to_a",
            "abs_of_sum",
            "absolute_error",
            "exact_zero_guard",
            "epsilon_added",
        )
    },
    "clip_by_global_norm": {
        kind: _clip(kind)
        for kind in (
            "elementwise",
            "per_array",
            "always_scales",
            "sum_of_norms",
            "no_sqrt",
            "in_place",
        )
    },
    "truncated_bptt": {
        kind: _tbptt(kind)
        for kind in (
            "state_reset_to_zero",
            "state_reset_to_h0",
            "gradient_across_chunks",
            "grads_overwritten",
            "last_chunk_dropped",
        )
    },
}
