"""How many BLAS threads a recurrent layer's call uses: one for small products.

A recurrent layer makes many small matrix products (one per time step) and a
few larger ones (the input projection of every step, the weight gradients).
BLAS libraries split a product over threads from a fixed size on (OpenBLAS:
about 262,144 multiply-adds). Below about a millisecond of work per product that
gains little on an idle machine, and on a busy one it costs a great deal: each
threaded product waits until every thread it woke has been scheduled. The
recall task of lesson 04 (batches of 50, 32 units) took 146 s with two OpenBLAS
threads on a loaded 2-core machine and 27 s with one.

So the layer decides, once per call, from the shapes it is given: when its
largest product has fewer than :data:`SMALL` multiply-adds, the call runs with
one BLAS thread and restores the library's setting afterwards; larger layers
keep whatever the library (or ``OMP_NUM_THREADS``, or the grader, which pins
one thread) chose. Not thread-safe: two Python threads calling layers at the
same time may leave one another's setting in place (NumPy code here is
single-threaded).
"""

from __future__ import annotations

import functools

# Multiply-adds of the largest product below which one thread runs the call: 2 * 10^7, about a
# millisecond of one core in float64. A second thread could save at most about half of that on an
# idle machine. It sits between the sizes it was chosen for: lesson 04's validation pass (500
# sequences, an LSTM of 32 units: 1.9 * 10^7) runs on one thread, and every shape of make bench
# above the two --quick ones (an RNN of 128 units over 64 x 100 steps: 2.7 * 10^7, and larger)
# keeps the library's threads, as before.
SMALL = 20_000_000

_blas = None  # the BLAS libraries NumPy loaded, found once (threadpoolctl scans the process)


def _libraries():
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController

            _blas = ThreadpoolController().select(user_api="blas").lib_controllers
        except Exception:  # noqa: BLE001 — no threadpoolctl, or a BLAS it cannot drive: leave threads alone
            _blas = []
    return _blas


def largest_product(N: int, T: int, D: int, H: int, blocks: int) -> int:
    """Multiply-adds of the largest matrix product of a layer over (N, T, D) with ``blocks`` fused
    blocks of H units: the input projection of all steps, (T*N, D+1) @ (D+1, blocks*H), or one
    step's recurrent product, (N, H) @ (H, blocks*H)."""
    return max(T * N * (D + 1), N * H) * blocks * H


def one_thread_when_small(blocks: int, sizes):
    """Decorate a layer's forward or backward: ``sizes(*args, **kwargs)`` gives (N, T, D, H) from
    its arguments; the call runs on one BLAS thread when :func:`largest_product` < :data:`SMALL`.
    Arguments ``sizes`` cannot read (they are wrong; the layer will say how) change nothing."""

    def decorate(fn):
        @functools.wraps(fn)
        def layer(*args, **kwargs):
            try:
                small = largest_product(*sizes(*args, **kwargs), blocks) < SMALL
            except Exception:  # noqa: BLE001 — the layer's own checks report bad arguments
                small = False
            libraries = _libraries() if small else []
            before = [lib.get_num_threads() for lib in libraries]
            if not any(n != 1 for n in before):
                return fn(*args, **kwargs)
            for lib in libraries:
                lib.set_num_threads(1)
            try:
                return fn(*args, **kwargs)
            finally:
                for lib, n in zip(libraries, before):
                    lib.set_num_threads(n)

        return layer

    return decorate


def forward_sizes(x, h0, W_x, W_h, *rest, **kwargs):
    """(N, T, D, H) of a forward call (x, h0, W_x, W_h, ...)."""
    N, T, D = x.shape
    return N, T, D, W_h.shape[0]


def backward_sizes(dh, cache, *rest, **kwargs):
    """(N, T, D, H) of a backward call, from the forward's cache."""
    return cache["shape"]
