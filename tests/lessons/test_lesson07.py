"""Lesson 07 (language models): the reference, the checks, the notebook's own code and the data.

Proves what the generic tests do not: that the reference gradients agree with numerical ones; that
the reference's stateful batches continue each row from chunk to chunk and that its sampler draws
what ``rng.choice`` draws; that the checks accept the correct variants a learner may write (another
cache layout, ``rng.choice`` per row, a draw at temperature 0) and name the slips this lesson
catalogues by a problem rather than by values (a float64 result, the wrong number of draws); that the
solution notebook's bodies pass; that the notebook's provided n-gram counts and held-out scoring do
what its text says; and that the Shakespeare loader and the stored long run are what the lesson uses.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest
from gradients import numerical_grad as _numerical_grad

from autograder.checks.runner import evaluate, load_fixture
from autograder.reference import REFERENCE
from autograder.reference import lesson07 as ref
from autograder.suites import lesson_exercises
from rnncourse.data import data_dir, load_shakespeare

LESSON = "07_language_model"
ROOT = Path(__file__).resolve().parents[2]
EXERCISES = {e.name: e for e in lesson_exercises(LESSON)}


def _evaluate(name, fn, helpers=None):
    exercise = EXERCISES[name]
    helpers = {k: REFERENCE[k] for k in exercise.needs} if helpers is None else helpers
    return evaluate(exercise, fn, *load_fixture(exercise), helpers)


# --------------------------------------------------------------------------
# The reference
# --------------------------------------------------------------------------


def test_embedding_backward_matches_numerical_gradient():
    """dW of the reference agrees with central differences of sum(out * dout), repeated ids included."""
    rng = np.random.default_rng(0)
    idx = np.array([[1, 1, 4], [0, 1, 4]])
    W, dout = rng.normal(size=(6, 3)), rng.normal(size=(2, 3, 3))
    _, cache = ref.embedding_forward(idx, W)
    dW = ref.embedding_backward(dout, cache)
    numerical = _numerical_grad(lambda: float(np.sum(ref.embedding_forward(idx, W)[0] * dout)), W)
    np.testing.assert_allclose(dW, numerical, atol=1e-8)
    assert np.all(dW[[2, 3, 5]] == 0)  # ids that never occur get no gradient


def test_cross_entropy_matches_numerical_gradient_and_ignores_padding():
    """dscores agrees with central differences, padded steps get exactly 0, and what the scores and
    targets hold at padded steps does not change the loss."""
    rng = np.random.default_rng(1)
    scores, y = rng.normal(size=(3, 4, 5)), rng.integers(0, 5, size=(3, 4))
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=bool)
    loss, dscores = ref.softmax_cross_entropy(scores, y, mask)
    numerical = _numerical_grad(lambda: ref.softmax_cross_entropy(scores, y, mask)[0], scores)
    np.testing.assert_allclose(dscores, numerical, atol=1e-8)
    assert np.all(dscores[~mask] == 0)
    other_scores, other_y = scores.copy(), y.copy()
    other_scores[~mask] = 50.0
    other_y[~mask] = 0
    assert ref.softmax_cross_entropy(other_scores, other_y, mask)[0] == pytest.approx(loss, rel=1e-12)
    real = -np.log(np.exp(scores) / np.exp(scores).sum(-1, keepdims=True))[np.arange(3)[:, None], np.arange(4), y]
    assert loss == pytest.approx(real[mask].mean(), rel=1e-12)


@pytest.mark.parametrize(("L", "N", "T"), [(101, 4, 5), (1000, 7, 13), (64, 3, 5), (24, 4, 3)])
def test_stream_batches_rows_continue_from_chunk_to_chunk(L, N, T):
    """On ids = 0, 1, 2, ...: each row of x is a contiguous piece of the text, row n of chunk k + 1 starts
    where row n of chunk k stopped, y is x one id later, and no stream reads past the text."""
    ids = np.arange(L)
    x, y = ref.stream_batches(ids, N, T)
    S = (L - 1) // N
    K = S // T
    assert x.shape == y.shape == (K, N, T)
    rows = x.transpose(1, 0, 2).reshape(N, K * T)  # each stream, chunks joined
    np.testing.assert_array_equal(rows, np.arange(N)[:, None] * S + np.arange(K * T))
    np.testing.assert_array_equal(y, x + 1)
    assert y.max() <= L - 1


def test_sample_next_draws_what_rng_choice_draws():
    """One rng.random() per row and the inverse CDF give, for every row, the id rng.choice(V, p=...)
    gives with the same generator, over many random rows and temperatures."""
    rng = np.random.default_rng(2)
    for temperature in (0.3, 1.0, 2.5):
        scores = rng.normal(size=(500, 7)) * 2
        ours = ref.sample_next(scores, temperature, np.random.default_rng(5))
        probs = ref.softmax_with_temperature(scores, temperature)
        theirs_rng = np.random.default_rng(5)
        theirs = np.array([theirs_rng.choice(7, p=p) for p in probs])
        np.testing.assert_array_equal(ours, theirs)


def test_sample_next_frequencies_follow_the_probabilities():
    """Drawn many times from one row, each id comes up about as often as its probability (4 sigma)."""
    scores = np.tile(np.array([[2.0, 0.5, -1.0, 1.0]]), (20000, 1))
    ids = ref.sample_next(scores, 0.8, np.random.default_rng(3))
    p = ref.softmax_with_temperature(scores[:1], 0.8)[0]
    freq = np.bincount(ids, minlength=4) / len(ids)
    assert np.all(np.abs(freq - p) < 4 * np.sqrt(p * (1 - p) / len(ids)))


def test_temperature_zero_is_the_limit_of_small_temperatures():
    """softmax_with_temperature at 0 equals the one-hot argmax, which small temperatures approach."""
    scores = np.random.default_rng(4).normal(size=(5, 6))
    np.testing.assert_allclose(ref.softmax_with_temperature(scores, 1e-4), ref.softmax_with_temperature(scores, 0), atol=1e-6)


# --------------------------------------------------------------------------
# The checks: correct variants pass, this lesson's problems are named
# --------------------------------------------------------------------------


def test_embedding_backward_check_uses_the_learners_forward():
    """A correct backward with a cache of its own (a dict holding only the ids and the table's shape
    and dtype) passes when checked with its own forward."""

    def forward(idx, W):
        return W[idx], {"ids": idx.copy(), "shape": W.shape, "dtype": W.dtype}

    def backward(dout, cache):
        dW = np.zeros(cache["shape"], dtype=cache["dtype"])
        for (n, t), v in np.ndenumerate(cache["ids"]):
            dW[v] += dout[n, t]
        return dW

    result = _evaluate("embedding_backward", backward, {"embedding_forward": forward})
    assert result["status"] == "pass", result["message"]


def test_a_float64_result_for_a_float32_table_is_named_in_both_exercises():
    """A one-hot matrix in float64 gives the right numbers in the wrong dtype: the check says so, and
    names the mistake."""
    result = _evaluate("embedding_forward", lambda idx, W: (np.eye(W.shape[0])[idx] @ W, (idx, W)))
    assert result["status"] == "fail" and "returned out as float64 for a float32 table W" in result["message"]
    assert [m.key for m in result["mistakes"]] == ["onehot_float64"]

    def backward(dout, cache):
        idx, W = cache
        dW = np.zeros(W.shape)  # float64 whatever the table
        np.add.at(dW, idx, dout)
        return dW

    result = _evaluate("embedding_backward", backward)
    assert result["status"] == "fail" and "returned dW as float64 for a float32 table W" in result["message"]


def _sampler(draw):
    def sample_next(scores, temperature, rng):
        probs = ref.softmax_with_temperature(scores, temperature)
        return draw(probs, rng)

    return sample_next


def test_correct_samplers_pass_and_a_draw_at_temperature_zero_is_allowed():
    """rng.choice per row and one rng.random(N) both pass; so does drawing at temperature 0, where the
    inverse CDF of a one-hot row is its argmax anyway."""

    def by_choice(probs, rng):
        return np.array([rng.choice(probs.shape[1], p=p) for p in probs])

    def inverse_cdf(probs, rng):
        u = rng.random(len(probs))
        return (probs.cumsum(axis=1) < u[:, None]).sum(axis=1)

    for draw in (by_choice, inverse_cdf):
        result = _evaluate("sample_next", _sampler(draw))
        assert result["status"] == "pass", result["message"]


def test_a_sampler_drawing_twice_per_row_is_told_how_many_it_drew():
    """The ids may even be right on some rows; the check counts the draws and says so."""

    def twice(probs, rng):
        rng.random(len(probs))
        u = rng.random(len(probs))
        return (probs.cumsum(axis=1) < u[:, None]).sum(axis=1)

    result = _evaluate("sample_next", _sampler(twice))
    assert result["status"] == "fail"
    assert "sample_next drew 8 numbers from rng for 4 rows" in result["message"]


def test_cross_entropy_says_when_padded_steps_get_a_gradient():
    """A loss whose gradient forgets the mask (and the count) is told that the padded steps must get 0."""

    def loss_fn(scores, y, mask=None):
        loss, _ = ref.softmax_cross_entropy(scores, y, mask)
        _, dscores = ref.softmax_cross_entropy(scores, y)
        return loss, dscores

    result = _evaluate("softmax_cross_entropy", loss_fn)
    assert result["status"] == "fail" and "padded steps (where the mask is False)" in result["message"]


# --------------------------------------------------------------------------
# The solution notebook
# --------------------------------------------------------------------------


def _notebook():
    return nbformat.read(ROOT / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)


def _run_cells(starts: tuple[str, ...], namespace: dict | None = None) -> dict:
    """The setup cell, the solution cells and the cells whose source starts with one of ``starts``."""
    namespace = {} if namespace is None else namespace
    for cell in _notebook().cells:
        meta = cell.metadata.get("nbgrader", {})
        wanted = meta.get("grade_id") == "setup" or meta.get("solution") or cell.source.startswith(starts)
        if cell.cell_type == "code" and wanted:
            exec(compile(cell.source, f"<{meta.get('grade_id', 'cell')}>", "exec"), namespace)
    return namespace


def test_solution_notebook_bodies_pass_the_checks():
    """The solution cells of the notebook, run after its setup cell, pass every check."""
    namespace = _run_cells(())
    for exercise in EXERCISES.values():
        helpers = {name: namespace[name] for name in exercise.needs}
        result = evaluate(exercise, namespace[exercise.name], *load_fixture(exercise), helpers)
        assert result["status"] == "pass", result["message"]


def test_notebook_ngram_counts_match_a_count_by_hand():
    """The notebook's sparse n-gram counts equal a count with Python dicts (n = 1, 2, 3), and for n = 2
    add-k gives the reference's bigram table."""
    ns = _run_cells(("def ngram_counts",))
    rng = np.random.default_rng(6)
    train, before, text = rng.integers(0, 4, 200), rng.integers(0, 4, 10), rng.integers(0, 4, 30)
    stream = np.concatenate([before, text])
    for n in (1, 2, 3):
        c_pair, c_context = ns["ngram_counts"](train, text, before, n, 4)
        pairs, contexts = {}, {}
        for i in range(n - 1, len(train)):
            pairs[tuple(train[i - n + 1 : i + 1])] = pairs.get(tuple(train[i - n + 1 : i + 1]), 0) + 1
            contexts[tuple(train[i - n + 1 : i])] = contexts.get(tuple(train[i - n + 1 : i]), 0) + 1
        for j in range(len(text)):
            i = len(before) + j
            assert c_pair[j] == pairs.get(tuple(stream[i - n + 1 : i + 1]), 0)
            assert c_context[j] == contexts.get(tuple(stream[i - n + 1 : i]), 0)
    P = ref.bigram_probs(train, 4, 0.5)
    expected = -np.log(P[stream[len(before) - 1 : -1], text])
    np.testing.assert_allclose(ns["add_k_nll"](ns["ngram_counts"](train, text, before, 2, 4), 0.5, 4), expected)


def test_notebook_heldout_nll_scores_each_id_from_the_text_before_it():
    """heldout_nll cut into pieces gives every id the NLL a one-piece reading gives it, wherever the
    warm-up reaches back at least as far as the model remembers: here an RNN with W_h = 0 (a bigram in
    disguise), which remembers one step, so the pieces change nothing."""
    ns = _run_cells(("from rnncourse import nn",))
    rng = np.random.default_rng(7)
    params = ns["init_model"]("rnn", 9, 4, 5, rng)
    params["W_h"][:] = 0
    ids, before = rng.integers(0, 9, 103), rng.integers(0, 9, 20)
    pieces = ns["heldout_nll"]("rnn", params, ids, before, pieces=5, warmup=3, chunk=7)
    whole = ns["heldout_nll"]("rnn", params, ids, before, pieces=1, warmup=1, chunk=1000)
    assert pieces.shape == whole.shape == (103,)
    np.testing.assert_allclose(pieces, whole, rtol=1e-5)
    # and the first id is scored after the last id of `before`
    scores, _, _ = ns["model_forward"]("rnn", params, before[-1:][None], ns["zero_state"]("rnn", 1, 5))
    np.testing.assert_allclose(whole[0], ns["token_nll"](scores, ids[:1][None])[0, 0], rtol=1e-5)


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def test_shakespeare_splits_are_contiguous_parts_of_the_whole():
    """train + validation + test is the whole text, in that order, 90% / 5% / 5%."""
    whole = load_shakespeare()
    parts = [load_shakespeare(p) for p in ("train", "validation", "test")]
    assert "".join(parts) == whole and len(whole) == 841_795
    assert [len(p) for p in parts] == [757_615, 42_090, 42_090]
    with pytest.raises(ValueError, match="split must be"):
        load_shakespeare("dev")


def test_stored_long_run_is_below_the_best_ngram():
    """data/lesson07_long_run.json holds what the notebook reads (settings, a validation curve, a test
    perplexity), and its test perplexity is below the best add-k n-gram's, the notebook's claim."""
    run = json.loads((data_dir() / "lesson07_long_run.json").read_text())
    history = run["history"]
    assert run["settings"]["cell"] == "lstm" and history["cpu_seconds"] > 0
    assert len(history["chars"]) == len(history["val_perplexity"]) >= 10
    assert np.all(np.diff(history["chars"]) > 0)
    ns = _run_cells(("def ngram_counts",))
    chars = ["<unk>", *sorted(set(load_shakespeare("train")))]
    to_id = {c: i for i, c in enumerate(chars)}
    train, val, test = (np.array([to_id[c] for c in load_shakespeare(p)]) for p in ("train", "validation", "test"))
    best = min(
        np.exp(np.mean(ns["add_k_nll"](ns["ngram_counts"](train, test, val, n, len(chars)), k, len(chars))))
        for n in (3, 4, 5)
        for k in (0.01, 0.03, 0.1)
    )
    assert run["test_perplexity"] < best
