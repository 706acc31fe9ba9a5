"""Loaders for the datasets that ship in ``data/`` (see ``data/README.md``).

The course runs offline: every loader reads a file of this repository and
never downloads. ``RNNCOURSE_DATA`` overrides where ``data/`` is.
"""

from __future__ import annotations

import os
from pathlib import Path


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


def load_seq2seq_dates_long_run() -> dict[bool, dict[str, list]]:
    """Lesson 09's reference long run: the dates model's held-out exact match every 100 updates.

    Returns ``{True: {"update": [...], "held_out_exact_match": [...]}, False: {...}}``, with and
    without attention (made by the lesson's notebook with ``LONG_RUN = True``; see data/README.md).
    """
    text = (data_dir() / "seq2seq_dates_long_run.csv").read_text(encoding="utf-8")
    runs: dict[bool, dict[str, list]] = {
        True: {"update": [], "held_out_exact_match": []},
        False: {"update": [], "held_out_exact_match": []},
    }
    for line in text.splitlines()[1:]:
        attention, update, accuracy = line.split(",")
        runs[attention == "1"]["update"].append(int(update))
        runs[attention == "1"]["held_out_exact_match"].append(float(accuracy))
    return runs
