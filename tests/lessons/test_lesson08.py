"""Lesson 08 (sentiment: many-to-one, padding and masking): the reference, the data and the notebook.

The generic tests prove that every check passes the reference, names each catalogued mistake and
reports the stub; these prove what they do not: the reference gradients agree with numerical ones and
are exactly zero at padding; the readers ignore whatever the padded steps hold; the loss is finite and
exact for logits of +-1000; the generated sentences carry the labels their grammar says, and every
counterbalanced pair has the same words and opposite labels; and the solution notebook's bodies pass.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import nbformat
import numpy as np
import pytest
from gradients import numerical_grad as _numerical_grad

from autograder.checks.runner import evaluate, load_fixture
from autograder.reference import lesson08 as ref
from autograder.suites import lesson_exercises
from rnncourse import data

LESSON = "08_sentiment"
ROOT = Path(__file__).resolve().parents[2]
EXERCISES = lesson_exercises(LESSON)


def _padded_states(rng, lengths, T=6, H=3):
    lengths = np.asarray(lengths, dtype=np.int64)
    return rng.normal(size=(len(lengths), T, H)), lengths, np.arange(T) < lengths[:, None]


# --------------------------------------------------------------------------
# The reference
# --------------------------------------------------------------------------


def test_sigmoid_cross_entropy_gradient_matches_numerical():
    """dlogits agrees with a central difference of the loss to 1e-8 (moderate logits, both labels)."""
    rng = np.random.default_rng(0)
    z, y = rng.normal(scale=3.0, size=9), rng.integers(0, 2, size=9)
    _, dz = ref.sigmoid_cross_entropy(z, y)
    numeric = _numerical_grad(lambda: ref.sigmoid_cross_entropy(z, y)[0], z)
    np.testing.assert_allclose(dz, numeric, atol=1e-8)


def test_sigmoid_cross_entropy_is_exact_at_extreme_logits():
    """At z = +-1000 a right answer costs 0 and a wrong one exactly 1000, with a gradient of 0 or -+1/N,
    and nothing overflows or divides by zero on the way (an underflow to 0 is harmless)."""
    z = np.array([1000.0, 1000.0, -1000.0, -1000.0])
    y = np.array([1, 0, 0, 1])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss, dz = ref.sigmoid_cross_entropy(z, y)
    assert isinstance(loss, float) and loss == pytest.approx((0 + 1000 + 0 + 1000) / 4)
    np.testing.assert_allclose(dz, [0.0, 0.25, 0.0, -0.25])


@pytest.mark.parametrize("reader", ["last", "mean"])
def test_readers_ignore_the_padding_and_send_it_no_gradient(reader):
    """Changing h at padded steps changes neither the reader's output nor anything its backward returns,
    and the gradient at padded steps is exactly zero."""
    rng = np.random.default_rng(1)
    h, lengths, mask = _padded_states(rng, [6, 2, 4])
    forward, backward, arg = (
        (ref.last_step_forward, ref.last_step_backward, lengths)
        if reader == "last"
        else (ref.masked_mean_forward, ref.masked_mean_backward, mask)
    )
    out, cache = forward(h, arg)
    other = np.where(mask[:, :, None], h, 100.0 * rng.normal(size=h.shape))
    out_other, cache_other = forward(other, arg)
    np.testing.assert_array_equal(out, out_other)
    dout = rng.normal(size=out.shape)
    dh = backward(dout, cache)
    np.testing.assert_array_equal(dh, backward(dout, cache_other))
    assert np.all(dh[~mask] == 0.0)


@pytest.mark.parametrize("reader", ["last", "mean"])
def test_reader_gradients_match_numerical(reader):
    """last_step_backward and masked_mean_backward agree with central differences of sum(out * dout)."""
    rng = np.random.default_rng(2)
    h, lengths, mask = _padded_states(rng, [3, 6, 1, 5])
    forward, backward, arg = (
        (ref.last_step_forward, ref.last_step_backward, lengths)
        if reader == "last"
        else (ref.masked_mean_forward, ref.masked_mean_backward, mask)
    )
    out, cache = forward(h, arg)
    dout = rng.normal(size=out.shape)
    numeric = _numerical_grad(lambda: float(np.sum(forward(h, arg)[0] * dout)), h)
    np.testing.assert_allclose(backward(dout, cache), numeric, atol=1e-8)


def test_pad_batch_round_trips():
    """ids[n, :lengths[n]] is sequence n, pad_id fills the rest, and the mask is where the words are."""
    rng = np.random.default_rng(3)
    sequences = [rng.integers(1, 50, size=n) for n in (4, 1, 7, 3)]
    ids, lengths, mask = ref.pad_batch(sequences, 99)
    assert ids.shape == (4, 7) and ids.dtype == np.int64 and mask.dtype == bool
    for n, s in enumerate(sequences):
        np.testing.assert_array_equal(ids[n, mask[n]], s)
        assert np.all(ids[n, ~mask[n]] == 99) and lengths[n] == len(s)


# --------------------------------------------------------------------------
# The generated sentences
# --------------------------------------------------------------------------


def _sign_of_clause(words, valence):
    """+1 or -1: the adjective's sign (its last word), flipped by "not"."""
    sign = 1 if valence[words[-1]] > 0 else -1
    return -sign if "not" in words else sign


def _label_by_the_rules(words, valence):
    """The label the grammar of make_sentiment_sentences gives, read off the words alone."""
    text = " ".join(words)
    for joint in (" , although ", " , even though ", " , though "):
        if joint in text:  # the clause before the concession decides
            return _sign_of_clause(text.split(joint)[0].split(), valence) > 0
    if " , but " in text:
        return _sign_of_clause(text.split(" , but ")[1].split(), valence) > 0
    if " and " in text:
        first, second = (_sign_of_clause(c.split(), valence) for c in text.split(" and "))
        assert first == second, f"'and' joins clauses that disagree: {text}"
        return first > 0
    if " , it was " in text:
        return valence[words[-1]] > 0
    return _sign_of_clause(words, valence) > 0


def test_generated_labels_follow_the_stated_grammar():
    """Every sentence's label is what its words say by the rules the docstring states ("not" flips a clause,
    ", but" takes the second clause, "and" joins clauses that agree, "not A , it was B" takes B, ", although"
    and ", (even) though" take the first clause)."""
    valence = data.load_film_adjectives()
    generated = data.make_sentiment_sentences(2000, seed=4)
    for words, label in zip(generated["sentences"], generated["labels"]):
        assert _label_by_the_rules(words, valence) == bool(label), " ".join(words)


def test_counterbalanced_pairs_have_the_same_words_and_opposite_labels():
    """Both sentences of a pair hold the same multiset of words (so every bag-of-words model gives them the
    same prediction and is right on exactly one), their labels differ, and they share the held-out flag;
    about half the sentences are in pairs and every sentence is distinct."""
    generated = data.make_sentiment_sentences(1000, seed=5)
    pairs = generated["pair"]
    assert len({" ".join(s) for s in generated["sentences"]}) == 1000
    assert 0.45 < np.mean(pairs >= 0) < 0.55
    for p in np.unique(pairs[pairs >= 0]):
        a, b = np.flatnonzero(pairs == p)
        assert Counter(generated["sentences"][a]) == Counter(generated["sentences"][b])
        assert generated["labels"][a] != generated["labels"][b]
        assert generated["test"][a] == generated["test"][b]


def test_although_pairs_defeat_reading_only_the_last_clause():
    """All six kinds of pair occur; in the two "although" kinds the first clause decides and the two clauses of
    each sentence have opposite signs, so the last clause alone gives the wrong label on every such sentence;
    in the four other kinds the last clause alone gives the right one."""
    valence = data.load_film_adjectives()
    generated = data.make_sentiment_sentences(1200, seed=10)
    forms = np.array(generated["form"])
    kinds = {f for f in forms if f.startswith("pair:")}
    assert kinds == {"pair:but-swap", "pair:not-swap-but", "pair:not-swap-and", "pair:not-it-was",
                     "pair:although-swap", "pair:not-swap-although"}
    assert "although" in set(forms)
    for words, label, form in zip(generated["sentences"], generated["labels"], forms):
        if not form.startswith("pair:"):
            continue
        text = " ".join(words)
        last_clause = re.split(r" , (?:but|although|even though|though|it was) | and ", text)[-1]
        last = _sign_of_clause(last_clause.split(), valence)
        if "although" in form:
            assert re.search(r" , (although|even though|though) ", text), text
            first = _sign_of_clause(re.split(r" , (?:although|even though|though) ", text)[0].split(), valence)
            assert first == -last and (first > 0) == bool(label), text
        else:
            assert (last > 0) == bool(label), text


def test_bag_of_words_scores_exactly_half_of_the_pairs():
    """Any logistic regression on bag_of_words counts is right on exactly one sentence of each pair."""
    generated = data.make_sentiment_sentences(600, seed=6)
    vocabulary = data.sentiment_vocabulary(generated["sentences"])
    ids, _, mask = ref.pad_batch(data.encode_sentences(generated["sentences"], vocabulary), 0)
    counts = ref.bag_of_words(ids, mask, len(vocabulary))
    z = counts @ np.random.default_rng(7).normal(size=len(vocabulary))
    right = (z > 0) == (generated["labels"] == 1)
    in_pair = generated["pair"] >= 0
    assert right[in_pair].mean() == 0.5


def test_generation_is_seeded_and_the_vocabulary_starts_with_pad():
    """The same seed gives the same sentences; another seed others; "<pad>" is id 0 and 66 adjectives load."""
    one, again, other = (data.make_sentiment_sentences(200, seed=s) for s in (8, 8, 9))
    assert one["sentences"] == again["sentences"] and one["sentences"] != other["sentences"]
    vocabulary = data.sentiment_vocabulary(one["sentences"])
    assert vocabulary[0] == data.PAD and vocabulary[1:] == sorted(vocabulary[1:])
    valence = data.load_film_adjectives()
    assert len(valence) == 66 and sum(v > 0 for v in valence.values()) == 39


# --------------------------------------------------------------------------
# The solution notebook's bodies are the reference's
# --------------------------------------------------------------------------


def test_solution_notebook_bodies_pass_the_checks():
    """The solution cells of the notebook, run after its setup cell, pass every check."""
    nb = nbformat.read(ROOT / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or meta.get("grade_id") == "setup"):
            exec(compile(cell.source, f"<{meta.get('grade_id')}>", "exec"), namespace)
    for exercise in EXERCISES:
        helpers = {name: namespace[name] for name in exercise.needs}
        result = evaluate(exercise, namespace[exercise.name], *load_fixture(exercise), helpers)
        assert result["status"] == "pass", result["message"]


# --------------------------------------------------------------------------
# Right answers written another way pass; the checks grade values, not style
# --------------------------------------------------------------------------


def _exercise(name):
    return next(e for e in EXERCISES if e.name == name)


def _check(name, fn, helpers=None):
    return evaluate(_exercise(name), fn, *load_fixture(_exercise(name)), helpers or {})


def test_variants_that_are_right_pass():
    """A bincount that gives integer counts, a loss returned as a 0-d array or via np.logaddexp, a mask
    built from the pad id, a row-by-row masked mean and a reader whose cache holds only h's shape all pass."""

    def bincount_bow(ids, mask, vocab_size):
        return np.stack([np.bincount(row[m], minlength=vocab_size) for row, m in zip(ids, mask)])

    def logaddexp_loss(logits, y):
        loss = np.mean(y * np.logaddexp(0.0, -logits) + (1 - y) * np.logaddexp(0.0, logits))
        return np.asarray(loss), (0.5 * (1.0 + np.tanh(0.5 * logits)) - y) / logits.shape[0]

    def mask_from_pad_id(sequences, pad_id):
        ids, lengths, _ = ref.pad_batch(sequences, pad_id)
        return ids, lengths, ids != pad_id  # real ids never equal the pad's in these cases

    def row_by_row_mean(h, mask):
        return np.stack([h[n][mask[n]].mean(axis=0) for n in range(h.shape[0])]), mask

    def shape_cache_forward(h, lengths):
        return h[np.arange(h.shape[0]), lengths - 1], (h.shape, h.dtype, lengths.copy())

    def shape_cache_backward(dh_last, cache):
        shape, dtype, lengths = cache
        dh = np.zeros(shape, dtype=dtype)
        for n, length in enumerate(lengths):
            dh[n, length - 1] = dh_last[n]
        return dh

    assert _check("bag_of_words", bincount_bow)["status"] == "pass"
    assert _check("sigmoid_cross_entropy", logaddexp_loss)["status"] == "pass"
    assert _check("pad_batch", mask_from_pad_id)["status"] == "pass"
    assert _check("masked_mean_forward", row_by_row_mean)["status"] == "pass"
    result = _check("last_step_backward", shape_cache_backward, {"last_step_forward": shape_cache_forward})
    assert result["status"] == "pass", result["message"]


def test_a_mask_that_assumes_pad_id_zero_fails_on_the_case_that_pads_with_7():
    """pad_batch whose mask is ids != 0 passes the cases padded with 0 and fails where pad_id = 7 (and
    0 is a real word), with the mask named."""

    def mask_from_zero(sequences, pad_id):
        ids, lengths, _ = ref.pad_batch(sequences, pad_id)
        return ids, lengths, ids != 0

    result = _check("pad_batch", mask_from_zero)
    assert result["status"] == "fail" and "pad_id = 7" in result["case"] and "mask" in result["message"]


def test_a_write_into_an_integer_input_is_named_as_such():
    """A forward that writes into its lengths (lengths -= 1) and keeps them in its cache, or a bag of words
    that overwrites the pads of its ids, is told it changed that input, not that it reuses its result
    (the decoy call gets copies of the integer arguments, which it does not flip)."""

    def lengths_in_place(h, lengths):
        cache = (h.shape, lengths)
        lengths -= 1
        return h[np.arange(h.shape[0]), lengths], cache

    def pads_overwritten(ids, mask, vocab_size):
        ids[~mask] = 0  # harmless for pads of id 0: the case padded with id 5 shows it
        counts = np.zeros((ids.shape[0], vocab_size))
        np.add.at(counts, (np.arange(ids.shape[0])[:, None], ids), mask.astype(float))
        return counts

    for name, fn, arg in (("last_step_forward", lengths_in_place, "lengths"), ("bag_of_words", pads_overwritten, "ids")):
        result = _check(name, fn)
        assert result["status"] == "fail"
        assert f"input {arg} was modified in place" in result["message"], result["message"]
        assert "reuses" not in result["message"]
