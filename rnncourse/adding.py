"""The adding problem: a long-memory benchmark for recurrent networks.

Each step carries two numbers: a value drawn uniformly from [0, 1] and a
marker that is 1 at exactly two steps and 0 elsewhere. The target is the sum
of the two marked values. One marker falls in the first half of the sequence
and one in the second, so the network must hold the first marked value over
about ``seq_len / 2`` steps of distraction.

This is the variant of Le, Jaitly and Hinton (2015) and Arjovsky, Shah and
Bengio (2016), after Hochreiter and Schmidhuber (1997), whose original draws
values from [-1, 1] and places the markers differently. The sum of two
independent U[0, 1] values has mean 1 and variance 2/12, so always predicting
1 scores a mean squared error of 1/6 ≈ 0.167: the baseline a model must beat.
"""

from __future__ import annotations

import numpy as np

BASELINE_MSE = 1.0 / 6.0  # MSE of always predicting the mean, 1


def adding_problem(n_sequences: int, seq_len: int, rng: np.random.Generator, dtype=np.float64):
    """Draw a batch of the adding problem.

    Inputs:
        n_sequences: N, number of sequences
        seq_len: T >= 2, steps per sequence
        rng: a numpy Generator (the only source of randomness)
        dtype: floating dtype of the arrays
    Returns:
        x: (N, T, 2) x[..., 0] values in [0, 1), x[..., 1] markers (two ones per sequence)
        y: (N, 1) the sum of the two marked values
    """
    if seq_len < 2:
        raise ValueError(f"seq_len must be at least 2, got {seq_len}")
    N, T = n_sequences, seq_len
    values = rng.random((N, T))
    half = T // 2
    first = rng.integers(0, half, size=N)
    second = rng.integers(half, T, size=N)
    markers = np.zeros((N, T))
    rows = np.arange(N)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(dtype)
    y = (values[rows, first] + values[rows, second])[:, None].astype(dtype)
    return x, y
