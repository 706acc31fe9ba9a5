"""The shared comparison and the JSON array codec that both tiers rely on."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograder.suites.core import (
    CallProblem,
    _changed_part,
    _snapshot,
    call_keeping_inputs,
    call_on_cache,
    compare_outputs,
    compare_value,
    decode,
    encode,
)


@pytest.mark.parametrize(
    "value",
    [
        np.arange(6, dtype=np.float64).reshape(2, 3) / 7,
        np.array([np.nan, np.inf, -np.inf, 0.1]),
        np.zeros((0, 3), dtype=np.float32),
        np.arange(4, dtype=np.int64),
        np.array(True),
        7,
    ],
)
def test_encode_roundtrips_exactly_through_json(value):
    """encode -> JSON text -> decode gives back the same dtype, shape and bits."""
    back = decode(json.loads(json.dumps(encode(value))))
    if isinstance(value, int):
        assert back == value and isinstance(back, int)
    else:
        assert back.dtype == value.dtype and back.shape == value.shape
        assert np.array_equal(back, value, equal_nan=True)


def test_none_roundtrips_and_is_not_compared():
    """None (an output a case does not have, e.g. a layer its stack lacks) survives JSON and is skipped."""
    assert decode(json.loads(json.dumps(encode(None)))) is None
    assert compare_value("dh0_3", None, None, 1e-6, 1e-8) == []
    (finding,) = compare_value("dh0_3", None, np.zeros(2), 1e-6, 1e-8)
    assert not finding.ok and "this case has no dh0_3, got an ndarray" in finding.message


def _layers():
    return [(np.zeros(2), np.ones(3)), (np.ones(2), np.zeros(3)), (np.full(2, 2.0), np.zeros(3))]


def test_changed_part_says_a_list_was_reordered():
    """cache.reverse() is reported as a reordering of the list, not as a write into its first item."""
    cache = _layers()
    before = _snapshot(cache)
    cache.reverse()
    assert _changed_part(before, cache, "cache").startswith("cache was reordered: the same items in another order")


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda c: c.pop(), "cache lost items: it held 3, now 2"),
        (lambda c: c.append(c[0]), "cache gained items: it held 3, now 4"),
        (lambda c: c.__setitem__(1, c[2]), "cache[1] was replaced"),
        (lambda c: c[2][1].__setitem__(0, 5.0), "cache[2][1] was written to"),
        (lambda c: None, None),
    ],
)
def test_changed_part_names_what_changed(change, said):
    """Items lost, gained, replaced, written to, or nothing: each in words, with where."""
    cache = _layers()
    before = _snapshot(cache)
    change(cache)
    assert _changed_part(before, cache, "cache") == said


def test_call_on_cache_reports_a_reversed_cache():
    """A backward pass that calls cache.reverse() is told that it reordered the cache."""

    def reverses(dh, cache):
        cache.reverse()
        return dh

    with pytest.raises(CallProblem, match=r"changed its cache in place \(cache was reordered"):
        call_on_cache(reverses, "f_backward", np.zeros(2), _layers())


def test_call_keeping_inputs_reports_a_changed_list_or_dict():
    """A list or dict argument emptied, or an array in it written to, is named; reading it is fine."""

    def empties(xs, params):
        while xs:
            xs.pop()

    def writes(xs, params):
        params["W"] += 1.0

    with pytest.raises(CallProblem, match=r"f changed its input xs in place \(xs lost items: it held 3, now 0\)"):
        call_keeping_inputs(empties, "f", xs=[1, 2, 3], params={"W": np.zeros(2)})
    with pytest.raises(CallProblem, match=r"its input params in place \(params\['W'\] was written to\)"):
        call_keeping_inputs(writes, "f", xs=[1, 2, 3], params={"W": np.zeros(2)})
    assert call_keeping_inputs(lambda xs, params: sum(xs), "f", xs=[1, 2, 3], params={}) == 6


def test_decode_refuses_object_dtypes():
    """Only plain numeric dtypes are accepted from a fixture or a child process."""
    with pytest.raises(ValueError, match="not allowed"):
        decode({"dtype": "object", "shape": [1], "data": [1]})
    with pytest.raises(TypeError):
        encode(np.array(["a"]))


def test_compare_stops_at_first_failing_property():
    """A wrong shape is reported and values are not compared (they cannot be)."""
    findings = compare_value("h", np.zeros((2, 3)), np.zeros((3, 2)), 1e-6, 1e-8)
    assert [f.prop for f in findings] == ["type", "shape"] and not findings[-1].ok


def test_compare_integer_outputs():
    """Integers compare exactly; a float where an int is expected is a type error."""
    assert compare_value("count", 5, 5, 0, 0)[-1].ok
    assert not compare_value("count", 5, 6, 0, 0)[-1].ok
    assert compare_value("count", 5, 5.0, 0, 0)[-1].prop == "type"


def test_compare_accepts_tiny_float_differences():
    """Differences within atol + rtol*|expected| pass: summation order never costs a point."""
    expected = np.linspace(-1, 1, 10)
    assert compare_value("h", expected, expected + 1e-12, 1e-6, 1e-8)[-1].ok
    assert not compare_value("h", expected, expected + 1e-4, 1e-6, 1e-8)[-1].ok


def test_changed_part_handles_object_and_string_arrays():
    """Object arrays are held item by item (isnan knows no objects); string arrays compare as they are."""
    layers = np.empty(2, dtype=object)
    layers[0], layers[1] = np.zeros(2), np.ones(3)
    before = _snapshot(layers)
    assert _changed_part(before, layers, "cache") is None
    layers[1][0] = 5.0
    assert _changed_part(before, layers, "cache") == "cache[1] was written to"
    names = np.array(["a", "b"])
    held = _snapshot(names)
    assert _changed_part(held, names, "names") is None
    names[0] = "z"
    assert _changed_part(held, names, "names") == "names was written to"


def _backward_outputs(rng, N=3, H=4):
    """lstm_step_backward's outputs where D == H, so that dx, dh_prev and dc_prev share a shape."""
    from autograder.suites import EXERCISES

    exercise = EXERCISES["lstm_step_backward"]
    shapes = {"dx": (N, H), "dh_prev": (N, H), "dc_prev": (N, H), "dW_x": (H, 4 * H), "dW_h": (H, 4 * H), "db": (4 * H,)}
    expected = {name: rng.standard_normal(shapes.get(name, (N, H))) for name in exercise.graded}
    return exercise, expected


def _failing(findings):
    return {f.message.split(":")[0]: f.message for f in findings if not f.ok}


def test_outputs_returned_in_the_wrong_order_are_named():
    """Swapped outputs are named as swapped (values or shapes), one output returned twice as such;
    a slip that merely gives zeros where another output is zero, or a plain wrong value, is not."""
    exercise, expected = _backward_outputs(np.random.default_rng(0))
    order = "Return (dx, dh_prev, dc_prev, dW_x, dW_h, db)"

    swapped = {**expected, "dh_prev": expected["dc_prev"], "dc_prev": expected["dh_prev"]}
    failing = _failing(compare_outputs(exercise, expected, swapped))
    assert sorted(failing) == ["dc_prev", "dh_prev"]
    assert failing["dh_prev"].endswith(f"these are the values of dc_prev, which got those of dh_prev: swapped? {order}")
    assert failing["dc_prev"].endswith(f"these are the values of dh_prev, which got those of dc_prev: swapped? {order}")

    twice = {**expected, "dc_prev": expected["dh_prev"]}
    failing = _failing(compare_outputs(exercise, expected, twice))
    assert sorted(failing) == ["dc_prev"] and failing["dc_prev"].endswith("these are the values dh_prev should have")

    shapes = {**expected, "dW_x": expected["db"], "db": expected["dW_x"]}
    failing = _failing(compare_outputs(exercise, expected, shapes))
    assert failing["dW_x"].endswith(f"that is the shape of db, which got the shape of dW_x: swapped? {order}")

    wrong_shape = {**expected, "dW_x": expected["db"]}  # not a swap: no guess
    assert "swapped" not in _failing(compare_outputs(exercise, expected, wrong_shape))["dW_x"]

    zero = {**expected, "dc_prev": np.zeros_like(expected["dc_prev"])}
    failing = _failing(compare_outputs(exercise, {**expected, "dh_prev": np.zeros_like(expected["dh_prev"])}, zero))
    assert "should have" not in failing["dc_prev"]

    off = {**expected, "dh_prev": expected["dh_prev"] + 0.5}
    assert _failing(compare_outputs(exercise, expected, off))["dh_prev"].endswith("rtol=1e-09")


def test_an_output_of_zeros_is_named_as_such():
    """A gradient that was allocated and never filled says so; a partly zero one does not."""
    expected = np.linspace(-1, 1, 6).reshape(2, 3)
    (*_, zeros) = compare_value("dW", expected, np.zeros((2, 3)), 1e-9, 1e-12)
    assert not zeros.ok and zeros.message.endswith("every entry of it is 0 where the right values are not: an array made with np.zeros and never filled in or added to, or a term that is 0 on this case (see what the case sets to 0)?")
    half = expected.copy()
    half[0] = 0
    (*_, partly) = compare_value("dW", expected, half, 1e-9, 1e-12)
    assert not partly.ok and "np.zeros" not in partly.message


def test_a_swap_note_names_only_what_the_learner_returns():
    """The order is given only where ``returns`` is what the learner returns (not the check's own
    flags), and an output of the learner's forward that the backward's check also compares is never
    offered as the swapped partner (the fix would be in the forward)."""
    import dataclasses

    exercise, expected = _backward_outputs(np.random.default_rng(1))
    flagged = dataclasses.replace(exercise, returns=(*exercise.returns, "a flag the check counts"), returns_as="")
    swapped = {**expected, "dh_prev": expected["dc_prev"], "dc_prev": expected["dh_prev"]}
    assert _failing(compare_outputs(flagged, expected, swapped))["dh_prev"].endswith(
        "these are the values of dc_prev, which got those of dh_prev: swapped?"
    )
    forward = next(n for n in exercise.graded if not n.isidentifier())  # e.g. h_next of your lstm_step_forward
    from_forward = {**expected, "dh_prev": expected[forward]}
    assert _failing(compare_outputs(exercise, expected, from_forward))["dh_prev"].endswith("rtol=1e-09")


def test_zeros_are_named_before_a_float32_sized_error():
    expected = np.full((2, 3), 1e-8)
    (*_, zeros) = compare_value("dW", expected, np.zeros((2, 3)), 1e-9, 1e-12)
    assert zeros.message.endswith("or a term that is 0 on this case (see what the case sets to 0)?")


def test_every_exercise_whose_outputs_include_the_checks_own_says_what_the_learner_returns():
    """Where ``returns`` lists counts and flags the check adds (or parts of another function's
    outputs), ``returns_as`` says what the learner's function returns: the report's "returns ..."
    line and the order a swap note gives come from it. Without it, a swap in rnn_step_backward
    was named but the order to return in was not."""
    from autograder.suites import EXERCISES

    missing = [n for n, e in EXERCISES.items() if not all(r.isidentifier() for r in e.returns) and not e.returns_as]
    assert missing == []
    exercise = EXERCISES["rnn_step_backward"]
    rng = np.random.default_rng(2)
    expected = {name: rng.standard_normal((3, 3)) for name in exercise.graded[:5]}
    expected.update({name: 0 for name in exercise.graded[5:]})  # the check's own counts and flags
    swapped = {**expected, "dW_xh": expected["dW_hh"], "dW_hh": expected["dW_xh"]}
    failing = _failing(compare_outputs(exercise, expected, swapped))
    assert failing["dW_xh"].endswith("swapped? Return (dx, dh_prev, dW_xh, dW_hh, db_h)")


@pytest.mark.parametrize(
    ("expected", "actual", "said"),
    [
        ((3, 5), (5, 3), "the same sizes in another order: transposed (a matmul's factors the other way round, or a .T too many)?"),
        ((3, 4, 5), (4, 3, 5), "the same sizes in another order: are axes swapped (batch and time exchanged, or a .T, which reverses every axis of a 3-D array where .transpose(1, 0, 2) swaps only the first two)?"),
        ((3, 5), (1, 3, 5), "an extra axis of size 1 (from keepdims=True, [None] or a reshape?)"),
        ((1, 3), (3,), "an axis of size 1 is missing (dropped by np.squeeze, or by indexing with [i] where [i:i+1] keeps it?)"),
        ((3, 5), (15,), "the right number of entries in another shape: flattened, reshaped or joined along another axis?"),
        ((3, 5, 8), (3, 5, 2, 4), "an extra axis (axis 2, of size 2), and 4 entries where 8 belong along axis 2: np.stack adds a new axis where np.concatenate(..., axis=2) joins along an existing one"),
        ((3, 5, 8), (6, 5, 4), "axis 0 has 6 entries where 3 belong and axis 2 4 where 8 belong: joined along axis 0 where axis 2 was meant?"),
        ((3, 5), (3, 6), ""),
    ],
)
def test_a_wrong_shape_says_what_its_sizes_suggest(expected, actual, said):
    """Sizes in another order, an axis of size 1 too many or too few, the right count in another
    shape: each gets its likely cause; a shape that suggests nothing gets none."""
    (*_, shape) = compare_value("h", np.zeros(expected), np.zeros(actual), 1e-9, 1e-12)
    assert not shape.ok and shape.prop == "shape"
    assert shape.message == f"h: expected shape {expected}, got {actual}" + (f"; {said}" if said else "")


def test_none_gets_its_usual_cause_only_where_it_is_what_the_function_returned():
    """A function without a return statement returns None: said where None is the return value
    (one output or the tuple), not for None inside it (list.reverse() returns None too)."""
    from autograder.suites import EXERCISES
    from autograder.suites.core import NONE_RETURNED, unpack

    _, single = unpack(EXERCISES["softmax"], None)
    assert not single.ok and single.message == f"softmax should return probs, got {NONE_RETURNED}"
    _, several = unpack(EXERCISES["rnn_step_forward"], None)
    assert not several.ok and several.message == f"rnn_step_forward should return a tuple (h_next, cache), got {NONE_RETURNED}"
    (inside,) = compare_value("h_next", np.zeros(3), None, 1e-9, 1e-12)
    assert inside.message == "h_next: expected a numpy array, got None"


@pytest.mark.parametrize(
    ("slip", "said"),
    [
        (lambda e: -e, "every entry has the wrong sign: a minus too many or too few (a - b for b - a)?"),
        (lambda e: e / 4, "every entry is 0.25 times the right one (1/4: a division too many, or an average where a sum belongs?)"),
        (lambda e: 3 * e, "every entry is 3 times the right one (3x: a term counted 3 times, or a division missing?)"),
        (lambda e: 1.7 * e, "every entry is 1.7 times the right one"),
        (lambda e: e[:, ::-1], "these are the right values in reversed time order (axis 1)"),
        (lambda e: np.concatenate([np.ones_like(e[:, :1]), e[:, :-1]], axis=1), "each time step holds what the step before it should"),
        (lambda e: np.concatenate([e[:, 1:], np.ones_like(e[:, :1])], axis=1), "each time step holds what the step after it should"),
        (lambda e: e + 0.1, None),
    ],
)
def test_wrong_values_that_are_the_right_ones_rearranged_say_how(slip, said):
    """Values of the right shape that are the expected ones negated, scaled, reversed or shifted in
    time say so (how they relate, never what they are); values off in no such way say nothing more."""
    expected = np.random.default_rng(3).standard_normal((2, 4, 3))
    (*_, values) = compare_value("h", expected, slip(expected), 1e-9, 1e-12)
    assert not values.ok and values.prop == "values"
    if said is None:
        assert values.message.endswith("rtol=1e-09")
    else:
        assert said in values.message


def test_a_square_output_transposed_is_named():
    """dW_hh is (H, H): h_prev.T @ da written da.T @ h_prev gives its transpose, the right shape."""
    expected = np.random.default_rng(4).standard_normal((4, 4))
    (*_, values) = compare_value("dW_hh", expected, expected.T, 1e-9, 1e-12)
    assert values.message.endswith("these are the right values transposed: a matmul's factors the other way round?")
    symmetric = expected + expected.T  # its transpose is itself: nothing to say
    (*_, values) = compare_value("dW_hh", symmetric, symmetric * 1.0001 + 0.5, 1e-9, 1e-12)
    assert "transposed" not in values.message


def test_a_hint_that_fails_never_hides_the_verdict():
    """Axes of size 0 made the shape hint divide by zero: the verdict stands, without a hint."""
    (*_, shape) = compare_value("h", np.zeros((0, 4, 1)), np.zeros((2, 0, 1)), 1e-9, 1e-12)
    assert not shape.ok and shape.message == "h: expected shape (0, 4, 1), got (2, 0, 1)"

    class Odd(list):
        def __len__(self):
            raise RuntimeError("a learner's list that cannot say its length")

    (found,) = compare_value("h", np.zeros((2, 3)), Odd([np.zeros(3)]), 1e-9, 1e-12)
    assert not found.ok and found.message.startswith("h: expected a numpy array, got an Odd")
