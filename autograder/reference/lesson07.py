"""Reference solutions of lesson 07 and the catalogued mistakes, as code.

The solution notebook ``solutions/07_language_model`` holds the same bodies; a
test proves that both agree on every public case. Each function in
:data:`MISTAKES` returns what a learner who made that mistake would return.
"""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------
# Graded exercises
# --------------------------------------------------------------------------


def embedding_forward(idx, W):
    out = W[idx]  # (N, T, D): row idx[n, t] of the table for every position
    cache = (idx, W)
    return out, cache


def embedding_backward(dout, cache):
    idx, W = cache
    dW = np.zeros_like(W)  # (V, D): rows of ids that never occur stay 0
    np.add.at(dW, idx, dout)  # every occurrence adds its row; repeated ids accumulate
    return dW


def softmax_cross_entropy(scores, y, mask=None):
    N, T, V = scores.shape
    if mask is None:
        mask = np.ones((N, T), dtype=bool)
    count = mask.sum()  # the number of steps that count
    shifted = scores - scores.max(axis=-1, keepdims=True)  # (N, T, V), largest entry 0: exp cannot overflow
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    n, t = np.meshgrid(np.arange(N), np.arange(T), indexing="ij")
    nll = -log_probs[n, t, y]  # (N, T)
    loss = float((nll * mask).sum() / count)
    dscores = np.exp(log_probs)  # the softmax
    dscores[n, t, y] -= 1.0
    dscores *= mask[..., None] / count  # padded steps get no gradient; the mean divides by count
    return loss, dscores


def stream_batches(ids, batch_size, seq_len):
    N, T = batch_size, seq_len
    S = (len(ids) - 1) // N  # steps per stream: every input needs the id after it as its target
    K = S // T  # whole chunks per stream
    x = ids[: N * S].reshape(N, S)[:, : K * T]  # row n: stream n, ids[n * S : n * S + K * T]
    y = ids[1 : N * S + 1].reshape(N, S)[:, : K * T]  # the same positions, one id later
    x = np.ascontiguousarray(x.reshape(N, K, T).transpose(1, 0, 2))  # (K, N, T): x[k] is chunk k
    y = np.ascontiguousarray(y.reshape(N, K, T).transpose(1, 0, 2))
    return x, y


def perplexity(token_nll):
    return float(np.exp(np.mean(token_nll)))


def bigram_probs(ids, vocab_size, k):
    counts = np.zeros((vocab_size, vocab_size))
    np.add.at(counts, (ids[:-1], ids[1:]), 1.0)  # counts[a, b]: how often b follows a
    P = (counts + k) / (counts.sum(axis=1, keepdims=True) + k * vocab_size)
    return P


def softmax_with_temperature(scores, temperature):
    if temperature == 0:  # the limit T -> 0: all probability on the largest score
        probs = np.zeros_like(scores)
        np.put_along_axis(probs, scores.argmax(axis=-1)[..., None], 1.0, axis=-1)
        return probs
    z = scores / temperature
    z = z - z.max(axis=-1, keepdims=True)  # small temperatures make large numbers
    e = np.exp(z)
    probs = e / e.sum(axis=-1, keepdims=True)
    return probs


def sample_next(scores, temperature, rng):
    probs = softmax_with_temperature(scores, temperature)  # (N, V)
    if temperature == 0:
        return probs.argmax(axis=-1)  # no random number is needed
    cdf = probs.cumsum(axis=-1)
    cdf /= cdf[:, -1:]  # exactly 1 at the end, as rng.choice does
    u = rng.random(scores.shape[0])  # one number per row, in row order
    ids = (cdf <= u[:, None]).sum(axis=-1)  # the first id whose cumulative probability exceeds u
    return ids


REFERENCE = {
    f.__name__: f
    for f in (
        embedding_forward,
        embedding_backward,
        softmax_cross_entropy,
        stream_batches,
        perplexity,
        bigram_probs,
        softmax_with_temperature,
        sample_next,
    )
}


# --------------------------------------------------------------------------
# Catalogued mistakes: each returns what a learner who made it would return.
# --------------------------------------------------------------------------


def _embedding_forward_mistake(kind):
    def forward(idx, W):
        N, T = idx.shape
        V = W.shape[0]
        if kind == "onehot_float64":
            out = np.eye(V)[idx] @ W  # a float64 one-hot turns a float32 table's rows into float64
        elif kind == "flattened":
            out = W[idx.reshape(-1)]  # (N * T, D)
        elif kind == "time_major":
            out = W[idx.T]  # (T, N, D)
        else:  # one_hot_all_ids
            one_hot = np.zeros((N, T, V), dtype=W.dtype)
            one_hot[:, :, idx] = 1.0  # marks every id of the batch at every position
            out = one_hot @ W
        return out, (idx, W)

    return forward


def _embedding_backward_mistake(kind):
    def backward(dout, cache):
        idx, W = cache
        V, D = W.shape
        if kind == "repeats_lost":
            dW = np.zeros_like(W)
            dW[idx] += dout  # buffered: a repeated id keeps only its last occurrence
            return dW
        if kind == "onehot_float64":
            return np.eye(V)[idx.reshape(-1)].T @ dout.reshape(-1, D)  # float64 for a float32 table
        if kind == "dout_flattened":
            return dout.reshape(-1, D)  # (N * T, D): never scattered into the table's rows
        if kind == "transposed":
            one_hot = np.eye(V, dtype=W.dtype)[idx.reshape(-1)]  # (N * T, V)
            return dout.reshape(-1, D).T @ one_hot  # (D, V)
        dW = np.zeros_like(W)  # averaged over the batch
        np.add.at(dW, idx, dout)
        return dW / idx.shape[0]

    return backward


def _cross_entropy_mistake(kind):
    def loss_fn(scores, y, mask=None):
        N, T, V = scores.shape
        weights = np.ones((N, T)) if mask is None or kind == "mask_ignored" else mask.astype(np.float64)
        count = weights.sum()
        if kind in ("mask_mean_all", "mask_ignored"):
            count = N * T
        elif kind == "per_sequence":
            count = N
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if kind == "unstable":
                e = np.exp(scores)
                probs = e / e.sum(axis=-1, keepdims=True)
                log_probs = np.log(probs)
            else:
                shifted = scores - scores.max(axis=-1, keepdims=True)
                log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
                probs = np.exp(log_probs)
            nll = -np.take_along_axis(log_probs, y[..., None], axis=-1)[..., 0]
            loss = float((nll * weights).sum() / count)
            dscores = probs.copy()
            if kind != "no_minus_one":
                np.put_along_axis(dscores, y[..., None], np.take_along_axis(probs, y[..., None], axis=-1) - 1.0, axis=-1)
            if kind != "mask_grad_missing":
                dscores = dscores * weights[..., None]
            if kind != "grad_not_divided":
                dscores = dscores / count
        return loss, dscores

    return loss_fn


def _stream_mistake(kind):
    def batches(ids, batch_size, seq_len):
        N, T = batch_size, seq_len
        S = (len(ids) - 1) // N
        K = S // T
        if kind == "interleaved":
            x = ids[: N * S].reshape(S, N).T[:, : K * T]  # row n: ids[n], ids[n + N], ...
            y = ids[1 : N * S + 1].reshape(S, N).T[:, : K * T]
        elif kind == "trimmed_first":
            x = ids[: N * K * T].reshape(N, K * T)  # stream n starts at n K T: the text trimmed before the cut
            y = ids[1 : N * K * T + 1].reshape(N, K * T)
        elif kind == "rows_are_chunks":
            x = ids[: K * N * T].reshape(K, N, T)  # chunk k holds pieces k*N ... k*N + N - 1 of the text
            y = ids[1 : K * N * T + 1].reshape(K, N, T)
            return x, y
        else:
            x = ids[: N * S].reshape(N, S)[:, : K * T]
            y = ids[1 : N * S + 1].reshape(N, S)[:, : K * T]
        x = x.reshape(N, K, T)
        y = y.reshape(N, K, T)
        if kind == "streams_first":
            return x, y  # (N, K, T)
        x, y = x.transpose(1, 0, 2), y.transpose(1, 0, 2)
        if kind == "not_shifted":
            y = x
        elif kind == "roll_targets":
            y = np.roll(x, -1, axis=-1)  # the last target of a chunk wraps round to its first input
        return np.ascontiguousarray(x), np.ascontiguousarray(y)

    return batches


def _perplexity_mistake(kind):
    def ppl(token_nll):
        if kind == "mean_of_exp":
            return float(np.mean(np.exp(token_nll)))
        if kind == "exp_of_sum":
            return float(np.exp(np.sum(token_nll)))
        if kind == "base_two":
            return float(2.0 ** np.mean(token_nll))
        if kind == "exp_negative":
            return float(np.exp(-np.mean(token_nll)))
        return float(np.mean(np.exp(np.mean(token_nll, axis=1))))  # per_sequence_mean

    return ppl


def _bigram_mistake(kind):
    def probs(ids, vocab_size, k):
        V = vocab_size
        counts = np.zeros((V, V))
        if kind == "repeats_lost":
            counts[ids[:-1], ids[1:]] += 1.0  # a pair seen several times is counted once
        elif kind == "transposed":
            np.add.at(counts, (ids[1:], ids[:-1]), 1.0)
        else:
            np.add.at(counts, (ids[:-1], ids[1:]), 1.0)
        if kind == "no_kV":
            return (counts + k) / (counts.sum(axis=1, keepdims=True) + k)
        if kind == "columns":
            return (counts + k) / (counts.sum(axis=0, keepdims=True) + k * V)
        if kind == "all_occurrences":
            context = np.bincount(ids, minlength=V).astype(np.float64)[:, None]  # the last id counted too
            return (counts + k) / (context + k * V)
        return (counts + k) / (counts.sum(axis=1, keepdims=True) + k * V)

    return probs


def _temperature_mistake(kind):
    def probs_fn(scores, temperature):
        if temperature == 0 and kind == "argmax_index":
            return scores.argmax(axis=-1)  # (N,) ids, not (N, V) probabilities
        if temperature == 0 and kind != "zero_not_special":
            return softmax_with_temperature(scores, 0)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if kind == "multiplied":
                z = scores * temperature
            else:
                z = scores / temperature
            if kind == "not_renormalized":
                p = softmax_with_temperature(scores, 1.0)
                return p ** (1.0 / temperature)
            if kind != "unstable":
                z = z - z.max(axis=-1, keepdims=True)
            e = np.exp(z)
            return e / e.sum(axis=-1, keepdims=True)

    return probs_fn


def _sample_mistake(kind):
    def sample(scores, temperature, rng):
        N, V = scores.shape
        if kind == "greedy_always":
            return scores.argmax(axis=-1)
        probs = softmax_with_temperature(scores, 1.0 if kind == "temperature_ignored" else temperature)
        if temperature == 0 and kind != "temperature_ignored":
            return probs.argmax(axis=-1)
        if kind == "uniform":
            return rng.integers(0, V, size=N)
        if kind == "first_row_probs":
            return rng.choice(V, size=N, p=probs[0])
        cdf = probs.cumsum(axis=-1)
        cdf /= cdf[:, -1:]
        u = np.full(N, rng.random()) if kind == "one_u_for_all" else rng.random(N)
        return (cdf <= u[:, None]).sum(axis=-1)

    return sample


MISTAKES = {
    "embedding_forward": {
        kind: _embedding_forward_mistake(kind)
        for kind in ("onehot_float64", "flattened", "time_major", "one_hot_all_ids")
    },
    "embedding_backward": {
        kind: _embedding_backward_mistake(kind)
        for kind in ("repeats_lost", "onehot_float64", "dout_flattened", "transposed", "batch_averaged")
    },
    "softmax_cross_entropy": {
        kind: _cross_entropy_mistake(kind)
        for kind in (
            "mask_mean_all",
            "unstable",
            "grad_not_divided",
            "mask_grad_missing",
            "mask_ignored",
            "per_sequence",
            "no_minus_one",
        )
    },
    "stream_batches": {
        kind: _stream_mistake(kind)
        for kind in ("not_shifted", "interleaved", "rows_are_chunks", "roll_targets", "streams_first", "trimmed_first")
    },
    "perplexity": {
        kind: _perplexity_mistake(kind)
        for kind in ("mean_of_exp", "exp_of_sum", "base_two", "exp_negative", "per_sequence_mean")
    },
    "bigram_probs": {
        kind: _bigram_mistake(kind)
        for kind in ("repeats_lost", "no_kV", "columns", "all_occurrences", "transposed")
    },
    "softmax_with_temperature": {
        kind: _temperature_mistake(kind)
        for kind in ("multiplied", "unstable", "zero_not_special", "argmax_index", "not_renormalized")
    },
    "sample_next": {
        kind: _sample_mistake(kind)
        for kind in ("greedy_always", "one_u_for_all", "temperature_ignored", "uniform", "first_row_probs")
    },
}
