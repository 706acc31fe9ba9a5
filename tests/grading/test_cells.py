"""Which cells of a submission the grader runs, and what it tells the student about the rest."""

from __future__ import annotations

import copy

import nbformat
from conftest import COURSE, LESSON, grade_notebook, notebook_with

from autograder.grading import notebook, samples


def _plan(nb):
    source, _ = samples.load_pair(COURSE, LESSON)
    stubs = notebook.release_stubs(source)
    return notebook.select_cells(source, stubs, nb, list(stubs))


def _added_note(plan):
    notes = [n for n in plan.notes if "outside the solution cells were not run" in n]
    return notes[0] if notes else None


def test_cells_a_student_added_or_changed_are_named_in_the_feedback():
    """A helper in a cell of the student's own (no grade_id) and an edit to a locked course cell are
    never run, and the student is told so; blank cells, text cells and untouched course cells are
    not counted (the note used to count only cells with a grade_id the course lacks)."""
    _, release = samples.load_pair(COURSE, LESSON)
    untouched = copy.deepcopy(release)
    untouched.cells.append(nbformat.v4.new_code_cell("   \n"))
    untouched.cells.append(nbformat.v4.new_markdown_cell("my notes"))
    assert _added_note(_plan(untouched)) is None

    mine = copy.deepcopy(release)
    mine.cells.insert(3, nbformat.v4.new_code_cell("def my_sigmoid(a):\n    return 1 / (1 + np.exp(-a))"))
    setup = next(c for c in mine.cells if c.cell_type == "code" and "import numpy" in c.source)
    setup.source += "\nimport scipy"
    note = _added_note(_plan(mine))
    assert note is not None and note.startswith("2 code cell(s) you added or changed")
    assert "Put everything your functions need inside them" in note


def test_a_name_defined_only_in_an_added_cell_is_explained_where_it_fails(lesson, runner):
    """The NameError an exercise raises for a helper in a cell of the student's own says where the
    helper is and what to do; the other exercises keep their points."""
    nb = notebook_with(lesson, edits={"rnn_step_forward": lambda text: text.replace("np.tanh(", "my_tanh(")})
    assert any("my_tanh(" in c.source for c in nb.cells)
    nb.cells.insert(2, nbformat.v4.new_code_cell("import numpy as np\n\ndef my_tanh(a):\n    return np.tanh(a)"))
    result = grade_notebook(lesson, runner, nb)
    verdicts = {e.name: e for e in result.exercises}
    step = verdicts["rnn_step_forward"]
    assert step.points == 0 and "NameError: name 'my_tanh' is not defined" in step.message
    assert step.message.endswith(
        "my_tanh is defined only in a cell grading does not run (one you added or changed): "
        "move it into the solution cell that uses it"
    )
    assert step.lines[-1].startswith("  → my_tanh is defined only in a cell grading does not run")
    assert any(n.startswith("1 code cell(s) you added or changed") for n in result.notes)
    assert verdicts["softmax"].points == verdicts["softmax"].max_points


def test_an_exercise_whose_own_cell_failed_says_why_it_is_not_defined(lesson, short_runner):
    """A SyntaxError, or an endless loop the grader stopped, in an exercise's own solution cell is
    named in that exercise's verdict (it used to read "not attempted", the reason only in the notes)."""
    nb = notebook_with(
        lesson,
        edits={
            "softmax": lambda text: text.replace("def softmax(", "def softmax(("),
            "count_rnn_parameters": lambda text: text + "\nwhile True:\n    pass",
        },
    )
    result = grade_notebook(lesson, short_runner, nb)
    verdicts = {e.name: e for e in result.exercises}
    softmax = verdicts["softmax"]
    assert softmax.status == "error" and softmax.points == 0
    assert softmax.message.startswith(
        "softmax is not defined when it is graded, because its solution cell failed: "
        "your solution cell 'softmax' raised SyntaxError"
    )
    count = verdicts["count_rnn_parameters"]
    assert count.status == "error" and "did not finish within" in count.message
    assert verdicts["rnn_step_forward"].points == verdicts["rnn_step_forward"].max_points


def test_a_variable_set_only_in_an_added_cell_gets_advice_to_use_the_parameters():
    """A solution that reads a notebook variable (b for b_h) is told to use its parameters, not to
    move test data into the solution cell; a cell the parser cannot take (MemoryError) is no harm."""
    _, release = samples.load_pair(COURSE, LESSON)
    nb = copy.deepcopy(release)
    nb.cells.insert(2, nbformat.v4.new_code_cell("b = np.zeros(5)\n\ndef helper():\n    pass"))
    nb.cells.insert(3, nbformat.v4.new_code_cell("y = " + "not " * 20000 + "x"))
    plan = _plan(nb)
    assert plan.unrun_names == {"b": "value", "helper": "definition"}
    assert _added_note(plan).startswith("2 code cell(s)")

    from autograder.grading import compare, engine

    failed = compare.ExerciseResult("rnn_step_forward", "1.1", 3.0, 0.0, "error", "raised NameError: name 'b' is not defined")
    said = engine._explain_unrun(failed, plan.unrun_names).message
    assert said.endswith("a function should work from its parameters, not from the notebook's variables")
