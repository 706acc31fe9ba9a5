"""Lesson 04 (GRU): the checks, the reference and the conventions.

Proves that every check passes the reference, names each catalogued mistake,
reports the untouched stub as not attempted, and grades a backward pass with the
learner's own forward (any cache layout); that the reference gradients agree with
numerical ones; and that the PyTorch-convention step and the Keras conversion
reproduce torch.nn.GRU's own outputs (from data/fixtures/torch, no torch needed).
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest
from gradients import numerical_grad as _numerical_grad
from gradients import rel_error as _rel_error

from autograder.checks.runner import evaluate, load_fixture
from autograder.reference import lesson04 as ref
from autograder.suites import lesson_exercises

LESSON = "04_gru"
ROOT = Path(__file__).resolve().parents[2]
EXERCISES = lesson_exercises(LESSON)


def _dict_cache_forward(x, h_prev, W_x, W_h, b):
    h_next, cache = ref.gru_step_forward(x, h_prev, W_x, W_h, b)
    return h_next, dict(zip(("x", "h_prev", "W_x", "W_h", "r", "z", "n"), cache))


def _dict_cache_backward(dh_next, cache):
    return ref.gru_step_backward(
        dh_next, tuple(cache[k] for k in ("x", "h_prev", "W_x", "W_h", "r", "z", "n"))
    )


def test_step_backward_check_uses_learners_forward():
    """A correct backward with its own cache layout passes when checked with its own forward."""
    exercise = next(e for e in EXERCISES if e.name == "gru_step_backward")
    result = evaluate(
        exercise,
        _dict_cache_backward,
        *load_fixture(exercise),
        {"gru_step_forward": _dict_cache_forward},
    )
    assert result["status"] == "pass", result["message"]


def test_backward_check_detects_mutated_cache():
    """A backward that writes into the arrays of its cache is reported as modifying its inputs."""
    exercise = next(e for e in EXERCISES if e.name == "gru_step_backward")

    def mutating(dh_next, cache):
        grads = ref.gru_step_backward(dh_next, cache)
        cache[0][...] = 0.0  # x, an input of the case
        return grads

    result = evaluate(
        exercise, mutating, *load_fixture(exercise), {"gru_step_forward": ref.gru_step_forward}
    )
    assert result["status"] == "fail"
    assert any(f.prop == "inputs" and not f.ok for f in result["findings"])


@pytest.mark.parametrize(
    ("block", "cols"), [("r", "db[0:H]"), ("z", "db[H:2H]"), ("n", "db[2H:3H]")]
)
def test_step_backward_slip_is_narrowed_to_its_block(block, cols, gru_slip_in_block):
    """A slip in one block of da is named by its block, r, z or n, in the verdict itself."""
    exercise = next(e for e in EXERCISES if e.name == "gru_step_backward")
    result = evaluate(
        exercise, gru_slip_in_block(block), *load_fixture(exercise), {"gru_step_forward": ref.gru_step_forward}
    )
    assert result["status"] == "fail" and not result["mistakes"]
    assert f"the {block} block {cols} does not: look at da_{block}" in result["message"], result["message"]


# --------------------------------------------------------------------------
# Numerical gradients
# --------------------------------------------------------------------------


def test_step_backward_matches_numerical_gradient():
    """gru_step_backward agrees with central differences to 1e-7 relative error (float64)."""
    rng = np.random.default_rng(4)
    N, D, H = 3, 4, 5
    x, h_prev = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    W_x, W_h, b = rng.normal(size=(D, 3 * H)), rng.normal(size=(H, 3 * H)), rng.normal(size=3 * H)
    dh_next = rng.normal(size=(N, H))
    _, cache = ref.gru_step_forward(x, h_prev, W_x, W_h, b)
    grads = ref.gru_step_backward(dh_next, cache)

    def loss():
        return float(np.sum(ref.gru_step_forward(x, h_prev, W_x, W_h, b)[0] * dh_next))

    for array, grad in zip((x, h_prev, W_x, W_h, b), grads):
        assert _rel_error(_numerical_grad(loss, array), grad) < 1e-7


def test_sequence_backward_matches_numerical_gradient():
    """gru_backward agrees with central differences to 1e-7 relative error (float64)."""
    rng = np.random.default_rng(5)
    N, T, D, H = 2, 4, 3, 4
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    W_x, W_h, b = (
        0.7 * rng.normal(size=(D, 3 * H)),
        0.7 * rng.normal(size=(H, 3 * H)),
        rng.normal(size=3 * H),
    )
    dh = rng.normal(size=(N, T, H))
    _, cache = ref.gru_forward(x, h0, W_x, W_h, b)
    grads = ref.gru_backward(dh, cache)

    def loss():
        return float(np.sum(ref.gru_forward(x, h0, W_x, W_h, b)[0] * dh))

    for array, grad in zip((x, h0, W_x, W_h, b), grads):
        assert _rel_error(_numerical_grad(loss, array), grad) < 1e-7


# --------------------------------------------------------------------------
# Conventions
# --------------------------------------------------------------------------


def _torch_gru():
    data = json.loads((ROOT / "data" / "fixtures" / "torch" / "torch_crosscheck.json").read_text())
    case = data["cases"]["gru"]
    p = {k: np.array(v) for k, v in case["params"].items()}
    W_x, W_h = p["weight_ih_l0"].T, p["weight_hh_l0"].T
    return case, W_x, W_h, p["bias_ih_l0"], p["bias_hh_l0"]


def test_torch_step_reproduces_torch_gru():
    """Unrolled, gru_torch_step_forward reproduces torch.nn.GRU's stored outputs to 1e-10."""
    case, W_x, W_h, b_x, b_h = _torch_gru()
    x, h = np.array(case["x"]), np.array(case["h0"])
    for t in range(x.shape[1]):
        h = ref.gru_torch_step_forward(x[:, t], h, W_x, W_h, b_x, b_h)
        np.testing.assert_allclose(h, np.array(case["out"])[:, t], rtol=0, atol=1e-10)


def test_course_gru_is_a_different_function_from_torch():
    """The course GRU on the same weights (biases summed) does not reproduce torch's output."""
    case, W_x, W_h, b_x, b_h = _torch_gru()
    h, _ = ref.gru_forward(np.array(case["x"]), np.array(case["h0"]), W_x, W_h, b_x + b_h)
    assert np.max(np.abs(h - np.array(case["out"]))) > 0.1


def _keras_step(x, h_prev, kernel, recurrent_kernel, bias):
    """Keras GRUCell (reset_after=True) written from its source, layout z, r, h."""
    x_z, x_r, x_h = np.split(x @ kernel + bias[0], 3, axis=-1)
    rec_z, rec_r, rec_h = np.split(h_prev @ recurrent_kernel + bias[1], 3, axis=-1)
    z = 1 / (1 + np.exp(-(x_z + rec_z)))
    r = 1 / (1 + np.exp(-(x_r + rec_r)))
    hh = np.tanh(x_h + r * rec_h)
    return z * h_prev + (1 - z) * hh


def test_keras_conversion_gives_the_same_function():
    """Keras weights converted by the reference run in the PyTorch step give Keras's own output."""
    rng = np.random.default_rng(6)
    N, D, H = 3, 4, 5
    kernel, rec, bias = (
        rng.normal(size=(D, 3 * H)),
        rng.normal(size=(H, 3 * H)),
        rng.normal(size=(2, 3 * H)),
    )
    x, h_prev = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    converted = ref.gru_weights_from_keras(kernel, rec, bias)
    np.testing.assert_allclose(
        ref.gru_torch_step_forward(x, h_prev, *converted),
        _keras_step(x, h_prev, kernel, rec, bias),
        atol=1e-12,
    )


# --------------------------------------------------------------------------
# The solution notebook's bodies are the reference's
# --------------------------------------------------------------------------


def test_solution_notebook_bodies_pass_the_checks():
    """The solution cells of solutions/04_gru, run alone after the setup cell, pass every check."""
    nb = nbformat.read(ROOT / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (
            meta.get("solution") or meta.get("grade_id") in ("setup", "provided")
        ):
            exec(compile(cell.source, f"<{meta.get('grade_id')}>", "exec"), namespace)
    for exercise in EXERCISES:
        helpers = {name: namespace[name] for name in exercise.needs}
        result = evaluate(exercise, namespace[exercise.name], *load_fixture(exercise), helpers)
        assert result["status"] == "pass", result["message"]
