"""One function per graded exercise: ``check.<exercise>(your_function)``.

Generated from the suites, so every exercise of the course has its check and
its docstring says what is checked.
"""

from __future__ import annotations

from autograder.checks.runner import run_check
from autograder.suites import EXERCISES


def _make(name: str):
    exercise = EXERCISES[name]

    def check(fn, *needed, verbose=False):
        __tracebackhide__ = True
        run_check(name, fn, *needed, verbose=verbose)

    check.__name__ = check.__qualname__ = name
    check.__doc__ = (
        f"Exercise {exercise.number} · {name} ({exercise.points} point{'' if exercise.points == 1 else 's'}): "
        f"{exercise.description}.\n\n"
        "Runs the public cases, checks the returned type, shape, dtype, finiteness and values,\n"
        "and that the inputs are left unchanged. A pass prints one line; a failure raises\n"
        "AssertionError with the first property that fails and the known mistake it matches,\n"
        "if any. verbose=True also lists every property checked."
    )
    return check


for _name in EXERCISES:
    globals()[_name] = _make(_name)

__all__ = sorted(EXERCISES)
