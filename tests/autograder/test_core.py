"""The shared comparison and the JSON array codec that both tiers rely on."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograder.suites.core import compare_value, decode, encode


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
