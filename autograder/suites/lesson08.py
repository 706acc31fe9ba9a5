"""Lesson 08 · sentiment classification (many-to-one, padding and masking): what is graded and how.

Only plain numbers cross the grader's pipe, so a batch of sentences of different
lengths travels flat: ``tokens`` holds every sentence's ids one after the other
and ``sizes`` their lengths; :func:`_call_pad_batch` splits them into the list of
arrays the learner's ``pad_batch`` receives.

Padding is on the right throughout (a row's words at steps ``0 .. length - 1``,
the pads after them), the convention the readers of the lesson (the last real
step, the masked mean) and ``rnncourse.nn.bidirectional_forward(..., lengths=)``
expect. The states at padded steps in the reader cases are not zero (a recurrent
layer keeps running over the pads), so that reading or averaging them shows; the
number of steps T never equals the number of units H or of rows N, so that a mask
used without its feature axis crashes and a pairwise index taken as a slice shows
as a shape.

Every forward is called through ``call_keeping_inputs``, whose second call (on
other inputs, to catch a reused result) gets copies of the arguments: the
integer and boolean ones (``lengths``, ``mask``, ``ids``, ``y``) are not
flipped by the decoy, so a function that writes into one of them
(``lengths -= 1``) would otherwise change the first call's cache again and be
told it reuses its result, instead of that it changed its input.
"""

from __future__ import annotations

import numpy as np

from autograder.suites.core import (
    CallProblem,
    Case,
    Exercise,
    Mistake,
    call_backward,
    call_keeping_inputs,
    described,
)

LESSON = "08_sentiment"


def _normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape)).astype(np.float64)


def _ids(rng: np.random.Generator, sizes, low: int, high: int) -> np.ndarray:
    """Every sentence's ids, flat: ``sum(sizes)`` ids in [low, high)."""
    return rng.integers(low, high, size=int(np.sum(sizes))).astype(np.int64)


def _mask(lengths, T: int) -> np.ndarray:
    return np.arange(T) < np.asarray(lengths)[:, None]


# --------------------------------------------------------------------------
# 8.1 pad_batch
# --------------------------------------------------------------------------


def _pad_cases(rng: np.random.Generator) -> list[Case]:
    def case(sizes, pad_id, low=1, high=20):
        sizes = np.asarray(sizes, dtype=np.int64)
        ids = _ids(rng, sizes, low, high)
        ids[ids == pad_id] = high  # a real word never has the pad's id
        return {"tokens": ids, "sizes": sizes, "pad_id": pad_id}

    N = int(rng.integers(5, 8))
    sizes = rng.integers(1, 10, size=N)
    sizes[rng.integers(N)] = 1
    return [
        Case("three sentences of 3, 5 and 2 words, pad_id = 0", case([3, 5, 2], 0)),
        Case("four sentences of 4 words each (nothing to pad), pad_id = 0", case([4, 4, 4, 4], 0)),
        Case("three sentences of 2, 6 and 4 words, pad_id = 7", case([2, 6, 4], 7, low=0, high=7)),
        Case(
            "everything random: 5 to 7 sentences of 1 to 9 words, one of a single word, pad_id = 3",
            case(sizes, 3, low=0, high=30),
        ),
    ]


def _call_pad_batch(fn, inputs, helpers):
    edges = np.cumsum(inputs["sizes"])[:-1]
    sequences = [s.copy() for s in np.split(inputs["tokens"], edges)]  # the list the learner receives
    return call_keeping_inputs(fn, "pad_batch", sequences=sequences, pad_id=inputs["pad_id"])


PAD_BATCH = Exercise(
    name="pad_batch",
    lesson=LESSON,
    number="8.1",
    points=4,
    returns=("ids", "lengths", "mask"),
    graded=("ids", "lengths", "mask"),
    make_cases=_pad_cases,
    call=_call_pad_batch,
    description="a list of id sequences as one right-padded batch: ids (N, T), lengths (N,), mask (N, T)",
    mistakes=(
        Mistake(
            "left_padded",
            "the sentences are padded on the left (the pads first, the words last)",
            "this lesson's readers (last_step_forward, masked_mean_forward, and nn.bidirectional_forward "
            "with lengths) expect each row's words at steps 0 .. length - 1: put sentence n at "
            "ids[n, :len(s)], and its mask True there",
        ),
        Mistake(
            "lengths_minus_one",
            "lengths holds each sentence's last index, len(s) - 1, not its number of words (and the mask "
            "built from it misses the last word)",
            "lengths[n] = len(sequences[n]), the number of real steps; the last real step is lengths[n] - 1",
        ),
        Mistake(
            "mask_one_long",
            "the mask is True one step too far (np.arange(T) <= lengths), on the first pad of every "
            "padded row",
            "step t of row n is real when t < lengths[n]: np.arange(T) < lengths[:, None]",
        ),
        Mistake(
            "pads_with_zero",
            "the padding is 0, not pad_id (the batch was made with np.zeros)",
            "start from np.full((N, T), pad_id, dtype=np.int64), then copy each sentence in",
        ),
        Mistake(
            "mask_inverted",
            "the mask is True at the padding and False at the words (a padding mask, the convention of "
            "PyTorch's key_padding_mask)",
            "here mask marks what is real: True where a step holds a word, False at padding",
        ),
    ),
)


# --------------------------------------------------------------------------
# 8.2 bag_of_words
# --------------------------------------------------------------------------


def _bow_cases(rng: np.random.Generator) -> list[Case]:
    def case(ids, lengths, V):
        ids = np.asarray(ids, dtype=np.int64)
        return {"ids": ids, "mask": _mask(lengths, ids.shape[1]), "vocab_size": V}

    N, T, V = 5, 8, 11
    lengths = rng.integers(1, T + 1, size=N)
    lengths[0] = T
    ids = rng.integers(1, V, size=(N, T))
    ids[~_mask(lengths, T)] = 0
    return [
        Case("no padding, every word once", case([[1, 2, 3, 4], [5, 6, 7, 8]], [4, 4], 9)),
        Case("no padding, a word repeated (1 twice, 5 three times)", case([[1, 3, 1, 2], [5, 5, 4, 5]], [4, 4], 6)),
        Case(
            "right-padded with id 0 (lengths 5, 2, 3)",
            case([[3, 1, 4, 1, 5], [2, 6, 0, 0, 0], [5, 3, 5, 0, 0]], [5, 2, 3], 7),
        ),
        Case(
            "right-padded with id 5, the last id, and 0 a real word (lengths 4, 2, 1)",
            case([[0, 3, 0, 2], [4, 0, 5, 5], [2, 5, 5, 5]], [4, 2, 1], 6),
        ),
        Case("everything random: 5 sentences of 1 to 8 words, 11 ids, padded with id 0", case(ids, lengths, V)),
    ]


def _call_bow(fn, inputs, helpers):
    counts = call_keeping_inputs(
        fn, "bag_of_words", ids=inputs["ids"], mask=inputs["mask"], vocab_size=inputs["vocab_size"]
    )
    if isinstance(counts, np.ndarray) and counts.dtype.kind in "iub":
        counts = counts.astype(np.float64)  # np.bincount gives integers: counts are counts either way
    return counts


BAG_OF_WORDS = Exercise(
    name="bag_of_words",
    lesson=LESSON,
    number="8.2",
    points=3,
    returns=("counts",),
    graded=("counts",),
    make_cases=_bow_cases,
    call=_call_bow,
    description="word counts per sentence, counts[n, v] = how often id v occurs among row n's real steps",
    mistakes=(
        Mistake(
            "counts_padding",
            "the padding is counted: every padded row gains counts of the pad's id",
            "count only the real steps: the ids where mask is True (ids[n][mask[n]] for row n)",
        ),
        Mistake(
            "presence_only",
            "a word that occurs several times in a sentence is counted once (counts[n, ids] += 1 adds "
            "once per distinct index, or the counts were set to 1)",
            "NumPy's fancy += does not accumulate repeated indices: use np.add.at(counts, (rows, ids), 1) or "
            "np.bincount(ids[n][mask[n]], minlength=vocab_size) row by row",
        ),
        Mistake(
            "pad_is_zero",
            "the padding is found as id 0 (ids != 0, or the column of id 0 dropped) instead of by the mask: "
            "a batch padded with another id gets counts of its pad, and a real word of id 0 is lost",
            "let the mask say which steps are real, whatever the pad's id: count ids[n][mask[n]] for row n",
        ),
        Mistake(
            "normalized",
            "each row is divided by its length: frequencies, not counts",
            "return the raw counts; a row sums to the sentence's number of words",
        ),
        Mistake(
            "batch_total",
            "one histogram for the whole batch, shape (vocab_size,), instead of one row per sentence",
            "counts has shape (N, vocab_size): count each row's words into its own row",
        ),
    ),
)


# --------------------------------------------------------------------------
# 8.4 last_step_forward, 8.5 last_step_backward
# --------------------------------------------------------------------------

_FULL_ROWS_HINT = (
    "if it is an IndexError past the end of the time axis: here a row has T real steps, so its last "
    "real step is T - 1, and an index of lengths instead of lengths - 1 goes one step too far"
)


def _reader_case(rng, lengths, T, H, upstream=False):
    lengths = np.asarray(lengths, dtype=np.int64)
    N = len(lengths)
    out = {"h": np.tanh(_normal(rng, N, T, H, scale=1.5)), "lengths": lengths}
    if upstream:
        out = {"dh_last": _normal(rng, N, H), **out}
    return out


def _last_cases(rng: np.random.Generator, upstream: bool = False) -> list[Case]:
    N, T, H = 3, 6, 4
    lengths = rng.integers(1, 8, size=5)
    lengths[2] = 8
    return [
        Case(
            "no padding: every row has T = 6 real steps",
            _reader_case(rng, [T] * N, T, H, upstream),
            hint=_FULL_ROWS_HINT,
        ),
        Case(
            "padded to a fixed T = 6, longer than every row (lengths 4, 2, 5)",
            _reader_case(rng, [4, 2, 5], T, H, upstream),
        ),
        Case(
            "right-padded to the longest row (lengths 2, 6, 3)",
            _reader_case(rng, [2, 6, 3], T, H, upstream),
            hint=_FULL_ROWS_HINT,
        ),
        Case(
            "everything random: 5 rows of 1 to 8 steps, T = 8, H = 3",
            _reader_case(rng, lengths, 8, 3, upstream),
            hint=_FULL_ROWS_HINT,
        ),
    ]


def _call_last_forward(fn, inputs, helpers):
    return call_keeping_inputs(fn, "last_step_forward", h=inputs["h"], lengths=inputs["lengths"])


LAST_STEP_FORWARD = Exercise(
    name="last_step_forward",
    lesson=LESSON,
    number="8.4",
    points=3,
    returns=("h_last", "cache"),
    graded=("h_last",),
    make_cases=_last_cases,
    call=_call_last_forward,
    description="each row's state at its own last real step: h_last[n] = h[n, lengths[n] - 1]",
    mistakes=(
        Mistake(
            "reads_padding",
            "h[:, -1] is read: for a right-padded row that is the state after the padding, not after its "
            "last word",
            "each row ends at its own step: h[np.arange(N), lengths - 1]",
        ),
        Mistake(
            "lengths_not_minus_one",
            "the step after the last real one is read (index lengths instead of lengths - 1): the first "
            "pad, or past the end of the time axis for a row without padding",
            "a row of length L has its last word at step L - 1: h[np.arange(N), lengths - 1]",
        ),
        Mistake(
            "slice_not_pairs",
            "h[:, lengths - 1] takes every row's last step for every row, shape (N, N, H)",
            "index both axes with arrays, which pairs them up: h[np.arange(N), lengths - 1] picks one "
            "step per row",
        ),
        Mistake(
            "kept_time_axis",
            "the time axis is kept, shape (N, 1, H) (np.take_along_axis keeps the axis it indexes)",
            "drop the axis of size 1 (h_last[:, 0]), or index with h[np.arange(N), lengths - 1]",
        ),
    ),
)


def _other_rows_on_second_call(helpers: dict, forward: str) -> dict:
    """``helpers`` with the learner's ``forward`` wrapped so that its second call also gets its integer
    and boolean arrays (lengths, mask) in reversed row order.

    :func:`call_backward` runs the forward three times: on the case, on other inputs (the case's float
    arrays flipped), and on the case again; a backward that reads what the last forward left behind
    instead of its cache is caught when the second call changes its gradients. The gradient of reading
    the last step or of a masked mean depends on the lengths or the mask alone, which flipping floats
    keeps, so the second call here gets other rows' lengths as well.
    """
    inner, calls = helpers[forward], [0]

    def wrapped(*args):
        calls[0] += 1
        if calls[0] == 2:
            args = tuple(
                a[::-1].copy() if isinstance(a, np.ndarray) and a.dtype.kind in "biu" else a for a in args
            )
        return inner(*args)

    return {**helpers, forward: wrapped}


def _call_reader_backward(name: str, forward: str, forward_inputs: tuple, upstream: str, returns: str):
    def call(fn, inputs, helpers):
        _, result = call_backward(
            fn,
            name,
            _other_rows_on_second_call(helpers, forward),
            forward,
            tuple(inputs[k] for k in forward_inputs),
            [inputs[upstream]],
            returns,
        )
        return result

    return call


_call_last_backward = _call_reader_backward(
    "last_step_backward", "last_step_forward", ("h", "lengths"), "dh_last", "(h_last, cache)"
)


LAST_STEP_BACKWARD = Exercise(
    name="last_step_backward",
    lesson=LESSON,
    number="8.5",
    points=3,
    returns=("dh",),
    graded=("dh",),
    make_cases=lambda rng: _last_cases(rng, upstream=True),
    needs=("last_step_forward",),
    call=_call_last_backward,
    description="the gradient w.r.t. h (N, T, H) of reading each row's last real step: dh_last there, 0 elsewhere",
    mistakes=(
        Mistake(
            "into_last_column",
            "the gradient goes to the last column, dh[:, -1], which is padding for every padded row",
            "the forward read h[n, lengths[n] - 1]; only those steps get a gradient: "
            "dh[np.arange(N), lengths - 1] = dh_last",
        ),
        Mistake(
            "every_step",
            "dh_last is copied to every step, padding included",
            "only the step that was read affects the loss: every other step of dh stays 0",
        ),
        Mistake(
            "slice_not_pairs",
            "dh[:, lengths - 1] = dh_last writes every row's gradient at every row's last step (a slice, "
            "not pairs): it leaks into other rows' steps and into padding",
            "index both axes with arrays, which pairs them up: dh[np.arange(N), lengths - 1] = dh_last",
        ),
        Mistake(
            "lengths_not_minus_one",
            "the gradient goes to the step after the last real one (index lengths instead of "
            "lengths - 1): the first pad, or past the end for a row without padding",
            "the last real step of a row of length L is L - 1",
        ),
    ),
)


# --------------------------------------------------------------------------
# 8.6 masked_mean_forward, 8.7 masked_mean_backward
# --------------------------------------------------------------------------


def _mean_case(rng, lengths, T, H, upstream=False):
    out = {"h": np.tanh(_normal(rng, len(lengths), T, H, scale=1.5)), "mask": _mask(lengths, T)}
    if upstream:
        out = {"dh_mean": _normal(rng, len(lengths), H), **out}
    return out


def _mean_cases(rng: np.random.Generator, upstream: bool = False) -> list[Case]:
    lengths = rng.integers(1, 8, size=4)
    lengths[1] = 7
    return [
        Case("no padding: 2 rows of T = 5 real steps, H = 3", _mean_case(rng, [5, 5], 5, 3, upstream)),
        Case("one padded row (lengths 5 and 2), T = 5, H = 3", _mean_case(rng, [5, 2], 5, 3, upstream)),
        Case("everything random: 4 rows of 1 to 7 steps, T = 7, H = 4", _mean_case(rng, lengths, 7, 4, upstream)),
    ]


def _call_mean_forward(fn, inputs, helpers):
    return call_keeping_inputs(fn, "masked_mean_forward", h=inputs["h"], mask=inputs["mask"])


_MASK_AXIS = Mistake(
    "mask_not_expanded",
    "h * mask is computed with mask of shape (N, T) against h of shape (N, T, H): NumPy lines up the "
    "last axes (T against H) and cannot broadcast them",
    "give the mask a feature axis: m = mask[:, :, None] (N, T, 1), then h * m",
)

MASKED_MEAN_FORWARD = Exercise(
    name="masked_mean_forward",
    lesson=LESSON,
    number="8.6",
    points=3,
    returns=("h_mean", "cache"),
    graded=("h_mean",),
    make_cases=_mean_cases,
    call=_call_mean_forward,
    description="each row's mean state over its real steps: sum(mask * h) / (number of real steps)",
    mistakes=(
        Mistake(
            "counts_padding",
            "the mean runs over all T steps, padding included (h.mean(axis=1))",
            "sum over the real steps only (h * mask[:, :, None]) and divide by each row's number of real steps",
        ),
        Mistake(
            "divides_by_T",
            "the padding is zeroed, but the sum is divided by T instead of each row's number of real steps",
            "divide by mask.sum(axis=1)[:, None], a count per row",
        ),
        Mistake(
            "sum_not_mean",
            "the masked sum is returned, not divided by the number of real steps",
            "divide the sum over real steps by mask.sum(axis=1)[:, None]",
        ),
        Mistake(
            "one_count_for_batch",
            "the sum of each row is divided by the number of real steps of the whole batch (mask.sum())",
            "each row has its own count: mask.sum(axis=1), kept as a column (N, 1)",
        ),
        _MASK_AXIS,
    ),
)


_call_mean_backward = _call_reader_backward(
    "masked_mean_backward", "masked_mean_forward", ("h", "mask"), "dh_mean", "(h_mean, cache)"
)


MASKED_MEAN_BACKWARD = Exercise(
    name="masked_mean_backward",
    lesson=LESSON,
    number="8.7",
    points=3,
    returns=("dh",),
    graded=("dh",),
    make_cases=lambda rng: _mean_cases(rng, upstream=True),
    needs=("masked_mean_forward",),
    call=_call_mean_backward,
    description="the gradient w.r.t. h (N, T, H) of the masked mean: dh_mean / count at real steps, exactly 0 at padding",
    mistakes=(
        Mistake(
            "leaks_into_padding",
            "the gradient leaks into the padded steps: dh_mean / count is spread over every step",
            "padded steps did not enter the mean, so their gradient is exactly 0: multiply by the mask "
            "(mask[:, :, None])",
        ),
        Mistake(
            "gradient_of_plain_mean",
            "this is the gradient of the plain mean over all T steps (dh_mean / T at every step, padding included)",
            "the forward averaged the real steps only: dh = mask[:, :, None] * dh_mean[:, None, :] / count",
        ),
        Mistake(
            "divides_by_T",
            "the padding gets 0, but the real steps get dh_mean / T instead of dh_mean / (number of real steps)",
            "each row's real steps share its gradient: divide by that row's count, mask.sum(axis=1)",
        ),
        Mistake(
            "no_division",
            "the real steps get dh_mean itself: this is the gradient of the masked sum, not of the mean",
            "the mean divides by the row's count, so its gradient does too",
        ),
        Mistake(
            "one_count_for_batch",
            "the gradient is divided by the number of real steps of the whole batch, not of each row",
            "divide by each row's own count, mask.sum(axis=1), kept as a column",
        ),
    ),
)


# --------------------------------------------------------------------------
# 8.3 sigmoid_cross_entropy
# --------------------------------------------------------------------------

LOSS_RETURNS = ("loss", "dlogits")


def _sce_cases(rng: np.random.Generator) -> list[Case]:
    N = 7
    logits = _normal(rng, N, scale=3.0)
    logits[[1, 4]] = [1000.0, -1000.0]
    return [
        Case("moderate logits, every label 1", {"logits": _normal(rng, 5, scale=2.0), "y": np.ones(5, dtype=np.int64)}),
        Case("moderate logits, every label 0", {"logits": _normal(rng, 4, scale=2.0), "y": np.zeros(4, dtype=np.int64)}),
        Case(
            "logits of -1000 and -40, labels 0 and 1 (exp(-z) overflows)",
            {"logits": np.array([-1000.0, -1000.0, -40.0, -40.0]), "y": np.array([0, 1, 0, 1], dtype=np.int64)},
        ),
        Case(
            "logits of +1000 and +40, labels 0 and 1 (exp(z) overflows)",
            {"logits": np.array([1000.0, 1000.0, 40.0, 40.0]), "y": np.array([0, 1, 0, 1], dtype=np.int64)},
        ),
        Case(
            "everything random: 7 logits, two of them +1000 and -1000",
            {"logits": logits, "y": rng.integers(0, 2, size=N).astype(np.int64)},
        ),
    ]


def _call_sce(fn, inputs, helpers):
    result = call_keeping_inputs(fn, "sigmoid_cross_entropy", logits=inputs["logits"], y=inputs["y"])
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CallProblem(
            "returns", f"sigmoid_cross_entropy should return a tuple (loss, dlogits), got {described(result, returned=True)}"
        )
    loss, dlogits = result
    if isinstance(loss, (float, int, np.floating, np.integer)) and not isinstance(loss, (bool, np.bool_)):
        loss = np.asarray(loss, dtype=np.float64)  # a Python float, compared like a 0-d array
    return loss, dlogits


SIGMOID_CROSS_ENTROPY = Exercise(
    name="sigmoid_cross_entropy",
    lesson=LESSON,
    number="8.3",
    points=4,
    returns=LOSS_RETURNS,
    graded=LOSS_RETURNS,
    make_cases=_sce_cases,
    call=_call_sce,
    description="the mean binary cross-entropy of sigmoid(logits) against labels y, and its gradient; "
    "finite for logits of +-1000",
    mistakes=(
        Mistake(
            "log_of_sigmoid",
            "the loss takes the log of sigmoid(z) and of 1 - sigmoid(z): at z = -1000, sigmoid(z) is 0 in "
            "float64 and its log is -inf (at z = +1000, 1 - sigmoid(z) is); a 0 * -inf turns into NaN",
            "never compute the probability first: -log sigmoid(z) = log(1 + exp(-z)), and the loss of one "
            "example is max(z, 0) - z * y + log1p(exp(-|z|))",
        ),
        Mistake(
            "softplus_overflow",
            "the loss is log(1 + exp(z)) - z * y: exp(z) overflows to inf for large positive z",
            "rewrite log(1 + exp(z)) as max(z, 0) + log1p(exp(-|z|)): exp then only sees numbers <= 0",
        ),
        Mistake(
            "clipped_probs",
            "the probabilities are clipped (to about [1e-7, 1 - 1e-7]) before the log: finite, but an "
            "example at z = 1000 on the wrong side costs about 16 instead of 1000",
            "compute the loss from the logit itself, max(z, 0) - z * y + log1p(exp(-|z|)), which needs no clipping",
        ),
        Mistake(
            "clipped_probs_1e15",
            "the probabilities are clipped to [1e-15, 1 - 1e-15] before the log (the eps of many "
            "from-scratch losses): finite, but an example at z = 1000 on the wrong side costs about 35 "
            "instead of 1000",
            "compute the loss from the logit itself, max(z, 0) - z * y + log1p(exp(-|z|)), which needs no clipping",
        ),
        Mistake(
            "gradient_sign",
            "dlogits has the wrong sign: (y - sigmoid(z)) / N",
            "the loss falls as z moves towards the label, so its gradient is (sigmoid(z) - y) / N: a "
            "gradient descent step z -= lr * dlogits then raises z where y = 1",
        ),
        Mistake(
            "grad_not_averaged",
            "the loss is the mean, but dlogits is not divided by N (it is the gradient of the sum)",
            "the loss averages over the N examples, so each example's gradient carries 1/N: (sigmoid(z) - y) / N",
        ),
        Mistake(
            "sum_not_mean",
            "the loss is the sum over the batch, not the mean (and dlogits its gradient)",
            "average over the batch (losses.mean()), so that the loss and the learning rate do not "
            "depend on the batch size; divide the gradient by N too",
        ),
        Mistake(
            "per_example_loss",
            "the loss is returned per example, shape (N,), instead of their mean",
            "return one number, the mean over the batch: float(losses.mean())",
        ),
    ),
)


EXERCISES = (
    PAD_BATCH,
    BAG_OF_WORDS,
    SIGMOID_CROSS_ENTROPY,
    LAST_STEP_FORWARD,
    LAST_STEP_BACKWARD,
    MASKED_MEAN_FORWARD,
    MASKED_MEAN_BACKWARD,
)
