"""Reference solutions of lesson 09 (sequence to sequence, attention) and the catalogued mistakes.

The solution notebook ``solutions/09_seq2seq_attention`` holds the same bodies; a
test proves that both agree on every public case. The notebook's locked cells
define ``PAD, START, END = 0, 1, 2`` and the vanilla ``rnn_forward`` that
``teacher_forced_loss`` calls; both are repeated here.

Backward exercises are called through their suite's ``call``, which builds the
cache with the forward pass named in ``needs``; fixtures and the grader pass the
reference forward, whose cache layout the backward functions here read.
"""

from __future__ import annotations

import numpy as np

PAD, START, END = 0, 1, 2


def rnn_forward(x, h0, W_xh, W_hh, b_h):
    """The notebook's locked vanilla RNN layer: states (N, T, H) and a cache."""
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]), dtype=np.result_type(x, h0, W_xh))
    xw = x @ W_xh + b_h  # (N, T, H)
    h_prev = h0
    for t in range(T):
        h_prev = np.tanh(xw[:, t] + h_prev @ W_hh)
        h[:, t] = h_prev
    return h, (x, h0, W_xh, W_hh, h)


def _log_softmax(scores):
    shifted = scores - scores.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


# --------------------------------------------------------------------------
# 9.1 - 9.3: teacher forcing and greedy decoding
# --------------------------------------------------------------------------


def teacher_forcing_batch(y):
    N, L = y.shape
    lengths = (y != PAD).sum(axis=1)  # (N,) real ids per row
    dec_in = np.concatenate([np.full((N, 1), START, dtype=y.dtype), y], axis=1)  # (N, L + 1)
    dec_target = np.concatenate([y, np.full((N, 1), PAD, dtype=y.dtype)], axis=1)  # (N, L + 1)
    dec_target[np.arange(N), lengths] = END  # right after each row's last real id
    mask = np.arange(L + 1) <= lengths[:, None]  # (N, L + 1): the real steps and the END step
    return dec_in, dec_target, mask


def teacher_forced_loss(y, h_enc, E, W_xh, W_hh, b_h, W_hy, b_y):
    dec_in, dec_target, mask = teacher_forcing_batch(y)
    s, _ = rnn_forward(E[dec_in], h_enc, W_xh, W_hh, b_h)  # (N, L + 1, H), from the encoder's state
    scores = s @ W_hy + b_y  # (N, L + 1, V)
    log_probs = _log_softmax(scores)
    nll = -np.take_along_axis(log_probs, dec_target[..., None], axis=-1)[..., 0]  # (N, L + 1)
    loss = float(np.sum(nll * mask) / np.sum(mask))  # the mean over the steps that count
    return loss, scores


def greedy_decode(step, h0, max_len):
    N = h0.shape[0]
    ids = np.full((N, max_len), PAD, dtype=np.int64)
    prev = np.full(N, START, dtype=np.int64)
    h = h0
    done = np.zeros(N, dtype=bool)  # rows that have emitted END
    for t in range(max_len):
        scores, h = step(prev, h)
        prev = scores.argmax(axis=1)  # (N,) the most likely next id
        ids[:, t] = np.where(done, PAD, prev)
        done = done | (prev == END)
        if done.all():
            break
    return ids


# --------------------------------------------------------------------------
# 9.4 - 9.6: additive attention
# --------------------------------------------------------------------------


def _masked_softmax(e, mask):
    e = np.where(mask, e, -np.inf)
    e = np.exp(e - e.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def additive_attention_forward(q, k, mask, W_q, W_k, v):
    z = np.tanh((q @ W_q)[:, :, None, :] + (k @ W_k)[:, None, :, :])  # (N, T, S, A)
    e = z @ v  # (N, T, S) scores
    alpha = _masked_softmax(e, mask[:, None, :])  # over the source positions s
    context = alpha @ k  # (N, T, Hk)
    cache = (q, k, W_q, W_k, v, z, alpha)
    return context, alpha, cache


def additive_attention_backward(dcontext, cache):
    q, k, W_q, W_k, v, z, alpha = cache
    dk = alpha.transpose(0, 2, 1) @ dcontext  # (N, S, Hk): k as the values
    dalpha = dcontext @ k.transpose(0, 2, 1)  # (N, T, S)
    de = alpha * (dalpha - np.sum(alpha * dalpha, axis=-1, keepdims=True))  # through the softmax
    da = de[..., None] * v * (1.0 - z**2)  # (N, T, S, A): through v . tanh(...)
    dqp = da.sum(axis=2)  # (N, T, A): q W_q was broadcast over s
    dkp = da.sum(axis=1)  # (N, S, A): k W_k was broadcast over t
    dq = dqp @ W_q.T
    dk = dk + dkp @ W_k.T  # k as the keys
    dW_q = np.einsum("nth,nta->ha", q, dqp)
    dW_k = np.einsum("nsh,nsa->ha", k, dkp)
    dv = np.einsum("ntsa,nts->a", z, de)
    return dq, dk, dW_q, dW_k, dv


def attention_decoder_step(y_prev, s_prev, enc, src_mask, params):
    p = params
    s_next = np.tanh(p["E"][y_prev] @ p["W_xh"] + s_prev @ p["W_hh"] + p["b_h"])  # (N, H)
    context, alpha, _ = additive_attention_forward(
        s_next[:, None], enc, src_mask, p["W_q"], p["W_k"], p["v"]
    )  # one query per row: the new state
    scores = np.concatenate([s_next, context[:, 0]], axis=1) @ p["W_y"] + p["b_y"]  # (N, V)
    return scores, s_next, alpha[:, 0]


# --------------------------------------------------------------------------
# 9.7 - 9.8: scaled dot-product attention
# --------------------------------------------------------------------------


def scaled_dot_attention_forward(Q, K, V, mask):
    d = Q.shape[-1]
    scores = Q @ K.transpose(0, 2, 1) / np.sqrt(d)  # (N, T, S)
    alpha = _masked_softmax(scores, mask)
    out = alpha @ V  # (N, T, d_v)
    cache = (Q, K, V, alpha)
    return out, alpha, cache


def scaled_dot_attention_backward(dout, cache):
    Q, K, V, alpha = cache
    d = Q.shape[-1]
    dV = alpha.transpose(0, 2, 1) @ dout  # (N, S, d_v)
    dalpha = dout @ V.transpose(0, 2, 1)  # (N, T, S)
    dscores = alpha * (dalpha - np.sum(alpha * dalpha, axis=-1, keepdims=True)) / np.sqrt(d)
    dQ = dscores @ K  # (N, T, d)
    dK = dscores.transpose(0, 2, 1) @ Q  # (N, S, d)
    return dQ, dK, dV


REFERENCE = {
    f.__name__: f
    for f in (
        teacher_forcing_batch,
        teacher_forced_loss,
        greedy_decode,
        additive_attention_forward,
        additive_attention_backward,
        attention_decoder_step,
        scaled_dot_attention_forward,
        scaled_dot_attention_backward,
    )
}


# --------------------------------------------------------------------------
# Catalogued mistakes: each returns what a learner who made it would return.
# --------------------------------------------------------------------------


def _batch(kind):
    def batch(y):
        N, L = y.shape
        lengths = (y != PAD).sum(axis=1)
        if kind == "lengths_from_argmax":  # the first PAD: 0 for a row that has none
            lengths = np.argmax(y == PAD, axis=1)
        start = np.full((N, 1), START, dtype=y.dtype)
        pad = np.full((N, 1), PAD, dtype=y.dtype)
        dec_in = np.concatenate([start, y], axis=1)
        dec_target = np.concatenate([y, pad], axis=1)
        if kind == "end_in_last_column":
            dec_target[:, -1] = END
        elif kind != "no_end_step":
            dec_target[np.arange(N), lengths] = END
        mask = np.arange(L + 1) <= lengths[:, None]
        if kind in ("mask_excludes_end", "no_end_step"):
            mask = np.arange(L + 1) < lengths[:, None]
        elif kind == "mask_includes_padding":
            mask = np.ones((N, L + 1), dtype=bool)
        if kind == "leak":
            dec_in = dec_target.copy()
        elif kind == "not_shifted":
            dec_in = np.concatenate([y, pad], axis=1)
        elif kind == "start_overwrites_first":
            dec_in = np.concatenate([y, pad], axis=1)
            dec_in[:, 0] = START
        return dec_in, dec_target, mask

    return batch


def _loss(kind):
    def loss_fn(y, h_enc, E, W_xh, W_hh, b_h, W_hy, b_y):
        dec_in, dec_target, mask = teacher_forcing_batch(y)
        h0 = np.zeros_like(h_enc) if kind == "encoder_ignored" else h_enc
        s, _ = rnn_forward(E[dec_target if kind == "leak" else dec_in], h0, W_xh, W_hh, b_h)
        scores = s @ W_hy + b_y
        target = dec_in if kind == "targets_not_shifted" else dec_target
        nll = -np.take_along_axis(_log_softmax(scores), target[..., None], axis=-1)[..., 0]
        if kind == "padding_counted":
            loss = nll.mean()
        elif kind == "divided_by_all_steps":
            loss = np.sum(nll * mask) / mask.size
        elif kind == "divided_by_rows":  # a loss per sequence
            loss = np.sum(nll * mask) / len(y)
        elif kind == "summed":
            loss = np.sum(nll * mask)
        elif kind == "mean_per_sequence":
            loss = np.mean(np.sum(nll * mask, axis=1) / np.sum(mask, axis=1))
        else:
            loss = np.sum(nll * mask) / np.sum(mask)
        return float(loss), scores

    return loss_fn


def _decode(kind):
    def decode(step, h0, max_len):
        N = h0.shape[0]
        ids = np.full((N, max_len), PAD, dtype=np.int64)
        prev = np.full(N, PAD if kind == "starts_from_pad" else START, dtype=np.int64)
        h = h0
        done = np.zeros(N, dtype=bool)
        first = None
        for t in range(max_len):
            feed = np.full(N, START, dtype=np.int64) if kind == "not_fed_back" else prev
            scores, h_new = step(feed, h0 if kind == "state_not_carried" else h)
            h = h_new
            out = scores.argmax(axis=1)
            if kind == "start_in_output":  # stores what went in, not what came out
                ids[:, t] = np.where(done, PAD, prev)
                done = done | (prev == END)
                prev = out
                continue
            prev = out
            if kind == "past_end":
                ids[:, t] = prev
            elif kind == "end_dropped":
                ids[:, t] = np.where(done | (prev == END), PAD, prev)
            else:
                ids[:, t] = np.where(done, PAD, prev)
            done = done | (prev == END)
            if kind == "stops_at_first_end" and done.any():
                break
            if done.all():
                first = t + 1
                break
        if kind == "truncated" and first is not None:
            return ids[:, :first]
        return ids

    return decode


def _additive(kind):
    def forward(q, k, mask, W_q, W_k, v):
        pre = (q @ W_q)[:, :, None, :] + (k @ W_k)[:, None, :, :]
        z = pre if kind == "no_tanh" else np.tanh(pre)
        e = z @ v
        full = np.broadcast_to(mask[:, None, :], e.shape)
        if kind == "padding_weighted":
            alpha = _masked_softmax(e, np.ones_like(full))
        elif kind == "padding_scores_zero":  # e * mask: padding scores 0, an ordinary score
            alpha = _masked_softmax(e * full, np.ones_like(full))
        elif kind == "mask_inverted":  # True read as padding: NaN (0 / 0) where nothing is left
            with np.errstate(invalid="ignore"):
                alpha = _masked_softmax(e, ~full)
        elif kind == "mask_after_softmax":
            alpha = _masked_softmax(e, np.ones_like(full)) * full
        elif kind == "softmax_over_queries":
            with np.errstate(invalid="ignore"):
                e = np.where(full, e, -np.inf)
                e = np.exp(e - e.max(axis=1, keepdims=True))
                alpha = e / e.sum(axis=1, keepdims=True)
        else:
            alpha = _masked_softmax(e, full)
        values = k @ W_k if kind == "projected_keys_as_values" else k
        return alpha @ values, alpha, None

    return forward


def _additive_backward(kind):
    def backward(dcontext, cache):
        q, k, W_q, W_k, v, z, alpha = cache
        dalpha = dcontext @ k.transpose(0, 2, 1)
        if kind == "softmax_backward_no_sum":
            de = alpha * dalpha
        else:
            de = alpha * (dalpha - np.sum(alpha * dalpha, axis=-1, keepdims=True))
        if kind == "no_tanh_derivative":
            da = de[..., None] * v
        elif kind == "tanh_of_tanh":
            da = de[..., None] * v * (1.0 - np.tanh(z) ** 2)
        else:
            da = de[..., None] * v * (1.0 - z**2)
        dqp, dkp = da.sum(axis=2), da.sum(axis=1)
        dq = dqp @ W_q.T
        dk_values = alpha.transpose(0, 2, 1) @ dcontext
        dk_keys = dkp @ W_k.T
        dk = {"dk_values_only": dk_values, "dk_keys_only": dk_keys}.get(kind, dk_values + dk_keys)
        dW_q = np.einsum("nth,nta->ha", q, dqp)
        dW_k = np.einsum("nsh,nsa->ha", k, dkp)
        dv = np.einsum("ntsa,nts->a", z, de)
        return dq, dk, dW_q, dW_k, dv

    return backward


def _decoder_step(kind):
    def step(y_prev, s_prev, enc, src_mask, params):
        p = params
        s_next = np.tanh(p["E"][y_prev] @ p["W_xh"] + s_prev @ p["W_hh"] + p["b_h"])
        query = s_prev if kind == "query_previous_state" else s_next
        mask = np.ones_like(src_mask) if kind == "padding_attended" else src_mask
        context, alpha, _ = additive_attention_forward(
            query[:, None], enc, mask, p["W_q"], p["W_k"], p["v"]
        )
        state = s_prev if kind == "output_reads_previous_state" else s_next
        parts = [context[:, 0], state] if kind == "concat_order" else [state, context[:, 0]]
        scores = np.concatenate(parts, axis=1) @ p["W_y"] + p["b_y"]
        return scores, s_next, alpha[:, 0]

    return step


def _dot(kind):
    def forward(Q, K, V, mask):
        d = Q.shape[-1]
        scale = {"no_scaling": 1.0, "scaled_by_d": 1.0 / d}.get(kind, 1.0 / np.sqrt(d))
        scores = Q @ K.transpose(0, 2, 1) * scale
        if kind == "masked_scores_zero":  # scores * mask: masked scores 0, an ordinary score
            alpha = _masked_softmax(scores * mask, np.ones_like(mask))
        elif kind == "mask_inverted":  # True read as hidden: NaN (0 / 0) where nothing is left
            with np.errstate(invalid="ignore"):
                alpha = _masked_softmax(scores, ~mask)
        elif kind in ("mask_ignored", "mask_added_after_softmax", "mask_multiplied_after_softmax"):
            alpha = _masked_softmax(scores, np.ones_like(mask))
            if kind == "mask_added_after_softmax":
                alpha = alpha + np.where(mask, 0.0, -1e9)
            elif kind == "mask_multiplied_after_softmax":
                alpha = alpha * mask
        elif kind == "softmax_over_queries":
            with np.errstate(invalid="ignore"):
                e = np.where(mask, scores, -np.inf)
                e = np.exp(e - e.max(axis=1, keepdims=True))
                alpha = e / e.sum(axis=1, keepdims=True)
        else:
            alpha = _masked_softmax(scores, mask)
        return alpha @ V, alpha, None

    return forward


def _dot_backward(kind):
    def backward(dout, cache):
        Q, K, V, alpha = cache
        d = Q.shape[-1]
        dV = alpha @ dout if kind == "dV_not_transposed" else alpha.transpose(0, 2, 1) @ dout
        dalpha = dout @ V.transpose(0, 2, 1)
        if kind == "softmax_skipped":
            dscores = dalpha
        elif kind == "softmax_backward_no_sum":
            dscores = alpha * dalpha
        else:
            dscores = alpha * (dalpha - np.sum(alpha * dalpha, axis=-1, keepdims=True))
        if kind != "no_scale_in_backward":
            dscores = dscores / np.sqrt(d)
        dQ = dscores @ K
        dK = dscores @ Q if kind == "dK_not_transposed" else dscores.transpose(0, 2, 1) @ Q
        return dQ, dK, dV

    return backward


MISTAKES = {
    "teacher_forcing_batch": {
        kind: _batch(kind)
        for kind in (
            "leak",
            "not_shifted",
            "start_overwrites_first",
            "end_in_last_column",
            "no_end_step",
            "mask_excludes_end",
            "mask_includes_padding",
            "lengths_from_argmax",
        )
    },
    "teacher_forced_loss": {
        kind: _loss(kind)
        for kind in (
            "leak",
            "targets_not_shifted",
            "encoder_ignored",
            "padding_counted",
            "divided_by_all_steps",
            "divided_by_rows",
            "summed",
            "mean_per_sequence",
        )
    },
    "greedy_decode": {
        kind: _decode(kind)
        for kind in (
            "past_end",
            "end_dropped",
            "stops_at_first_end",
            "not_fed_back",
            "state_not_carried",
            "start_in_output",
            "starts_from_pad",
            "truncated",
        )
    },
    "additive_attention_forward": {
        kind: _additive(kind)
        for kind in (
            "softmax_over_queries",
            "padding_weighted",
            "mask_after_softmax",
            "padding_scores_zero",
            "mask_inverted",
            "no_tanh",
            "projected_keys_as_values",
        )
    },
    "additive_attention_backward": {
        kind: _additive_backward(kind)
        for kind in (
            "dk_values_only",
            "dk_keys_only",
            "softmax_backward_no_sum",
            "no_tanh_derivative",
            "tanh_of_tanh",
        )
    },
    "attention_decoder_step": {
        kind: _decoder_step(kind)
        for kind in (
            "query_previous_state",
            "padding_attended",
            "concat_order",
            "output_reads_previous_state",
        )
    },
    "scaled_dot_attention_forward": {
        kind: _dot(kind)
        for kind in (
            "no_scaling",
            "scaled_by_d",
            "mask_added_after_softmax",
            "mask_multiplied_after_softmax",
            "masked_scores_zero",
            "mask_inverted",
            "mask_ignored",
            "softmax_over_queries",
        )
    },
    "scaled_dot_attention_backward": {
        kind: _dot_backward(kind)
        for kind in (
            "no_scale_in_backward",
            "softmax_backward_no_sum",
            "softmax_skipped",
            "dK_not_transposed",
            "dV_not_transposed",
        )
    },
}
