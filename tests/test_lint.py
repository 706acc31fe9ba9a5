"""The code and the solution notebooks pass ruff (the house linter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_check_is_clean():
    """`ruff check` finds nothing in the packages, tests, benchmarks and solution notebooks."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "rnncourse", "autograder", "tests", "bench", "solutions"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
