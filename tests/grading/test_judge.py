"""The grader's verdicts on what the child sends back, in-process (no sandbox needed).

The child's own ``run_exercise`` runs the learner's functions, exactly as in the
sandbox; ``judge`` turns its reply into points and a message.
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder.grading import child
from autograder.grading.compare import hidden_cases, judge
from autograder.reference import MISTAKES, REFERENCE
from autograder.suites import EXERCISES


def _grade(name, namespace, seed=7):
    hidden = hidden_cases(EXERCISES[name], seed)
    reply = child.run_exercise(namespace, hidden.request())
    return judge(hidden, reply, memory_mb=512)


def test_reference_scores_full_points():
    result = _grade("stacked_rnn_backward", dict(REFERENCE))
    assert result.status == "pass" and result.points == result.max_points


def test_crash_after_a_failing_case_is_judged_on_the_cases_before():
    """A mistake that fails the first cases and crashes on the last is named, as in the notebook."""
    ns = {"stacked_rnn_forward": MISTAKES["stacked_rnn_forward"]["layer_reads_x"]}
    result = _grade("stacked_rnn_forward", ns)
    assert result.status == "fail" and result.points == 0
    assert result.mistake == "layer_reads_x"
    assert "After that case it also raised ValueError" in result.message
    # as in the notebook: what it raised and the hint of the case it crashed on
    assert "everything random': matmul: " in result.message
    assert "Hint for that case: this is the first case whose layers have their own widths" in result.message
    assert any("Hint for that case:" in line for line in result.lines)


def test_crash_on_the_first_case_is_an_error():
    def crashing(x, h0s, params):
        raise ValueError("boom")

    result = _grade("stacked_rnn_forward", {"stacked_rnn_forward": crashing})
    assert result.status == "error" and "raised ValueError" in result.message


def test_crash_in_the_forward_pass_is_blamed_on_the_forward():
    def broken_forward(*args):
        return np.ones((2, 3)) @ np.ones((4, 5))

    ns = {"gru_backward": REFERENCE["gru_backward"], "gru_forward": broken_forward}
    result = _grade("gru_backward", ns)
    assert result.status == "error" and result.points == 0
    assert "your gru_forward, which the check runs first" in result.message


def test_wrong_nesting_is_judged_like_in_the_notebook():
    ref = REFERENCE["bidirectional_rnn_backward"]

    def flat(dh, cache):
        dx, dh0_f, dh0_b, gf, gb = ref(dh, cache)
        return (dx, dh0_f, dh0_b, *gf, *gb)

    ns = {"bidirectional_rnn_backward": flat, "bidirectional_rnn_forward": REFERENCE["bidirectional_rnn_forward"]}
    result = _grade("bidirectional_rnn_backward", ns)
    assert result.status == "fail" and result.points == 0
    assert "got a tuple of 9" in result.message


def test_backward_that_changes_its_cache_scores_nothing():
    ref = REFERENCE["gru_backward"]

    def pops(dh, cache):
        grads = ref(dh, cache)
        cache.pop()
        return grads

    ns = {"gru_backward": pops, "gru_forward": REFERENCE["gru_forward"]}
    result = _grade("gru_backward", ns)
    assert result.points == 0 and "changed its cache in place" in result.message


def test_forged_problem_reply_cannot_earn_points():
    """A child that sends a made-up "problem" for every case gets a failing verdict, not a crash."""
    hidden = hidden_cases(EXERCISES["gru_backward"], 7)
    reply = {"status": "ok", "cases": [{"problem": {"prop": "<script>", "message": "x" * 10**5}}] * len(hidden.cases)}
    result = judge(hidden, reply, memory_mb=512)
    assert result.status == "fail" and result.points == 0 and len(result.message) < 3000


def test_failing_dependencies_are_named_in_the_grade_report():
    from autograder.grading.compare import ExerciseResult, note_failing_dependencies

    def result(name, status):
        ex = EXERCISES[name]
        return ExerciseResult(name, ex.number, ex.points, ex.points if status == "pass" else 0, status, "msg", ["line"])

    results = [result("gru_step_forward", "fail"), result("gru_forward", "fail"), result("gru_backward", "fail"),
               result("gru_step_backward", "pass")]
    note_failing_dependencies(results)
    step, forward, backward, step_backward = results
    assert "does not pass" not in step.message and "does not pass" not in step_backward.message
    assert "Your gru_step_forward (4.1) does not pass its own hidden cases, and gru_forward calls it" in forward.message
    assert "Your gru_forward (4.3) does not pass its own hidden cases" in backward.message
    assert "gru_step_backward" not in backward.message  # it passes: no note
    assert backward.lines[-1].startswith("  → Your gru_forward")


def test_dependencies_that_were_never_graded_are_not_blamed():
    """When the notebook's time budget ran out before gru_step_forward was graded, nothing says it fails."""
    import dataclasses

    from autograder.grading.compare import ExerciseResult, note_failing_dependencies

    ex = EXERCISES["gru_step_forward"]
    ungraded = ExerciseResult(ex.name, ex.number, ex.points, 0, "timeout", "it was not graded", [], graded=False)
    forward = ExerciseResult("gru_forward", "4.3", 2, 0, "fail", "msg", ["line"])
    note_failing_dependencies([ungraded, forward])
    assert forward.message == "msg"
    note_failing_dependencies([dataclasses.replace(ungraded, graded=True), forward])
    assert "does not pass its own hidden cases" in forward.message  # the same status, graded: named


def test_a_crashed_forward_is_not_named_twice():
    """A backward whose forward crashed says 'Fix ... first' once: no dependency note repeats it."""
    from autograder.grading.compare import note_failing_dependencies

    def forward(x, h0s, params):
        raise ValueError("boom")

    ns = {"stacked_rnn_forward": forward, "stacked_rnn_backward": REFERENCE["stacked_rnn_backward"]}
    results = [_grade("stacked_rnn_forward", ns), _grade("stacked_rnn_backward", ns)]
    note_failing_dependencies(results)
    backward = results[1]
    assert backward.status == "error" and "could not be checked: your stacked_rnn_forward" in backward.message
    assert backward.message.count("stacked_rnn_forward first") == 1
    assert "does not pass" not in backward.message


def test_huge_error_names_and_tracebacks_are_cut():
    """The child may send anything: the verdict keeps a few thousand characters, the traceback's end."""
    hidden = hidden_cases(EXERCISES["rnn_step_forward"], 7)
    reply = {"status": "error", "case": 0, "error": "E" * 10**6, "traceback": "x" * 10**6 + "the last line"}
    result = judge(hidden, reply, memory_mb=512)
    assert result.status == "error" and result.points == 0
    assert len(result.message) < 6000 and result.message.endswith("the last line")
    forged = judge(hidden, {"status": "helper_error", "case": 0, "helper": "check.forward pass", "traceback": "t"}, 512)
    assert "check.forward" not in forged.message and "a function the check runs first raised" in forged.message


def _catalogue():
    return [(name, m.key) for name, ex in EXERCISES.items() for m in ex.mistakes if m.key in MISTAKES.get(name, {})]


@pytest.mark.parametrize("name,key", _catalogue())
def test_the_grade_report_names_every_catalogued_mistake(name, key):
    """On fresh hidden cases, every catalogued mistake scores 0 and is named, as in the notebook:
    by its outputs, by the problem it meets (a list changed in place), or by the error it raises."""
    ns = {**REFERENCE, name: MISTAKES[name][key]}
    result = _grade(name, ns, seed=11)
    assert result.points == 0 and result.mistake == key, result.message
    assert EXERCISES[name].mistake(key).what in result.message


def test_grade_report_tracebacks_hold_only_the_learners_frames():
    """As in the notebook: no frame of the course's suites (the calls that wrap the function) or NumPy."""

    def stacked_rnn_forward(x, h0s, params):
        return np.tanh(x @ params[5][0]), None  # IndexError in the learner's own line

    result = _grade("stacked_rnn_forward", {"stacked_rnn_forward": stacked_rnn_forward})
    assert result.status == "error" and "IndexError" in result.message
    assert "autograder" not in result.message and "numpy" not in result.message
    assert "params[5][0]" in result.message


def test_backward_reading_the_last_forward_call_fails_on_hidden_cases():
    """A backward that rebuilds its cache from the inputs of the last forward call (kept in a
    global) is right only when nothing ran in between: the child's second call tells."""
    last = {}

    def forward(*args):
        last["args"] = args
        return REFERENCE["gru_forward"](*args)

    def backward(dh, cache):
        return REFERENCE["gru_backward"](dh, REFERENCE["gru_forward"](*last["args"])[1])

    result = _grade("gru_backward", {"gru_backward": backward, "gru_forward": forward})
    assert result.status == "fail" and result.points == 0
    assert "gru_backward gave one set of gradients when your gru_forward had run again" in result.message


def test_result_overwritten_by_the_next_call_fails_on_hidden_cases():
    buffer = {}

    def lstm_forward(*args):
        h, cache = REFERENCE["lstm_forward"](*args)
        if buffer.get("h") is None or buffer["h"].shape != h.shape:
            buffer["h"] = np.empty_like(h)
        buffer["h"][...] = h
        return buffer["h"], cache

    result = _grade("lstm_forward", {"lstm_forward": lstm_forward})
    assert result.status == "fail" and result.points == 0
    assert "lstm_forward's result changed when lstm_forward was called again" in result.message


def test_a_list_of_gradients_passes_on_hidden_cases_as_in_the_notebook():
    ref = REFERENCE["gru_step_backward"]

    def as_list(dh_next, cache):
        return list(ref(dh_next, cache))

    ns = {"gru_step_backward": as_list, "gru_step_forward": REFERENCE["gru_step_forward"]}
    assert _grade("gru_step_backward", ns).status == "pass"


def test_a_failing_sequence_backward_over_passing_steps_points_at_the_caches():
    from autograder.grading.compare import ExerciseResult, note_failing_dependencies

    def result(name, status, mistake=None):
        failed = "values" if status == "fail" else None
        return ExerciseResult(name, EXERCISES[name].number, 1.0, 0.0, status, "msg", [], mistake, failed=failed)

    named = [result("gru_step_backward", "pass"), result("gru_backward", "fail", mistake="no_carry")]
    plain = [result("gru_step_backward", "pass"), result("gru_backward", "fail")]
    note_failing_dependencies(named)
    note_failing_dependencies(plain)
    assert "step's cache" not in named[1].message  # a catalogued mistake explains it already
    assert "Your gru_step_backward passes its own hidden cases" in plain[1].message
    assert "each step's cache must hold that step's own arrays" in plain[1].message


@pytest.mark.parametrize("dtype", [np.complex128, "<U8", object, np.uint32, np.float16])
def test_an_array_of_a_wrong_dtype_is_named_by_its_dtype_as_in_the_notebook(dtype):
    ref = REFERENCE["gru_step_forward"]

    def odd(*args):
        h, cache = ref(*args)
        return h.astype(dtype), cache

    result = _grade("gru_step_forward", {"gru_step_forward": odd})
    assert result.status == "fail"
    assert f"expected dtype float64, got {np.dtype(dtype)}" in result.message, result.message


def test_a_tuple_where_one_value_is_asked_for_is_named_as_in_the_notebook():
    ref = REFERENCE["gru_torch_step_forward"]
    result = _grade("gru_torch_step_forward", {"gru_torch_step_forward": lambda *args: (ref(*args), None)})
    assert result.status == "fail"
    assert "gru_torch_step_forward should return h_next alone, got a tuple of 2" in result.message


def test_gradients_and_halves_are_named_in_the_grade_report_as_in_the_notebook(layer_1_dW_xh_doubled):
    """The grade report names dparams[1][0] and the wrong half of h, like the notebook's check."""
    bi_forward = REFERENCE["bidirectional_rnn_forward"]

    def reverse_half_off(x, h0_f, h0_b, params_f, params_b):
        h, cache = bi_forward(x, h0_f, h0_b, params_f, params_b)
        return np.concatenate([h[..., : h.shape[-1] // 2], h[..., h.shape[-1] // 2 :] + 0.1], axis=-1), cache

    ns = {"stacked_rnn_backward": layer_1_dW_xh_doubled, "stacked_rnn_forward": REFERENCE["stacked_rnn_forward"]}
    result = _grade("stacked_rnn_backward", ns)
    assert result.status == "fail" and "dparams[1][0] (dW_xh of layer 1): values differ" in result.message
    result = _grade("bidirectional_rnn_forward", {"bidirectional_rnn_forward": reverse_half_off})
    assert result.status == "fail" and "h[..., :4] matches, the reverse direction's half h[..., 4:] does not" in result.message


def test_a_gru_slip_is_narrowed_to_its_block_in_the_grade_report_as_in_the_notebook(gru_slip_in_block):
    """A slip in the update gate's block of da is named by its block on hidden cases too."""
    ns = {"gru_step_backward": gru_slip_in_block("z"), "gru_step_forward": REFERENCE["gru_step_forward"]}
    result = _grade("gru_step_backward", ns)
    assert result.status == "fail" and result.points == 0
    assert "the z block db[H:2H] does not: look at da_z" in result.message, result.message


def test_exception_whose_str_fails_is_judged_not_raised(unprintable_error):
    def crashes(scores):
        raise unprintable_error()

    result = _grade("softmax", {"softmax": crashes})
    assert result.status == "error" and result.points == 0 and "raised _UnprintableError" in result.message


def test_the_grade_report_sends_only_a_values_failure_to_the_forward_caches():
    """As in the notebook: a backward that writes into dh fails for that, with no note about the caches;
    one whose values differ while its step passes gets the note."""
    from autograder.grading.compare import note_failing_dependencies

    reference = REFERENCE["gru_backward"]

    def writes_dh(dh, cache):
        out = reference(dh, cache)
        dh[:, 0] += 1.0
        return out

    def doubled(dh, cache):
        dx, *rest = reference(dh, cache)
        return (2 * dx, *rest)

    step = _grade("gru_step_backward", {"gru_step_backward": REFERENCE["gru_step_backward"],
                                        "gru_step_forward": REFERENCE["gru_step_forward"]})
    for fn, noted in ((writes_dh, False), (doubled, True)):
        result = _grade("gru_backward", {"gru_backward": fn, "gru_forward": REFERENCE["gru_forward"]})
        assert result.status == "fail"
        note_failing_dependencies([step, result])
        assert ("each step's cache must hold" in result.message) is noted, result.message


def test_a_forward_that_writes_into_a_cached_state_scores_nothing(reusing_forward):
    """As in the notebook: the grader sees the loop overwrite a cached state through the learner's own step."""
    for reuse, status in ((False, "pass"), (True, "fail")):
        forward, scope = reusing_forward("gru_forward", reuse)
        result = _grade("gru_forward", {"gru_forward": forward, "gru_step_forward": scope["gru_step_forward"]})
        assert result.status == status
    assert "gru_forward changed a cache after gru_step_forward had returned it" in result.message


def test_float32_rounding_and_a_generator_cache_are_named_in_the_grade_report():
    forward = REFERENCE["bidirectional_rnn_forward"]

    def h0_in_float32(x, h0_f, h0_b, params_f, params_b):
        return forward(x, h0_f.astype(np.float32), h0_b.astype(np.float32), params_f, params_b)

    result = _grade("bidirectional_rnn_forward", {"bidirectional_rnn_forward": h0_in_float32})
    assert result.status == "fail" and "what float32's rounding (7 digits) gives" in result.message

    stacked = REFERENCE["stacked_rnn_forward"]

    def generator_cache(x, h0s, params):
        h, cache = stacked(x, h0s, params)
        return h, (layer for layer in cache)

    ns = {"stacked_rnn_backward": REFERENCE["stacked_rnn_backward"], "stacked_rnn_forward": generator_cache}
    result = _grade("stacked_rnn_backward", ns)
    assert result.status == "fail" and "returned its cache as a generator" in result.message


def _in_float32(name):
    """The reference computed in float32 and handed back as float64: right to about 7 digits."""
    ref = REFERENCE[name]

    def fn(*args):
        args = [a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype == np.float64 else a for a in args]
        out = ref(*args)
        if isinstance(out, tuple):
            return tuple(o.astype(np.float64) if isinstance(o, np.ndarray) else o for o in out)
        return out.astype(np.float64)

    fn.__name__ = name
    return fn


@pytest.mark.parametrize("name", ["rnn_step_forward", "softmax", "lstm_step_forward", "gru_step_forward",
                                  "gru_forward", "gru_torch_step_forward"])
def test_float32_inside_fails_in_both_tiers_on_every_seed(name):
    """With rtol 1e-6 a float32 computation passed the notebook and failed some hidden seeds; the
    tolerance now sits between float64 rounding and float32's, so both tiers agree, every time."""
    from autograder.checks.runner import evaluate, load_fixture

    exercise = EXERCISES[name]
    notebook = evaluate(exercise, _in_float32(name), *load_fixture(exercise))
    assert notebook["status"] == "fail" and "float32's rounding" in notebook["message"]
    for seed in range(4):
        result = _grade(name, {name: _in_float32(name)}, seed=seed)
        assert result.status == "fail" and "float32's rounding" in result.message


def test_swapped_outputs_are_named_in_the_grade_report_as_in_the_notebook():
    """Values stay hidden, so the report says which output holds which: h_next and c_next swapped."""
    forward = REFERENCE["lstm_step_forward"]

    def lstm_step_forward(*args):
        h_next, c_next, cache = forward(*args)
        return c_next, h_next, cache

    result = _grade("lstm_step_forward", {"lstm_step_forward": lstm_step_forward})
    assert result.status == "fail" and result.points == 0
    assert "these are the values of c_next, which got those of h_next: swapped? Return (h_next, c_next, cache)" in result.message
    assert "expected" not in result.message.split("values differ")[1]  # the hidden values stay hidden


@pytest.mark.parametrize("name", ["rnn_step_forward", "lstm_step_forward", "gru_forward"])
def test_the_state_and_its_cache_returned_in_the_wrong_order_are_named_in_both_tiers(name):
    """(cache, h_next) instead of (h_next, cache): the cache is not compared, but its shape says what
    happened. The notebook and the grade report say the same; a plain wrong type does not get it."""
    from autograder.checks.runner import evaluate, load_fixture

    forward = REFERENCE[name]

    def cache_first(*args):
        *states, cache = forward(*args)
        return (cache, *states)

    cache_first.__name__ = name
    exercise = EXERCISES[name]
    first = exercise.returns[0]
    clause = f"what you return as cache is an array of the shape of {first}"
    order = f"in the wrong order? Return ({', '.join(exercise.returns)})"
    notebook = evaluate(exercise, cache_first, *load_fixture(exercise))
    assert notebook["status"] == "fail" and clause in notebook["message"] and order in notebook["message"]
    result = _grade(name, {name: cache_first})
    assert result.status == "fail" and result.points == 0
    assert clause in result.message and order in result.message

    def a_list(*args):  # h as a list of arrays, the cache right: no guess about the order
        *states, cache = forward(*args)
        return (list(states[0]), *states[1:], cache)

    a_list.__name__ = name
    notebook = evaluate(exercise, a_list, *load_fixture(exercise))
    assert notebook["status"] == "fail" and "got a list" in notebook["message"] and "order" not in notebook["message"]
    result = _grade(name, {name: a_list})
    assert result.status == "fail" and "got a list" in result.message and "order" not in result.message


def _slip(out, how):
    first = out[0] if isinstance(out, tuple) else out
    slipped = {"transposed": lambda: first.T, "extra axis": lambda: first[None], "flattened": lambda: first.ravel(),
               "a list": lambda: list(first), "no return": lambda: None, "negated": lambda: -first,
               "halved": lambda: first / 2}[how]()
    if how == "no return":
        return None
    return (slipped, *out[1:]) if isinstance(out, tuple) else slipped


@pytest.mark.parametrize("how", ["transposed", "extra axis", "flattened", "a list", "no return", "negated", "halved"])
@pytest.mark.parametrize("name", ["softmax", "rnn_step_forward", "lstm_backward", "stacked_rnn_forward"])
def test_a_slip_in_what_is_returned_reads_the_same_in_both_tiers(name, how):
    """A transposed, reshaped, listed, negated or halved output, or a missing return statement, gets
    its likely cause, and the grade report says exactly what the notebook's check said, up to the
    values the report hides."""
    from autograder.checks.runner import evaluate, load_fixture

    exercise, reference = EXERCISES[name], REFERENCE[name]

    def slipped(*args):
        return _slip(reference(*args), how)

    slipped.__name__ = name
    helpers = {k: REFERENCE[k] for k in exercise.needs}
    notebook = evaluate(exercise, slipped, *load_fixture(exercise), helpers=helpers)
    result = _grade(name, {name: slipped, **helpers})
    cause = {"transposed": "another order", "extra axis": "an extra axis of size 1", "flattened": "right number of entries",
             "a list": "np.stack(..., axis=0) would give", "no return": "ends without reaching a return statement",
             "negated": "every entry has the wrong sign", "halved": "every entry is 0.5 times the right one (1/2: "}[how]
    assert notebook["status"] == result.status == "fail" and result.points == 0
    headline = notebook["message"].split(" (case '")[0]
    assert cause in headline and cause in result.message.split(" (case '")[0]
    if how not in ("negated", "halved"):  # no values in either message
        assert result.message.split(" (case '")[0] == headline


def _per_step(out):
    h, cache = out
    return [h[:, t] for t in range(h.shape[1])], cache


def _halves(out, join):
    h, cache = out
    half = h.shape[2] // 2
    return join(h[..., :half], h[..., half:]), cache


def _loop_returns_early(x, h0, W_xh, W_hh, b_h):
    h, state = np.zeros((x.shape[0], x.shape[1], h0.shape[1])), h0
    for t in range(x.shape[1]):
        state = np.tanh(x[:, t] @ W_xh + state @ W_hh + b_h)
        h[:, t] = state
        return h, None  # indented one level too far


SLIPS = {
    "states in a list": ("rnn_forward", lambda f: lambda *a: _per_step(f(*a)),
                         "got a list of 5 arrays (np.stack(..., axis=1) would give the shape of h, (2, 5, 4))"),
    "directions in a list": ("bidirectional_rnn_forward", lambda f: lambda *a: _halves(f(*a), lambda p, q: [p, q]),
                             "got a list of 2 arrays (np.concatenate(..., axis=2) would give the shape of h, (3, 5, 8))"),
    "every layer in a list": ("stacked_rnn_forward", lambda f: lambda *a: ([f(*a)[0]] * 3, None),
                              "got a list of 3 arrays, each of the shape of h, (2, 5, 4) (one array is asked for: the last one? their sum?)"),
    "directions stacked": ("bidirectional_rnn_forward", lambda f: lambda *a: _halves(f(*a), lambda p, q: np.stack([p, q], axis=-1)),
                           "an extra axis (axis 3, of size 2), and 4 entries where 8 belong along axis 2: np.stack adds a new axis"),
    "directions joined on time": ("bidirectional_rnn_forward",
                                  lambda f: lambda *a: _halves(f(*a), lambda p, q: np.concatenate([p, q], axis=1)),
                                  "axis 1 has 10 entries where 5 belong and axis 2 4 where 8 belong: joined along axis 1 where axis 2 was meant?"),
    "bias summed over all": ("rnn_step_backward", lambda f: lambda *a: (*f(*a)[:4], np.float64(f(*a)[4].sum())),
                             "db_h: expected a numpy array, got a float: one number where an array of shape (5,) belongs"),
    "time-major reshaped": ("rnn_forward", lambda f: lambda *a: (np.swapaxes(f(*a)[0], 0, 1).copy().reshape(f(*a)[0].shape), None),
                            "these are the right values with batch and time mixed up by a reshape"),
    "return inside the loop": ("rnn_forward", lambda f: _loop_returns_early,
                               "only time step 0 of 5 right (axis 1), the others not: does the loop stop early"),
    "clip's outputs swapped": ("clip_by_global_norm", lambda f: lambda *a: f(*a)[::-1],
                               "clipped got a float and total_norm a list of 3: the two are in the wrong order? Return (clipped, total_norm)"),
    "stack's gradients swapped": ("stacked_rnn_backward", lambda f: lambda *a: (lambda dx, dh0s, dp: (dx, dp, dh0s))(*f(*a)),
                                  "dh0s holds tuples and dparams holds arrays: the two are in the wrong order? Return (dx, dh0s, dparams)"),
}


@pytest.mark.parametrize("slip", list(SLIPS))
def test_a_slip_in_how_outputs_are_built_is_named_alike_in_both_tiers(slip):
    """A list where one array belongs (how to join it, if its shapes say), np.stack where
    np.concatenate belongs, a sum over every axis, a reshape where a transpose belongs, a loop that
    stops early, two outputs in the wrong order: said in the notebook, and in the grade report."""
    from autograder.checks.runner import evaluate, load_fixture

    name, make, said = SLIPS[slip]
    exercise = EXERCISES[name]
    fn = make(REFERENCE[name])
    fn.__name__ = name
    helpers = {k: REFERENCE[k] for k in exercise.needs}
    notebook = evaluate(exercise, fn, *load_fixture(exercise), helpers=helpers)
    assert notebook["status"] == "fail" and said in notebook["message"]
    result = _grade(name, {name: fn, **helpers})
    assert result.status == "fail" and result.points == 0
    if slip in ("time-major reshaped", "return inside the loop"):  # shapes differ from the public case's
        said = said.replace("5 right", f"{hidden_cases(exercise, 7).cases[0].inputs['x'].shape[1]} right")
    assert said in result.message


class _OddShape:
    """A shape that refuses to be compared with anything but its own kind."""

    def __init__(self, shape):
        self.shape = shape

    def __eq__(self, other):
        if isinstance(other, _OddShape):
            return self.shape == other.shape
        raise RuntimeError("odd shape compared")

    __hash__ = None


class _OddArray(np.ndarray):
    shape = property(lambda self: _OddShape(np.ndarray.shape.__get__(self)))


class _MyList(list):
    pass


def _odd(kind):
    forward = REFERENCE["rnn_step_forward"]

    def rnn_step_forward(*args):
        h, cache = forward(*args)
        return {
            "cache first, h an odd subclass": lambda: (list(cache), h.view(_OddArray)),
            "65 arrays": lambda: ([h] * 65, cache),
            "a list subclass": lambda: (_MyList(h), cache),
            "a structured dtype": lambda: (np.zeros(h.shape, dtype=[("h", "<f8"), ("c", "<f8"), ("x", "<f8")]), cache),
            "a string dtype": lambda: (h.astype("U64"), cache),
            "an int": lambda: (0, cache),
        }[kind]()

    return rnn_step_forward


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("cache first, h an odd subclass", "h_next: expected a numpy array, got a list"),
        ("65 arrays", "h_next: expected a numpy array, got a list (one array is asked for"),
        ("a list subclass", "h_next: expected a numpy array, got a _MyList (case"),
        ("a structured dtype", "got a structured dtype of 24 bytes"),
        ("a string dtype", "h_next: expected dtype float64, got <U64"),
        ("an int", "got an int: one number where an array of shape (3, 5) belongs (a placeholder such as 0 never replaced?)"),
    ],
)
def test_odd_returns_get_a_verdict_and_the_same_words_in_both_tiers(kind, said):
    """Found by a red-team pass on the hints: an ndarray subclass whose shape refuses comparison
    crashed the notebook check and the grader's child; 65 arrays, a list subclass or a structured
    dtype read differently in the grade report. Each now gets a verdict, and the same words."""
    from autograder.checks.runner import evaluate, load_fixture

    exercise = EXERCISES["rnn_step_forward"]
    fn = _odd(kind)
    notebook = evaluate(exercise, fn, *load_fixture(exercise))
    result = _grade("rnn_step_forward", {"rnn_step_forward": fn})
    assert notebook["status"] == result.status == "fail"
    assert said in notebook["message"] and said in result.message
    assert notebook["message"].split(" (case '")[0] == result.message.split(" (case '")[0]


def test_a_reply_with_impossible_shapes_is_judged_not_blamed_on_the_learner():
    """A child's reply is untrusted: shapes of inf or 2**62 are a failing type, not an 'error' that
    points at the learner's code (json.loads accepts Infinity)."""
    hidden = hidden_cases(EXERCISES["rnn_forward"], 7)
    for shape in ([float("inf")], [2**62, 2**62], [-3], ["x"], [[1]]):
        case = {"result": {"tuple": 2, "items": {"0": {"type": "list", "shapes": [shape]}}}, "after": {}}
        result = judge(hidden, {"status": "ok", "cases": [case] * len(hidden.cases)}, 512)
        assert result.status == "fail" and result.message.startswith("rnn_forward: h: expected a numpy array, got a list")


def test_a_function_the_check_runs_first_that_is_not_defined_is_named():
    """A forward whose cell never ran (skipped after an endless loop, say) is named as undefined,
    not reported as "'NoneType' object is not callable" raised by a correct backward."""
    result = _grade("bidirectional_rnn_backward", {"bidirectional_rnn_backward": REFERENCE["bidirectional_rnn_backward"]})
    assert result.status == "error" and result.points == 0
    assert result.message.startswith(
        "bidirectional_rnn_backward could not be checked: the check runs your bidirectional_rnn_forward first, "
        "and bidirectional_rnn_forward is not defined when it is graded"
    )
    assert "NoneType" not in result.message and result.message.endswith(
        "Fix bidirectional_rnn_forward first (its own check is check.bidirectional_rnn_forward)."
    )


def test_a_failing_function_it_calls_is_said_first_and_only_in_the_grade_report():
    """As in the notebook: a correct lstm_backward over a step backward that drops dc_next is told
    first that the step fails, and no catalogued mistake of the loop is named."""
    import inspect

    from autograder.grading.compare import note_failing_dependencies
    from autograder.reference import lesson03

    scope = {
        "np": np,
        "lstm_step_backward": MISTAKES["lstm_step_backward"]["dc_next_dropped"],
        "lstm_step_forward": REFERENCE["lstm_step_forward"],
        "lstm_forward": REFERENCE["lstm_forward"],
    }
    exec(inspect.getsource(lesson03.lstm_backward), scope)
    results = [_grade("lstm_step_backward", scope), _grade("lstm_backward", scope)]
    assert results[1].mistake == "dc_not_carried"  # what the outputs match, before the notes
    note_failing_dependencies(results)
    backward = results[1]
    assert backward.message.startswith("Your lstm_step_backward (3.2) does not pass its own hidden cases")
    assert backward.lines[1].startswith("  → Your lstm_step_backward (3.2)")
    assert "known mistake" not in backward.message and not any("How to find it" in line for line in backward.lines)


def test_one_wrong_number_is_reported_without_the_hidden_value():
    """A loss that is off says how far, never what the hidden case's loss is."""
    ref = REFERENCE["truncated_bptt"]

    def scaled(*args):
        loss, grads, h_last = ref(*args)
        return 1.5 * loss, grads, h_last

    hidden = hidden_cases(EXERCISES["truncated_bptt"], 7)
    result = judge(hidden, child.run_exercise({"truncated_bptt": scaled}, hidden.request()), memory_mb=512)
    assert result.status == "fail" and "loss: values differ; error" in result.message
    true_loss = float(hidden.expected[0]["loss"])
    text = result.message + "\n".join(result.lines)
    assert f"{true_loss:.6g}" not in text and "expected" not in text.split("loss: values differ")[1].split("\n")[0]


def test_an_input_returned_as_an_output_is_named_in_the_grade_report():
    ref = REFERENCE["rnn_backward"]

    def backward(dh, cache):
        dx, _, *rest = ref(dh, cache)
        return (dx, dh[:, 0], *rest)

    result = _grade("rnn_backward", {"rnn_backward": backward})
    assert "on every case it equals the input dh[:, 0]" in result.message
