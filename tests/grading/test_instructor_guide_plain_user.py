"""The instructor's guide walked with the students as a plain user (see test_instructor_guide.py).

A file of its own so that pytest-xdist, which sends whole files to a worker, runs it beside the other walk.
"""

from __future__ import annotations

import pytest
from test_instructor_guide import _walk, base, plain_user  # noqa: F401 (fixtures)


@pytest.mark.slow
def test_instructor_guide_round_trip_with_students_as_a_plain_user(base, lesson, plain_user):  # noqa: F811
    """The same walk with the student as a plain user: the exchange's permissions are exercised."""
    user, python = plain_user
    _walk(base, lesson, user, python)
