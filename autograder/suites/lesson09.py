"""Lesson 09 · sequence to sequence and attention: what is graded and how.

Ids follow NOTATION.md: ``PAD, START, END = 0, 1, 2``; real tokens have ids 3 and
up. Every id array is int64 and every mask bool (True where a position counts or
may be attended to).

* ``teacher_forcing_batch`` is compared only where it matters: what stands after
  a row's END step is never read by a decoder that runs left to right, so its
  ``call`` writes PAD there in both ``dec_in`` and ``dec_target`` before they are
  compared (the mask itself is compared in full). Shifting ``dec_target`` to get
  ``dec_in`` (an END one step after it) and writing PAD there are both right.
* ``greedy_decode`` takes a step function, which cannot cross the grader's pipe;
  its ``call`` builds one from the case's numbers (:func:`_scripted_step`): a
  decoder whose every output is fixed in advance by a *script*, so that each case
  says exactly when each row emits END, and each way of decoding wrongly (not
  feeding the prediction back, not carrying the state, stopping too early or too
  late) gives other ids by construction, on every hidden seed too.
* Scalars (the loss) are compared as 0-d float64 arrays.

Sizes differ from each other (Hq != Hk != A, T != S but in the self-attention
cases) so that a transposed weight or a wrong axis shows as a wrong shape.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.suites.core import (
    Case,
    Exercise,
    Mistake,
    call_backward,
    call_fresh,
    call_keeping_inputs,
    described,
)

LESSON = "09_seq2seq_attention"
PAD, START, END = 0, 1, 2
FIRST_REAL = 3  # the smallest id of a real token


def _normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape)).astype(np.float64)


def _padded_ids(rng: np.random.Generator, lengths, L: int, V: int) -> np.ndarray:
    """(N, L) int64 ids of real tokens (FIRST_REAL .. V - 1), PAD after each row's length."""
    lengths = np.asarray(lengths)
    y = rng.integers(FIRST_REAL, V, size=(len(lengths), L)).astype(np.int64)
    y[np.arange(L) >= lengths[:, None]] = PAD
    return y


def _as_float(value):
    """A scalar result as a 0-d float64 array, so that it is compared like an array."""
    if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    ):
        return np.asarray(value, dtype=np.float64)
    return value


def _lengths_mask(lengths, S: int) -> np.ndarray:
    return np.arange(S) < np.asarray(lengths)[:, None]


# --------------------------------------------------------------------------
# 9.1 teacher_forcing_batch
# --------------------------------------------------------------------------


def _batch_cases(rng: np.random.Generator) -> list[Case]:
    V = 14
    n = int(rng.integers(5, 7))
    L = int(rng.integers(6, 9))
    lengths = rng.integers(1, L + 1, size=n)
    lengths[rng.integers(n)] = L  # one row without padding
    return [
        Case(
            "rows of lengths 3, 1, 5 and 2; the longest fills the row (no padding)",
            {"y": _padded_ids(rng, [3, 1, 5, 2], 5, V)},
        ),
        Case(
            "a batch padded wider than its longest row: lengths 2, 4 and 1 in rows of 6",
            {"y": _padded_ids(rng, [2, 4, 1], 6, V)},
            hint="here no row fills y: the width of the outputs is y.shape[1] + 1, whatever the lengths",
        ),
        Case(
            "everything random: 5 or 6 rows of random lengths, one of them full",
            {"y": _padded_ids(rng, lengths, L, V)},
        ),
    ]


def _call_batch(fn: Callable, inputs: dict, helpers: dict):
    y = inputs["y"]
    raw = call_fresh(fn, "teacher_forcing_batch", y)
    if not isinstance(raw, (tuple, list)) or len(raw) != 3:
        return raw  # the returned structure is judged as usual
    N, L = y.shape
    counted = np.arange(L + 1) <= (y != PAD).sum(axis=1)[:, None]  # the steps a decoder reads

    def blank(ids):  # after the END step nothing is read: PAD there, so any filler passes
        if isinstance(ids, np.ndarray) and ids.shape == (N, L + 1) and ids.dtype.kind in "iu":
            return np.where(counted, ids, PAD).astype(ids.dtype)
        return ids

    return blank(raw[0]), blank(raw[1]), raw[2]


TEACHER_FORCING_BATCH = Exercise(
    name="teacher_forcing_batch",
    lesson=LESSON,
    number="9.1",
    points=3,
    returns=("dec_in", "dec_target", "mask"),
    graded=("dec_in", "dec_target", "mask"),
    make_cases=_batch_cases,
    call=_call_batch,
    description="from padded target ids y (N, L): the decoder's inputs (START, then y), its targets "
    "(y, then END) and the loss mask (the real steps and the END step), each (N, L + 1)",
    mistakes=(
        Mistake(
            "leak",
            "the decoder's input at step t is the target of step t (dec_in equals dec_target): it is shown "
            "the very id it must predict, a leak that makes training easy and decoding impossible",
            "the input at step t is the target of step t - 1: START first, then y shifted one step right, "
            "dec_in = [START, y_0, y_1, ...]",
        ),
        Mistake(
            "not_shifted",
            "dec_in is y itself, not shifted behind a START token",
            "put START in front and shift y one step right: np.concatenate([START column, y], axis=1)",
        ),
        Mistake(
            "start_overwrites_first",
            "START is written over the first id of y instead of in front of it (dec_in[:, 0] = START on a "
            "copy of y), so y_0 never reaches the decoder and the rest is not shifted",
            "shift, do not overwrite: dec_in = [START, y_0, y_1, ...] is one column wider than y",
        ),
        Mistake(
            "end_in_last_column",
            "END is put in the last column of every row, not right after each row's last real id",
            "a row of length n has its END at index n: dec_target[np.arange(N), lengths] = END, with "
            "lengths = (y != PAD).sum(axis=1)",
        ),
        Mistake(
            "no_end_step",
            "the targets have no END and the mask stops at the last real id: the model is never taught to "
            "stop, and greedy decoding runs to the maximum length",
            "write END right after each row's last real id and count that step in the mask",
        ),
        Mistake(
            "mask_excludes_end",
            "the mask leaves out the END step (mask = t < length), so the model is never taught to stop",
            "the END step is a prediction like any other: mask = t <= length",
        ),
        Mistake(
            "mask_includes_padding",
            "the mask is True everywhere: the loss does not stop at the end token, and the padding after it "
            "counts as targets to learn",
            "only the real steps and the END step count: mask = np.arange(L + 1) <= lengths[:, None]",
        ),
        Mistake(
            "lengths_from_argmax",
            "each row's length is taken as the index of its first PAD (np.argmax(y == PAD, axis=1)), which "
            "is 0 for a row without padding",
            "argmax of an all-False row is 0; count the real ids instead: lengths = (y != PAD).sum(axis=1)",
        ),
    ),
)


# --------------------------------------------------------------------------
# 9.2 teacher_forced_loss
# --------------------------------------------------------------------------


def _loss_inputs(rng, lengths, L, D, H, V, *, E=True, h_enc=True):
    N = len(lengths)
    return {
        "y": _padded_ids(rng, lengths, L, V),
        "h_enc": _normal(rng, N, H, scale=0.8) if h_enc else np.zeros((N, H)),
        "E": _normal(rng, V, D) if E else np.zeros((V, D)),
        "W_xh": _normal(rng, D, H, scale=0.8),
        "W_hh": _normal(rng, H, H, scale=0.5),
        "b_h": _normal(rng, H, scale=0.2),
        "W_hy": _normal(rng, H, V, scale=1.2),
        "b_y": _normal(rng, V, scale=0.3),
    }


def _loss_cases(rng: np.random.Generator) -> list[Case]:
    L, D, H, V = 4, 2, 5, 7
    n = 4
    lengths = rng.integers(1, 6, size=n)
    lengths[rng.integers(n)] = 5
    return [
        Case(
            "E = 0: the decoder sees only the encoder's state h_enc; rows of lengths 4, 2, 1",
            _loss_inputs(rng, [4, 2, 1], L, D, H, V, E=False),
        ),
        Case(
            "h_enc = 0: the decoder sees only its inputs; rows of lengths 1, 4, 3",
            _loss_inputs(rng, [1, 4, 3], L, D, H, V, h_enc=False),
        ),
        Case(
            "everything random, other sizes (L = 5, D = 3, H = 4, V = 9), rows of random lengths",
            _loss_inputs(rng, lengths, 5, 3, 4, 9),
        ),
    ]


def _call_loss(fn: Callable, inputs: dict, helpers: dict):
    raw = call_fresh(fn, "teacher_forced_loss", *inputs.values())
    if isinstance(raw, (tuple, list)) and len(raw) == 2:
        return _as_float(raw[0]), raw[1]
    return raw


TEACHER_FORCED_LOSS = Exercise(
    name="teacher_forced_loss",
    lesson=LESSON,
    number="9.2",
    points=3,
    returns=("loss", "scores"),
    graded=("loss", "scores"),
    make_cases=_loss_cases,
    call=_call_loss,
    uses=("teacher_forcing_batch",),
    description="the decoder run with teacher forcing from the encoder's state h_enc: scores (N, L + 1, V) "
    "and the mean cross-entropy over the steps the mask counts",
    mistakes=(
        Mistake(
            "leak",
            "the decoder reads dec_target instead of dec_in: at step t it is given the id it must predict",
            "embed the inputs, E[dec_in]; dec_target is only what the scores are compared with",
        ),
        Mistake(
            "targets_not_shifted",
            "the loss compares each step's scores with that step's input (dec_in) instead of its target: "
            "the model is taught to repeat what it was given",
            "the target of step t is dec_target[:, t], the input of step t + 1",
        ),
        Mistake(
            "encoder_ignored",
            "the decoder starts from zeros instead of h_enc: it never sees the source",
            "the encoder's state is the decoder's initial state: rnn_forward(E[dec_in], h_enc, ...)",
        ),
        Mistake(
            "padding_counted",
            "the loss is the mean over every step, padding included (the mask is not used)",
            "average only where the mask is True: np.sum(nll * mask) / np.sum(mask)",
        ),
        Mistake(
            "divided_by_all_steps",
            "the masked sum is divided by the number of all steps, N * (L + 1), not by the number of steps "
            "that count",
            "divide by np.sum(mask), the number of steps that count",
        ),
        Mistake(
            "divided_by_rows",
            "the masked sum is divided by the number of sequences N: a loss per sequence (as CS231n's "
            "temporal_softmax_loss has it), not the mean over the counted steps",
            "divide by np.sum(mask), the number of steps that count, not by N: every counted step of the "
            "batch weighs the same",
        ),
        Mistake(
            "summed",
            "the loss is the sum over the counted steps, not their mean",
            "divide the masked sum by np.sum(mask)",
        ),
        Mistake(
            "mean_per_sequence",
            "the loss averages each sequence over its own steps, then the sequences: a step of a short "
            "sequence weighs more than one of a long sequence",
            "this course averages over all counted steps of the batch at once, every step weighing the same "
            "(as rnncourse.nn.softmax_cross_entropy and PyTorch do): np.sum(nll * mask) / np.sum(mask)",
        ),
    ),
)


# --------------------------------------------------------------------------
# 9.3 greedy_decode
# --------------------------------------------------------------------------


def _scripted_step(script: np.ndarray, h0: np.ndarray, noise: np.ndarray) -> Callable:
    """A decoder step whose outputs are fixed in advance: ``step(prev_ids, h) -> (scores, h_next)``.

    Row n's state carries a clock (column 0, +1 per step) and the row's identity (the other
    columns, as in h0), so the step also works on any subset of the rows. At step c (the
    clock), fed the id it emitted at c - 1 (START at c = 0), row n's scores peak at
    ``script[n, c]``; fed anything else, they peak at the id after it (wrapping round the
    real ids), so a decoder that does not feed back its own predictions emits other ids.
    ``noise`` (N, V) in [0, 1) makes the scores look like a model's; the peak is 2 above it.
    """
    V = noise.shape[1]

    def step(prev_ids, h):
        prev, h = np.asarray(prev_ids), np.asarray(h)
        if prev.ndim != 1 or prev.dtype.kind not in "iu":
            raise TypeError(
                "step(prev_ids, h): prev_ids must be a 1-D array of integer ids, one per row, got "
                f"{described(prev_ids, count=False)} of dtype {getattr(prev, 'dtype', '?')} and shape "
                f"{getattr(prev, 'shape', '?')} (np.full(N, START) gives integers; np.zeros gives floats)"
            )
        if h.ndim != 2 or h.shape[1] != h0.shape[1] or h.shape[0] != prev.shape[0]:
            raise ValueError(
                f"step(prev_ids, h): h must have shape (n, {h0.shape[1]}) with one row per id in prev_ids "
                f"({prev.shape[0]}), got {h.shape}; pass the state the last step returned (h0 at first)"
            )
        same = np.all(h[:, None, 1:] == h0[None, :, 1:], axis=2)  # (n, N): which row of h0 each is
        if not np.all(same.sum(axis=1) == 1):
            raise ValueError(
                "step(prev_ids, h): h is not a state this step returned (nor h0); pass on the h each call "
                "returns, unchanged"
            )
        row = same.argmax(axis=1)
        clock = np.rint(h[:, 0] - h0[row, 0]).astype(np.int64)
        if np.any(clock < 0) or np.any(clock >= script.shape[1]):
            raise ValueError(
                f"step(prev_ids, h): called more than {script.shape[1]} times on one row"
            )
        expected_prev = np.where(clock == 0, START, script[row, np.maximum(clock - 1, 0)])
        out = script[row, clock]
        out = np.where(prev == expected_prev, out, _next_real(out, V))
        scores = noise[row].copy()
        scores[np.arange(len(row)), out] += 2.0
        h_next = h.copy()
        h_next[:, 0] += 1.0
        return scores, h_next

    return step


def _next_real(ids, V: int):
    """The real id after each of ``ids``, wrapping round (FIRST_REAL .. V - 1); FIRST_REAL after END."""
    ids = np.asarray(ids)
    return np.where(
        ids < FIRST_REAL, FIRST_REAL, FIRST_REAL + (ids - FIRST_REAL + 1) % (V - FIRST_REAL)
    )


def _script(rng, ends, K: int, V: int) -> np.ndarray:
    """(N, K) ids: real ids, with END at ``ends[n]`` (None: no END) and real ids after it too.

    No id is the one after its predecessor (``_next_real``), which is what the step emits
    when it is fed something else than its own last output: a decoder that does not feed
    back its prediction, or does not carry the state, then emits other ids by construction.
    """
    script = np.empty((len(ends), K), dtype=np.int64)
    for n, end in enumerate(ends):
        for c in range(K):
            token = int(rng.integers(FIRST_REAL, V))
            if c > 0 and token == _next_real(script[n, c - 1], V):
                token = int(_next_real(token, V))
            script[n, c] = token
        if end is not None:
            script[n, end] = END
    return script


def _decode_inputs(rng, ends, max_len, V=7, H=3):
    N = len(ends)
    h0 = np.zeros((N, H))
    h0[:, 0] = _normal(rng, N)
    identity = rng.permutation(N * (H - 1)).reshape(N, H - 1)  # distinct rows
    h0[:, 1:] = identity + rng.random((N, H - 1))
    return {
        "script": _script(rng, ends, max_len + 2, V),
        "noise": rng.random((N, V)),
        "h0": h0,
        "max_len": max_len,
    }


def _decode_cases(rng: np.random.Generator) -> list[Case]:
    max_len = int(rng.integers(6, 9))
    n = int(rng.integers(4, 7))
    ends: list = [int(e) for e in rng.integers(1, max_len - 1, size=n)]
    ends[0] = None  # one row never ends: it runs to max_len
    ends = [ends[i] for i in rng.permutation(n)]
    return [
        Case("one row (N = 1) that emits END at step 3, max_len = 8", _decode_inputs(rng, [3], 8)),
        Case(
            "4 rows that emit END at steps 2, 0, 5 and 3, max_len = 8",
            _decode_inputs(rng, [2, 0, 5, 3], 8),
        ),
        Case(
            "everything random: 4 to 6 rows that emit END at random steps, one never, max_len 6 to 8",
            _decode_inputs(rng, ends, max_len),
        ),
    ]


def _call_decode(fn: Callable, inputs: dict, helpers: dict):
    step = _scripted_step(inputs["script"], inputs["h0"], inputs["noise"])
    return call_fresh(fn, "greedy_decode", step, inputs["h0"], inputs["max_len"])


GREEDY_DECODE = Exercise(
    name="greedy_decode",
    lesson=LESSON,
    number="9.3",
    points=4,
    returns=("ids",),
    graded=("ids",),
    make_cases=_decode_cases,
    call=_call_decode,
    description="greedy decoding with a step function from START: each row's most likely id, fed back, "
    "until it emits END (kept) or max_len steps; ids (N, max_len), PAD after a row's END",
    mistakes=(
        Mistake(
            "past_end",
            "decoding goes on past the end token: what a row emits after its END is kept instead of PAD",
            "remember which rows are done (done |= ids == END after each step) and write PAD for them: "
            "np.where(done, PAD, prediction)",
        ),
        Mistake(
            "end_dropped",
            "the END a row emits is replaced by PAD: the output does not say where the row ended",
            "write the END itself; PAD starts at the step after it (update done after writing the step)",
        ),
        Mistake(
            "stops_at_first_end",
            "the whole batch stops as soon as one row emits END: the other rows are cut short",
            "stop only when every row is done (done.all()), or after max_len steps",
        ),
        Mistake(
            "not_fed_back",
            "every step is given START instead of the id predicted at the step before",
            "feed each step's prediction back as the next prev_ids: prev = scores.argmax(axis=1)",
        ),
        Mistake(
            "state_not_carried",
            "every step starts from h0 instead of the state the step before returned",
            "keep the state the step returns and pass it to the next call: scores, h = step(prev, h)",
        ),
        Mistake(
            "starts_from_pad",
            "the first step is given PAD (a column of zeros) instead of START",
            "the decoder's first input is START: prev = np.full(N, START) (np.zeros(N, dtype=int) is a column "
            "of PAD, the id 0)",
        ),
        Mistake(
            "start_in_output",
            "the output starts with START: each step stores the id it was given, not the id it predicted",
            "store the prediction of step t in ids[:, t]; START is only the first input, never an output",
        ),
        Mistake(
            "truncated",
            "when every row has ended before max_len, the output is cut there: fewer than max_len columns",
            "ids always has max_len columns: start from np.full((N, max_len), PAD) and stop writing early",
        ),
    ),
)


# --------------------------------------------------------------------------
# 9.4 additive_attention_forward
# --------------------------------------------------------------------------


def _attention_inputs(rng, lengths, T, Hq, Hk, A, *, upstream=False):
    N, S = len(lengths), max(lengths)
    out = {
        "q": _normal(rng, N, T, Hq),
        "k": _normal(rng, N, S, Hk),
        "mask": _lengths_mask(lengths, S),
        "W_q": _normal(rng, Hq, A, scale=0.7),
        "W_k": _normal(rng, Hk, A, scale=0.7),
        "v": _normal(rng, A, scale=1.5),
    }
    if upstream:
        out["dcontext"] = _normal(rng, N, T, Hk)
    return out


def _random_lengths(rng, N, S):
    lengths = rng.integers(1, S + 1, size=N)
    lengths[rng.integers(N)] = S
    return [int(n) for n in lengths]


def _attention_cases(rng: np.random.Generator, upstream: bool = False) -> list[Case]:
    return [
        Case(
            "one query per row (T = 1), no padding (S = 4)",
            _attention_inputs(rng, [4, 4], 1, 4, 6, 3, upstream=upstream),
        ),
        Case(
            "two queries per row, padding: rows of 5, 3 and 1 source positions",
            _attention_inputs(rng, [5, 3, 1], 2, 4, 6, 3, upstream=upstream),
        ),
        Case(
            "everything random, other sizes: N = 2, T = 4 queries, S = 6, Hq = 3, Hk = 5, A = 7, padding",
            _attention_inputs(rng, _random_lengths(rng, 2, 6), 4, 3, 5, 7, upstream=upstream),
            hint="here N = 2, T = 4, S = 6, Hq = 3, Hk = 5, A = 7: a crash usually means a size read from the "
            "wrong axis, or q W_q and k W_k broadcast against each other without the new axes "
            "([:, :, None, :] and [:, None, :, :])",
        ),
    ]


ADDITIVE_ATTENTION_FORWARD = Exercise(
    name="additive_attention_forward",
    lesson=LESSON,
    number="9.4",
    points=4,
    returns=("context", "alpha", "cache"),
    graded=("context", "alpha"),
    make_cases=_attention_cases,
    description="additive (Bahdanau) attention of T queries over S keys: scores v . tanh(q W_q + k W_k), "
    "a softmax over the source positions that gives padding 0, context = sum of alpha * k",
    mistakes=(
        Mistake(
            "softmax_over_queries",
            "the softmax runs over the queries (axis 1) instead of the source positions (the last axis)",
            "each query distributes its attention over the S source positions: normalise over axis=-1, so "
            "that alpha[n, t].sum() == 1",
        ),
        Mistake(
            "padding_weighted",
            "the mask is not used: padding positions get attention weight",
            "set the scores of padding positions to -inf (np.where(mask[:, None, :], e, -np.inf)) before the "
            "softmax, so their weights are exactly 0",
        ),
        Mistake(
            "mask_after_softmax",
            "the weights are multiplied by the mask after the softmax: padding gets 0, but the weights no "
            "longer sum to 1",
            "mask the scores before the softmax (-inf where mask is False), then normalise",
        ),
        Mistake(
            "padding_scores_zero",
            "the scores of padding are set to 0 (e * mask, or np.where(mask, e, 0)) instead of -inf: exp(0) is "
            "1, so padding still gets weight",
            "a score of 0 is a score like any other; only -inf gives a weight of exactly 0: "
            "np.where(mask[:, None, :], e, -np.inf) before the softmax",
        ),
        Mistake(
            "mask_inverted",
            "the mask is read the other way round (True taken as padding, as PyTorch's key_padding_mask has "
            "it): the real positions are hidden and the padding attended; a row without padding has nothing "
            "left to attend to, and its weights are NaN (0 / 0)",
            "in this course a mask is True where a position counts (NOTATION.md): keep the scores where mask "
            "is True, np.where(mask[:, None, :], e, -np.inf)",
        ),
        Mistake(
            "no_tanh",
            "the scores have no tanh: v . (q W_q + k W_k)",
            "e = v . tanh(q W_q + k W_k): without the tanh the score is linear, and q's part is the same "
            "for every source position, so the softmax cancels it and the query has no say at all",
        ),
        Mistake(
            "projected_keys_as_values",
            "the context is a weighted sum of the projected keys k W_k instead of the keys k",
            "W_k only serves to score; the context averages the encoder states themselves: alpha @ k",
        ),
    ),
)


# --------------------------------------------------------------------------
# 9.5 additive_attention_backward
# --------------------------------------------------------------------------


def _call_additive_backward(fn: Callable, inputs: dict, helpers: dict):
    args = [inputs[k] for k in ("q", "k", "mask", "W_q", "W_k", "v")]
    return call_backward(
        fn,
        "additive_attention_backward",
        helpers,
        "additive_attention_forward",
        args,
        [inputs["dcontext"]],
        "(context, alpha, cache)",
    )[1]


ADDITIVE_ATTENTION_BACKWARD = Exercise(
    name="additive_attention_backward",
    lesson=LESSON,
    number="9.5",
    points=4,
    returns=("dq", "dk", "dW_q", "dW_k", "dv"),
    graded=("dq", "dk", "dW_q", "dW_k", "dv"),
    make_cases=lambda rng: _attention_cases(rng, upstream=True),
    needs=("additive_attention_forward",),
    call=_call_additive_backward,
    description="the gradients of additive attention from dcontext, with the cache of your "
    "additive_attention_forward",
    mistakes=(
        Mistake(
            "dk_values_only",
            "dk has only the path through the context (k as the values); the path through the scores "
            "(k as the keys, via k W_k) is missing",
            "k is used twice, as the values and inside the scores: dk = alpha^T dcontext + (sum over t of "
            "the scores' gradient) @ W_k.T",
        ),
        Mistake(
            "dk_keys_only",
            "dk has only the path through the scores; the path through the context (k as the values) is "
            "missing",
            "the context is alpha @ k, so k also gets alpha^T @ dcontext (alpha.transpose(0, 2, 1) @ dcontext)",
        ),
        Mistake(
            "softmax_backward_no_sum",
            "the softmax is differentiated as de = alpha * dalpha: the term that couples the weights is missing",
            "the weights share one normaliser: de = alpha * (dalpha - (alpha * dalpha).sum(axis=-1, keepdims=True))",
        ),
        Mistake(
            "no_tanh_derivative",
            "the tanh's derivative is left out: the gradient flows back through v . tanh(...) as through "
            "v . (...)",
            "multiply by 1 - z**2, where z = tanh(q W_q + k W_k) is what the forward pass cached",
        ),
        Mistake(
            "tanh_of_tanh",
            "the tanh's derivative is taken as 1 - tanh(z)**2 of the cached z, which already is a tanh",
            "z = tanh(pre) is cached: its derivative is 1 - z**2",
        ),
    ),
)


# --------------------------------------------------------------------------
# 9.6 attention_decoder_step
# --------------------------------------------------------------------------

STEP_PARAMS = ("E", "W_xh", "W_hh", "b_h", "W_q", "W_k", "v", "W_y", "b_y")


def _step_inputs(rng, lengths, D, H, Hk, A, V):
    N, S = len(lengths), max(lengths)
    return {
        "y_prev": rng.integers(FIRST_REAL, V, size=N).astype(np.int64),
        "s_prev": _normal(rng, N, H, scale=0.8),
        "enc": _normal(rng, N, S, Hk),
        "src_mask": _lengths_mask(lengths, S),
        "E": _normal(rng, V, D),
        "W_xh": _normal(rng, D, H, scale=0.8),
        "W_hh": _normal(rng, H, H, scale=0.8),
        "b_h": _normal(rng, H, scale=0.3),
        "W_q": _normal(rng, H, A),
        "W_k": _normal(rng, Hk, A, scale=0.7),
        "v": _normal(rng, A, scale=1.5),
        "W_y": _normal(rng, H + Hk, V),
        "b_y": _normal(rng, V, scale=0.3),
    }


def _decoder_step_cases(rng: np.random.Generator) -> list[Case]:
    D, H, Hk, A, V = 2, 5, 6, 3, 7
    return [
        Case(
            "no padding: 3 rows of 4 source positions", _step_inputs(rng, [4, 4, 4], D, H, Hk, A, V)
        ),
        Case(
            "padding: rows of 4, 2 and 1 source positions",
            _step_inputs(rng, [4, 2, 1], D, H, Hk, A, V),
        ),
        Case(
            "everything random, other sizes: N = 2, S = 5, D = 3, H = 4, Hk = 2, A = 6, V = 9, padding",
            _step_inputs(rng, _random_lengths(rng, 2, 5), 3, 4, 2, 6, 9),
        ),
    ]


def _call_decoder_step(fn: Callable, inputs: dict, helpers: dict):
    params = {name: inputs[name] for name in STEP_PARAMS}
    return call_keeping_inputs(
        fn,
        "attention_decoder_step",
        y_prev=inputs["y_prev"],
        s_prev=inputs["s_prev"],
        enc=inputs["enc"],
        src_mask=inputs["src_mask"],
        params=params,
    )


ATTENTION_DECODER_STEP = Exercise(
    name="attention_decoder_step",
    lesson=LESSON,
    number="9.6",
    points=3,
    returns=("scores", "s_next", "alpha"),
    graded=("scores", "s_next", "alpha"),
    make_cases=_decoder_step_cases,
    call=_call_decoder_step,
    uses=("additive_attention_forward",),
    description="one decoder step with attention, the arrangement this lesson trains: the new state "
    "s_next attends over the encoder states, and [s_next, context] gives the scores",
    mistakes=(
        Mistake(
            "query_previous_state",
            "the decoder state of the wrong step is the query: s_prev (the state before this step) attends, "
            "not s_next",
            "in this arrangement the state that has just read y_prev asks the question: update the state "
            "first, then attend with s_next[:, None]",
        ),
        Mistake(
            "padding_attended",
            "src_mask is not passed on: padding positions of the source get attention weight",
            "pass src_mask to additive_attention_forward; the weights of padding must be 0",
        ),
        Mistake(
            "concat_order",
            "the output layer reads [context, s_next] instead of [s_next, context]",
            "W_y's first H rows read the state, the next Hk rows the context: "
            "np.concatenate([s_next, context], axis=1) @ W_y + b_y",
        ),
        Mistake(
            "output_reads_previous_state",
            "the output layer reads s_prev instead of the new state s_next",
            "the scores come from the state after this step: [s_next, context] @ W_y + b_y",
        ),
    ),
)


# --------------------------------------------------------------------------
# 9.7 scaled_dot_attention_forward
# --------------------------------------------------------------------------


def _dot_inputs(rng, mask, d, dv, *, upstream=False):
    N, T, S = mask.shape
    out = {
        "Q": _normal(rng, N, T, d),
        "K": _normal(rng, N, S, d),
        "V": _normal(rng, N, S, dv),
        "mask": mask,
    }
    if upstream:
        out["dout"] = _normal(rng, N, T, dv)
    return out


def _dot_cases(rng: np.random.Generator, upstream: bool = False) -> list[Case]:
    padding = np.broadcast_to(_lengths_mask([4, 2], 4)[:, None, :], (2, 3, 4)).copy()
    causal = np.broadcast_to(np.tril(np.ones((4, 4), dtype=bool)), (2, 4, 4)).copy()
    N, T, S = 3, int(rng.integers(2, 5)), int(rng.integers(5, 7))
    random_mask = rng.random((N, T, S)) < 0.6
    allowed = rng.integers(S, size=(N, T))  # one key each query may always see
    random_mask[np.arange(N)[:, None], np.arange(T), allowed] = True
    padded = Case(
        "a padding mask, the same for every query: 2 rows of 4 and 2 keys, T = 3 queries, d = 4",
        _dot_inputs(rng, padding, 4, 5, upstream=upstream),
        hint="here T != S (3 queries, 4 keys): a crash usually means a product whose factors need a transpose, "
        + (
            "e.g. dK = dscores.transpose(0, 2, 1) @ Q and dV = alpha.transpose(0, 2, 1) @ dout"
            if upstream
            else "e.g. the scores are Q @ K.transpose(0, 2, 1)"
        ),
    )
    causal_case = Case(
        "causal self-attention (T = S = 4): query t may see keys 0 .. t, d = 4",
        _dot_inputs(rng, causal, 4, 5, upstream=upstream),
    )
    # The forward pass meets the padding case first: there every query sees two keys or more, so a
    # mistake in the scores (their scale, the mask) changes every query's output. In the causal case
    # query 0 sees key 0 alone, with weight 1 whatever its score, and such a mistake would be right at
    # t = 0 only, which the generic message reads as a loop that stops early. The backward pass meets
    # the causal case first: with T = S a missing transpose gives wrong values, which name the mistake;
    # with T != S first it would crash, and every product that does not fit raises the same message
    # (dV = alpha @ dout would be taken for dK = dscores @ Q).
    first = [causal_case, padded] if upstream else [padded, causal_case]
    return [
        *first,
        Case(
            "everything random: a random mask, N = 3, T of 2 to 4 queries, S of 5 or 6 keys, d = 9, d_v = 2",
            _dot_inputs(rng, random_mask, 9, 2, upstream=upstream),
        ),
    ]


SCALED_DOT_ATTENTION_FORWARD = Exercise(
    name="scaled_dot_attention_forward",
    lesson=LESSON,
    number="9.7",
    points=3,
    returns=("out", "alpha", "cache"),
    graded=("out", "alpha"),
    make_cases=_dot_cases,
    description="scaled dot-product attention softmax(Q K^T / sqrt(d)) V, where the mask (N, T, S) is True "
    "for the keys each query may see",
    mistakes=(
        Mistake(
            "no_scaling",
            "the scores are not scaled: softmax(Q K^T) instead of softmax(Q K^T / sqrt(d))",
            "divide the scores by np.sqrt(d), d = Q.shape[-1]: a dot product of d terms grows like sqrt(d), "
            "and unscaled scores push the softmax to one-hot weights with vanishing gradients",
        ),
        Mistake(
            "scaled_by_d",
            "the scores are divided by d instead of sqrt(d)",
            "the scale is 1 / np.sqrt(d): the standard deviation of a sum of d unit products is sqrt(d)",
        ),
        Mistake(
            "mask_added_after_softmax",
            "the mask is added after the softmax (a large negative number added to the weights of masked "
            "keys): the weights are no longer probabilities and the output is huge",
            "mask the scores, not the weights: -inf (or a large negative number) goes into the scores where "
            "mask is False, before the softmax",
        ),
        Mistake(
            "mask_multiplied_after_softmax",
            "the weights are multiplied by the mask after the softmax: masked keys get 0, but the rows no "
            "longer sum to 1",
            "mask the scores before the softmax (-inf where mask is False), then normalise",
        ),
        Mistake(
            "masked_scores_zero",
            "the masked scores are set to 0 (scores * mask, or np.where(mask, scores, 0)) instead of -inf: "
            "exp(0) is 1, so masked keys still get weight",
            "a score of 0 is a score like any other; only -inf gives a weight of exactly 0: "
            "np.where(mask, scores, -np.inf) before the softmax",
        ),
        Mistake(
            "mask_inverted",
            "the mask is read the other way round (True taken as a key to hide, as the boolean masks of "
            "PyTorch's nn.MultiheadAttention have it): the allowed keys are hidden and the others attended; a "
            "query that may see every key has nothing left, and its weights are NaN (0 / 0)",
            "in this course a mask is True where a query may attend (NOTATION.md): keep the scores where mask "
            "is True, np.where(mask, scores, -np.inf)",
        ),
        Mistake(
            "mask_ignored",
            "the mask is not used: every query attends to every key, padding and future positions too",
            "set the scores to -inf where mask is False before the softmax: np.where(mask, scores, -np.inf)",
        ),
        Mistake(
            "softmax_over_queries",
            "the softmax runs over the queries (axis 1) instead of the keys (the last axis)",
            "each query's weights over the keys sum to 1: normalise over axis=-1",
        ),
    ),
)


# --------------------------------------------------------------------------
# 9.8 scaled_dot_attention_backward
# --------------------------------------------------------------------------


def _call_dot_backward(fn: Callable, inputs: dict, helpers: dict):
    args = [inputs[k] for k in ("Q", "K", "V", "mask")]
    return call_backward(
        fn,
        "scaled_dot_attention_backward",
        helpers,
        "scaled_dot_attention_forward",
        args,
        [inputs["dout"]],
        "(out, alpha, cache)",
    )[1]


SCALED_DOT_ATTENTION_BACKWARD = Exercise(
    name="scaled_dot_attention_backward",
    lesson=LESSON,
    number="9.8",
    points=4,
    returns=("dQ", "dK", "dV"),
    graded=("dQ", "dK", "dV"),
    make_cases=lambda rng: _dot_cases(rng, upstream=True),
    needs=("scaled_dot_attention_forward",),
    call=_call_dot_backward,
    description="the gradients of scaled dot-product attention from dout, with the cache of your "
    "scaled_dot_attention_forward",
    mistakes=(
        Mistake(
            "no_scale_in_backward",
            "dQ and dK miss the factor 1 / sqrt(d): the backward pass forgets the scaling of the scores",
            "the scores are Q K^T / sqrt(d), so their gradient reaches Q and K divided by np.sqrt(d)",
        ),
        Mistake(
            "softmax_backward_no_sum",
            "the softmax is differentiated as alpha * dalpha: the term that couples the weights is missing",
            "dscores = alpha * (dalpha - (alpha * dalpha).sum(axis=-1, keepdims=True))",
        ),
        Mistake(
            "softmax_skipped",
            "the softmax is not differentiated at all: the weights' gradient is used as the scores' gradient",
            "go back through the softmax: dscores = alpha * (dalpha - (alpha * dalpha).sum(axis=-1, keepdims=True))",
        ),
        Mistake(
            "dK_not_transposed",
            "dK = dscores @ Q: the transpose of the scores' gradient is missing",
            "scores[n, t, s] = Q[n, t] . K[n, s] / sqrt(d), so dK = dscores.transpose(0, 2, 1) @ Q, shape "
            "(N, S, d); with T = S the shapes agree and only the values tell",
        ),
        Mistake(
            "dV_not_transposed",
            "dV = alpha @ dout: the transpose of the weights is missing",
            "out[n, t] = sum over s of alpha[n, t, s] V[n, s], so dV = alpha.transpose(0, 2, 1) @ dout, shape "
            "(N, S, d_v); with T = S the shapes agree and only the values tell",
        ),
    ),
)


EXERCISES = (
    TEACHER_FORCING_BATCH,
    TEACHER_FORCED_LOSS,
    GREEDY_DECODE,
    ADDITIVE_ATTENTION_FORWARD,
    ADDITIVE_ATTENTION_BACKWARD,
    ATTENTION_DECODER_STEP,
    SCALED_DOT_ATTENTION_FORWARD,
    SCALED_DOT_ATTENTION_BACKWARD,
)
