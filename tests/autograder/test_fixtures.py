"""data/fixtures/ is exactly what regenerating it from the reference produces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from autograder import fixtures
from autograder.suites import EXERCISES
from autograder.suites.core import decode

ROOT = Path(__file__).resolve().parents[2]
# Outputs come from BLAS matrix products, whose last bits may differ between CPUs;
# inputs are drawn from seeded generators and must match exactly.
OUTPUT_RTOL = 1e-12


def _compare(a, b, where, exact):
    assert type(a) is type(b), where
    if isinstance(a, dict) and "dtype" in a:
        x, y = decode(a), decode(b)
        assert x.dtype == y.dtype and x.shape == y.shape, where
        if exact:
            assert np.array_equal(x, y, equal_nan=True), where
        else:
            assert np.allclose(x, y, rtol=OUTPUT_RTOL, atol=1e-300, equal_nan=True), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _compare(a[k], b[k], f"{where}.{k}", exact or k == "inputs")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _compare(x, y, f"{where}[{i}]", exact)
    else:
        assert a == b, where


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_fixture_regenerates_unchanged(name):
    """Regenerating an exercise's fixture gives the committed file: same cases, inputs, outputs."""
    exercise = EXERCISES[name]
    committed = json.loads((ROOT / "data" / "fixtures" / exercise.lesson / f"{name}.json").read_text())
    fresh = json.loads(fixtures.dumps(fixtures.build_fixture(exercise)))
    _compare(fresh, committed, name, exact=False)


def test_no_stale_fixture_files():
    """Every lesson fixture file belongs to an exercise of the suites."""
    expected = {f"{e.lesson}/{e.name}.json" for e in EXERCISES.values()}
    present = {
        p.relative_to(ROOT / "data" / "fixtures").as_posix()
        for p in (ROOT / "data" / "fixtures").glob("[0-9][0-9]_*/*.json")
    }
    assert present == expected


def test_fixture_table_in_data_readme_is_current():
    """The generated table in data/README.md lists every fixture file with its current sha256."""
    text = (ROOT / "data" / "README.md").read_text()
    start = text.index(fixtures.README_BEGIN)
    end = text.index(fixtures.README_END) + len(fixtures.README_END)
    assert text[start:end] == fixtures.fixtures_table(ROOT / "data"), "run `make fixtures`"
