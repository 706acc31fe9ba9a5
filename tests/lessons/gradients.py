"""Central differences and the relative error, for the lesson tests that check a backward pass."""

from __future__ import annotations

import numpy as np


def numerical_grad(f, array, eps=1e-6):
    """d f() / d array by central differences, each entry nudged in place and restored."""
    grad = np.zeros_like(array)
    for i in np.ndindex(array.shape):
        old = array[i]
        array[i] = old + eps
        plus = f()
        array[i] = old - eps
        minus = f()
        array[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def rel_error(a, b):
    """Relative error of the whole array, ||a - b|| / (||a|| + ||b||)."""
    return np.linalg.norm(a - b) / max(1e-12, np.linalg.norm(a) + np.linalg.norm(b))
