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


# The fixed split of the Shakespeare text (lesson 07): contiguous parts, by position, never shuffled.
SHAKESPEARE_SPLITS = {"train": (0.0, 0.9), "validation": (0.9, 0.95), "test": (0.95, 1.0)}


def load_shakespeare(split: str | None = None) -> str:
    """Six Shakespeare tragedies as one ASCII text of 841,795 characters (73 distinct ones).

    Macbeth, Hamlet, Julius Caesar, Romeo and Juliet, Othello and King Lear, in that order, from
    Project Gutenberg's editions (see ``data/README.md``). ``split`` is None for the whole text,
    or one of the fixed contiguous parts: "train" (the first 90% of the characters), "validation"
    (the next 5%) and "test" (the last 5%, the end of King Lear). The parts follow each other in
    the play, so the end of one is the context of the start of the next.
    """
    text = (data_dir() / "shakespeare_six_tragedies.txt").read_text(encoding="ascii")
    if split is None:
        return text
    if split not in SHAKESPEARE_SPLITS:
        raise ValueError(f"split must be None or one of {sorted(SHAKESPEARE_SPLITS)}, got {split!r}")
    start, end = SHAKESPEARE_SPLITS[split]
    return text[int(start * len(text)) : int(end * len(text))]
