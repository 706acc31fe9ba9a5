"""Loaders for the datasets that ship in ``data/`` (see ``data/README.md``).

The course runs offline: every loader reads a file of this repository and
never downloads. ``RNNCOURSE_DATA`` overrides where ``data/`` is.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def data_dir() -> Path:
    """The course's data directory: $RNNCOURSE_DATA, else ``data/`` beside this package."""
    env = os.environ.get("RNNCOURSE_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[1] / "data"
    if not path.is_dir():
        raise FileNotFoundError(
            f"the course data directory {path} does not exist; "
            "run from a clone of the course or set RNNCOURSE_DATA"
        )
    return path


def load_first_names() -> list[str]:
    """5,163 lower-case US first names (1990 census), sorted: sequences of varying length."""
    text = (data_dir() / "us_census_1990_first_names.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line]


def _monthly_csv(name: str) -> tuple:
    """A two-column CSV ``YYYY-MM,value`` as (months (T,) datetime64[M], values (T,) float64)."""
    lines = (data_dir() / name).read_text(encoding="utf-8").splitlines()[1:]
    stamps, values = zip(*(line.split(",") for line in lines if line))
    return np.array(stamps, dtype="datetime64[M]"), np.array(values, dtype=np.float64)


def load_air_passengers() -> tuple:
    """Monthly international airline passengers, in thousands, January 1949 to December 1960.

    Returns ``(months, passengers)``: 144 months as ``datetime64[M]`` and the counts as
    float64. Box and Jenkins' Series G: an upward trend and a yearly season whose swing
    grows with the level.
    """
    return _monthly_csv("airpassengers_monthly_1949_1960.csv")


def load_sunspots() -> tuple:
    """Monthly mean sunspot numbers (version 1 of the international series), January 1749 to
    December 2008.

    Returns ``(months, sunspots)``: 3,120 months as ``datetime64[M]`` and the numbers as
    float64. Noisy, never negative, with a cycle of about 11 years whose length and height
    vary: no fixed calendar season.
    """
    return _monthly_csv("sunspots_monthly_1749_2008.csv")
