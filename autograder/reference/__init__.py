"""Instructor-only reference implementations and catalogued mistakes.

Never imported by ``autograder.checks`` (a test proves it) and never reachable
from a graded child process. Each module ``lessonNN`` defines ``REFERENCE``
(exercise name -> correct function) and ``MISTAKES`` (exercise name -> {mistake
key -> function that reproduces it}); the texts of the mistakes live in
``autograder.suites``. Modules are found automatically.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

REFERENCE: dict = {}
MISTAKES: dict = {}
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
    if re.fullmatch(r"lesson\d\d", _info.name):
        _module = importlib.import_module(f"{__name__}.{_info.name}")
        REFERENCE.update(_module.REFERENCE)
        MISTAKES.update(_module.MISTAKES)
