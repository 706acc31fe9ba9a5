"""Reference solutions of lesson 08 (sentiment: many-to-one, padding and masking) and the catalogued mistakes.

The solution notebook ``solutions/08_sentiment`` holds the same bodies; a test
proves that both agree on every public case. Backward references and mistakes
read the cache of the reference forward, which fixtures and the grader pass as
the ``needs`` helper.
"""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------
# The exercises
# --------------------------------------------------------------------------


def pad_batch(sequences, pad_id):
    N = len(sequences)
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)  # (N,)
    T = int(lengths.max())
    ids = np.full((N, T), pad_id, dtype=np.int64)
    for n, s in enumerate(sequences):
        ids[n, : len(s)] = s  # right padding: the words first, the pads after
    mask = np.arange(T) < lengths[:, None]  # (N, T), True at real steps
    return ids, lengths, mask


def bag_of_words(ids, mask, vocab_size):
    N = ids.shape[0]
    counts = np.zeros((N, vocab_size))
    rows = np.broadcast_to(np.arange(N)[:, None], ids.shape)
    np.add.at(counts, (rows[mask], ids[mask]), 1.0)  # a repeated word adds up
    return counts


def last_step_forward(h, lengths):
    N = h.shape[0]
    h_last = h[np.arange(N), lengths - 1]  # (N, H): row n at its own last real step
    cache = (h, lengths)
    return h_last, cache


def last_step_backward(dh_last, cache):
    h, lengths = cache
    dh = np.zeros_like(h)  # every other step had no effect on the loss
    dh[np.arange(h.shape[0]), lengths - 1] = dh_last
    return dh


def masked_mean_forward(h, mask):
    m = mask[:, :, None].astype(h.dtype)  # (N, T, 1): 1 at real steps, 0 at padding
    count = m.sum(axis=1)  # (N, 1): real steps per row
    h_mean = (h * m).sum(axis=1) / count  # (N, H)
    cache = (m, count)
    return h_mean, cache


def masked_mean_backward(dh_mean, cache):
    m, count = cache
    dh = m * (dh_mean / count)[:, None, :]  # (N, T, H): zero at padding
    return dh


def _sigmoid(z):
    e = np.exp(-np.abs(z))  # never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_cross_entropy(logits, y):
    N = logits.shape[0]
    # -log sigmoid(z) = log(1 + exp(-z)), written so that exp never sees a large positive number
    losses = np.maximum(logits, 0.0) - logits * y + np.log1p(np.exp(-np.abs(logits)))
    loss = float(losses.mean())
    e = np.exp(-np.abs(logits))
    probs = np.where(logits >= 0, 1.0 / (1.0 + e), e / (1.0 + e))  # sigmoid, stable on both sides
    dlogits = (probs - y) / N
    return loss, dlogits


REFERENCE = {
    f.__name__: f
    for f in (
        pad_batch,
        bag_of_words,
        last_step_forward,
        last_step_backward,
        masked_mean_forward,
        masked_mean_backward,
        sigmoid_cross_entropy,
    )
}


# --------------------------------------------------------------------------
# Catalogued mistakes
# --------------------------------------------------------------------------


def _pad_mistake(kind):
    def pad(sequences, pad_id):
        N = len(sequences)
        sizes = np.array([len(s) for s in sequences], dtype=np.int64)
        T = int(sizes.max())
        ids = np.full((N, T), 0 if kind == "pads_with_zero" else pad_id, dtype=np.int64)
        for n, s in enumerate(sequences):
            if kind == "left_padded":
                ids[n, T - len(s) :] = s
            else:
                ids[n, : len(s)] = s
        lengths = sizes - 1 if kind == "lengths_minus_one" else sizes
        t = np.arange(T)
        if kind == "left_padded":
            mask = t >= T - lengths[:, None]
        elif kind == "mask_one_long":
            mask = t <= lengths[:, None]
        else:
            mask = t < lengths[:, None]
        if kind == "mask_inverted":
            mask = ~mask
        return ids, lengths, mask

    return pad


def _bow_mistake(kind):
    def bow(ids, mask, vocab_size):
        N = ids.shape[0]
        if kind == "batch_total":
            return np.bincount(ids[mask], minlength=vocab_size).astype(np.float64)
        counts = np.zeros((N, vocab_size))
        for n in range(N):
            if kind == "counts_padding":
                words = ids[n]
            elif kind == "pad_is_zero":
                words = ids[n][ids[n] != 0]  # the mask left unused
            else:
                words = ids[n][mask[n]]
            if kind == "presence_only":
                counts[n, words] += 1.0  # fancy += applies once per distinct index
            else:
                np.add.at(counts[n], words, 1.0)
            if kind == "normalized":
                counts[n] /= len(words)
        return counts

    return bow


def _last_step_mistake(kind):
    def forward(h, lengths):
        N = h.shape[0]
        if kind == "reads_padding":
            return h[:, -1], None
        if kind == "lengths_not_minus_one":
            return h[np.arange(N), lengths], None
        if kind == "slice_not_pairs":
            return h[:, lengths - 1], None
        # kept_time_axis: take_along_axis keeps the time axis, of size 1
        return np.take_along_axis(h, (lengths - 1)[:, None, None], axis=1), None

    return forward


def _last_step_backward_mistake(kind):
    def backward(dh_last, cache):
        h, lengths = cache
        N = h.shape[0]
        dh = np.zeros_like(h)
        if kind == "into_last_column":
            dh[:, -1] = dh_last
        elif kind == "every_step":
            dh[:] = dh_last[:, None, :]
        elif kind == "slice_not_pairs":
            dh[:, lengths - 1] = dh_last
        else:  # lengths_not_minus_one
            dh[np.arange(N), lengths] = dh_last
        return dh

    return backward


def _masked_mean_mistake(kind):
    def forward(h, mask):
        T = h.shape[1]
        if kind == "counts_padding":
            return h.mean(axis=1), None
        if kind == "mask_not_expanded":
            return (h * mask).sum(axis=1) / mask.sum(axis=1), None
        m = mask[:, :, None].astype(h.dtype)
        total = (h * m).sum(axis=1)
        if kind == "sum_not_mean":
            return total, None
        if kind == "divides_by_T":
            return total / T, None
        return total / m.sum(), None  # one_count_for_batch

    return forward


def _masked_mean_backward_mistake(kind):
    def backward(dh_mean, cache):
        m, count = cache
        T = m.shape[1]
        if kind == "leaks_into_padding":
            return np.broadcast_to((dh_mean / count)[:, None, :], (m.shape[0], T, dh_mean.shape[1])).copy()
        if kind == "divides_by_T":
            return m * (dh_mean / T)[:, None, :]
        if kind == "no_division":
            return m * dh_mean[:, None, :]
        if kind == "one_count_for_batch":
            return m * (dh_mean / count.sum())[:, None, :]
        # gradient_of_plain_mean: every step, divided by T
        return np.broadcast_to((dh_mean / T)[:, None, :], (m.shape[0], T, dh_mean.shape[1])).copy()

    return backward


def _sce_mistake(kind):
    def sce(logits, y):
        N = logits.shape[0]
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            p = 1.0 / (1.0 + np.exp(-logits))
            if kind == "log_of_sigmoid":
                losses = -(y * np.log(p) + (1 - y) * np.log(1 - p))
            elif kind == "softplus_overflow":
                losses = np.log(1.0 + np.exp(logits)) - logits * y
            elif kind in ("clipped_probs", "clipped_probs_1e15"):
                eps = 1e-7 if kind == "clipped_probs" else 1e-15
                q = np.clip(p, eps, 1 - eps)
                losses = -(y * np.log(q) + (1 - y) * np.log(1 - q))
            else:
                losses = np.maximum(logits, 0.0) - logits * y + np.log1p(np.exp(-np.abs(logits)))
        grad = (_sigmoid(logits) - y) / N
        if kind == "gradient_sign":
            grad = -grad
        if kind in ("grad_not_averaged", "sum_not_mean"):
            grad = grad * N
        if kind == "per_example_loss":
            return losses, grad
        loss = float(losses.sum()) if kind == "sum_not_mean" else float(losses.mean())
        return loss, grad

    return sce


MISTAKES = {
    "pad_batch": {
        k: _pad_mistake(k)
        for k in ("left_padded", "lengths_minus_one", "mask_one_long", "pads_with_zero", "mask_inverted")
    },
    "bag_of_words": {
        k: _bow_mistake(k) for k in ("counts_padding", "pad_is_zero", "presence_only", "normalized", "batch_total")
    },
    "last_step_forward": {
        k: _last_step_mistake(k)
        for k in ("reads_padding", "lengths_not_minus_one", "slice_not_pairs", "kept_time_axis")
    },
    "last_step_backward": {
        k: _last_step_backward_mistake(k)
        for k in ("into_last_column", "every_step", "slice_not_pairs", "lengths_not_minus_one")
    },
    "masked_mean_forward": {
        k: _masked_mean_mistake(k)
        for k in ("counts_padding", "divides_by_T", "sum_not_mean", "one_count_for_batch", "mask_not_expanded")
    },
    "masked_mean_backward": {
        k: _masked_mean_backward_mistake(k)
        for k in (
            "leaks_into_padding",
            "gradient_of_plain_mean",
            "divides_by_T",
            "no_division",
            "one_count_for_batch",
        )
    },
    "sigmoid_cross_entropy": {
        k: _sce_mistake(k)
        for k in (
            "log_of_sigmoid",
            "softplus_overflow",
            "clipped_probs",
            "clipped_probs_1e15",
            "gradient_sign",
            "grad_not_averaged",
            "sum_not_mean",
            "per_example_loss",
        )
    },
}
