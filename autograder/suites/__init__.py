"""Every graded exercise of the course, described once for both tiers.

Each module ``lessonNN`` of this package defines ``LESSON`` (e.g.
"01_rnn_cell") and ``EXERCISES`` (in notebook order); they are found
automatically. ``EXERCISES`` below maps an exercise name (the function's name
in the notebook) to its :class:`~autograder.suites.core.Exercise`; names are
unique across the course. Suites are public: inputs, tolerances and mistakes
in words, never a solution.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from autograder.suites.core import Exercise


def _discover() -> dict[str, tuple[Exercise, ...]]:
    suites = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if re.fullmatch(r"lesson\d\d", info.name):
            module = importlib.import_module(f"{__name__}.{info.name}")
            suites[module.LESSON] = tuple(module.EXERCISES)
    return suites


LESSON_SUITES: dict[str, tuple[Exercise, ...]] = _discover()


def _index() -> dict[str, Exercise]:
    index: dict[str, Exercise] = {}
    for exercises in LESSON_SUITES.values():
        for exercise in exercises:
            if exercise.name in index:
                raise RuntimeError(f"exercise name {exercise.name!r} is used twice")
            index[exercise.name] = exercise
    return index


EXERCISES: dict[str, Exercise] = _index()


def lesson_exercises(lesson: str) -> tuple[Exercise, ...]:
    """The exercises of one lesson, in notebook order."""
    return LESSON_SUITES[lesson]
