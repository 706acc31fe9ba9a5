"""Lesson 05 (deep and bidirectional RNNs): the checks and the reference.

Proves that every check passes the reference, names each catalogued mistake,
reports the untouched stub as not attempted, and grades a backward pass with the
learner's own forward (any cache layout); that the reference gradients agree with
numerical ones; that a bidirectional state at t reads the past in one half and the
future in the other, and nothing else; and that the solution notebook's bodies pass.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
from gradients import numerical_grad as _numerical_grad
from gradients import rel_error as _rel_error

from autograder.checks.runner import evaluate, load_fixture
from autograder.reference import REFERENCE
from autograder.reference import lesson05 as ref
from autograder.suites import lesson_exercises

LESSON = "05_deep_bidirectional"
ROOT = Path(__file__).resolve().parents[2]
EXERCISES = lesson_exercises(LESSON)


def _helpers(exercise, source=REFERENCE):
    return {name: source[name] for name in exercise.needs}


def _dict_cache_forward(x, h0s, params):
    h, cache = ref.stacked_rnn_forward(x, h0s, params)
    return h, {f"layer{i}": c for i, c in enumerate(cache)}


def _dict_cache_backward(dh, cache):
    return ref.stacked_rnn_backward(dh, [cache[f"layer{i}"] for i in range(len(cache))])


def test_stacked_backward_check_uses_learners_forward():
    """A correct backward with its own cache layout passes when checked with its own forward."""
    exercise = next(e for e in EXERCISES if e.name == "stacked_rnn_backward")
    result = evaluate(
        exercise,
        _dict_cache_backward,
        *load_fixture(exercise),
        {"stacked_rnn_forward": _dict_cache_forward},
    )
    assert result["status"] == "pass", result["message"]


def test_backward_check_reports_a_wrong_return_structure():
    """A backward that returns flat lists instead of (dx, dh0s, dparams) fails with a message, not a crash."""
    exercise = next(e for e in EXERCISES if e.name == "stacked_rnn_backward")

    def flat(dh, cache):
        dx, dh0s, _ = ref.stacked_rnn_backward(dh, cache)
        return dx, dh0s

    result = evaluate(exercise, flat, *load_fixture(exercise), _helpers(exercise))
    assert result["status"] == "fail"
    assert "should return a tuple" in result["message"]


def _squeezing_stack_forward(x, h0s, params):
    """Squeezes each layer's states "to drop size-1 axes": harmless until N = 1."""
    caches = []
    for h0, layer in zip(h0s, params):
        x, cache = ref.rnn_forward(x, h0, *layer)
        x = np.squeeze(x)
        caches.append(cache)
    return x, caches


def _squeezing_bi_forward(x, h0_f, h0_b, params_f, params_b):
    """Runs each direction, squeezes the states, concatenates on the last axis."""
    h_f = ref.rnn_forward(x, h0_f, *params_f)[0].squeeze()
    h_b = ref.rnn_forward(x[:, ::-1], h0_b, *params_b)[0][:, ::-1].squeeze()
    return np.concatenate([h_f, h_b], axis=-1), None


def _squeezing_bi_backward(dh, cache):
    dx, dh0_f, dh0_b, grads_f, grads_b = ref.bidirectional_rnn_backward(dh, cache)
    return dx.squeeze(), dh0_f, dh0_b, grads_f, grads_b


def test_code_that_squeezes_the_batch_axis_fails_the_one_sequence_cases():
    """The last case of the stacks and of the bidirectional layer is one sequence (N = 1, D = 7 > H = 3):
    code that squeezes the batch axis away passes every case before it and fails there, with a hint."""
    for name, fn in [
        ("stacked_rnn_forward", _squeezing_stack_forward),
        ("bidirectional_rnn_forward", _squeezing_bi_forward),
        ("bidirectional_rnn_backward", _squeezing_bi_backward),
    ]:
        exercise = next(e for e in EXERCISES if e.name == name)
        cases, expected, mistakes = load_fixture(exercise)
        assert cases[-1].inputs["x"].shape[0] == 1 and all(c.inputs["x"].shape[0] > 1 for c in cases[:-1])
        result = evaluate(exercise, fn, cases, expected, mistakes, _helpers(exercise))
        assert result["status"] in ("fail", "error"), (name, result["status"])
        assert result["case"] == cases[-1].name, (name, result["case"])
        assert "one sequence" in result["message"], (name, result["message"])


# --------------------------------------------------------------------------
# Numerical gradients
# --------------------------------------------------------------------------


def _layer(rng, D, H):
    return (0.6 * rng.normal(size=(D, H)), 0.6 * rng.normal(size=(H, H)), 0.3 * rng.normal(size=H))


def test_stacked_backward_matches_numerical_gradient():
    """stacked_rnn_backward (3 layers of different widths) agrees with central differences to 1e-7."""
    rng = np.random.default_rng(7)
    N, T, sizes = 2, 4, (3, 5, 4, 2)
    x = rng.normal(size=(N, T, sizes[0]))
    h0s = [rng.normal(size=(N, H)) for H in sizes[1:]]
    params = [_layer(rng, D, H) for D, H in zip(sizes[:-1], sizes[1:])]
    dh = rng.normal(size=(N, T, sizes[-1]))
    _, cache = ref.stacked_rnn_forward(x, h0s, params)
    dx, dh0s, dparams = ref.stacked_rnn_backward(dh, cache)

    def loss():
        return float(np.sum(ref.stacked_rnn_forward(x, h0s, params)[0] * dh))

    pairs = (
        [(x, dx)]
        + list(zip(h0s, dh0s))
        + [(p, g) for ps, gs in zip(params, dparams) for p, g in zip(ps, gs)]
    )
    for array, grad in pairs:
        assert _rel_error(_numerical_grad(loss, array), grad) < 1e-7


def test_bidirectional_backward_matches_numerical_gradient():
    """bidirectional_rnn_backward agrees with central differences to 1e-7 relative error."""
    rng = np.random.default_rng(8)
    N, T, D, H = 2, 5, 3, 4
    x, h0_f, h0_b = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    params_f, params_b = _layer(rng, D, H), _layer(rng, D, H)
    dh = rng.normal(size=(N, T, 2 * H))
    _, cache = ref.bidirectional_rnn_forward(x, h0_f, h0_b, params_f, params_b)
    dx, dh0_f, dh0_b, dparams_f, dparams_b = ref.bidirectional_rnn_backward(dh, cache)

    def loss():
        return float(
            np.sum(ref.bidirectional_rnn_forward(x, h0_f, h0_b, params_f, params_b)[0] * dh)
        )

    pairs = (
        [(x, dx), (h0_f, dh0_f), (h0_b, dh0_b)]
        + list(zip(params_f, dparams_f))
        + list(zip(params_b, dparams_b))
    )
    for array, grad in pairs:
        assert _rel_error(_numerical_grad(loss, array), grad) < 1e-7


def test_bidirectional_halves_read_past_and_future():
    """h[:, t, :H] depends only on x[:, :t+1] and h[:, t, H:] only on x[:, t:]."""
    rng = np.random.default_rng(9)
    N, T, D, H = 2, 6, 3, 4
    x = rng.normal(size=(N, T, D))
    args = (rng.normal(size=(N, H)), rng.normal(size=(N, H)), _layer(rng, D, H), _layer(rng, D, H))
    h, _ = ref.bidirectional_rnn_forward(x, *args)
    for t in range(T):
        changed = x.copy()
        changed[:, t] += 1.0
        h2, _ = ref.bidirectional_rnn_forward(changed, *args)
        fwd = np.abs(h2[..., :H] - h[..., :H]).max(axis=(0, 2))
        bwd = np.abs(h2[..., H:] - h[..., H:]).max(axis=(0, 2))
        assert np.all(fwd[:t] == 0) and np.all(fwd[t:] > 0)
        assert np.all(bwd[t + 1 :] == 0) and np.all(bwd[: t + 1] > 0)


# --------------------------------------------------------------------------
# The solution notebook's bodies are the reference's
# --------------------------------------------------------------------------


def test_solution_notebook_bodies_pass_the_checks():
    """The solution cells of the notebook, run after its setup and provided cells, pass every check."""
    nb = nbformat.read(ROOT / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        locked_code = meta.get("locked") and str(meta.get("grade_id", "")).startswith(
            ("setup", "provided")
        )
        if cell.cell_type == "code" and (meta.get("solution") or locked_code):
            exec(compile(cell.source, f"<{meta.get('grade_id')}>", "exec"), namespace)
    for exercise in EXERCISES:
        helpers = {name: namespace[name] for name in exercise.needs}
        result = evaluate(exercise, namespace[exercise.name], *load_fixture(exercise), helpers)
        assert result["status"] == "pass", result["message"]


def test_provided_rnn_cell_is_the_reference_layer():
    """The notebook's locked rnn_forward / rnn_backward equal the reference's on a random case."""
    nb = nbformat.read(ROOT / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in ("setup", "provided_rnn"):
            exec(compile(cell.source, "<provided>", "exec"), namespace)
    rng = np.random.default_rng(10)
    x, h0, layer, dh = (
        rng.normal(size=(2, 4, 3)),
        rng.normal(size=(2, 5)),
        _layer(rng, 3, 5),
        rng.normal(size=(2, 4, 5)),
    )
    h_nb, cache_nb = namespace["rnn_forward"](x, h0, *layer)
    h_ref, cache_ref = ref.rnn_forward(x, h0, *layer)
    np.testing.assert_array_equal(h_nb, h_ref)
    for a, b in zip(namespace["rnn_backward"](dh, cache_nb), ref.rnn_backward(dh, cache_ref)):
        np.testing.assert_array_equal(a, b)
