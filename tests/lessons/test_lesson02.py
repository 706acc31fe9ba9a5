"""Lesson 02 · backpropagation through time: the checks, the reference and its mistakes.

Proves that every check passes the reference, names each catalogued mistake
(and only it), reports an untouched stub as not attempted, and catches what
the extra properties of the backward checks are for: state carried between
calls and inputs changed in place. Also proves the lesson's own claims: the
reference backward passes agree with numerical gradients, and truncated BPTT
with one chunk equals full BPTT.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradients import numerical_grad, rel_error

from autograder.checks.runner import evaluate, load_fixture
from autograder.reference import MISTAKES, REFERENCE
from autograder.reference import lesson02 as ref
from autograder.suites import lesson02 as suite
from autograder.suites import lesson_exercises

LESSON = "02_bptt"
EXERCISES = {e.name: e for e in lesson_exercises(LESSON)}
GRAD_TOL = 1e-7  # relative error of the reference backward vs central differences, float64


def _mistake_params():
    return [
        pytest.param(name, m.key, id=f"{name}-{m.key}")
        for name, exercise in EXERCISES.items()
        for m in exercise.mistakes
    ]


def _run(name, fn):
    exercise = EXERCISES[name]
    cases, expected, mistakes = load_fixture(exercise)
    return evaluate(exercise, fn, cases, expected, mistakes)


def test_lesson02_exercise_names_and_points():
    """The lesson grades the six functions of the notebook, 16 points in all."""
    assert list(EXERCISES) == [
        "rnn_step_backward",
        "rnn_backward",
        "numerical_gradient",
        "relative_error",
        "clip_by_global_norm",
        "truncated_bptt",
    ]
    assert sum(e.points for e in EXERCISES.values()) == 16
    for exercise in EXERCISES.values():
        assert len(exercise.mistakes) >= 4, exercise.name


def _stateful_step_backward():
    """A learner's step backward that accumulates dW_hh across calls in a global."""
    acc = {}

    def rnn_step_backward(dh_next, cache):
        dx, dh_prev, dW_xh, dW_hh, db_h = ref.rnn_step_backward(dh_next, cache)
        acc["dW_hh"] = acc.get("dW_hh", 0.0) + dW_hh
        return dx, dh_prev, dW_xh, acc["dW_hh"], db_h

    return rnn_step_backward


def test_backward_check_catches_state_between_calls():
    """Gradients that depend on earlier calls fail the check with second_call_differs."""
    result = _run("rnn_step_backward", _stateful_step_backward())
    assert result["status"] == "fail"
    assert f"{suite.SECOND_CALL}: expected 0, got 1" in result["message"]


def test_backward_check_catches_any_upstream_mutation():
    """Changing dh in place in another way than the catalogued one still fails, pointing at it."""

    def rnn_backward(dh, cache):
        out = ref.rnn_backward(dh.copy(), cache)
        dh[...] = 0.0
        return out

    result = _run("rnn_backward", rnn_backward)
    assert result["status"] == "fail"
    assert f"{suite.SEQ_UPSTREAM}: expected 0, got 1" in result["message"]
    assert [m.key for m in result["mistakes"] + result["maybe"]] == ["modifies_upstream"]


def test_changing_the_cache_is_not_called_changing_dh_next():
    """A step backward that squares h_next in the cache (right gradients) is told the cache changed,
    at which position, and is never diagnosed as modifying dh_next; changing x says position 1."""

    def squares_h_next(dh_next, cache):
        x, h_prev, W_xh, W_hh, h_next = cache
        h_next **= 2
        da = dh_next * (1 - h_next)
        return da @ W_xh.T, da @ W_hh.T, x.T @ da, h_prev.T @ da, da.sum(0)

    result = _run("rnn_step_backward", squares_h_next)
    assert f"{suite.CACHE_CHANGED}: expected 0, got 5" in result["message"]
    assert [m.key for m in result["mistakes"]] == ["modifies_cache"]

    def scales_x(dh_next, cache):
        out = ref.rnn_step_backward(dh_next, cache)
        cache[0][...] *= 2.0
        return out

    result = _run("rnn_step_backward", scales_x)
    assert f"{suite.CACHE_CHANGED}: expected 0, got 1" in result["message"]
    assert "modifies_upstream" not in [m.key for m in result["mistakes"] + result["maybe"]]


def test_numerical_gradient_restored_by_arithmetic_is_named_not_told_to_copy():
    """Restoring x by += eps, -= 2 eps, += eps leaves 1e-16 residues: the check counts the entries,
    names the mistake, and never tells the learner to work on a copy (the spec perturbs x in place)."""

    def arithmetic(f, x, eps=1e-6):
        grad = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            x[idx] += eps
            fp = f(x)
            x[idx] -= 2 * eps
            fm = f(x)
            x[idx] += eps
            grad[idx] = (fp - fm) / (2 * eps)
        return grad

    result = _run("numerical_gradient", arithmetic)
    assert result["status"] == "fail"
    assert [m.key for m in result["mistakes"]] == ["restored_by_arithmetic"]
    assert "copy" not in result["message"] and "+=" not in result["findings"][-1].message


def test_numerical_gradient_check_uses_eps():
    """A numerical_gradient that ignores its eps argument fails (one case uses eps = 1e-2)."""

    def fixed_eps(f, x, eps=1e-6):
        return ref.numerical_gradient(f, x)

    assert _run("numerical_gradient", fixed_eps)["status"] == "fail"


def test_list_returns_are_accepted():
    """A backward that returns its gradients as a list instead of a tuple passes."""
    assert (
        _run("rnn_step_backward", lambda d, c: list(ref.rnn_step_backward(d, c)))["status"]
        == "pass"
    )


def test_backward_check_counts_numerical_failures():
    """A wrong gradient shows in numerical_check_failures (the projection check), not only in the values."""
    exercise = EXERCISES["rnn_step_backward"]
    cases, _, _ = load_fixture(exercise)
    outputs = exercise.run(MISTAKES["rnn_step_backward"]["no_tanh_derivative"], cases[-1].inputs)
    assert outputs[5] == 5
    assert exercise.run(REFERENCE["rnn_step_backward"], cases[-1].inputs)[5] == 0


def test_rnn_backward_matches_numerical_gradients():
    """The reference rnn_backward agrees with central differences to GRAD_TOL for every input."""
    rng = np.random.default_rng(2)
    N, T, D, H = 2, 5, 3, 4
    args = [
        rng.standard_normal((N, T, D)),
        0.5 * rng.standard_normal((N, H)),
        0.6 * rng.standard_normal((D, H)),
        0.6 * rng.standard_normal((H, H)),
        0.3 * rng.standard_normal(H),
    ]
    dh = rng.standard_normal((N, T, H))

    def loss():
        return float(np.sum(ref._rnn_forward(*args)[0] * dh))

    _, cache = ref._rnn_forward(*args)
    grads = ref.rnn_backward(dh, cache)
    for arr, grad in zip(args, grads):
        assert rel_error(grad, numerical_grad(loss, arr)) < GRAD_TOL


def test_learner_numerical_gradient_matches_reference_backward():
    """The reference numerical_gradient, used as learners use it, confirms the reference step backward."""
    rng = np.random.default_rng(3)
    x, h_prev = rng.standard_normal((3, 4)), np.tanh(rng.standard_normal((3, 5)))
    W_xh, W_hh, b_h = (
        rng.standard_normal((4, 5)),
        rng.standard_normal((5, 5)),
        rng.standard_normal(5),
    )
    dh_next = rng.standard_normal((3, 5))
    h_next, cache = ref._rnn_step_forward(x, h_prev, W_xh, W_hh, b_h)
    dx, dh_prev, dW_xh, dW_hh, db_h = ref.rnn_step_backward(dh_next, cache)

    def f(W):
        return float(np.sum(ref._rnn_step_forward(x, h_prev, W_xh, W, b_h)[0] * dh_next))

    num = ref.numerical_gradient(f, W_hh.copy())
    assert ref.relative_error(dW_hh, num) < GRAD_TOL


def test_softmax_loss_gradients_matchnumerical_grad():
    """The given loss layer's gradients agree with central differences."""
    rng = np.random.default_rng(4)
    h, W_hy, b_y = (
        np.tanh(rng.standard_normal((2, 3, 4))),
        rng.standard_normal((4, 5)),
        rng.standard_normal(5),
    )
    y = rng.integers(0, 5, size=(2, 3))
    _, dh, dW_hy, db_y = ref._softmax_loss(h, W_hy, b_y, y)
    for arr, grad in ((h, dh), (W_hy, dW_hy), (b_y, db_y)):
        num = numerical_grad(lambda: ref._softmax_loss(h, W_hy, b_y, y)[0], arr)
        assert rel_error(grad, num) < GRAD_TOL


def test_truncated_bptt_one_chunk_is_full_bptt_and_loss_does_not_depend_on_chunks():
    """With chunk_len >= T truncated BPTT is full BPTT; any chunking gives the same loss and final state."""
    rng = np.random.default_rng(5)
    N, T, D, H, V = 2, 9, 3, 4, 3
    x, y = rng.standard_normal((N, T, D)), rng.integers(0, V, size=(N, T))
    h0 = 0.5 * rng.standard_normal((N, H))
    params = dict(
        zip(
            ref.PARAM_NAMES,
            (
                rng.standard_normal((D, H)),
                rng.standard_normal((H, H)),
                rng.standard_normal(H),
                rng.standard_normal((H, V)),
                rng.standard_normal(V),
            ),
        )
    )
    full = MISTAKES["truncated_bptt"]["gradient_across_chunks"](x, y, h0, params, 4)
    one = ref.truncated_bptt(x, y, h0, params, T)
    assert np.isclose(one[0], full[0])
    for k in ref.PARAM_NAMES:
        np.testing.assert_allclose(one[1][k], full[1][k], rtol=1e-12, atol=1e-12)
    for chunk_len in (1, 2, 4):
        loss, grads, h_last = ref.truncated_bptt(x, y, h0, params, chunk_len)
        assert np.isclose(loss, full[0])
        np.testing.assert_allclose(h_last, full[2], rtol=1e-12)
        # the output layer sees every step in full, so its gradients do not depend on the chunks
        np.testing.assert_allclose(grads["W_hy"], full[1]["W_hy"], rtol=1e-10)
        assert not np.allclose(grads["W_hh"], full[1]["W_hh"])


def test_clip_by_global_norm_keeps_direction_and_caps_norm():
    """Clipped gradients point the same way and their global norm equals max_norm."""
    rng = np.random.default_rng(6)
    grads = [10 * rng.standard_normal((3, 4)), 10 * rng.standard_normal(4)]
    clipped, total = ref.clip_by_global_norm(grads, 1.0)
    new_norm = np.sqrt(sum(np.sum(g * g) for g in clipped))
    assert np.isclose(new_norm, 1.0)
    for g, c in zip(grads, clipped):
        np.testing.assert_allclose(c * total, g, rtol=1e-12)
