"""Lesson 07 · language models: what is graded and how.

Text crosses the grader's pipe as integer ids only, never as strings. Sizes
differ from each other in every case (N != T, V != D, K != N != T), so that a
transposed table or a swapped axis shows up as a wrong shape.

* The embedding is graded on ids that repeat (within a sequence and across the
  batch) and on ids that never occur, and on a float32 table. A float64 result
  for it has the right numbers (a lookup, and quarter-integer gradients, are
  exact in any precision), so the calls report the dtype as a problem of its
  own, which both tiers can then name as the one-hot mistake. The backward is
  graded with the learner's own forward (``needs``); its gradient depends on the
  ids alone, so the forward that ``call_backward`` runs on decoys gets other ids.
* The loss is graded with and without a mask (``mask=None`` is the default
  argument: the check calls it without one), and on scores of about ±1000.
* ``stream_batches`` is graded on ``ids = 0, 1, 2, ...`` first, so that a wrong
  value is a position in the text, which the values message then names; axis 1
  of its outputs is the stream, not time. Integer inputs have no decoys, so the
  ``call`` runs the function once more on other ids, to catch a reused buffer
  (as does ``bigram_probs``'s).
* ``sample_next`` is called with ``np.random.default_rng(seed)`` built from the
  case's integer ``seed``. Before its ids are compared, the ``call`` counts the
  numbers the function drew from that generator: one ``rng.random()`` per row,
  or the case fails with a message that says how many it drew (not checked at
  temperature 0, where a sampler may or may not draw).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autograder.suites.core import (
    CallProblem,
    Case,
    Exercise,
    Mistake,
    call_backward,
    call_fresh,
    check_kept,
    described,
)

LESSON = "07_language_model"


def _normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape)).astype(np.float64)


def _ids(values) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def _as_float(value: Any) -> Any:
    """A scalar result as a 0-d float64 array, so that it is compared like an array."""
    if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return np.asarray(value, dtype=np.float64)
    return value


def _pair(name: str, result: Any, names: str) -> tuple:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CallProblem("returns", f"{name} should return a tuple {names}, got {described(result, returned=True)}")
    return tuple(result)


def _keeps_table_dtype(name: str, what: str, value: Any, W: np.ndarray) -> None:
    """A float32 table gives float32 rows and a float32 gradient. Checked here, where both tiers
    see it as a problem of its own: the values of a float64 result are the same numbers, so only
    this says that a float64 array (a one-hot matrix from np.eye) was made on the way."""
    if isinstance(value, np.ndarray) and value.dtype != W.dtype and value.dtype.kind == "f":
        raise CallProblem(
            "dtype",
            f"{name} returned {what} as {value.dtype} for a {W.dtype} table W: keep the table's dtype "
            "(W[idx] and np.zeros_like(W) do; an array made without a dtype, such as np.eye(V), is float64 "
            "and promotes what it touches)",
        )


# --------------------------------------------------------------------------
# 7.1 embedding_forward
# --------------------------------------------------------------------------


def _embedding_cases(rng: np.random.Generator) -> list[Case]:
    def table(V, D, dtype=np.float64):
        return _normal(rng, V, D).astype(dtype)

    return [
        Case("ids 0 to 5 in order (N = 2, T = 3), V = 7, D = 4", {"idx": _ids([[0, 1, 2], [3, 4, 5]]), "W": table(7, 4)}),
        Case(
            "repeated ids, rows 0 and 4 never used (N = 3, T = 2), V = 6, D = 3",
            {"idx": _ids([[2, 2], [5, 1], [1, 2]]), "W": table(6, 3)},
        ),
        Case(
            "a float32 table (N = 2, T = 5), V = 6, D = 3: the rows keep the table's dtype",
            {"idx": _ids([[1, 0, 3, 3, 5], [2, 2, 4, 0, 1]]), "W": table(6, 3, np.float32)},
        ),
        Case(
            "everything random: N = 4, T = 5, V = 9, D = 3",
            {"idx": rng.integers(0, 9, size=(4, 5)).astype(np.int64), "W": table(9, 3)},
        ),
    ]


def _call_embedding_forward(fn: Callable, inputs: dict, helpers: dict) -> Any:
    raw = call_fresh(fn, "embedding_forward", inputs["idx"], inputs["W"])
    if isinstance(raw, (tuple, list)) and len(raw) == 2:
        _keeps_table_dtype("embedding_forward", "out", raw[0], inputs["W"])
    return raw


EMBEDDING_FORWARD = Exercise(
    name="embedding_forward",
    lesson=LESSON,
    number="7.1",
    points=2,
    returns=("out", "cache"),
    graded=("out",),
    make_cases=_embedding_cases,
    call=_call_embedding_forward,
    description="look up one row of the table W (V, D) per id: out[n, t] = W[idx[n, t]], shape (N, T, D)",
    mistakes=(
        Mistake(
            "onehot_float64",
            "the rows come out as float64 for a float32 table: a one-hot matrix built with np.eye(V) (float64) "
            "times W promotes the result",
            "index the table, W[idx], which keeps its dtype (or build the one-hot matrix with dtype=W.dtype)",
        ),
        Mistake(
            "flattened",
            "out is flat, shape (N * T, D): the ids were flattened and the result never reshaped",
            "W[idx] with idx of shape (N, T) already gives (N, T, D); after a one-hot product on "
            "idx.reshape(-1), reshape the result to idx.shape + (D,)",
        ),
        Mistake(
            "time_major",
            "out is time-major, shape (T, N, D): the ids were transposed (idx.T)",
            "keep the batch first: out[n, t] is the row of idx[n, t], so W[idx] as it is",
        ),
        Mistake(
            "one_hot_all_ids",
            "the one-hot matrix marks every id of the batch at every position (one_hot[:, :, idx] = 1), so each "
            "output row is the sum of the rows of all ids in the batch",
            "set one 1 per position: one_hot[n, t, idx[n, t]] = 1, i.e. np.eye(V)[idx]; or skip the one-hot "
            "matrix and index the table, W[idx]",
        ),
    ),
)


# --------------------------------------------------------------------------
# 7.2 embedding_backward
# --------------------------------------------------------------------------


def _embedding_backward_cases(rng: np.random.Generator) -> list[Case]:
    quarters = (rng.integers(-12, 13, size=(2, 5, 3)) / 4).astype(np.float32)  # exact sums in float32
    return [
        Case(
            "every id once, no repeats (N = 2, T = 3), V = 8, D = 4",
            {"idx": _ids([[6, 0, 3], [1, 7, 4]]), "W": _normal(rng, 8, 4), "dout": _normal(rng, 2, 3, 4)},
        ),
        Case(
            "id 2 three times (twice in one sequence, once in another), rows 0 and 4 never used "
            "(N = 3, T = 2), V = 6, D = 3",
            {"idx": _ids([[2, 2], [5, 1], [1, 2]]), "W": _normal(rng, 6, 3), "dout": _normal(rng, 3, 2, 3)},
        ),
        Case(
            "a float32 table with repeats (N = 2, T = 5), V = 6, D = 3: dout holds quarter-integers, "
            "so every order of summation is exact",
            {"idx": _ids([[1, 0, 3, 3, 5], [2, 2, 4, 0, 1]]), "W": _normal(rng, 6, 3).astype(np.float32), "dout": quarters},
        ),
        Case(
            "everything random: N = 4, T = 5, V = 7 (many repeats), D = 3",
            {
                "idx": rng.integers(0, 7, size=(4, 5)).astype(np.int64),
                "W": _normal(rng, 7, 3),
                "dout": _normal(rng, 4, 5, 3),
            },
        ),
    ]


def _call_embedding_backward(fn: Callable, inputs: dict, helpers: dict) -> Any:
    idx, W = inputs["idx"], inputs["W"]
    learners = helpers["embedding_forward"]

    def forward(ids, table):
        # call_backward runs the forward once more on decoys, other values of the float inputs, to see
        # that the backward reads its cache and not what the last forward left behind. The gradient
        # depends on the ids alone, and integer inputs have no decoy: the decoy call gets other ids too.
        if table is not W and not np.array_equal(table, W):
            ids = (ids + 1) % table.shape[0]
        return learners(ids, table)

    _, result = call_backward(
        fn, "embedding_backward", {"embedding_forward": forward}, "embedding_forward", (idx, W), [inputs["dout"]],
        "(out, cache)",
    )
    _keeps_table_dtype("embedding_backward", "dW", result, W)
    return result


EMBEDDING_BACKWARD = Exercise(
    name="embedding_backward",
    lesson=LESSON,
    number="7.2",
    points=3,
    returns=("dW",),
    graded=("dW",),
    make_cases=_embedding_backward_cases,
    needs=("embedding_forward",),
    call=_call_embedding_backward,
    description="the gradient of the embedding table, dW (V, D), from dout (N, T, D) and the cache of your "
    "embedding_forward: every occurrence of an id adds its row of dout to that id's row",
    mistakes=(
        Mistake(
            "repeats_lost",
            "an id that occurs several times gets only one of its gradients: dW[idx] += dout (or dW[idx] = dout "
            "in a loop) keeps the last occurrence, because NumPy's fancy-index += reads all rows first and "
            "writes each repeated row once",
            "accumulate with np.add.at(dW, idx, dout), which adds every occurrence (or loop over the positions "
            "and add one row at a time)",
        ),
        Mistake(
            "onehot_float64",
            "dW comes out as float64 for a float32 table: the one-hot matrix was built with np.eye(V) (float64)",
            "start from np.zeros_like(W), which has the table's dtype, and np.add.at into it (or build the "
            "one-hot matrix with dtype=W.dtype)",
        ),
        Mistake(
            "dout_flattened",
            "dW is dout reshaped to (N * T, D): one row per position, never added into the table's rows",
            "dW has the table's shape (V, D): row v collects the rows of dout at the positions where idx is v",
        ),
        Mistake(
            "transposed",
            "dW is transposed, shape (D, V): the one-hot product was written dout.T @ one_hot",
            "with one_hot of shape (N * T, V) and dout reshaped to (N * T, D), dW = one_hot.T @ dout",
        ),
        Mistake(
            "batch_averaged",
            "dW is divided by the batch size N",
            "the embedding adds no average of its own: the loss already did the averaging, so each "
            "position's gradient is added to its id's row as it is",
        ),
    ),
)


# --------------------------------------------------------------------------
# 7.3 softmax_cross_entropy
# --------------------------------------------------------------------------


def _cross_entropy_cases(rng: np.random.Generator) -> list[Case]:
    lengths = np.array([4, 2, 1])
    mask_padded = np.arange(4)[None, :] < lengths[:, None]  # (3, 4)
    y_padded = np.where(mask_padded, rng.integers(1, 6, size=(3, 4)), 0).astype(np.int64)
    mask_random = rng.random((4, 5)) < 0.6
    mask_random[:, 0] = True  # every sequence has at least one real step
    none_hint = (
        "mask is None here (the check calls softmax_cross_entropy(scores, y) without one): every step "
        "counts, as if the mask were all True"
    )
    return [
        Case(
            "no mask (every step counts): N = 2, T = 3, V = 5",
            {"scores": _normal(rng, 2, 3, 5), "y": rng.integers(0, 5, size=(2, 3)).astype(np.int64), "mask": None},
            hint=none_hint,
        ),
        Case(
            "large scores (about ±1000), no mask: N = 2, T = 3, V = 5",
            {"scores": _normal(rng, 2, 3, 5, scale=800.0), "y": rng.integers(0, 5, size=(2, 3)).astype(np.int64), "mask": None},
            hint=none_hint,
        ),
        Case(
            "a mask: sequences of 4, 2 and 1 real steps padded to T = 4 (padding targets are 0), V = 6",
            {"scores": _normal(rng, 3, 4, 6), "y": y_padded, "mask": mask_padded},
        ),
        Case(
            "everything random, a random mask: N = 4, T = 5, V = 7",
            {
                "scores": _normal(rng, 4, 5, 7, scale=2.0),
                "y": rng.integers(0, 7, size=(4, 5)).astype(np.int64),
                "mask": mask_random,
            },
        ),
    ]


def _padded_steps(name: str, expected: np.ndarray, actual: np.ndarray, close: Callable) -> str:
    """Whether dscores is wrong at the steps that do not count (where every expected entry is 0)."""
    if name != "dscores" or expected.ndim != 3:
        return ""
    padded = ~np.any(expected, axis=-1)  # (N, T): a real step's gradient is never all 0
    if not padded.any() or not np.any(actual[padded]):
        return ""
    count = int(padded.sum())
    if close(actual[~padded], expected[~padded]):
        return (
            f"the only wrong entries are at the {count} padded steps (where the mask is False), which must get a "
            "gradient of 0: a step that does not count in the loss gets no gradient"
        )
    return f"it is also not 0 at the {count} padded steps (where the mask is False), which must get no gradient"


def _call_cross_entropy(fn: Callable, inputs: dict, helpers: dict) -> tuple:
    args = [inputs["scores"], inputs["y"]]
    if inputs["mask"] is not None:  # the default argument: called as softmax_cross_entropy(scores, y)
        args.append(inputs["mask"])
    loss, dscores = _pair("softmax_cross_entropy", call_fresh(fn, "softmax_cross_entropy", *args), "(loss, dscores)")
    return _as_float(loss), dscores


SOFTMAX_CROSS_ENTROPY = Exercise(
    name="softmax_cross_entropy",
    lesson=LESSON,
    number="7.3",
    points=4,
    returns=("loss", "dscores"),
    graded=("loss", "dscores"),
    make_cases=_cross_entropy_cases,
    call=_call_cross_entropy,
    explain=_padded_steps,
    description="the mean cross-entropy of next-id scores (N, T, V) against targets (N, T) over the steps "
    "that count (mask True, or every step when mask is None), and its gradient dscores",
    mistakes=(
        Mistake(
            "mask_mean_all",
            "with a mask, the loss and dscores are divided by N * T, every step, instead of the number of "
            "steps that count: padding dilutes the mean",
            "divide by count = mask.sum(), in the loss and in dscores",
        ),
        Mistake(
            "unstable",
            "the log of a softmax that overflows: exp of scores of about 1000 is inf, and inf / inf is NaN",
            "subtract each row's maximum before np.exp: shifted = scores - scores.max(axis=-1, keepdims=True), "
            "then log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))",
        ),
        Mistake(
            "grad_not_divided",
            "dscores is not divided by the number of steps the loss averaged over (the loss is right)",
            "the loss is a mean over count steps, so every entry of its gradient carries a factor 1 / count: "
            "dscores = (softmax - one_hot) * mask / count",
        ),
        Mistake(
            "mask_grad_missing",
            "the loss leaves out the padded steps, but dscores does not: the padded steps get a gradient",
            "multiply dscores by mask[..., None], so that a step which does not count in the loss gets no "
            "gradient either",
        ),
        Mistake(
            "mask_ignored",
            "the mask is ignored: the padded steps count in the loss and the gradient",
            "weight each step's loss by the mask and divide by mask.sum(); zero the gradient of padded steps",
        ),
        Mistake(
            "per_sequence",
            "the loss is summed over time and averaged over the batch only (divided by N): a loss per "
            "sequence, not per step",
            "the loss here is the mean per step that counts: divide the sum by count = mask.sum() (N * T "
            "without a mask), and dscores too",
        ),
        Mistake(
            "no_minus_one",
            "dscores is the softmax without the 1 taken off at each target",
            "the gradient of -log softmax(s)[y] is softmax(s) - one_hot(y): subtract 1 at [n, t, y[n, t]]",
        ),
    ),
)


# --------------------------------------------------------------------------
# 7.4 stream_batches
# --------------------------------------------------------------------------


def _stream_cases(rng: np.random.Generator) -> list[Case]:
    def case(ids, N, T):
        return {"ids": np.asarray(ids, dtype=np.int64), "batch_size": N, "seq_len": T}

    return [
        Case(
            "ids 0, 1, ..., 25 (each id is its position in the text): 2 streams of 12 steps, chunks of 3",
            case(np.arange(26), 2, 3),
        ),
        Case(
            "ids 0, 1, ..., 30: 3 streams of 10 steps, chunks of 4 (the last 2 steps of every stream are dropped)",
            case(np.arange(31), 3, 4),
        ),
        Case(
            "ids 0, 1, ..., 23 (a multiple of batch_size = 4): 4 streams of 5 steps, one chunk of 3",
            case(np.arange(24), 4, 3),
            hint="len(ids) = 24 is a multiple of batch_size = 4: a stream of 24 // 4 = 6 steps would need "
            "ids[24] as the target of the last stream's last step, and there is none. Every input needs the id "
            "after it, so a stream has (len(ids) - 1) // batch_size steps",
        ),
        Case(
            "everything random: 64 random ids (V = 10), 3 streams, chunks of 5",
            case(rng.integers(0, 10, size=64), 3, 5),
        ),
    ]


def _stream_rows(name: str, expected: np.ndarray, actual: np.ndarray, close: Callable) -> str:
    """Which row of which chunk is wrong, said in positions of the text where the case's ids are
    positions (ids = 0, 1, 2, ...). Axis 1 is the stream here, not time as elsewhere in the course."""
    if expected.ndim != 3 or actual.shape != expected.shape:
        return ""
    K, N, T = expected.shape
    wrong = [(k, n) for k in range(K) for n in range(N) if not close(actual[k, n], expected[k, n])]
    if not wrong:
        return ""
    k, n = wrong[0]
    said = f"axis 1 of {name} is the stream, not time: row {name}[{k}, {n}] (chunk {k} of stream {n}) is wrong"
    runs = np.all(np.diff(expected, axis=-1) == 1) and np.all(expected[1:, :, 0] == expected[:-1, :, -1] + 1)
    if runs:  # the ids are positions in the text: say which positions the row reads
        want, got = expected[k, n], actual[k, n]
        return (
            f"{said}: it should read positions {int(want[0])} to {int(want[-1])} of the text, yours reads "
            f"{', '.join(str(int(v)) for v in got[:4])}{', ...' if T > 4 else ''}"
        )
    return said


def _call_stream(fn: Callable, inputs: dict, helpers: dict) -> Any:
    ids, N, T = inputs["ids"], inputs["batch_size"], inputs["seq_len"]
    raw = fn(ids, N, T)
    # Integer inputs have no decoy of their own: call once more on the ids reversed.
    check_kept(fn, "stream_batches", raw, ids[::-1].copy(), N, T)
    return raw


STREAM_BATCHES = Exercise(
    name="stream_batches",
    lesson=LESSON,
    number="7.4",
    points=4,
    returns=("x", "y"),
    graded=("x", "y"),
    make_cases=_stream_cases,
    call=_call_stream,
    explain=_stream_rows,
    description="cut one id stream into batch_size contiguous streams and those into chunks of seq_len "
    "steps: x, y of shape (K, N, T), y one id later than x, and row n of chunk k + 1 continuing row n of chunk k",
    mistakes=(
        Mistake(
            "not_shifted",
            "the targets are the inputs (y equals x): the model is asked to predict the id it is reading",
            "the target of each input is the id after it: take y from ids[1:] at the same positions",
        ),
        Mistake(
            "interleaved",
            "the streams are interleaved (ids.reshape(S, N).T, or ids[n::N]): consecutive ids of a row are "
            "N apart in the text, so each row reads no text at all and the state it carries belongs to "
            "another text",
            "stream n is one contiguous piece, ids[n * S : (n + 1) * S]: reshape ids[:N * S] to (N, S), "
            "rows first",
        ),
        Mistake(
            "rows_are_chunks",
            "consecutive chunks of the text fill the rows of one batch (ids[:K * N * T].reshape(K, N, T)): "
            "row n of chunk k + 1 is not the continuation of row n of chunk k, so the state carried from one "
            "chunk to the next belongs to another piece of text",
            "cut the text into N streams first (reshape to (N, S)), then each stream into chunks "
            "(reshape to (N, K, T)), and move the chunk axis first with .transpose(1, 0, 2)",
        ),
        Mistake(
            "roll_targets",
            "the targets are the inputs shifted within each chunk (np.roll(x, -1)): the last target of every "
            "chunk is the chunk's own first id instead of the id that follows it in the text",
            "take y from the text itself, one id later than x (ids[1:]), not from x: the next id after a chunk "
            "is the first id of the next chunk",
        ),
        Mistake(
            "trimmed_first",
            "the text is trimmed to N * K * T ids before it is cut into streams, so stream n starts at ids[n * K * T] "
            "instead of ids[n * S]",
            "cut the streams first, S = (len(ids) - 1) // N steps each, and leave out what does not fill a whole "
            "chunk at the end of each stream: stream n starts at ids[n * S]",
        ),
        Mistake(
            "streams_first",
            "x and y have shape (N, K, T), streams first: the chunk axis was not moved to the front",
            "return shape (K, N, T) so that x[k] is the k-th batch: .transpose(1, 0, 2) after the reshape "
            "to (N, K, T)",
        ),
    ),
)


# --------------------------------------------------------------------------
# 7.5 perplexity
# --------------------------------------------------------------------------


def _perplexity_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case("every token's NLL is ln 4 (N = 2, T = 3): perplexity 4", {"token_nll": np.full((2, 3), np.log(4.0))}),
        Case(
            "an easy sequence and a hard one (N = 2, T = 4)",
            {"token_nll": np.array([[0.1, 0.2, 0.1, 0.3], [2.5, 1.9, 3.1, 2.2]])},
        ),
        Case("everything random: N = 3, T = 5", {"token_nll": rng.uniform(0.05, 3.0, size=(3, 5))}),
    ]


PERPLEXITY = Exercise(
    name="perplexity",
    lesson=LESSON,
    number="7.5",
    points=1,
    returns=("perplexity",),
    graded=("perplexity",),
    make_cases=_perplexity_cases,
    call=lambda fn, inputs, helpers: _as_float(call_fresh(fn, "perplexity", inputs["token_nll"])),
    description="exp of the mean negative log-likelihood (in nats) of every token",
    mistakes=(
        Mistake(
            "mean_of_exp",
            "the mean of the per-token perplexities exp(nll) is returned, not exp of the mean NLL",
            "average first, exponentiate once: np.exp(np.mean(token_nll)); the mean of exp is larger "
            "(Jensen's inequality) and is dominated by the hardest tokens",
        ),
        Mistake(
            "exp_of_sum",
            "exp of the total NLL is returned: that is 1 / P(whole text), which grows with the length",
            "divide the total by the number of tokens before exponentiating: np.exp(np.mean(token_nll))",
        ),
        Mistake(
            "base_two",
            "2 ** mean NLL is returned, but the NLL is in nats (natural log)",
            "the losses are natural logarithms, so the perplexity is np.exp(mean); 2 ** x would be right "
            "for a mean in bits",
        ),
        Mistake(
            "exp_negative",
            "exp(-mean NLL) is returned: the geometric mean probability per token, the inverse of the perplexity",
            "perplexity is exp(+mean NLL): the number of equally likely choices the model is as unsure as",
        ),
        Mistake(
            "per_sequence_mean",
            "each sequence's perplexity is computed and the results averaged",
            "pool every token first: exp of the mean over all N * T tokens, np.exp(np.mean(token_nll))",
        ),
    ),
)


# --------------------------------------------------------------------------
# 7.6 bigram_probs
# --------------------------------------------------------------------------


def _bigram_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case(
            "k = 0, the plain counts: ids 0 1 2 1 2 3 0 1 3 2 0 1 (V = 4), every id followed by something",
            {"ids": _ids([0, 1, 2, 1, 2, 3, 0, 1, 3, 2, 0, 1]), "vocab_size": 4, "k": 0.0},
        ),
        Case(
            "k = 1 (add one): ids 4 0 4 0 1 4 0 4 (V = 5); ids 2 and 3 never occur",
            {"ids": _ids([4, 0, 4, 0, 1, 4, 0, 4]), "vocab_size": 5, "k": 1.0},
        ),
        Case(
            "everything random: 40 random ids (V = 6), k = 0.1",
            {"ids": rng.integers(0, 6, size=40).astype(np.int64), "vocab_size": 6, "k": 0.1},
        ),
    ]


def _call_bigram(fn: Callable, inputs: dict, helpers: dict) -> Any:
    ids, V, k = inputs["ids"], inputs["vocab_size"], inputs["k"]
    raw = fn(ids, V, k)
    check_kept(fn, "bigram_probs", raw, ids[::-1].copy(), V, k)  # integer ids have no decoy: reversed
    return raw


BIGRAM_PROBS = Exercise(
    name="bigram_probs",
    lesson=LESSON,
    number="7.6",
    points=3,
    returns=("P",),
    graded=("P",),
    make_cases=_bigram_cases,
    call=_call_bigram,
    description="the add-k bigram table P (V, V): P[a, b] = (count(a b) + k) / (count(a as a context) + k V), "
    "counted over the pairs (ids[i], ids[i + 1])",
    mistakes=(
        Mistake(
            "repeats_lost",
            "a pair that occurs several times is counted once: counts[ids[:-1], ids[1:]] += 1 writes each "
            "repeated pair once (NumPy's fancy-index += reads all entries first)",
            "count with np.add.at(counts, (ids[:-1], ids[1:]), 1), which adds every occurrence",
        ),
        Mistake(
            "no_kV",
            "the denominator adds k once instead of k * V: with k > 0 the rows no longer sum to 1",
            "k is added to each of the V entries of a row, so the row's total grows by k * V",
        ),
        Mistake(
            "columns",
            "the counts are normalized down the columns (over the first id) instead of along the rows",
            "P[a] is a distribution over the next id b given a: divide by the row sums, "
            "counts.sum(axis=1, keepdims=True)",
        ),
        Mistake(
            "all_occurrences",
            "the context counts are all occurrences of each id (np.bincount(ids)), including the last id, which "
            "is followed by nothing: the row of the last id does not sum to 1",
            "count a as a context only where something follows it: the row sums of the pair counts, "
            "counts.sum(axis=1), i.e. np.bincount(ids[:-1])",
        ),
        Mistake(
            "transposed",
            "the table is transposed: P[a, b] holds the count of b followed by a",
            "rows are the previous id, columns the next: count the pairs (ids[:-1], ids[1:]) in that order",
        ),
    ),
)


# --------------------------------------------------------------------------
# 7.7 softmax_with_temperature
# --------------------------------------------------------------------------


def _temperature_cases(rng: np.random.Generator) -> list[Case]:
    large = 10.0 * rng.random((2, 5))
    return [
        Case("temperature 1: the plain softmax (N = 2, V = 5)", {"scores": _normal(rng, 2, 5), "temperature": 1.0}),
        Case("temperature 2: flatter (N = 2, V = 5)", {"scores": _normal(rng, 2, 5), "temperature": 2.0}),
        Case("temperature 0.5: sharper (N = 3, V = 4)", {"scores": _normal(rng, 3, 4), "temperature": 0.5}),
        Case(
            "temperature 0.01, scores up to 10 (N = 2, V = 5): scores / T reach 1000",
            {"scores": large, "temperature": 0.01},
        ),
        Case(
            "temperature 0: all probability on each row's largest score (N = 3, V = 4)",
            {"scores": _normal(rng, 3, 4), "temperature": 0.0},
            hint="temperature is 0 here: scores / 0 is inf; temperature 0 is the limit of ever smaller "
            "temperatures, a one-hot row at each row's largest score (handle it with an if)",
        ),
        Case(
            "everything random: N = 4, V = 6, temperature 0.7",
            {"scores": _normal(rng, 4, 6, scale=2.0), "temperature": 0.7},
        ),
    ]


SOFTMAX_WITH_TEMPERATURE = Exercise(
    name="softmax_with_temperature",
    lesson=LESSON,
    number="7.7",
    points=2,
    returns=("probs",),
    graded=("probs",),
    make_cases=_temperature_cases,
    description="softmax(scores / temperature) over the last axis, stable at small temperatures; "
    "temperature 0 puts all probability on each row's largest score",
    mistakes=(
        Mistake(
            "multiplied",
            "the scores are multiplied by the temperature instead of divided by it",
            "softmax(scores / temperature): a temperature above 1 flattens the distribution, below 1 sharpens it",
        ),
        Mistake(
            "unstable",
            "exp of scores / temperature overflows at small temperatures: the maximum is not subtracted first",
            "divide by the temperature first, then subtract each row's maximum: "
            "z = scores / temperature; z - z.max(axis=-1, keepdims=True)",
        ),
        Mistake(
            "zero_not_special",
            "temperature 0 divides by zero: the probabilities are NaN",
            "treat temperature == 0 apart: a row of zeros with a 1 at the row's largest score "
            "(np.argmax(scores, axis=-1))",
        ),
        Mistake(
            "argmax_index",
            "temperature 0 returns the ids of the largest scores, shape (N,), instead of probabilities (N, V)",
            "return probabilities at every temperature: at 0, a one-hot row (zeros, and 1.0 at the argmax)",
        ),
        Mistake(
            "not_renormalized",
            "the probabilities are raised to the power 1 / temperature and not renormalized: the rows do not sum to 1",
            "p ** (1 / T) is proportional to softmax(scores / T), but only after dividing by its row sum; "
            "simpler: softmax(scores / T) directly",
        ),
    ),
)


# --------------------------------------------------------------------------
# 7.8 sample_next
# --------------------------------------------------------------------------

_STREAM_LENGTH = 64  # numbers of the seed's stream searched for where the learner's draws stopped


def _sample_cases(rng: np.random.Generator) -> list[Case]:
    def case(N, V, temperature, scale=1.0):
        return {
            "scores": _normal(rng, N, V, scale=scale),
            "temperature": temperature,
            "seed": int(rng.integers(0, 2**31)),
        }

    return [
        Case("temperature 1: N = 4 rows, V = 5", case(4, 5, 1.0)),
        Case("temperature 0: each row's largest score (N = 3, V = 4); no random number is needed", case(3, 4, 0.0)),
        Case("temperature 0.5: sharper (N = 5, V = 3)", case(5, 3, 0.5)),
        Case("everything random: N = 6, V = 7, temperature 1.3", case(6, 7, 1.3, scale=1.5)),
    ]


def _draws(seed: int, rng: np.random.Generator) -> int:
    """How many rng.random() numbers were drawn from ``rng``, a generator seeded with ``seed``, or -1
    when its next number is none of the first ones of that seed's stream (drawn in another way)."""
    after = rng.random()
    stream = np.random.default_rng(seed).random(_STREAM_LENGTH)
    found = np.flatnonzero(stream == after)
    return int(found[0]) if found.size else -1


def _call_sample(fn: Callable, inputs: dict, helpers: dict) -> Any:
    scores, temperature, seed = inputs["scores"], inputs["temperature"], inputs["seed"]
    rng = np.random.default_rng(seed)
    ids = fn(scores, temperature, rng)
    N = scores.shape[0]
    draws = _draws(seed, rng)
    if temperature != 0 and draws != N:  # at temperature 0 a sampler may draw or not
        said = "numbers in another way than rng.random() (rng.integers? rng.choice without p?)" if draws < 0 else (
            f"{draws} number{'' if draws == 1 else 's'} from rng"
        )
        raise CallProblem(
            "values",
            f"sample_next drew {said} for {N} rows: draw exactly one u = rng.random() per row, in row order "
            "(rng.random(N), or rng.choice(V, p=probs[n]) for each row n), so that a seed gives the same text "
            "on every machine",
        )
    check_kept(fn, "sample_next", ids, scores, temperature, np.random.default_rng(seed + 1))
    return ids


SAMPLE_NEXT = Exercise(
    name="sample_next",
    lesson=LESSON,
    number="7.8",
    points=3,
    returns=("ids",),
    graded=("ids",),
    make_cases=_sample_cases,
    call=_call_sample,
    uses=("softmax_with_temperature",),
    description="draw the next id of every row from softmax(scores / temperature) with the generator rng: one "
    "u = rng.random() per row, in row order, and the first id whose cumulative probability exceeds u "
    "(the argmax at temperature 0)",
    mistakes=(
        Mistake(
            "greedy_always",
            "the largest score's id is returned at every temperature: nothing is sampled",
            "argmax is only the temperature-0 case; otherwise draw u = rng.random() per row and take the first "
            "id whose cumulative probability exceeds u",
        ),
        Mistake(
            "one_u_for_all",
            "one random number is drawn for the whole batch and used for every row",
            "draw one number per row, u = rng.random(N) (or rng.random() inside the loop over rows)",
        ),
        Mistake(
            "temperature_ignored",
            "the temperature is ignored: the ids are drawn from softmax(scores)",
            "draw from softmax_with_temperature(scores, temperature)",
        ),
        Mistake(
            "uniform",
            "the ids are drawn uniformly (rng.integers), ignoring the probabilities",
            "draw u = rng.random() per row and invert the cumulative distribution: the first id whose "
            "cumulative probability exceeds u (or rng.choice(V, p=probs[n]), which does exactly that)",
        ),
        Mistake(
            "first_row_probs",
            "every row is drawn from the first row's probabilities (rng.choice(V, size=N, p=probs[0]))",
            "each row has its own distribution: draw row n from probs[n], e.g. rng.choice(V, p=probs[n]) "
            "in a loop over the rows",
        ),
    ),
)


EXERCISES = (
    EMBEDDING_FORWARD,
    EMBEDDING_BACKWARD,
    SOFTMAX_CROSS_ENTROPY,
    STREAM_BATCHES,
    PERPLEXITY,
    BIGRAM_PROBS,
    SOFTMAX_WITH_TEMPERATURE,
    SAMPLE_NEXT,
)
