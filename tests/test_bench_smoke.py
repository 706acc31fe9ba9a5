"""Smoke test of the layer benchmark: ``python -m bench layers --quick`` runs and prints its table.

No timing is ever asserted: the numbers depend on the machine and its load.
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import layers

ROOT = Path(__file__).resolve().parents[1]


def test_bench_layers_quick_prints_a_row_per_cell(tmp_path):
    """The quick benchmark exits 0, prints a table row for lstm, gru and rnn, and draws its plot."""
    plot = tmp_path / "plots" / "layers.png"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "layers", "--quick", "--plot", str(plot)],
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
    assert f"Plot of the ratios: {plot}" in result.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_gemm_replay_covers_every_product_of_forward_and_backward(cell):
    """The "GEMM ms" column replays all of a layer's matrix products and nothing else.

    The flops of the recorded products must add up to at least the benchmark's
    GEMM flop count (6 G N T H (D + H)); the ones column for the bias adds a
    little more, never 10%. Recording must leave the layer module's numpy in place.
    """
    shape = (3, 4, 7, 6)
    args, dh = layers.make_problem(cell, shape, "float64")
    calls = layers.record_gemms(cell, args, dh)
    flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b, _ in calls)
    expected = layers.gemm_flops(cell, *shape)
    assert expected <= flops <= 1.1 * expected, (flops, expected)
    assert layers.LAYER_MODULES[cell].np is np
    layers.replay(calls)()  # runs on the recorded operands without error


def test_bench_class_report_quick_rebuilds_every_lesson():
    """The class-report benchmark writes made-up records for every lesson and rebuilds their pages."""
    result = subprocess.run(
        [sys.executable, "-m", "bench", "class_report", "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"class report: 20 students x \d+ lessons rebuilt in [\d.]+ s", result.stdout), result.stdout


def test_bench_training_quick_prints_its_row():
    """The quick training-step benchmark (lesson 07's model at tiny sizes) exits 0 and prints its row,
    with a torch column only when torch is importable."""
    result = subprocess.run(
        [sys.executable, "-m", "bench", "training", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\| embedding → LSTM → linear → cross-entropy, backward, clip, Adam \| 4 \| 10 \|", result.stdout, re.MULTILINE), result.stdout
    assert "Where one step of ours goes" in result.stdout
