"""Lesson 03 (LSTM): the checks, the reference, the worked example and the adding problem.

Proves that every check passes the reference, names each catalogued mistake and
no other, reports the untouched stub as not attempted, and grades a backward
pass with the learner's own forward (any cache layout); that the reference
gradients agree with float64 numerical ones; that the solution notebook's
bodies equal the reference on every public case; that the StatQuest worked
example gives the predictions stated in the notebook; and that the adding
problem generator draws what its docstring says.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
from gradients import rel_error as _rel_error

from autograder.checks.runner import evaluate, load_fixture
from autograder.reference import MISTAKES, REFERENCE
from autograder.reference import lesson03 as ref
from autograder.suites import lesson03 as suite
from autograder.suites import lesson_exercises
from rnncourse.adding import BASELINE_MSE, adding_problem

LESSON = "03_lstm"
ROOT = Path(__file__).resolve().parents[2]
EXERCISES = lesson_exercises(LESSON)


def _helpers(exercise, source=REFERENCE):
    return {name: source[name] for name in exercise.needs}


def _evaluate(exercise, fn, helpers=None):
    helpers = _helpers(exercise) if helpers is None else helpers
    return evaluate(exercise, fn, *load_fixture(exercise), helpers)


# --------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------


def test_suite_lists_the_lesson_exercises_in_notebook_order():
    """The registry finds the six graded functions of lesson 03, numbered 3.1 to 3.6."""
    assert [(e.number, e.name) for e in EXERCISES] == [
        ("3.1", "lstm_step_forward"),
        ("3.2", "lstm_step_backward"),
        ("3.3", "lstm_forward"),
        ("3.4", "lstm_backward"),
        ("3.5", "peephole_lstm_step_forward"),
        ("3.6", "count_lstm_parameters"),
    ]


def test_catalogue_covers_the_issue():
    """The mistakes the issue asks for are all catalogued (by key), at least four per exercise."""
    keys = {e.name: {m.key for m in e.mistakes} for e in EXERCISES}
    assert all(len(k) >= 4 for k in keys.values())
    assert {
        "order_ifog",
        "order_igfo",
        "sigmoid_candidate",
        "tanh_gates",
        "no_tanh_c",
        "forget_on_candidate",
    } <= keys["lstm_step_forward"]
    assert {"no_tanh_c_path", "modifies_upstream"} <= keys["lstm_step_backward"]
    assert {"dc_not_carried", "modifies_upstream"} <= keys["lstm_backward"]
    for e in EXERCISES:
        assert set(MISTAKES[e.name]) == keys[e.name]


class _OtherCache:
    """A learner's forward whose cache is laid out differently from the reference's."""

    @staticmethod
    def step_forward(x, h_prev, c_prev, W_x, W_h, b):
        h_next, c_next, cache = ref.lstm_step_forward(x, h_prev, c_prev, W_x, W_h, b)
        return h_next, c_next, {"parts": cache[::-1]}

    @staticmethod
    def step_backward(dh_next, dc_next, cache):
        return ref.lstm_step_backward(dh_next, dc_next, cache["parts"][::-1])

    @staticmethod
    def forward(x, h0, W_x, W_h, b):
        h, caches = ref.lstm_forward(x, h0, W_x, W_h, b)
        return h, {"steps": tuple(caches)}

    @staticmethod
    def backward(dh, cache):
        return ref.lstm_backward(dh, list(cache["steps"]))


def test_backward_checks_accept_any_cache_layout():
    """The backward checks build the cache with the learner's forward, so a correct pair passes
    whatever the cache holds."""
    step = suite.LSTM_STEP_BACKWARD
    result = _evaluate(
        step, _OtherCache.step_backward, {"lstm_step_forward": _OtherCache.step_forward}
    )
    assert result["status"] == "pass", result["message"]
    seq = suite.LSTM_BACKWARD
    result = _evaluate(seq, _OtherCache.backward, {"lstm_forward": _OtherCache.forward})
    assert result["status"] == "pass", result["message"]


def test_backward_check_counts_numerical_mismatches():
    """A backward that disagrees with the numerical gradient of the learner's own forward is caught
    by numerical_mismatches, even where the values would be compared elsewhere."""

    def db_doubled(dh_next, dc_next, cache):
        grads = list(ref.lstm_step_backward(dh_next, dc_next, cache))
        grads[5] = 2 * grads[5]
        return tuple(grads)

    exercise = suite.LSTM_STEP_BACKWARD
    cases, _, _ = load_fixture(exercise)
    raw = exercise.run(db_doubled, cases[-1].inputs, _helpers(exercise))
    assert dict(zip(exercise.returns, raw))[suite.NUMERICAL] == 1
    result = _evaluate(exercise, db_doubled)
    assert result["status"] == "fail" and "db" in result["message"]


def test_backward_wrong_arity_is_named():
    """Returning five gradients from lstm_step_backward fails its "returns" property (not a crash),
    saying six are expected and naming them, as lesson 04 does."""
    result = _evaluate(
        suite.LSTM_STEP_BACKWARD,
        lambda dh_next, dc_next, cache: ref.lstm_step_backward(dh_next, dc_next, cache)[:5],
    )
    assert result["status"] == "fail"
    assert [f.prop for f in result["findings"] if not f.ok] == ["returns"]
    assert "tuple of 6 gradients (dx, dh_prev, dc_prev, dW_x, dW_h, db), got a tuple of 5" in result["message"]


def test_backward_list_returns_pass():
    """A backward that returns its gradients as a list passes, as in lesson 02."""
    for exercise, backward in (
        (
            suite.LSTM_STEP_BACKWARD,
            lambda dh, dc, cache: list(ref.lstm_step_backward(dh, dc, cache)),
        ),
        (suite.LSTM_BACKWARD, lambda dh, cache: list(ref.lstm_backward(dh, cache))),
    ):
        result = _evaluate(exercise, backward)
        assert result["status"] == "pass", result["message"]


def test_upstream_changed_in_place_keeps_the_numerical_check_right():
    """A correct backward that also scales dh_next in place has 0 numerical disagreements (the loss
    is built from copies taken before the call) and is named as modifying its upstream gradient."""

    def scales_dh_next(dh_next, dc_next, cache):
        out = ref.lstm_step_backward(dh_next, dc_next, cache)
        dh_next *= 1.5
        return out

    exercise = suite.LSTM_STEP_BACKWARD
    cases, _, _ = load_fixture(exercise)
    for case in cases:
        raw = dict(
            zip(exercise.returns, exercise.run(scales_dh_next, case.inputs, _helpers(exercise)))
        )
        assert raw[suite.NUMERICAL] == 0
    result = _evaluate(exercise, scales_dh_next)
    assert f"{suite.STEP_UPSTREAM}: expected 0, got 1" in result["message"]
    assert suite.NUMERICAL not in result["message"]


def test_dc_next_changed_in_place_is_not_named_as_dh_next():
    """A backward that adds into dc_next has its own flag value (2), so the catalogued mistake
    about dh_next (1) is not named for it."""

    def adds_into_dc_next(dh_next, dc_next, cache):
        out = ref.lstm_step_backward(dh_next, dc_next, cache)
        dc_next += 1.0
        return out

    result = _evaluate(suite.LSTM_STEP_BACKWARD, adds_into_dc_next)
    assert result["status"] == "fail"
    assert f"{suite.STEP_UPSTREAM}: expected 0, got 2" in result["message"]
    assert result["mistakes"] == [] and "modifies_upstream" not in [m.key for m in result["maybe"]]


def test_wrong_forward_is_reported_first():
    """A correct backward paired with a wrong forward (h = o * c) fails first on the forward's
    output, named as coming from the learner's forward."""

    def forward_no_tanh(x, h_prev, c_prev, W_x, W_h, b):
        h_next, c_next, cache = ref.lstm_step_forward(x, h_prev, c_prev, W_x, W_h, b)
        o = cache[8]
        return o * c_next, c_next, cache

    result = _evaluate(
        suite.LSTM_STEP_BACKWARD, ref.lstm_step_backward, {"lstm_step_forward": forward_no_tanh}
    )
    assert result["status"] == "fail"
    assert (
        "lstm_step_backward: h_next of your lstm_step_forward (your backward is checked against it): values differ"
        in result["message"]
    )


# --------------------------------------------------------------------------
# Reference properties
# --------------------------------------------------------------------------


def test_step_backward_matches_numerical_gradients():
    """lstm_step_backward agrees with float64 central differences to 1e-7 relative error."""
    rng = np.random.default_rng(3)
    N, D, H = 4, 3, 6
    inputs = {
        "x": rng.normal(size=(N, D)),
        "h_prev": rng.normal(size=(N, H)),
        "c_prev": rng.normal(size=(N, H)),
        "W_x": 0.5 * rng.normal(size=(D, 4 * H)),
        "W_h": 0.5 * rng.normal(size=(H, 4 * H)),
        "b": rng.normal(size=4 * H),
    }
    dh_next, dc_next = rng.normal(size=(N, H)), rng.normal(size=(N, H))

    def loss(v):
        h, c, _ = ref.lstm_step_forward(**v)
        return float(np.sum(h * dh_next) + np.sum(c * dc_next))

    _, _, cache = ref.lstm_step_forward(**inputs)
    grads = ref.lstm_step_backward(dh_next, dc_next, cache)
    for name, grad in zip(("x", "h_prev", "c_prev", "W_x", "W_h", "b"), grads):
        assert _rel_error(grad, suite.numerical_gradient(loss, inputs, name)) < 1e-7, name


def test_sequence_backward_matches_numerical_gradients():
    """lstm_backward agrees with float64 central differences to 1e-7 relative error over 6 steps."""
    rng = np.random.default_rng(4)
    N, T, D, H = 3, 6, 2, 4
    inputs = {
        "x": rng.normal(size=(N, T, D)),
        "h0": rng.normal(size=(N, H)),
        "W_x": 0.5 * rng.normal(size=(D, 4 * H)),
        "W_h": 0.5 * rng.normal(size=(H, 4 * H)),
        "b": rng.normal(size=4 * H),
    }
    dh = rng.normal(size=(N, T, H))

    def loss(v):
        return float(np.sum(ref.lstm_forward(**v)[0] * dh))

    grads = ref.lstm_backward(dh, ref.lstm_forward(**inputs)[1])
    for name, grad in zip(("x", "h0", "W_x", "W_h", "b"), grads):
        assert _rel_error(grad, suite.numerical_gradient(loss, inputs, name)) < 1e-7, name


def test_peephole_with_zero_peepholes_is_the_plain_lstm():
    """With p_i = p_f = p_o = 0 the peephole step equals the plain step."""
    rng = np.random.default_rng(5)
    N, D, H = 2, 3, 4
    args = (
        rng.normal(size=(N, D)),
        rng.normal(size=(N, H)),
        rng.normal(size=(N, H)),
        rng.normal(size=(D, 4 * H)),
        rng.normal(size=(H, 4 * H)),
        rng.normal(size=4 * H),
    )
    zeros = np.zeros(H)
    plain = ref.lstm_step_forward(*args)
    peep = ref.peephole_lstm_step_forward(*args, zeros, zeros, zeros)
    np.testing.assert_allclose(peep[0], plain[0], rtol=1e-12)
    np.testing.assert_allclose(peep[1], plain[1], rtol=1e-12)


def test_lstm_has_four_times_the_rnn_parameters():
    """An LSTM layer has exactly 4 x (D*H + H*H + H) parameters: four vanilla-RNN-sized blocks."""
    for D, H in [(1, 1), (3, 5), (26, 64)]:
        assert ref.count_lstm_parameters(D, H) == 4 * (D * H + H * H + H)


# StatQuest, "Long Short-Term Memory (LSTM), Clearly Explained" (Josh Starmer, 2022), as
# transcribed in the notebook: fused columns i, f, g, o.
STATQUEST_W_X = np.array([[1.65, 1.63, 0.94, -0.19]])
STATQUEST_W_H = np.array([[2.00, 2.70, 1.41, 4.38]])
STATQUEST_B = np.array([0.62, 1.62, -0.32, 0.59])


def _statquest(prices):
    h, c = np.zeros((1, 1)), np.zeros((1, 1))
    for p in prices:
        h, c, _ = ref.lstm_step_forward(
            np.array([[p]]), h, c, STATQUEST_W_X, STATQUEST_W_H, STATQUEST_B
        )
    return float(h[0, 0]), float(c[0, 0])


def test_statquest_worked_example():
    """The published unit predicts day 5: about 0 for company A, about 1 for company B (values
    stated in the notebook: 0.0064 and 0.9694); day 1 of company A gives c = -0.20, h = -0.13
    as in the video."""
    h_a, _ = _statquest([0.0, 0.5, 0.25, 1.0])
    h_b, _ = _statquest([1.0, 0.5, 0.25, 1.0])
    assert round(h_a, 4) == 0.0064 and round(h_b, 4) == 0.9694
    h1, c1 = _statquest([0.0])
    assert round(c1, 2) == -0.20 and round(h1, 2) == -0.13


# --------------------------------------------------------------------------
# The solution notebook and the adding problem
# --------------------------------------------------------------------------


def _notebook_functions():
    nb = nbformat.read(ROOT / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
    ns = {"np": np}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        # The solution cells, and the locked cell that gives the learner a sigmoid.
        if cell.cell_type == "code" and (meta.get("solution") or meta.get("grade_id") == "sigmoid"):
            exec(compile(cell.source, f"<{meta['grade_id']}>", "exec"), ns)
    return ns


def test_notebook_solutions_equal_the_reference():
    """The solution notebook's bodies pass every public case, with their own forward passes."""
    ns = _notebook_functions()
    for exercise in EXERCISES:
        result = _evaluate(exercise, ns[exercise.name], _helpers(exercise, ns))
        assert result["status"] == "pass", result["message"]


def test_adding_problem_draws_two_markers_and_their_sum():
    """One marker in each half of every sequence; the target is the sum of the marked values; the
    constant prediction 1 scores about 1/6."""
    rng = np.random.default_rng(0)
    x, y = adding_problem(4000, 20, rng)
    assert x.shape == (4000, 20, 2) and y.shape == (4000, 1)
    markers = x[..., 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :10].sum(axis=1) == 1) and np.all(markers[:, 10:].sum(axis=1) == 1)
    np.testing.assert_allclose(y[:, 0], (x[..., 0] * markers).sum(axis=1))
    assert abs(np.mean((y - 1.0) ** 2) - BASELINE_MSE) < 0.01
    assert adding_problem(3, 5, np.random.default_rng(1), dtype=np.float32)[0].dtype == np.float32
