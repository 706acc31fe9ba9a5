"""Smoke test of the layer benchmark: ``python -m bench layers --quick`` runs and prints its table.

No timing is ever asserted: the numbers depend on the machine and its load.
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_layers_quick_prints_a_row_per_cell():
    """The quick benchmark exits 0 and prints a table row for lstm, gru and rnn."""
    result = subprocess.run(
        [sys.executable, "-m", "bench", "layers", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    for cell in ("lstm", "gru", "rnn"):
        assert re.search(rf"^\| {cell} \| float(32|64) \|", result.stdout, re.MULTILINE), (
            result.stdout
        )
