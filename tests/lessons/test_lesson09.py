"""Lesson 09 (sequence to sequence, attention): the checks and the reference.

Proves what the generic tests do not: that the reference gradients of both attentions agree with
numerical ones; that every catalogued mistake changes some case on fresh (hidden) seeds too, not only
on the public ones (greedy decoding's scripted step makes this hold by construction); that the checks
accept every right way of doing what the exercises leave open (a filler after END, decoding only
the unfinished rows, a Python float loss); that a step fed float ids says why; that the solution
notebook's bodies and given layer are the reference's; and that the shipped long run holds the
numbers the lesson states.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
from gradients import numerical_grad as _numerical_grad
from gradients import rel_error as _rel_error

from autograder.checks.runner import evaluate, load_fixture
from autograder.reference import MISTAKES, REFERENCE
from autograder.reference import lesson09 as ref
from autograder.suites import lesson_exercises
from autograder.suites.core import outputs_match

LESSON = "09_seq2seq_attention"
ROOT = Path(__file__).resolve().parents[2]
EXERCISES = {e.name: e for e in lesson_exercises(LESSON)}


def _evaluate(name, fn):
    exercise = EXERCISES[name]
    helpers = {k: REFERENCE[k] for k in exercise.needs}
    return evaluate(exercise, fn, *load_fixture(exercise), helpers)


# --------------------------------------------------------------------------
# Numerical gradients
# --------------------------------------------------------------------------


def test_additive_attention_backward_matches_numerical_gradient():
    """additive_attention_backward agrees with central differences to 1e-7, padding included."""
    rng = np.random.default_rng(7)
    N, T, S, Hq, Hk, A = 3, 2, 5, 4, 3, 6
    q, k = rng.normal(size=(N, T, Hq)), rng.normal(size=(N, S, Hk))
    mask = np.arange(S) < np.array([5, 3, 1])[:, None]
    W_q, W_k, v = rng.normal(size=(Hq, A)), rng.normal(size=(Hk, A)), rng.normal(size=A)
    dcontext = rng.normal(size=(N, T, Hk))
    _, _, cache = ref.additive_attention_forward(q, k, mask, W_q, W_k, v)
    grads = ref.additive_attention_backward(dcontext, cache)

    def loss():
        return float(np.sum(ref.additive_attention_forward(q, k, mask, W_q, W_k, v)[0] * dcontext))

    for array, grad in zip((q, k, W_q, W_k, v), grads):
        assert _rel_error(_numerical_grad(loss, array), grad) < 1e-7
    assert np.all(grads[1][~mask] == 0)  # padded keys take no part: no gradient either


@pytest.mark.parametrize("T", [3, 4])
def test_scaled_dot_attention_backward_matches_numerical_gradient(T):
    """scaled_dot_attention_backward agrees with central differences to 1e-7 (T != S and causal T = S)."""
    rng = np.random.default_rng(8)
    N, S, d, dv = 2, 4, 3, 5
    Q, K, V = rng.normal(size=(N, T, d)), rng.normal(size=(N, S, d)), rng.normal(size=(N, S, dv))
    if T == S:
        mask = np.broadcast_to(np.tril(np.ones((T, S), dtype=bool)), (N, T, S))
    else:
        mask = np.broadcast_to((np.arange(S) < np.array([4, 2])[:, None])[:, None, :], (N, T, S))
    dout = rng.normal(size=(N, T, dv))
    grads = ref.scaled_dot_attention_backward(dout, ref.scaled_dot_attention_forward(Q, K, V, mask)[2])

    def loss():
        return float(np.sum(ref.scaled_dot_attention_forward(Q, K, V, mask)[0] * dout))

    for array, grad in zip((Q, K, V), grads):
        assert _rel_error(_numerical_grad(loss, array), grad) < 1e-7


# --------------------------------------------------------------------------
# Hidden cases: every mistake fails on every seed
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_every_mistake_changes_some_hidden_case_on_every_seed(name):
    """On 15 fresh seeds (the grader draws its hidden cases this way), every catalogued mistake gives
    other outputs than the reference on at least one case, so no mistake can pass on a lucky seed."""
    exercise = EXERCISES[name]
    helpers = {k: REFERENCE[k] for k in exercise.needs}
    for seed in range(100, 115):
        cases = exercise.make_cases(np.random.default_rng(seed))
        expected = [exercise.outcome(REFERENCE[name], c.inputs, helpers) for c in cases]
        for key, fn in MISTAKES[name].items():
            got = [exercise.outcome(fn, c.inputs, helpers) for c in cases]
            assert any(not outputs_match(exercise, e, g) for e, g in zip(expected, got)), (seed, key)


# --------------------------------------------------------------------------
# What the exercises leave open is accepted; what they ask is explained
# --------------------------------------------------------------------------


def test_teacher_forcing_accepts_any_filler_after_the_end_step():
    """dec_in built by shifting dec_target (an END one step after the END step, where nothing is read)
    passes, and so does garbage there; a wrong id at a step that is read does not."""

    def shifted(y):
        dec_in, dec_target, mask = ref.teacher_forcing_batch(y)
        dec_in = np.concatenate([np.full((len(y), 1), ref.START), dec_target[:, :-1]], axis=1)
        return dec_in, dec_target, mask

    def garbage_after_end(y):
        dec_in, dec_target, mask = ref.teacher_forcing_batch(y)
        dec_in, dec_target = dec_in.copy(), dec_target.copy()
        dec_in[~mask], dec_target[~mask] = 99, 77
        return dec_in, dec_target, mask

    def wrong_real_step(y):
        dec_in, dec_target, mask = ref.teacher_forcing_batch(y)
        dec_in = dec_in.copy()
        dec_in[0, 1] += 1
        return dec_in, dec_target, mask

    assert _evaluate("teacher_forcing_batch", shifted)["status"] == "pass"
    assert _evaluate("teacher_forcing_batch", garbage_after_end)["status"] == "pass"
    assert _evaluate("teacher_forcing_batch", wrong_real_step)["status"] == "fail"


def test_greedy_decode_that_steps_only_the_unfinished_rows_passes():
    """A decoder that calls step on the rows still running (a subset) passes: the scripted step knows
    each row by its state, as a real model would."""

    def subset_decode(step, h0, max_len):
        N = h0.shape[0]
        ids = np.full((N, max_len), ref.PAD, dtype=np.int64)
        prev, h = np.full(N, ref.START, dtype=np.int64), h0.copy()
        active = np.arange(N)
        for t in range(max_len):
            scores, h_active = step(prev[active], h[active])
            h[active] = h_active
            prev[active] = scores.argmax(axis=1)
            ids[active, t] = prev[active]
            active = active[prev[active] != ref.END]
            if len(active) == 0:
                break
        return ids

    assert _evaluate("greedy_decode", subset_decode)["status"] == "pass"


def test_greedy_decode_fed_float_ids_is_told_why():
    """START held in a float array (np.zeros(N) + START) makes the step say what it needs."""

    def float_ids(step, h0, max_len):
        prev = np.zeros(h0.shape[0]) + ref.START
        step(prev, h0)

    result = _evaluate("greedy_decode", float_ids)
    assert result["status"] == "error"
    assert "prev_ids must be a 1-D array of integer ids" in result["message"]


@pytest.mark.parametrize(
    "key", ["no_scaling", "scaled_by_d", "mask_ignored", "mask_multiplied_after_softmax", "masked_scores_zero"]
)
def test_scaled_dot_forward_mistakes_in_the_scores_are_not_told_as_a_loop(key):
    """A mistake in the scores of scaled_dot_attention_forward (their scale, the mask) fails first on a case
    where it changes every query, so the message names it and does not read axis 1 (the queries) as the
    steps of a loop that stops early: in the causal case query 0 sees key 0 alone, right whatever its score."""
    result = _evaluate("scaled_dot_attention_forward", MISTAKES["scaled_dot_attention_forward"][key])
    assert result["status"] == "fail"
    assert "loop" not in result["message"] and "time step" not in result["message"], result["message"]


def test_scaled_dot_backward_transposes_are_named_apart():
    """dK = dscores @ Q and dV = alpha @ dout both crash on the padding case (T != S) with the same
    error; the causal case (T = S) comes first in the backward pass, where their values differ, so each
    is named as itself."""
    exercise = EXERCISES["scaled_dot_attention_backward"]
    for key, other in (("dK_not_transposed", "dV_not_transposed"), ("dV_not_transposed", "dK_not_transposed")):
        message = _evaluate("scaled_dot_attention_backward", MISTAKES[exercise.name][key])["message"]
        assert exercise.mistake(key).what in message
        assert exercise.mistake(other).what not in message


def test_loss_returned_as_a_python_float_or_numpy_scalar_passes():
    """teacher_forced_loss may return the loss as a float, a NumPy scalar or a 0-d array."""
    for wrap in (float, np.float64, np.asarray):

        def fn(*args, wrap=wrap):
            loss, scores = ref.teacher_forced_loss(*args)
            return wrap(loss), scores

        assert _evaluate("teacher_forced_loss", fn)["status"] == "pass", wrap


def test_loss_is_the_libraries_masked_cross_entropy():
    """The reference loss equals rnncourse.nn.softmax_cross_entropy on its scores, targets and mask:
    the exercise and the training runs average the same way."""
    from rnncourse import nn

    exercise = EXERCISES["teacher_forced_loss"]
    for case in load_fixture(exercise)[0]:
        loss, scores = ref.teacher_forced_loss(*case.inputs.values())
        _, dec_target, mask = ref.teacher_forcing_batch(case.inputs["y"])
        assert np.isclose(loss, nn.softmax_cross_entropy(scores, dec_target, mask)[0], rtol=1e-12)


def test_attention_decoder_step_is_a_one_query_additive_attention():
    """The step's weights are those of additive_attention_forward with the new state as the query
    (Luong's arrangement), not the previous state, and padding gets none."""
    exercise = EXERCISES["attention_decoder_step"]
    case = load_fixture(exercise)[0][1]  # the padded case
    i = case.inputs
    params = {k: i[k] for k in ("E", "W_xh", "W_hh", "b_h", "W_q", "W_k", "v", "W_y", "b_y")}
    _, s_next, alpha = ref.attention_decoder_step(i["y_prev"], i["s_prev"], i["enc"], i["src_mask"], params)
    _, expected, _ = ref.additive_attention_forward(
        s_next[:, None], i["enc"], i["src_mask"], i["W_q"], i["W_k"], i["v"]
    )
    np.testing.assert_array_equal(alpha, expected[:, 0])
    assert np.all(alpha[~i["src_mask"]] == 0)


# --------------------------------------------------------------------------
# The solution notebook's bodies are the reference's
# --------------------------------------------------------------------------


def _notebook_namespace(ids=None):
    nb = nbformat.read(ROOT / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = str(meta.get("grade_id", ""))
        wanted = ids is None and (meta.get("solution") or (meta.get("locked") and grade_id.startswith(("setup", "provided"))))
        if cell.cell_type == "code" and (wanted or grade_id in (ids or ())):
            exec(compile(cell.source, f"<{grade_id}>", "exec"), namespace)
    return namespace


def test_solution_notebook_bodies_pass_the_checks():
    """The solution cells of the notebook, run after its setup and provided cells, pass every check."""
    namespace = _notebook_namespace()
    for name, exercise in EXERCISES.items():
        helpers = {k: namespace[k] for k in exercise.needs}
        result = evaluate(exercise, namespace[name], *load_fixture(exercise), helpers)
        assert result["status"] == "pass", result["message"]


def test_provided_cell_is_the_reference():
    """The notebook's locked ids and rnn_forward are the reference's."""
    namespace = _notebook_namespace(ids=("setup", "provided"))
    assert (namespace["PAD"], namespace["START"], namespace["END"]) == (ref.PAD, ref.START, ref.END)
    rng = np.random.default_rng(10)
    args = (rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 5)), rng.normal(size=(3, 5)), rng.normal(size=(5, 5)), rng.normal(size=5))
    np.testing.assert_array_equal(namespace["rnn_forward"](*args)[0], ref.rnn_forward(*args)[0])


# --------------------------------------------------------------------------
# The shipped reference result
# --------------------------------------------------------------------------


def test_long_run_holds_the_stated_numbers():
    """data/seq2seq_dates_long_run.csv holds what the lesson says of it: both models evaluated every 100
    updates for 3,000 updates; with attention, 99% exact match or more from the default budget (400
    updates) to the end; without attention, under 10% at 400 updates and still below the attention
    model at 3,000."""
    from rnncourse.data import load_seq2seq_dates_long_run

    runs = load_seq2seq_dates_long_run()
    for attention in (True, False):
        assert runs[attention]["update"] == list(range(100, 3001, 100))
    with_attention = dict(zip(runs[True]["update"], runs[True]["held_out_exact_match"]))
    without = dict(zip(runs[False]["update"], runs[False]["held_out_exact_match"]))
    assert min(a for u, a in with_attention.items() if u >= 400) >= 0.99
    assert without[400] < 0.1 and without[3000] < with_attention[3000]
