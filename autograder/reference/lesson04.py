"""Reference solutions of lesson 04 (GRU) and the catalogued mistakes, as code.

The solution notebook ``solutions/04_gru`` holds the same bodies; a test proves
that both agree on every public case.

Backward exercises are called through their suite's ``call``, which builds the
cache with the forward pass named in ``needs``; fixtures and the grader pass
the reference forward, whose cache layout the backward functions here read.
"""

from __future__ import annotations

import numpy as np

from autograder.reference.common import unroll_mistakes


def _sigmoid(a):
    # 1 / (1 + exp(-a)), written with tanh so that it never overflows
    return 0.5 * (1.0 + np.tanh(0.5 * a))


# --------------------------------------------------------------------------
# Course convention: reset before the recurrent matmul, z weights the candidate
# --------------------------------------------------------------------------


def gru_step_forward(x, h_prev, W_x, W_h, b):
    H = h_prev.shape[1]
    a_rz = x @ W_x[:, : 2 * H] + h_prev @ W_h[:, : 2 * H] + b[: 2 * H]  # (N, 2H)
    r = _sigmoid(a_rz[:, :H])
    z = _sigmoid(a_rz[:, H:])
    n = np.tanh(x @ W_x[:, 2 * H :] + (r * h_prev) @ W_h[:, 2 * H :] + b[2 * H :])
    h_next = (1.0 - z) * h_prev + z * n
    cache = (x, h_prev, W_x, W_h, r, z, n)
    return h_next, cache


def gru_step_backward(dh_next, cache):
    x, h_prev, W_x, W_h, r, z, n = cache
    H = h_prev.shape[1]
    dz = dh_next * (n - h_prev)
    dn = dh_next * z
    dh_prev = dh_next * (1.0 - z)  # the direct path through (1 - z) * h_prev
    da_n = dn * (1.0 - n**2)
    drh = da_n @ W_h[:, 2 * H :].T  # gradient w.r.t. r * h_prev
    dr = drh * h_prev
    dh_prev = dh_prev + drh * r
    da_r = dr * r * (1.0 - r)
    da_z = dz * z * (1.0 - z)
    da_rz = np.concatenate([da_r, da_z], axis=1)
    da = np.concatenate([da_rz, da_n], axis=1)  # (N, 3H)
    dh_prev = dh_prev + da_rz @ W_h[:, : 2 * H].T
    dx = da @ W_x.T
    dW_x = x.T @ da
    dW_h = np.concatenate([h_prev.T @ da_rz, (r * h_prev).T @ da_n], axis=1)
    db = da.sum(axis=0)
    return dx, dh_prev, dW_x, dW_h, db


def gru_forward(x, h0, W_x, W_h, b):
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.empty((N, T, H), dtype=np.result_type(x, h0, W_x))
    cache = []
    h_prev = h0
    for t in range(T):
        h_prev, step_cache = gru_step_forward(x[:, t], h_prev, W_x, W_h, b)
        h[:, t] = h_prev
        cache.append(step_cache)
    return h, cache


def gru_backward(dh, cache):
    x0, h0 = cache[0][0], cache[0][1]
    N, T, H = dh.shape
    D = x0.shape[1]
    dx = np.empty((N, T, D), dtype=dh.dtype)
    dW_x = np.zeros_like(cache[0][2])
    dW_h = np.zeros_like(cache[0][3])
    db = np.zeros(3 * H, dtype=dh.dtype)
    dh_carry = np.zeros_like(h0)
    for t in reversed(range(T)):
        dx_t, dh_carry, dW_x_t, dW_h_t, db_t = gru_step_backward(dh[:, t] + dh_carry, cache[t])
        dx[:, t] = dx_t
        dW_x += dW_x_t
        dW_h += dW_h_t
        db += db_t
    return dx, dh_carry, dW_x, dW_h, db


# --------------------------------------------------------------------------
# PyTorch / Keras (reset_after=True) convention, and Keras's layout
# --------------------------------------------------------------------------


def gru_torch_step_forward(x, h_prev, W_x, W_h, b_x, b_h):
    H = h_prev.shape[1]
    gx = x @ W_x + b_x  # (N, 3H)
    gh = h_prev @ W_h + b_h  # (N, 3H)
    r = _sigmoid(gx[:, :H] + gh[:, :H])
    z = _sigmoid(gx[:, H : 2 * H] + gh[:, H : 2 * H])
    n = np.tanh(gx[:, 2 * H :] + r * gh[:, 2 * H :])
    return (1.0 - z) * n + z * h_prev


def _keras_to_rzn(w):
    """Column blocks z, r, h (Keras) -> r, z, n (PyTorch and the course)."""
    z, r, h = np.split(w, 3, axis=-1)
    return np.concatenate([r, z, h], axis=-1)


def gru_weights_from_keras(kernel, recurrent_kernel, bias):
    W_x = _keras_to_rzn(kernel)
    W_h = _keras_to_rzn(recurrent_kernel)
    b_x = _keras_to_rzn(bias[0])
    b_h = _keras_to_rzn(bias[1])
    return W_x, W_h, b_x, b_h


REFERENCE = {
    f.__name__: f
    for f in (
        gru_step_forward,
        gru_step_backward,
        gru_forward,
        gru_backward,
        gru_torch_step_forward,
        gru_weights_from_keras,
    )
}


# --------------------------------------------------------------------------
# Catalogued mistakes: each returns what a learner who made it would return.
# --------------------------------------------------------------------------


def _step_mistake(kind):
    def step(x, h_prev, W_x, W_h, b):
        H = h_prev.shape[1]
        if kind == "no_candidate_bias":
            b = np.concatenate([b[: 2 * H], np.zeros(H)])
        a = x @ W_x + b  # (N, 3H), the input part of every block
        gate = np.tanh if kind == "tanh_gates" else _sigmoid
        i_r, i_z = (1, 0) if kind == "r_z_swapped" else (0, 1)
        a_r = a[:, i_r * H : (i_r + 1) * H] + h_prev @ W_h[:, i_r * H : (i_r + 1) * H]
        a_z = a[:, i_z * H : (i_z + 1) * H] + h_prev @ W_h[:, i_z * H : (i_z + 1) * H]
        r, z = gate(a_r), gate(a_z)
        W_hn = W_h[:, 2 * H :]
        if kind == "reset_after_matmul":
            a_n = a[:, 2 * H :] + r * (h_prev @ W_hn)
        elif kind == "no_reset":
            a_n = a[:, 2 * H :] + h_prev @ W_hn
        else:
            a_n = a[:, 2 * H :] + (r * h_prev) @ W_hn
        n = _sigmoid(a_n) if kind == "sigmoid_candidate" else np.tanh(a_n)
        if kind == "z_wrong_side":
            h_next = z * h_prev + (1.0 - z) * n
        else:
            h_next = (1.0 - z) * h_prev + z * n
        return h_next, None

    return step


def _step_backward_mistake(kind):
    def backward(dh_next, cache):
        x, h_prev, W_x, W_h, r, z, n = cache
        H = h_prev.shape[1]
        if kind == "dz_sign":
            dz = dh_next * (h_prev - n)
        elif kind == "dz_misses_h_prev":
            dz = dh_next * n
        else:
            dz = dh_next * (n - h_prev)
        dn = dh_next * ((1.0 - z) if kind == "dn_wrong_side" else z)
        dh_prev = 0.0 if kind == "no_direct_path" else dh_next * (1.0 - z)
        da_n = dn * ((1.0 - np.tanh(n) ** 2) if kind == "tanh_of_n" else (1.0 - n**2))
        W_hn = W_h[:, 2 * H :]
        drh = da_n @ (W_hn if kind == "W_hn_not_transposed" else W_hn.T)
        dr = drh if kind == "dr_misses_h_prev" else drh * h_prev
        if kind != "no_candidate_path":
            candidate = {"no_reset_in_dh_prev": drh, "r_h_prev_mixed_up": drh * h_prev}.get(kind, drh * r)
            dh_prev = dh_prev + candidate
        if kind == "tanh_derivative_for_gates":
            da_r, da_z = dr * (1.0 - r**2), dz * (1.0 - z**2)
        else:
            da_r, da_z = dr * r * (1.0 - r), dz * z * (1.0 - z)
        da_rz = np.concatenate([da_r, da_z], axis=1)
        da = np.concatenate([da_rz, da_n], axis=1)
        if kind == "full_da_to_dh_prev":  # the LSTM habit: every block through W_h.T
            dh_prev = dh_prev + da @ W_h.T
        elif kind != "no_gate_path":
            dh_prev = dh_prev + da_rz @ W_h[:, : 2 * H].T
        dx = da @ W_x.T
        dW_x = x.T @ da
        rh = h_prev if kind == "dW_hn_uses_h_prev" else r * h_prev
        dW_h = np.concatenate([h_prev.T @ da_rz, rh.T @ da_n], axis=1)
        db = da.mean(axis=0) if kind == "db_mean" else da.sum(axis=0)
        return dx, dh_prev, dW_x, dW_h, db
    return backward



def _backward_mistake(kind):
    def backward(dh, cache):
        N, T, H = dh.shape
        D = cache[0][0].shape[1]
        dx = np.zeros((N, T, D))
        dW_x = np.zeros_like(cache[0][2])
        dW_h = np.zeros_like(cache[0][3])
        db = np.zeros(3 * H)
        dh_carry = np.zeros((N, H))
        order = {"forward_time_order": range(T), "skips_step_0": range(T - 1, 0, -1)}.get(kind, reversed(range(T)))
        for t in order:
            if kind == "last_step_only":
                upstream = (dh[:, t] if t == T - 1 else 0.0) + dh_carry
            elif kind == "no_carry":
                upstream = dh[:, t]
            else:
                upstream = dh[:, t] + dh_carry
            dx[:, t], dh_carry, dW_x_t, dW_h_t, db_t = gru_step_backward(upstream, cache[t])
            if kind == "overwrite_weights":
                dW_x, dW_h, db = dW_x_t, dW_h_t, db_t
            else:
                dW_x, dW_h, db = dW_x + dW_x_t, dW_h + dW_h_t, db + db_t
        if kind == "dx_time_reversed":  # the per-step dx collected in loop order, T - 1 first
            dx = dx[:, ::-1]
        return dx, dh_carry, dW_x, dW_h, db
    return backward


def _torch_mistake(kind):
    def step(x, h_prev, W_x, W_h, b_x, b_h):
        H = h_prev.shape[1]
        if kind == "course_step_biases_summed":  # the learner's own course step, biases added
            h_next, _ = gru_step_forward(x, h_prev, W_x, W_h, b_x + b_h)
            return h_next
        if kind == "biases_swapped":
            b_x, b_h = b_h, b_x
        gx = x @ W_x + b_x
        gh = h_prev @ W_h + (0.0 if kind == "no_recurrent_bias" else b_h)
        i_r, i_z = (1, 0) if kind == "r_z_swapped" else (0, 1)
        r = _sigmoid(gx[:, i_r * H : (i_r + 1) * H] + gh[:, i_r * H : (i_r + 1) * H])
        z = _sigmoid(gx[:, i_z * H : (i_z + 1) * H] + gh[:, i_z * H : (i_z + 1) * H])
        W_hn = W_h[:, 2 * H :]
        if kind == "reset_before_matmul":
            a_n = gx[:, 2 * H :] + (r * h_prev) @ W_hn + b_h[2 * H :]
        elif kind == "b_hn_outside_reset":
            a_n = gx[:, 2 * H :] + r * (h_prev @ W_hn) + b_h[2 * H :]
        elif kind == "no_b_hn":
            a_n = gx[:, 2 * H :] + r * (h_prev @ W_hn)
        else:
            a_n = gx[:, 2 * H :] + r * gh[:, 2 * H :]
        n = np.tanh(a_n)
        if kind == "z_course_side":
            return (1.0 - z) * h_prev + z * n
        return (1.0 - z) * n + z * h_prev

    return step


def _keras_mistake(kind):
    def convert(kernel, recurrent_kernel, bias):
        def blocks(w, reorder=True):
            return _keras_to_rzn(w) if reorder else w.copy()

        W_x = blocks(kernel, kind != "no_reorder")
        W_h = blocks(recurrent_kernel, kind not in ("no_reorder", "recurrent_not_reordered"))
        keep_bias = kind in ("no_reorder", "bias_not_reordered")
        b_in, b_rec = {"biases_swapped": (bias[1], bias[0]), "same_bias_row": (bias[0], bias[0])}.get(
            kind, (bias[0], bias[1])
        )
        out = W_x, W_h, blocks(b_in, not keep_bias), blocks(b_rec, not keep_bias)
        if kind == "z_negated":  # "converting" to the course's side of z, which the PyTorch layout does not use
            H = W_h.shape[0]
            for a in out:
                a[..., H : 2 * H] *= -1.0
        return out

    return convert


MISTAKES = {
    "gru_step_forward": {
        kind: _step_mistake(kind)
        for kind in (
            "z_wrong_side",
            "reset_after_matmul",
            "r_z_swapped",
            "sigmoid_candidate",
            "no_reset",
            "tanh_gates",
            "no_candidate_bias",
        )
    },
    "gru_step_backward": {
        kind: _step_backward_mistake(kind)
        for kind in (
            "no_direct_path",
            "no_reset_in_dh_prev",
            "no_candidate_path",
            "no_gate_path",
            "W_hn_not_transposed",
            "dz_sign",
            "tanh_derivative_for_gates",
            "dW_hn_uses_h_prev",
            "db_mean",
            "full_da_to_dh_prev",
            "dz_misses_h_prev",
            "dn_wrong_side",
            "tanh_of_n",
            "dr_misses_h_prev",
            "r_h_prev_mixed_up",
        )
    },
    "gru_forward": unroll_mistakes(gru_step_forward),
    "gru_backward": {
        kind: _backward_mistake(kind)
        for kind in (
            "no_carry",
            "overwrite_weights",
            "forward_time_order",
            "last_step_only",
            "dx_time_reversed",
            "skips_step_0",
        )
    },
    "gru_torch_step_forward": {
        kind: _torch_mistake(kind)
        for kind in (
            "reset_before_matmul",
            "z_course_side",
            "b_hn_outside_reset",
            "r_z_swapped",
            "no_recurrent_bias",
            "no_b_hn",
            "biases_swapped",
            "course_step_biases_summed",
        )
    },
    "gru_weights_from_keras": {
        kind: _keras_mistake(kind)
        for kind in (
            "no_reorder",
            "recurrent_not_reordered",
            "bias_not_reordered",
            "biases_swapped",
            "same_bias_row",
            "z_negated",
        )
    },
}
