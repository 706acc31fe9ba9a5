"""rnncourse.nn's layers choose their BLAS threads: one for small products, the library's otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from rnncourse import nn
from rnncourse.nn import _threads

LIBRARIES = _threads._libraries()
needs_blas = pytest.mark.skipif(not LIBRARIES, reason="threadpoolctl finds no BLAS to drive")


def _threads_now():
    return [lib.get_num_threads() for lib in LIBRARIES]


@pytest.fixture
def two_threads():
    """Every BLAS library at 2 threads for the test, as on a laptop; the setting restored after."""
    before = _threads_now()
    for lib in LIBRARIES:
        lib.set_num_threads(2)
    yield
    for lib, n in zip(LIBRARIES, before):
        lib.set_num_threads(n)


def test_largest_product_counts_the_projection_and_the_step():
    """The largest product is the input projection of all steps or one step's recurrent product."""
    assert _threads.largest_product(N=50, T=30, D=9, H=32, blocks=4) == 30 * 50 * 10 * 128
    assert _threads.largest_product(N=64, T=2, D=1, H=512, blocks=4) == 64 * 512 * 2048


@needs_blas
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_small_layer_runs_on_one_thread_and_restores_the_setting(cell, two_threads, monkeypatch):
    """Lesson 04's shapes (batches of 50, 32 units): every product on one thread, 2 again after."""
    seen = []
    real = np.matmul

    def spy(*args, **kwargs):
        seen.append(_threads_now())
        return real(*args, **kwargs)

    forward, backward = nn.CELLS[cell]
    blocks = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 30, 9))
    W_x, W_h, b = rng.standard_normal((9, blocks * 32)), rng.standard_normal((32, blocks * 32)), np.zeros(blocks * 32)
    monkeypatch.setattr(np, "matmul", spy)  # the layers multiply with np.matmul(..., out=...)
    h, cache = forward(x, None, W_x, W_h, b)
    backward(np.ones_like(h), cache)
    monkeypatch.undo()
    assert seen and all(n == [1] * len(LIBRARIES) for n in seen)
    assert _threads_now() == [2] * len(LIBRARIES)


@needs_blas
def test_large_layer_keeps_the_librarys_threads(two_threads):
    """Above the size where a second thread can pay, the call leaves the threads alone."""
    seen = []

    @_threads.one_thread_when_small(4, lambda *args: (64, 100, 128, 256))
    def layer():
        seen.append(_threads_now())

    layer()
    assert seen == [[2] * len(LIBRARIES)]


@needs_blas
def test_setting_is_restored_when_the_layer_raises(two_threads):
    """A layer that raises (bad shapes) still gives the library its threads back."""
    with pytest.raises(ValueError):
        nn.lstm_forward(np.ones((2, 3, 4)), None, np.ones((4, 8)), np.ones((2, 8)), np.zeros(7))
    assert _threads_now() == [2] * len(LIBRARIES)


def test_arguments_the_sizes_cannot_read_change_nothing():
    """A list for x is the layer's to report (or accept), not the thread decision's."""
    h, _ = nn.rnn_forward([[[1.0]], [[2.0]]], None, np.ones((1, 2)), np.eye(2), np.zeros(2))
    assert h.shape == (2, 1, 2)
