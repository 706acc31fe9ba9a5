"""The course's data loaders return the series data/README.md documents."""

from __future__ import annotations

import numpy as np

from rnncourse.data import load_air_passengers, load_sunspots


def test_loaders_return_the_documented_series():
    """144 airline months from 1949-01 and 3,120 sunspot months from 1749-01, as datetime64[M] and float64."""
    months, passengers = load_air_passengers()
    assert months.dtype == np.dtype("datetime64[M]") and passengers.dtype == np.float64
    assert (len(months), str(months[0]), str(months[-1])) == (144, "1949-01", "1960-12")
    assert (passengers[0], passengers[-1]) == (112.0, 432.0)
    assert np.all(np.diff(months).astype(int) == 1)
    months, sunspots = load_sunspots()
    assert (len(months), str(months[0]), str(months[-1])) == (3120, "1749-01", "2008-12")
    assert np.all(np.diff(months).astype(int) == 1) and sunspots.min() >= 0
