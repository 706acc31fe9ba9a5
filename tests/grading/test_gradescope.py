"""The Gradescope autograder zip builds, and its entry point grades a submission."""

from __future__ import annotations

import json
import zipfile

import pytest
from conftest import COURSE, FAST, LESSON

from autograder.grading import gradescope, samples


def test_gradescope_zip_has_entry_points(tmp_path):
    """The zip holds an executable setup.sh and run_autograder, the engine and the source notebook."""
    path = gradescope.build_zip(LESSON, tmp_path)
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        assert {"setup.sh", "run_autograder"} <= names
        assert f"source/solutions/{LESSON}/{LESSON}.ipynb" in names
        assert "source/autograder/grading/child.py" in names
        assert z.getinfo("run_autograder").external_attr >> 16 & 0o111
        assert f"--assignment {LESSON}" in z.read("run_autograder").decode()


@pytest.mark.slow
def test_gradescope_run_writes_results(tmp_path):
    """run_autograder on a sample writes results.json with the sample's expected score."""
    built = samples.build_samples(COURSE, tmp_path / "samples", LESSON)[LESSON]
    results = tmp_path / "results" / "results.json"
    gradescope.run_autograder(built["sample-partial"], results, LESSON, limits=FAST, seed=3)
    data = json.loads(results.read_text())
    assert data["score"] == samples.expected_scores(LESSON)["sample-partial"]
    assert len(data["tests"]) == 6 and all(t["visibility"] == "visible" for t in data["tests"])
