"""Learner-facing self-checks. Ships to learners: imports no reference and no grading code.

In a notebook::

    from autograder.checks import check
    check.rnn_step_forward(rnn_step_forward)

Each call runs the exercise's public cases from ``data/fixtures/``, prints one
line per property (type, shape, dtype, finiteness, values, inputs left
unchanged) and raises ``AssertionError`` on failure, naming the catalogued
mistake when the wrong output matches one.
"""
