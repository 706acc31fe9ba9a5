"""The self-check tier, proven against the reference, every catalogued mistake and the stubs."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.checks import check
from autograder.checks.runner import evaluate, load_fixture, report_lines, run_check
from autograder.reference import MISTAKES, REFERENCE
from autograder.suites import EXERCISES, LESSON_SUITES
from autograder.suites.core import Problem, outputs_match

ALL = sorted(EXERCISES)
ALL_MISTAKES = [(name, m.key) for name in ALL for m in EXERCISES[name].mistakes]


def _evaluate(name, fn, helpers=None):
    """The check's verdict on ``fn``; the functions it needs are the reference's unless given."""
    exercise = EXERCISES[name]
    cases, expected, mistakes = load_fixture(exercise)
    helpers = {k: REFERENCE[k] for k in exercise.needs} if helpers is None else helpers
    return evaluate(exercise, fn, cases, expected, mistakes, helpers)


def _stub(*args, **kwargs):
    raise NotImplementedError()


def test_suites_exist_for_lesson01():
    """The registry finds lesson 01 and its six graded functions."""
    assert [e.name for e in LESSON_SUITES["01_rnn_cell"]] == [
        "rnn_step_forward",
        "rnn_forward",
        "softmax",
        "rnn_output_forward",
        "jordan_step_forward",
        "count_rnn_parameters",
    ]


@pytest.mark.parametrize("name", ALL)
def test_catalogue_has_at_least_four_mistakes(name):
    """Every exercise names at least four known mistakes, each with a reproduction in the reference."""
    exercise = EXERCISES[name]
    assert len(exercise.mistakes) >= 4
    assert set(MISTAKES[name]) == {m.key for m in exercise.mistakes}


@pytest.mark.parametrize("name", ALL)
def test_reference_passes_check(name, capsys):
    """The reference passes its own check, which says so in one line (and, on request, lists every
    property it checked, each with a ✓)."""
    helpers = [REFERENCE[k] for k in EXERCISES[name].needs]
    run_check(name, REFERENCE[name], *helpers)
    out = capsys.readouterr().out
    assert out.startswith(f"✓ {name} (") and out.count("\n") == 1 and "cases pass" in out
    run_check(name, REFERENCE[name], *helpers, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 3 and all("✗" not in line for line in lines)
    assert any(line.strip().startswith("✓ ") and "matches" in line or " = " in line for line in lines[2:])


@pytest.mark.parametrize("name", ALL)
def test_stub_is_not_attempted(name):
    """An untouched stub (raises NotImplementedError) is reported as not attempted, and fails."""
    result = _evaluate(name, _stub)
    assert result["status"] == "not_attempted"
    assert "not attempted yet" in result["message"]
    with pytest.raises(AssertionError, match="not attempted yet"):
        getattr(check, name)(_stub, *[REFERENCE[k] for k in EXERCISES[name].needs])


def _first_sign(exercise, key):
    """What a mistake first gives that the reference does not: outputs, a call problem or an error."""
    _, expected, mistakes = load_fixture(exercise)
    for e, by_key in zip(expected, mistakes):
        if not outputs_match(exercise, e, by_key[key]):
            return by_key[key]
    raise AssertionError(f"{key} gives the reference's outputs on every case")


@pytest.mark.parametrize(("name", "key"), ALL_MISTAKES)
def test_mistake_fails_with_its_own_message(name, key):
    """Each catalogued mistake fails its check, and the message names that mistake and no other.

    It fails ("fail"), or, for a mistake whose first sign is a crash on a case the
    cases before do not tell from the reference (H read from the time axis, T != H
    only there), it crashes ("error") and the error is named as that mistake.
    """
    exercise = EXERCISES[name]
    mistake = exercise.mistake(key)
    result = _evaluate(name, MISTAKES[name][key])
    first = _first_sign(exercise, key)
    crashes = isinstance(first, Problem) and first.kind == "raised"
    assert result["status"] == ("error" if crashes else "fail")
    assert [m.key for m in result["mistakes"]] == [key]
    assert mistake.what in result["message"] and mistake.hint in result["message"]


@pytest.mark.parametrize("name", ALL)
def test_cases_end_with_a_combined_random_case(name):
    """Isolated cases come first; the last case switches everything on at once."""
    cases, _, _ = load_fixture(EXERCISES[name])
    assert len(cases) >= 2
    assert "random" in cases[-1].name


@pytest.mark.parametrize(("name", "key"), ALL_MISTAKES)
def test_mistake_differs_from_reference_on_some_case(name, key):
    """No catalogued mistake is invisible: it changes the output of at least one public case."""
    exercise = EXERCISES[name]
    _, expected, mistakes = load_fixture(exercise)
    assert any(key in m and not outputs_match(exercise, e, m[key]) for e, m in zip(expected, mistakes))


def test_wrong_shape_is_named():
    """A wrong shape reports the tensor, the expected and the actual shape."""
    result = _evaluate("rnn_step_forward", lambda x, h_prev, W_xh, W_hh, b_h: (np.zeros((1, 1)), None))
    assert result["status"] == "fail"
    assert "h_next: expected shape (3, 5), got (1, 1)" in result["message"]


def test_nan_is_reported():
    """NaN or inf in an output is reported as such, with the first bad index."""

    def nan_step(x, h_prev, W_xh, W_hh, b_h):
        h = np.tanh(x @ W_xh + h_prev @ W_hh + b_h)
        h[0, 0] = np.nan
        return h, None

    result = _evaluate("rnn_step_forward", nan_step)
    assert "NaN or inf" in result["message"] and "(0, 0)" in result["message"]


def test_wrong_dtype_is_reported():
    """Casting to float32 is caught by the dtype property."""
    ref = REFERENCE["softmax"]
    result = _evaluate("softmax", lambda scores: ref(scores).astype(np.float32))
    assert "expected dtype float64, got float32" in result["message"]


def test_values_report_largest_error_and_tolerance():
    """A values failure names the largest error and the tolerance."""
    ref = REFERENCE["softmax"]
    result = _evaluate("softmax", lambda scores: ref(scores) + 1e-3)
    assert "largest error 0.001" in result["message"] and "tolerance atol=" in result["message"]


def test_mutated_input_is_reported():
    """A function that changes its input in place fails, even when its output is right."""

    def mutating(scores):
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        return scores.copy()

    result = _evaluate("softmax", mutating)
    assert result["status"] == "fail" and "modified in place" in result["message"]


def test_crash_is_reported_with_traceback():
    """An exception inside the learner's code is reported with its type and last lines."""

    def crashing(scores):
        return scores @ np.ones((99, 99))

    result = _evaluate("softmax", crashing)
    assert result["status"] == "error"
    assert "raised ValueError" in result["message"] and "crashing" in result["message"]
    assert "autograder/suites" not in result["message"]  # the checker's frames are not the learner's


def test_call_with_other_arguments_shows_the_error_without_checker_frames():
    """A function whose signature does not fit the call gets the TypeError line alone."""
    result = _evaluate("softmax", lambda scores, axis: scores)
    assert result["status"] == "error"
    assert "TypeError" in result["message"] and "axis" in result["message"]
    assert "autograder/suites" not in result["message"] and 'File "' not in result["message"]


@pytest.mark.parametrize("name", [n for n in ALL if EXERCISES[n].needs])
def test_functions_passed_in_the_wrong_order_are_named(name):
    """check.lstm_backward(lstm_forward, lstm_backward) says the order is wrong and how to call it."""
    exercise = EXERCISES[name]

    def named(key):
        def fn(*args, **kwargs):
            return REFERENCE[key](*args, **kwargs)

        fn.__name__ = key
        return fn

    order = [exercise.needs[0], name, *exercise.needs[1:]]
    with pytest.raises(AssertionError, match="wrong order") as info:
        run_check(name, *(named(k) for k in order), quiet=True)
    assert f"check.{name}({', '.join((name,) + exercise.needs)})" in str(info.value)
    run_check(name, *(named(k) for k in (name, *exercise.needs)), quiet=True)  # right order passes


def test_wrong_return_arity_is_reported():
    """Returning h_next alone instead of (h_next, cache) is named."""
    result = _evaluate("rnn_step_forward", lambda x, h_prev, W_xh, W_hh, b_h: np.tanh(x @ W_xh))
    assert "should return a tuple (h_next, cache)" in result["message"]


def test_check_rejects_non_callable():
    """Passing the result instead of the function gets a usage message."""
    with pytest.raises(AssertionError, match=r"check\.softmax\(softmax\)"):
        check.softmax(np.zeros(3))


def test_check_functions_have_docstrings():
    """Each generated check says what it checks."""
    for name in EXERCISES:
        doc = getattr(check, name).__doc__
        assert name in doc and "point" in doc


@pytest.mark.parametrize("name", [n for n in ALL if EXERCISES[n].needs])
def test_needed_function_still_a_stub_is_not_attempted_and_named(name):
    """A check that needs another of the learner's functions (a backward needs its forward) says
    "not attempted" and names that function when it is still a stub."""
    exercise = EXERCISES[name]
    cases, expected, mistakes = load_fixture(exercise)
    helpers = {k: _stub for k in exercise.needs}
    result = evaluate(exercise, REFERENCE[name], cases, expected, mistakes, helpers)
    assert result["status"] == "not_attempted"
    assert exercise.needs[0] in result["message"]


NEEDS = [n for n in ALL if EXERCISES[n].needs]


@pytest.mark.parametrize("name", NEEDS)
def test_crash_in_the_needed_forward_is_blamed_on_it(name):
    """When the forward pass the check runs first crashes, the message names the forward, not the backward."""
    exercise = EXERCISES[name]
    cases, expected, mistakes = load_fixture(exercise)

    def broken_forward(*args):
        return np.ones((2, 3)) @ np.ones((4, 5))

    helpers = {exercise.needs[0]: broken_forward}
    result = evaluate(exercise, REFERENCE[name], cases, expected, mistakes, helpers)
    assert result["status"] == "error"
    assert f"your {exercise.needs[0]}, which the check runs first" in result["message"]
    assert f"check.{exercise.needs[0]}" in result["message"] and "broken_forward" in result["message"]
    assert f"{name} raised" not in result["message"]


def _zero_arrays(obj):
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
        obj[...] = 0
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _zero_arrays(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            _zero_arrays(item)


@pytest.mark.parametrize("name", NEEDS)
@pytest.mark.parametrize("how", ["writes", "pops"])
def test_backward_that_changes_its_cache_fails(name, how):
    """A backward pass that writes into its cache, or pops from it, fails even when its gradients are right."""
    ref = REFERENCE[name]

    def changes_cache(*args):
        grads = ref(*args)
        cache = args[-1]
        if how == "writes":
            _zero_arrays(cache)
        elif isinstance(cache, list):
            cache.pop()
        elif isinstance(cache, dict):
            cache.pop(next(iter(cache)))
        else:  # a tuple cannot lose an item: change an array in it instead
            _zero_arrays(cache)
        return grads

    result = _evaluate(name, changes_cache)
    assert result["status"] == "fail"
    assert "changed its cache in place (cache" in result["message"]


def test_stacked_backward_return_structure_is_named():
    """Flat or wrongly nested (dx, dh0s, dparams) gets a message naming the part that is wrong."""
    ref = REFERENCE["stacked_rnn_backward"]

    def flat(dh, cache):
        dx, dh0s, dparams = ref(dh, cache)
        return (dx, *dh0s, *(g for p in dparams for g in p))

    def five_each(dh, cache):
        dx, dh0s, dparams = ref(dh, cache)
        return dx, dh0s, [(dx, dh0, *p) for dh0, p in zip(dh0s, dparams)]

    def two_layers_only(dh, cache):
        dx, dh0s, dparams = ref(dh, cache[-2:])
        return dx, dh0s, dparams

    message = _evaluate("stacked_rnn_backward", flat)["message"]
    assert "should return a tuple (dx, dh0s, dparams), got a tuple of 13" in message
    message = _evaluate("stacked_rnn_backward", five_each)["message"]
    assert "dparams[0] should be the tuple (dW_xh, dW_hh, db_h), got a tuple of 5" in message
    assert "keep only the last 3" in message
    message = _evaluate("stacked_rnn_backward", two_layers_only)["message"]
    assert "dh0s should hold 3 arrays, one per layer (the stack in this case has 3 layers), got a list of 2" in message
    assert message.startswith("stacked_rnn_backward: dh0s should hold")  # the name once, not twice


def test_call_problem_names_the_function_once():
    """A structure message gets the function's name in front once ("name: ..."), never "name: name: ..."."""
    for name in ("stacked_rnn_backward", "bidirectional_rnn_backward"):
        ref = REFERENCE[name]

        def nested_wrong(dh, cache, ref=ref):
            *rest, last = ref(dh, cache)
            return (*rest, [*last, last[0]])  # the last group gets a fourth item

        message = _evaluate(name, nested_wrong)["message"]
        assert message.startswith(f"{name}: ") and f"{name}: {name}" not in message, message


def test_kind_uses_the_right_article():
    """A value's type is said with its article: "an ndarray", "a float"."""
    ref = REFERENCE["bidirectional_rnn_backward"]

    def array_for_dparams(dh, cache):
        dx, dh0_f, dh0_b, _, gb = ref(dh, cache)
        return dx, dh0_f, dh0_b, np.zeros(3), gb

    message = _evaluate("bidirectional_rnn_backward", array_for_dparams)["message"]
    assert "dparams_f should be the tuple (dW_xh, dW_hh, db_h), got an ndarray" in message


def test_headline_is_the_earliest_property_that_fails():
    """With a value wrong in one output and a shape wrong in a later one, the message leads with the shape."""
    ref = REFERENCE["bidirectional_rnn_backward"]

    def values_then_shape(dh, cache):
        dx, dh0_f, dh0_b, gf, gb = ref(dh, cache)
        return dx + 1.0, dh0_f[:, :1], dh0_b, gf, gb  # dx comes first, its values are wrong

    result = _evaluate("bidirectional_rnn_backward", values_then_shape)
    assert result["message"].startswith("bidirectional_rnn_backward: dh0_f: expected shape (2, 4), got (2, 1)")
    failed = [f.prop for f in result["findings"] if not f.ok]
    assert failed == ["values", "shape"]  # in output order; the headline picks by PROPERTY_ORDER


def test_stacked_backward_cases_have_different_numbers_of_layers():
    """The cases have stacks of 2, 3 and 4 layers, and a passing report names no layer a case lacks."""
    exercise = EXERCISES["stacked_rnn_backward"]
    cases, expected, _ = load_fixture(exercise)
    layers = {sum(k.startswith("W_xh_") for k in c.inputs) for c in cases}
    assert layers == {2, 3, 4}
    for case, e in zip(cases, expected):
        L = sum(k.startswith("W_xh_") for k in case.inputs)
        assert all((e[f"dh0_{i}"] is None) == (i >= L) for i in range(4))
    result = _evaluate("stacked_rnn_backward", REFERENCE["stacked_rnn_backward"])
    assert result["status"] == "pass"
    assert any("dh0s[1]" in f.message for f in result["findings"])  # named as the notebook writes it
    assert not any("dh0s[2]" in f.message or "dh0_2" in f.message for f in result["findings"])  # 2 layers here


def test_function_that_changes_its_dict_input_fails():
    """truncated_bptt that takes the weights out of the caller's params dict is reported by name."""
    ref = REFERENCE["truncated_bptt"]

    def pops_params(x, y, h0, params, chunk_len):
        out = ref(x, y, h0, params, chunk_len)
        params.pop("b_y")
        return out

    result = _evaluate("truncated_bptt", pops_params)
    assert result["status"] == "fail"
    assert "truncated_bptt changed its input params in place (params lost its item 'b_y')" in result["message"]


def test_stacked_forward_that_changes_its_list_inputs_fails():
    """Reversing params or writing into h0s[0] in place is reported by the argument's name."""
    ref = REFERENCE["stacked_rnn_forward"]

    def reverses_params(x, h0s, params):
        out = ref(x, h0s, params)
        params.reverse()
        return out

    def writes_h0(x, h0s, params):
        out = ref(x, h0s, params)
        h0s[0] *= 0.0
        return out

    message = _evaluate("stacked_rnn_forward", reverses_params)["message"]
    assert "stacked_rnn_forward changed its input params in place (params was reordered" in message
    message = _evaluate("stacked_rnn_forward", writes_h0)["message"]
    assert "changed its input h0s in place (h0s[0] was written to)" in message


def test_bidirectional_backward_flat_return_is_named():
    ref = REFERENCE["bidirectional_rnn_backward"]

    def flat(dh, cache):
        dx, dh0_f, dh0_b, gf, gb = ref(dh, cache)
        return (dx, dh0_f, dh0_b, *gf, *gb)

    message = _evaluate("bidirectional_rnn_backward", flat)["message"]
    assert "got a tuple of 9 (dparams_f and dparams_b are each one tuple" in message


def test_right_structure_is_reported_as_the_notebook_writes_it(capsys):
    """The passing line says (dx, dh0s, dparams), as the notebook does, not the flattened names."""
    run_check("stacked_rnn_backward", REFERENCE["stacked_rnn_backward"], REFERENCE["stacked_rnn_forward"], verbose=True)
    assert "✓ returns (dx, dh0s, dparams)" in capsys.readouterr().out


def test_stacked_layers_of_their_own_widths_are_checked():
    """Code that confuses D with H (an output buffer shaped like x) passes the D = H cases but not the last."""
    ref = REFERENCE["stacked_rnn_forward"]

    def buffer_like_x(x, h0s, params):
        h, cache = ref(x, h0s, params)
        out = np.zeros_like(x)
        out[...] = h
        return out, cache

    result = _evaluate("stacked_rnn_forward", buffer_like_x)
    assert result["status"] == "error" and "widths 5, 3, 4 on D = 2" in result["message"]
    # no catalogued mistake crashes like this: the case's hint names the likely cause
    assert result["mistakes"] == [] and "Hint: this is the first case whose layers have their own widths" in result["message"]


def test_crash_after_a_failing_case_reports_the_failure_and_its_mistake():
    """Every layer reading x fails the D = H cases and crashes on the last: the mistake is still named."""
    result = _evaluate("stacked_rnn_forward", MISTAKES["stacked_rnn_forward"]["layer_reads_x"])
    assert result["status"] == "fail" and [m.key for m in result["mistakes"]] == ["layer_reads_x"]
    assert "After that case it also raised ValueError on case '3 layers of widths" in result["message"]
    # what it raised, and the hint that case gives a crash, so the next fix is not a surprise
    assert "everything random': matmul: " in result["message"]
    assert "Hint for that case: this is the first case whose layers have their own widths" in result["message"]
    lines = report_lines(EXERCISES["stacked_rnn_forward"], result, 5)
    assert any(line.strip().startswith("Hint for that case: this is the first case") for line in lines)
    # the failing case's explanation first, then what comes next: the grade report's order too
    assert result["message"].index("This looks like a known mistake") < result["message"].index("After that case")


def _gru_forward_calling(step):
    """The reference gru_forward's code, calling ``step`` as its gru_step_forward (as in a notebook)."""
    import inspect

    from autograder.reference import lesson04

    scope = {"np": np, "gru_step_forward": step}
    exec(inspect.getsource(lesson04.gru_forward), scope)
    return scope["gru_forward"]


def test_failing_function_it_calls_is_named():
    """A correct gru_forward over a wrong gru_step_forward fails, and the check points at the step."""
    forward = _gru_forward_calling(MISTAKES["gru_step_forward"]["z_wrong_side"])
    with pytest.raises(AssertionError) as info:
        run_check("gru_forward", forward, quiet=True)
    assert "Your gru_step_forward (4.1) does not pass its own check, and gru_forward calls it" in str(info.value)


def test_failing_forward_it_runs_first_is_named(capsys):
    """The note about the failing forward is the verdict's first line after the headline."""
    forward = _gru_forward_calling(MISTAKES["gru_step_forward"]["z_wrong_side"])
    with pytest.raises(AssertionError) as info:
        run_check("gru_backward", REFERENCE["gru_backward"], forward)
    assert "Your gru_forward (4.3) does not pass its own check, and gru_backward runs it first" in str(info.value)
    assert info.value.lines[1].startswith("  → Your gru_forward (4.3)")
    assert capsys.readouterr().out == ""  # a failure is said once, by the error, not printed as well


def test_a_crashing_forward_it_runs_first_is_named_once(capsys):
    """The crash verdict already says 'Fix stacked_rnn_forward first': no second note says it again."""
    def forward(x, h0s, params):  # fails its own check too, by crashing
        raise ValueError("boom")

    with pytest.raises(AssertionError) as info:
        run_check("stacked_rnn_backward", REFERENCE["stacked_rnn_backward"], forward)
    message = str(info.value)
    assert "could not be checked: your stacked_rnn_forward" in message
    assert message.count("stacked_rnn_forward first") == 1
    assert "does not pass its own check" not in message + capsys.readouterr().out


def test_no_dependency_note_when_the_dependencies_pass():
    with pytest.raises(AssertionError) as info:
        run_check("gru_forward", MISTAKES["gru_forward"]["h0_ignored"], quiet=True)
    assert "does not pass its own check" not in str(info.value)


def test_another_exercises_function_passed_as_helper_is_named():
    """check.gru_backward(gru_backward, gru_step_forward) names the swap instead of crashing in it."""

    def gru_step_forward(*args):
        return REFERENCE["gru_step_forward"](*args)

    with pytest.raises(AssertionError, match="you passed gru_step_forward where the check needs gru_forward"):
        run_check("gru_backward", REFERENCE["gru_backward"], gru_step_forward, quiet=True)


def test_numpy_frames_are_left_out_of_a_traceback():
    """A typo such as np.tahn shows the learner's line and the error, not NumPy's __getattr__."""

    def typo(scores):
        return np.tahn(scores)

    result = _evaluate("softmax", typo)
    assert result["status"] == "error" and "np.tahn(scores)" in result["message"]
    assert "numpy" + "/__init__" not in result["message"] and "AttributeError" in result["message"]


def test_correct_stack_with_an_object_array_cache_passes():
    """A cache may be any container the learner likes, a NumPy object array included: comparing
    it before and after the backward call must not crash the checker (isnan knows no objects)."""
    rnn_forward, rnn_backward = REFERENCE["rnn_forward"], REFERENCE["rnn_backward"]

    def forward(x, h0s, params):
        h, cache = x, np.empty(len(params), dtype=object)
        for layer, (h0, p) in enumerate(zip(h0s, params)):
            h, cache[layer] = rnn_forward(h, h0, *p)
        return h, cache

    def backward(dh, cache):
        L = len(cache)
        dh0s, dparams = [None] * L, [None] * L
        for layer in range(L - 1, -1, -1):
            dh, dh0s[layer], *grads = rnn_backward(dh, cache[layer])
            dparams[layer] = tuple(grads)
        return dh, dh0s, dparams

    assert _evaluate("stacked_rnn_forward", forward)["status"] == "pass"
    result = _evaluate("stacked_rnn_backward", backward, {"stacked_rnn_forward": forward})
    assert result["status"] == "pass", result["message"]

    def reordering(dh, cache):
        cache[:] = cache[::-1].copy()
        return backward(dh, cache[::-1])

    result = _evaluate("stacked_rnn_backward", reordering, {"stacked_rnn_forward": forward})
    assert result["status"] == "fail" and "cache was reordered" in result["message"]


def test_wrong_structure_of_truncated_bptt_is_a_failing_property_not_a_crash():
    ref = REFERENCE["truncated_bptt"]

    def two(*args):
        return ref(*args)[:2]

    def renamed(*args):
        loss, grads, h_last = ref(*args)
        return loss, {f"d{k}": v for k, v in grads.items()}, h_last

    for fn, words in ((two, "should return a tuple (loss, grads, h_last), got a tuple of 2"), (renamed, "grads should be a dict")):
        result = _evaluate("truncated_bptt", fn)
        assert result["status"] == "fail" and words in result["message"], result["message"]
    assert _evaluate("truncated_bptt", lambda *args: list(ref(*args)))["status"] == "pass"  # a list is fine


def test_an_iterator_returned_for_a_list_is_named():
    ref = REFERENCE["stacked_rnn_backward"]

    def backward(dh, cache):
        dx, dh0s, dparams = ref(dh, cache)
        return dx, reversed(dh0s[::-1]), dparams

    result = _evaluate("stacked_rnn_backward", backward)
    assert result["status"] == "fail" and "an iterator: make it a list with list(...)" in result["message"]


def test_a_tuple_where_the_mistake_returns_a_list_is_still_named():
    """A backward fixed at 3 layers is the same mistake whether its lists are lists or tuples."""
    mistake = MISTAKES["stacked_rnn_backward"]["three_layers_hard_coded"]

    def as_tuples(dh, cache):
        dx, dh0s, dparams = mistake(dh, cache)
        return dx, tuple(dh0s), tuple(dparams)

    result = _evaluate("stacked_rnn_backward", as_tuples)
    assert [m.key for m in result["mistakes"]] == ["three_layers_hard_coded"], result["message"]


# --------------------------------------------------------------------------
# State between calls: a backward that reads the last forward's leftovers, a
# forward that hands out a buffer it reuses
# --------------------------------------------------------------------------

WITH_FORWARD = sorted(name for name in ALL if EXERCISES[name].needs)
DEFAULT_CALL = sorted(name for name in ALL if EXERCISES[name].call is None)
# Called once more on other inputs: the default call, and lesson 05's forwards (call_keeping_inputs).
CALLED_AGAIN = sorted([*DEFAULT_CALL, "stacked_rnn_forward", "bidirectional_rnn_forward"])


def leftover_reading_pair(name):
    """A correct forward that remembers its last inputs in a global, and a backward that
    ignores its cache and rebuilds one from those inputs: right only when nothing ran in between."""
    forward_name = EXERCISES[name].needs[0]
    ref_forward, ref_backward = REFERENCE[forward_name], REFERENCE[name]
    last = {}

    def forward(*args):
        last["args"] = args
        return ref_forward(*args)

    def backward(*args):
        cache = ref_forward(*last["args"])[-1]
        return ref_backward(*args[:-1], cache)

    forward.__name__, backward.__name__ = forward_name, name
    return forward, backward


def buffer_reusing(name):
    """The reference, but its first array output lives in one buffer that every call overwrites."""
    ref = REFERENCE[name]
    buffer = {}

    def fn(*args):
        out = ref(*args)
        first = out[0] if isinstance(out, tuple) else out
        if not isinstance(first, np.ndarray):
            return out
        if buffer.get("b") is None or buffer["b"].shape != first.shape:
            buffer["b"] = np.empty_like(first)
        buffer["b"][...] = first
        return (buffer["b"], *out[1:]) if isinstance(out, tuple) else buffer["b"]

    fn.__name__ = name
    return fn


@pytest.mark.parametrize("name", WITH_FORWARD)
def test_backward_reading_the_last_forward_call_fails(name):
    """It gets the right gradients on every case (the check's forward ran just before), so only
    the second call on the same cache, after a forward on other inputs, can tell."""
    forward, backward = leftover_reading_pair(name)
    result = _evaluate(name, backward, {forward.__name__: forward})
    assert result["status"] == "fail"
    assert f"{name} gave one set of gradients when your {forward.__name__} had run again" in result["message"]
    assert "a global variable" in result["message"]


@pytest.mark.parametrize("name", CALLED_AGAIN)
def test_result_overwritten_by_the_next_call_fails(name):
    """A function whose result the next call overwrites is told so; integer answers have no buffer."""
    result = _evaluate(name, buffer_reusing(name))
    if name.startswith("count_"):
        assert result["status"] == "pass"
        return
    assert result["status"] == "fail"
    assert f"{name}'s result changed when {name} was called again on other inputs" in result["message"]


@pytest.mark.parametrize("name", DEFAULT_CALL)
def test_renamed_parameters_pass(name):
    """The function is called positionally, so a learner who renamed the parameters is not failed
    for it (a helper forward is called positionally too)."""
    ref = REFERENCE[name]

    def renamed(*args):
        return ref(*args)

    renamed.__name__ = name
    assert _evaluate(name, renamed)["status"] == "pass"


def test_a_forward_returning_the_wrong_count_is_blamed_on_the_forward():
    """The backward's check unpacks the learner's forward: a forward returning h alone is named,
    not reported as a crash of the backward."""
    forward = REFERENCE["gru_step_forward"]

    def h_only(*args):
        return forward(*args)[0]

    result = _evaluate("gru_step_backward", REFERENCE["gru_step_backward"], {"gru_step_forward": h_only})
    assert result["status"] == "fail"
    assert "your gru_step_forward, which the check runs first to build the cache, returned an ndarray" in result["message"]
    assert "it should return a tuple (h_next, cache)" in result["message"]


@pytest.mark.parametrize("dtype", [object, str, "datetime64[s]"])
def test_an_array_of_another_kind_is_a_message_not_a_crash(dtype):
    """The right shape but not numbers: the dtype finding, never an exception from the checker."""
    ref = REFERENCE["gru_step_forward"]

    def odd(*args):
        h, cache = ref(*args)
        return np.zeros(h.shape).astype(dtype), cache

    odd.__name__ = "gru_step_forward"
    result = _evaluate("gru_step_forward", odd)
    assert result["status"] == "fail" and "dtype" in result["message"]


def _forward_with_one_state_buffer(name, reuse=True):
    """The reference sequence forward of lesson 03/04, rewritten so every step's cache holds one
    state array that the loop keeps overwriting (h is still right); ``reuse=False``: a fresh one."""
    step = REFERENCE[name.replace("_forward", "_step_forward")]

    def forward(x, h0, W_x, W_h, b):
        N, T, _ = x.shape
        h = np.zeros((N, T, h0.shape[1]))
        buf, caches, c = h0.copy(), [], np.zeros_like(h0)
        for t in range(T):
            if name.startswith("lstm"):
                h_next, c, cache = step(x[:, t], buf, c, W_x, W_h, b)
            else:
                h_next, cache = step(x[:, t], buf, W_x, W_h, b)
            if reuse:
                buf[...] = h_next
            else:
                buf = h_next
            h[:, t] = buf
            caches.append(cache)
        return h, caches

    forward.__name__ = name
    return forward


@pytest.mark.parametrize("name", ["gru_backward", "lstm_backward"])
def test_a_forward_reusing_its_state_array_is_pointed_at(name, capsys):
    """The sequence forward passes (h is right) but its step caches all hold the last state; a correct
    backward then fails, and the note sends the learner to the forward's caches."""
    forward_name = EXERCISES[name].needs[0]
    forward = _forward_with_one_state_buffer(forward_name)
    assert _evaluate(forward_name, forward)["status"] == "pass"
    step_backward = REFERENCE[name.replace("_backward", "_step_backward")]
    reference = REFERENCE[name]
    scope = {"__builtins__": __builtins__, name.replace("_backward", "_step_backward"): step_backward}
    backward = type(reference)(reference.__code__, {**reference.__globals__, **scope}, name)
    getattr(check, name)(backward, _forward_with_one_state_buffer(forward_name, reuse=False))
    with pytest.raises(AssertionError, match="each step's cache must hold that step's own arrays"):
        getattr(check, name)(backward, forward)



@pytest.mark.parametrize("how", ["writes_dh", "pops_cache"])
def test_a_backward_failing_on_its_own_inputs_is_not_sent_to_the_forward(how, capsys):
    """A gru_backward whose values are right but which writes into dh or empties its cache gets that
    verdict alone: the note about the forward's caches is for values that differ."""
    # Defined where the step functions are globals, as in the notebook: the check can then see they pass.
    scope = {"reference": REFERENCE["gru_backward"], "how": how}
    scope.update({k: REFERENCE[k] for k in ("gru_step_forward", "gru_step_backward")})
    exec(
        "def gru_backward(dh, cache):\n"
        "    out = reference(dh, cache)\n"
        "    if how == 'writes_dh':\n"
        "        dh[:, 0] += 1.0\n"
        "    else:\n"
        "        cache.clear()\n"
        "    return out\n",
        scope,
    )
    backward = scope["gru_backward"]
    with pytest.raises(AssertionError) as failed:
        check.gru_backward(backward, REFERENCE["gru_forward"])
    said = str(failed.value) + capsys.readouterr().out
    assert ("input dh was modified in place" if how == "writes_dh" else "changed its cache in place") in said
    assert "each step's cache must hold" not in said

def test_a_float_count_with_the_right_value_says_so():
    ref = REFERENCE["count_lstm_parameters"]
    result = _evaluate("count_lstm_parameters", lambda input_size, hidden_size: float(ref(input_size, hidden_size)))
    assert "expected an integer, got a float (the right number: return it as an int" in result["message"]
    wrong = _evaluate("count_lstm_parameters", lambda input_size, hidden_size: 1.5)
    assert "expected an integer, got a float" in wrong["message"] and "right number" not in wrong["message"]


@pytest.mark.parametrize("exit_with", [SystemExit, GeneratorExit])
def test_exit_in_learner_code_is_a_crash_not_an_escape(exit_with):
    def leaves(*args):
        raise exit_with()

    result = _evaluate("softmax", leaves)
    assert result["status"] == "error" and f"raised {exit_with.__name__}" in result["message"]


def test_a_tuple_where_one_value_is_asked_for_says_so():
    """gru_torch_step_forward returns h_next alone; (h_next, cache), as the other forwards do, is named."""
    ref = REFERENCE["gru_torch_step_forward"]
    result = _evaluate("gru_torch_step_forward", lambda *args: (ref(*args), None))
    assert result["status"] == "fail"
    assert "gru_torch_step_forward should return h_next alone, got a tuple of 2" in result["message"]


def test_a_backward_replaying_its_first_answer_for_the_same_cache_fails():
    """Stored gradients looked up by id(cache) would give the second call the first (right) answer:
    the second call gets a copy of the cache."""
    forward, backward = leftover_reading_pair("gru_step_backward")
    stored = {}

    def replaying(dh_next, cache):
        if id(cache) not in stored:
            stored[id(cache)] = (cache, backward(dh_next, cache))  # keeps the cache alive, so ids stay unique
        return stored[id(cache)][1]

    replaying.__name__ = "gru_step_backward"
    result = _evaluate("gru_step_backward", replaying, {"gru_step_forward": forward})
    assert result["status"] == "fail" and "gave one set of gradients when your gru_step_forward had run again" in result["message"]


def _gradients_in_buffers(name):
    """The reference backward, but its gradients live in module-level arrays that every call overwrites."""
    ref = REFERENCE[name]
    buffers = {}

    def put(path, value):
        if isinstance(value, np.ndarray):
            buffer = buffers.setdefault((path, value.shape), np.empty_like(value))
            buffer[...] = value
            return buffer
        if isinstance(value, (list, tuple)):
            return type(value)(put((*path, i), v) for i, v in enumerate(value))
        return value

    def backward(*args):
        return put((), ref(*args))

    backward.__name__ = name
    return backward


@pytest.mark.parametrize("name", WITH_FORWARD)
def test_backward_returning_arrays_it_reuses_fails(name):
    """Called on another forward's cache, it overwrites the gradients it returned before."""
    result = _evaluate(name, _gradients_in_buffers(name))
    assert result["status"] == "fail"
    assert f"{name}'s result changed when {name} was called again on other inputs" in result["message"]


@pytest.mark.parametrize("name", WITH_FORWARD)
def test_backward_replaying_its_answer_by_count_fails(name):
    """Every second call replays the previous answer: the graded call, made after the forward ran
    on other inputs, already has the wrong gradients, so replaying cannot help."""
    forward, backward = leftover_reading_pair(name)
    last = []

    def replaying(*args):
        if len(last) % 2 == 1:
            answer = last[-1]
        else:
            answer = backward(*args)
        last.append(answer)
        return answer

    replaying.__name__ = name
    assert _evaluate(name, replaying, {forward.__name__: forward})["status"] == "fail"


# numerical_gradient returns one array: its other "returns" are properties the check measures.
@pytest.mark.parametrize("name", sorted(n for n in ALL if len(EXERCISES[n].returns) > 1 and n != "numerical_gradient"))
def test_a_list_of_the_right_length_passes(name):
    """Where a tuple of several values is asked for, a list of them is just as good, in every lesson."""
    ref = REFERENCE[name]

    def as_list(*args):
        return list(ref(*args))

    as_list.__name__ = name
    assert _evaluate(name, as_list)["status"] == "pass"


def test_numerical_gradient_with_its_own_parameter_names_passes():
    ref = REFERENCE["numerical_gradient"]

    def numerical_gradient(func, point, h=1e-6):
        return ref(func, point, h)

    assert _evaluate("numerical_gradient", numerical_gradient)["status"] == "pass"


def test_a_cache_pointing_into_a_growing_log_is_not_called_reuse():
    """Only arrays that were written to count: a cache holding a log that later calls append to is a
    design choice, not a buffer handed out twice."""
    ref, log = REFERENCE["gru_forward"], []

    def gru_forward(*args):
        h, cache = ref(*args)
        log.append(len(log))
        return h, {"steps": cache, "log": log}

    assert _evaluate("gru_forward", gru_forward)["status"] == "pass"


def _record_cache_pair(kind):
    """The reference GRU step with its cache held in a SimpleNamespace or a (slotted) dataclass."""
    import dataclasses
    import types

    @dataclasses.dataclass(slots=True)
    class Cache:
        inner: tuple

    forward, backward = REFERENCE["gru_step_forward"], REFERENCE["gru_step_backward"]
    wrap = (lambda c: types.SimpleNamespace(inner=c)) if kind == "namespace" else Cache

    def gru_step_forward(*args):
        h, cache = forward(*args)
        return h, wrap(cache)

    def gru_step_backward(dh_next, cache):
        return backward(dh_next, cache.inner)

    return gru_step_forward, gru_step_backward


@pytest.mark.parametrize("kind", ["namespace", "dataclass"])
def test_a_record_cache_is_looked_inside(kind):
    """A correct pair passes; writing into the record's arrays, or handing out one buffer held in it,
    is caught as it is in a tuple cache."""
    forward, backward = _record_cache_pair(kind)
    helpers = {"gru_step_forward": forward}
    assert _evaluate("gru_step_backward", backward, helpers)["status"] == "pass"
    assert _evaluate("gru_step_forward", forward)["status"] == "pass"

    def writes_into_cache(dh_next, cache):
        grads = backward(dh_next, cache)
        cache.inner[1][...] = 0  # h_prev, kept in the reference's cache
        return grads

    result = _evaluate("gru_step_backward", writes_into_cache, helpers)
    assert "changed its cache in place (cache.inner[1] was written to)" in result["message"], result["message"]

    buffer = {}

    def reusing_forward(*args):
        h, cache = forward(*args)
        kept = buffer.setdefault(h.shape, np.empty_like(h))
        kept[...] = h
        cache.inner = (*cache.inner, kept)
        return h.copy(), cache

    reusing_forward.__name__ = "gru_step_forward"
    result = _evaluate("gru_step_forward", reusing_forward)
    assert "gru_step_forward's result changed when gru_step_forward was called again" in result["message"]


def test_gradients_are_named_as_the_notebook_writes_them(layer_1_dW_xh_doubled):
    """A wrong gradient is named dparams[1][0], as the learner wrote it, not by a flattened name."""
    bi = REFERENCE["bidirectional_rnn_backward"]

    def reverse_dW_hh_doubled(dh, cache):
        dx, dh0_f, dh0_b, gf, gb = bi(dh, cache)
        return dx, dh0_f, dh0_b, gf, (gb[0], 2 * gb[1], gb[2])

    message = _evaluate("stacked_rnn_backward", layer_1_dW_xh_doubled)["message"]
    assert message.startswith("stacked_rnn_backward: dparams[1][0] (dW_xh of layer 1): values differ"), message
    message = _evaluate("bidirectional_rnn_backward", reverse_dW_hh_doubled)["message"]
    assert message.startswith(
        "bidirectional_rnn_backward: dparams_b[1] (dW_hh of the reverse direction): values differ"
    ), message


@pytest.mark.parametrize("half", ["forward", "reverse", "both"])
def test_bidirectional_forward_says_which_half_is_wrong(half):
    """h is the two directions side by side: a failure says which direction's half differs."""
    ref = REFERENCE["bidirectional_rnn_forward"]

    def one_half_off(x, h0_f, h0_b, params_f, params_b):
        h, cache = ref(x, h0_f, h0_b, params_f, params_b)
        H = h.shape[-1] // 2
        h = h.copy()
        if half in ("forward", "both"):
            h[..., :H] += 0.1
        if half in ("reverse", "both"):
            h[..., H:] += 0.1
        return h, cache

    message = _evaluate("bidirectional_rnn_forward", one_half_off)["message"]
    says = {
        "forward": "the reverse direction's half h[..., 4:] matches, the forward direction's half h[..., :4] does not",
        "reverse": "the forward direction's half h[..., :4] matches, the reverse direction's half h[..., 4:] does not",
        "both": "both halves differ, the forward direction's h[..., :4] and the reverse direction's h[..., 4:]",
    }[half]
    assert says in message, message


def test_exception_whose_str_fails_is_reported_not_raised(unprintable_error):
    """The check reports such a crash like any other, on the first case or after a failing one."""

    def crashes(scores):
        raise unprintable_error()

    result = _evaluate("softmax", crashes)
    assert result["status"] == "error" and "softmax raised _UnprintableError on case" in result["message"]

    calls = []

    def fails_then_crashes(scores):
        calls.append(1)
        if len(calls) > 1:
            raise unprintable_error()
        return np.zeros_like(scores)

    result = _evaluate("softmax", fails_then_crashes)
    assert result["status"] == "fail" and "After that case it also raised _UnprintableError" in result["message"]


def test_an_array_subclass_is_compared_as_a_plain_array():
    """An ndarray subclass whose indexing raises is compared by NumPy's own code: a verdict, not a crash."""
    ref = REFERENCE["bidirectional_rnn_forward"]

    class Unindexable(np.ndarray):
        def __getitem__(self, key):
            raise RuntimeError("no indexing")

    def odd_array(x, h0_f, h0_b, params_f, params_b):
        h, cache = ref(x, h0_f, h0_b, params_f, params_b)
        h = h.copy()
        h[..., h.shape[-1] // 2 :] += 0.1
        return h.view(Unindexable), cache

    result = _evaluate("bidirectional_rnn_forward", odd_array)
    assert result["status"] == "fail" and "h: values differ" in result["message"]
    assert "the reverse direction's half h[..., 4:] does not" in result["message"]


def test_a_note_that_fails_does_not_hide_the_verdict():
    """Exercise.explain is a courtesy: if it raises, the verdict is given without it."""
    import dataclasses

    def broken(*args):
        raise ValueError("the note failed")

    exercise = dataclasses.replace(EXERCISES["bidirectional_rnn_forward"], explain=broken)
    cases, expected, mistakes = load_fixture(exercise)
    ref = REFERENCE["bidirectional_rnn_forward"]

    def off(*args):
        h, cache = ref(*args)
        return h + 0.1, cache

    result = evaluate(exercise, off, cases, expected, mistakes, {})
    assert result["status"] == "fail" and "h: values differ" in result["message"]


def test_a_keras_split_on_the_wrong_axis_gets_the_case_hint():
    """np.split(w, 3) splits the kernel's rows: the crash report says the blocks sit on the last axis."""

    def split_rows(kernel, recurrent_kernel, bias):
        def rzn(w):
            z, r, h = np.split(w, 3)
            return np.concatenate([r, z, h])

        return rzn(kernel), rzn(recurrent_kernel), rzn(bias[0]), rzn(bias[1])

    result = _evaluate("gru_weights_from_keras", split_rows)
    assert result["status"] == "error" and "array split does not result in an equal division" in result["message"]
    assert "Hint: here kernel is (D, 3H) = (2, 9)" in result["message"] and "axis=-1" in result["message"]



@pytest.mark.parametrize("name", ["rnn_forward", "lstm_forward", "gru_forward"])
def test_a_forward_that_writes_into_a_cached_state_fails_its_own_check(name, reusing_forward):
    """h is right, but every step's cache holds the array the loop keeps overwriting: the forward's own
    check says so, with the step and the item, and leaves the learner's step function in place."""
    step = name.replace("_forward", "_step_forward")
    fresh, _ = reusing_forward(name, reuse=False)
    assert _evaluate(name, fresh)["status"] == "pass"
    forward, scope = reusing_forward(name)
    result = _evaluate(name, forward)
    assert result["status"] == "fail"
    assert result["message"].startswith(
        f"{name} changed a cache after {step} had returned it: item [1] of the cache of step 0 was written to"
    ), result["message"]
    assert "(h_prev = h_next)" in result["message"]
    assert scope[step] is REFERENCE[step]  # the spy is gone


def test_a_forward_returning_its_cache_as_a_generator_is_blamed_for_it():
    """5.2 runs the learner's stacked_rnn_forward first: a generator cache (readable once, not
    reversible) is named as that forward's fault, not as a crash of a correct backward."""
    forward = REFERENCE["stacked_rnn_forward"]

    def generator_cache(x, h0s, params):
        h, cache = forward(x, h0s, params)
        return h, (layer for layer in cache)

    generator_cache.__name__ = "stacked_rnn_forward"
    result = _evaluate("stacked_rnn_backward", REFERENCE["stacked_rnn_backward"], {"stacked_rnn_forward": generator_cache})
    assert result["status"] == "fail"
    assert "your stacked_rnn_forward, which the check runs first to build the cache, returned its cache as a " \
        "generator, an iterator that can be read only once" in result["message"]
    assert "Fix stacked_rnn_forward first (its own check is check.stacked_rnn_forward)" in result["message"]


def test_an_error_of_float32_rounding_is_named_as_such():
    """A float64 answer that went through float32 on the way is off by about 1e-7: too little to see in
    the printed values, so the message says what such an error usually is."""
    forward = REFERENCE["bidirectional_rnn_forward"]

    def h0_in_float32(x, h0_f, h0_b, params_f, params_b):
        return forward(x, h0_f.astype(np.float32), h0_b.astype(np.float32), params_f, params_b)

    result = _evaluate("bidirectional_rnn_forward", h0_in_float32)
    assert result["status"] == "fail"
    assert "an error this small is about what float32's rounding (7 digits) gives" in result["message"]
    wrong = _evaluate("bidirectional_rnn_forward", lambda *args: (forward(*args)[0] + 0.1, None))
    assert "float32" not in wrong["message"]


def test_harmless_epsilons_pass_where_the_tolerance_allows_them():
    """The default tolerance is tight (float32 rounding fails), but an epsilon many write out of habit,
    PyTorch's max_norm / (norm + 1e-6), still passes. relative_error's 1e-8 is part of its definition
    (a floor, max(|a| + |b|, 1e-8)): added instead, it gives another error for near-zeros, and the
    check names that."""

    def relative_error(a, b):
        return float(np.max(np.abs(a - b) / (np.abs(a) + np.abs(b) + 1e-8)))

    def clip_by_global_norm(grads, max_norm):
        total = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
        scale = max_norm / (total + 1e-6) if total > max_norm else 1.0
        return [g * scale for g in grads], total

    result = _evaluate("relative_error", relative_error)
    assert result["status"] == "fail" and [m.key for m in result["mistakes"]] == ["epsilon_added"]
    assert _evaluate("clip_by_global_norm", clip_by_global_norm)["status"] == "pass"


# --------------------------------------------------------------------------
# The verdict as a learner reads it (issue 19): short, the named mistake first, once
# --------------------------------------------------------------------------


def _failure(name, fn, *helpers):
    with pytest.raises(AssertionError) as info:
        run_check(name, fn, *helpers)
    return info.value


def test_a_failure_leads_with_what_failed_then_the_named_mistake():
    """Line 1 names the exercise and the case, line 2 what failed there, then the known mistake and
    how to find it; passing properties are not listed unless asked for."""
    lines = _failure("rnn_step_forward", MISTAKES["rnn_step_forward"]["no_bias"]).lines
    assert lines[0] == "✗ rnn_step_forward (3 points): fails on public case 'bias only (x = 0, h_prev = 0)'"
    assert lines[1].startswith("  h_next: values differ")
    assert lines[2] == "  → This looks like a known mistake: the bias b_h is left out."
    assert lines[3].startswith("    How to find it: add b_h inside the tanh")
    assert not any("✓" in line for line in lines)
    assert "verbose=True" in lines[-1]


def test_a_failure_is_rendered_as_its_verdict_alone_in_ipython():
    """IPython shows an exception with _render_traceback_ as those lines: the verdict, once, with no
    frame of the checker; str() keeps the whole message for pytest and nbgrader."""
    error = _failure("rnn_step_forward", MISTAKES["rnn_step_forward"]["no_bias"])
    rendered = "\n".join(error._render_traceback_())
    assert "runner.py" not in rendered and "Traceback" not in rendered
    assert rendered.count("the bias b_h is left out") == 1
    assert "the bias b_h is left out" in str(error)


def test_other_failing_outputs_of_that_case_are_named_in_one_line():
    lines = _failure("lstm_step_backward", MISTAKES["lstm_step_backward"]["no_tanh_c_path"],
                     REFERENCE["lstm_step_forward"]).lines
    also = [line for line in lines if line.startswith("  Also wrong on that case: ")]
    assert len(also) == 1 and "dh_prev" in also[0] and "dx" not in also[0].split(":", 1)[1].split(",")[0]


def _lstm_backward_calling(step_backward):
    """The reference lstm_backward's code, calling ``step_backward`` as its lstm_step_backward."""
    import inspect

    from autograder.reference import lesson03

    scope = {"np": np, "lstm_step_backward": step_backward, "lstm_step_forward": REFERENCE["lstm_step_forward"]}
    exec(inspect.getsource(lesson03.lstm_backward), scope)
    return scope["lstm_backward"]


def test_a_failing_function_it_calls_is_said_first_and_only():
    """A correct lstm_backward over a step backward that drops dc_next matches the catalogued "the
    loop does not carry the cell gradient"; the verdict says first that the step fails its own
    check, and names no mistake of the loop's that may blame the wrong place."""
    backward = _lstm_backward_calling(MISTAKES["lstm_step_backward"]["dc_next_dropped"])
    error = _failure("lstm_backward", backward, REFERENCE["lstm_forward"])
    assert error.lines[1].startswith("  → Your lstm_step_backward (3.2) does not pass its own check")
    assert str(error).startswith("Your lstm_step_backward (3.2) does not pass its own check")
    assert "known mistake" not in str(error) and not any("known mistake" in line for line in error.lines)
    assert not any("How to find it" in line for line in error.lines)


def test_one_number_is_said_to_be_a_number():
    """A loss is "a number", never "a numpy array"; an array where one number belongs says so, and a
    NumPy float or a 0-d array passes like a Python float."""
    ref = REFERENCE["truncated_bptt"]

    def as_vector(*args):
        loss, grads, h_last = ref(*args)
        return np.array([loss, loss]), grads, h_last

    def as_numpy(*args):
        loss, grads, h_last = ref(*args)
        return np.float64(loss), grads, h_last

    message = str(_failure("truncated_bptt", as_vector))
    assert "loss: expected a number (a float), got an ndarray of shape (2,)" in message
    run_check("truncated_bptt", as_numpy, verbose=True, quiet=True)
    result = _evaluate("truncated_bptt", ref)
    assert any(f.message == "loss is a number" for f in result["findings"])
    assert not any("loss is a numpy array" in f.message or "loss has shape" in f.message for f in result["findings"])


def test_an_input_returned_as_an_output_is_named():
    """dh[:, 0] returned as dh0 is said to be that input on every case, not "an array made with
    np.zeros" (which it happens to be on the case with a gradient at the last step only)."""
    ref = REFERENCE["rnn_backward"]

    def backward(dh, cache):
        dx, _, *rest = ref(dh, cache)
        return (dx, dh[:, 0], *rest)

    message = str(_failure("rnn_backward", backward))
    assert "on every case it equals the input dh[:, 0]" in message
    assert "np.zeros" not in message


def test_a_partial_match_is_said_only_when_the_case_points_at_one_mistake():
    """A relative error over max(|a|, |b|) gives, on one case, what two catalogued mistakes give: the
    case cannot tell which, so neither is suggested (each would blame a mistake not made)."""

    def relative_error(a, b):
        return np.max(np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-8))

    result = _evaluate("relative_error", relative_error)
    assert result["status"] == "fail" and result["maybe"] == [] and "On this case" not in result["message"]
