"""Grade one submission: read → select cells → run in the sandbox → compare.

:class:`Assignment` holds what is the same for every student of one
assignment in one run (the source notebooks, the release's stubs, the hidden
cases and the reference's answers on them). :func:`grade_submission` grades
one student's directory and returns plain results; recording them
(gradebook, CSV, feedback) is :mod:`autograder.grading.record`'s job.
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

from nbformat import NotebookNode

from autograder.grading import compare, notebook, sandbox
from autograder.grading.compare import ExerciseResult, Hidden
from autograder.grading.notebook import Plan, Step, Unreadable
from autograder.suites import LESSON_SUITES

MAX_SPAWNS = 20  # respawns per notebook after faults; each fault skips one more step


class GraderError(Exception):
    """A fault of the grader itself (not of a submission): the run stops with a non-zero exit."""


@dataclasses.dataclass
class SourceNotebook:
    name: str  # "01_rnn_cell.ipynb"
    nb: NotebookNode
    stubs: dict[str, str]
    exercises: list[str]  # the suite's exercises this notebook grades, in order


@dataclasses.dataclass
class Assignment:
    """Everything about one assignment that does not depend on the student."""

    name: str
    notebooks: list[SourceNotebook]
    hidden: dict[str, Hidden]
    seed: int

    @classmethod
    def load(cls, source_dir: Path, name: str, seed: int) -> Assignment:
        folder = source_dir / name
        paths = sorted(folder.glob("*.ipynb"))
        if not paths:
            raise GraderError(f"no source notebook in {folder}")
        suite = LESSON_SUITES.get(name, ())
        names = [ex.name for ex in suite]
        notebooks = []
        for path in paths:
            nb = notebook.read_source(path)
            checked = [
                n for n in (notebook.check_exercise(c, set(names)) for c in nb.cells if notebook.nbgrader_meta(c).get("grade"))
                if n
            ]
            defined = {notebook.nbgrader_meta(c).get("grade_id") for c in nb.cells}
            mine = [n for n in names if n in checked or n in defined]
            notebooks.append(SourceNotebook(path.name, nb, notebook.release_stubs(nb), mine))
        if len(notebooks) == 1:  # a one-notebook lesson grades its whole suite there
            notebooks[0].exercises = names
        hidden = {ex.name: compare.hidden_cases(ex, seed) for ex in suite}
        return cls(name, notebooks, hidden, seed)


@dataclasses.dataclass
class NotebookResult:
    """The grade of one notebook of one submission."""

    student: str
    assignment: str
    notebook: str
    exercises: list[ExerciseResult]
    notes: list[str]
    seed: int
    error: str | None = None  # the notebook could not be read at all
    submitted_as: str | None = None
    assembled: NotebookNode | None = None
    seconds: float = 0.0
    output: str = ""

    @property
    def score(self) -> float:
        return sum(e.points for e in self.exercises)

    @property
    def max_score(self) -> float:
        return sum(e.max_points for e in self.exercises)

    @property
    def flagged(self) -> bool:
        """For a human to read (README §9): the score table, grades.csv, report.json and
        nbgrader's flag on the submission all come from here."""
        return any(notebook.REFERS_TO_AUTOGRADER in n for n in self.notes)


@dataclasses.dataclass
class Runner:
    """How children are made: limits, what they cannot see, which uid slot."""

    template: Path
    limits: sandbox.Limits
    hide: list[Path]
    isolate: bool  # a uid of its own per child (root)
    namespaces: bool | None = None  # and mount/network/IPC namespaces (None: as isolate)
    sys_path: list[str] | None = None  # where children find Python, if not where the parent does
    uids_used: set = dataclasses.field(default_factory=set)

    def spawn(self, slot: int) -> sandbox.Child:
        child = sandbox.Child(self.template, self.limits, self.hide, slot, self.isolate, self.namespaces, self.sys_path)
        self.uids_used.add(child.uid)
        hello = child.start()
        if isinstance(hello, sandbox.Fault) or hello.get("refused"):
            output = child.output_text()
            child.close()
            why = hello.detail if isinstance(hello, sandbox.Fault) else hello["refused"]
            raise GraderError(f"the grading child did not start ({why}): {output[-2000:]}")
        return child


# --------------------------------------------------------------------------
# One submission
# --------------------------------------------------------------------------


def find_notebooks(folder: Path, assignment: Assignment) -> tuple[dict[str, Path], list[str]]:
    """Submitted notebook per source notebook name; a single renamed one is matched too."""
    found = {p.name: p for p in sorted(folder.glob("*.ipynb"))}
    matched = {nb.name: found.pop(nb.name) for nb in assignment.notebooks if nb.name in found}
    missing = [nb.name for nb in assignment.notebooks if nb.name not in matched]
    notes = []
    if len(missing) == 1 and len(found) == 1:
        (other,) = found.values()
        matched[missing[0]] = other
        notes.append(f"your notebook was named {other.name}, not {missing[0]}; it was graded as {missing[0]}")
    return matched, notes


def grade_submission(folder: Path, student: str, assignment: Assignment, runner: Runner, slot: int) -> list[NotebookResult]:
    """Grade every notebook of one student's submission."""
    matched, notes = find_notebooks(folder, assignment)
    results = []
    for source in assignment.notebooks:
        start = time.monotonic()
        path = matched.get(source.name)
        result = NotebookResult(student, assignment.name, source.name, [], list(notes), assignment.seed)
        if path is None:
            result.error = f"{source.name} was not found in your submission"
        else:
            result.submitted_as = path.name
            try:
                submitted = notebook.read_submission(path)
            except Unreadable as exc:
                result.error = str(exc)
            else:
                try:
                    plan = notebook.select_cells(source.nb, source.stubs, submitted, source.exercises)
                except Exception as exc:  # a damaged notebook the reader let through: it costs this notebook only
                    result.error = f"{path.name} could not be graded: its structure is damaged ({type(exc).__name__})"
                    plan = None
            if not result.error:
                result.notes += plan.notes
                result.assembled = plan.assembled
                result.exercises, faults, result.output = run_plan(plan, assignment, runner, slot)
                result.exercises = [_explain_unrun(e, plan.unrun_names) for e in result.exercises]
                result.notes += faults
        if result.error:  # said once, at the top of the feedback; each exercise points there
            result.exercises = [
                compare._result(assignment.hidden[name], "not_attempted", "not graded: your notebook could not be read (see above)")
                for name in source.exercises
            ]
        result.seconds = time.monotonic() - start
        results.append(result)
    return results


_NAME_ERROR = re.compile(r"NameError: name '([^']+)' is not defined")


def _explain_unrun(result: ExerciseResult, names: dict[str, str]) -> ExerciseResult:
    """A NameError for a name the student set only in a cell grading does not run says so."""
    found = _NAME_ERROR.search(result.message) if names else None
    if found is None or found.group(1) not in names:
        return result
    name = found.group(1)
    if names[name] == "definition":
        more = (
            f"{name} is defined only in a cell grading does not run (one you added or changed): "
            "move it into the solution cell that uses it"
        )
    else:
        more = (
            f"{name} is set only in a cell grading does not run (one you added or changed): a function "
            "should work from its parameters, not from the notebook's variables"
        )
    return dataclasses.replace(result, message=f"{result.message}\n{more}", lines=[*result.lines, f"  → {more}"])


def run_plan(plan: Plan, assignment: Assignment, runner: Runner, slot: int) -> tuple[list[ExerciseResult], list[str], str]:
    """Run the steps in a child; after a fault, a fresh child replays the cells before it, minus the culprit."""
    limits = runner.limits
    steps: list[Step] = plan.steps
    skip: set[int] = set()
    notes: list[str] = []
    results: dict[str, ExerciseResult] = {}
    failed_cells: dict[str, str] = {}  # label of a cell that raised or was stopped -> its note
    child: sandbox.Child | None = None
    output = ""
    spawns = 0
    i = 0
    deadline = time.monotonic() + limits.notebook_timeout
    out_of_time = False
    try:
        while i < len(steps):
            if time.monotonic() >= deadline:
                out_of_time = True
                break
            if child is None:
                if spawns >= MAX_SPAWNS:
                    break
                spawns += 1
                child = runner.spawn(slot)
                replay_failed = _replay(child, steps, i, skip, notes, limits, deadline)
                if replay_failed is None:  # the budget ran out while replaying
                    out_of_time = True
                    break
                if replay_failed:
                    output += child.output_text()
                    child.close()
                    child = None
                    continue
            step = steps[i]
            if step.kind == "cell":
                reply = child.request({"op": "cell", "label": step.label, "source": step.source}, _within(_timeout(step, limits), deadline))
                if isinstance(reply, sandbox.Fault) and time.monotonic() >= deadline:
                    out_of_time = True  # the budget ran out, not the cell's own time
                    break
                if isinstance(reply, sandbox.Fault):
                    notes.append(_cell_fault(step, reply, limits))
                    failed_cells[step.label] = notes[-1]
                    skip.add(i)
                    output += child.output_text()
                    child.close()
                    child = None
                elif reply.get("status") != "ok":
                    notes.append(_cell_error(step, reply, limits))
                    failed_cells[step.label] = notes[-1]
            else:
                hidden = assignment.hidden[step.exercise]
                timeout = _within(limits.exercise_timeout, deadline)
                reply = child.request(hidden.request(), timeout)
                if isinstance(reply, sandbox.Fault):
                    results[step.exercise] = compare.fault(hidden, reply.kind, reply.detail, timeout)
                    output += child.output_text()
                    child.close()
                    child = None
                else:
                    results[step.exercise] = compare.judge(hidden, reply, limits.memory_mb)
            i += 1
    finally:
        if child is not None:
            output += child.output_text()
            child.close()
    ordered = []
    for step in steps:
        if step.kind == "check" and step.exercise not in {r.name for r in ordered}:
            hidden = assignment.hidden[step.exercise]
            if step.exercise in results:
                ordered.append(results[step.exercise])
            elif out_of_time:
                ordered.append(dataclasses.replace(compare._result(
                    hidden, "timeout",
                    f"it was not graded: the notebook used up its time budget of {limits.notebook_timeout:g} s "
                    "(cells or functions that run until their time limit, replayed after each crash, add up)",
                ), graded=False))
            else:
                ordered.append(dataclasses.replace(
                    compare._result(hidden, "crash", "it could not be graded: too many crashes before it"), graded=False
                ))
    ordered = [_blame_its_cell(r, assignment.hidden[r.name], failed_cells) for r in ordered]
    compare.note_failing_dependencies(ordered)
    return ordered, notes, output


def _blame_its_cell(result: ExerciseResult, hidden: Hidden, failed_cells: dict[str, str]) -> ExerciseResult:
    """An exercise that is "not defined" because its own solution cell raised (a SyntaxError) or was
    stopped (an endless loop) says so where the student looks, not only in the notes."""
    trouble = failed_cells.get(notebook.solution_label(result.name))
    if trouble is None or result.status != "not_attempted" or not result.message.startswith(f"{result.name} is not defined"):
        return result
    return compare._result(hidden, "error", f"{result.name} is not defined when it is graded, because its solution cell failed: {trouble}")


def _within(timeout: float, deadline: float) -> float:
    """A request's own time limit, cut to what is left of the notebook's budget."""
    return max(0.1, min(timeout, deadline - time.monotonic()))


def _replay(child: sandbox.Child, steps: list[Step], upto: int, skip: set[int], notes: list[str], limits, deadline: float) -> bool | None:
    """Run the cells before ``upto`` again in a fresh child; True if one of them faulted now,
    None if the notebook's time budget ran out."""
    for j in range(upto):
        if steps[j].kind != "cell" or j in skip:
            continue
        reply = child.request({"op": "cell", "label": steps[j].label, "source": steps[j].source}, _within(_timeout(steps[j], limits), deadline))
        if isinstance(reply, sandbox.Fault) and time.monotonic() >= deadline:
            return None
        if isinstance(reply, sandbox.Fault):
            notes.append(_cell_fault(steps[j], reply, limits))
            skip.add(j)
            return True
    return False


def _timeout(step: Step, limits: sandbox.Limits) -> float:
    return limits.cell_timeout if step.student else max(limits.cell_timeout, limits.course_cell_timeout)


def _cell_fault(step: Step, fault: sandbox.Fault, limits: sandbox.Limits) -> str:
    if fault.kind == "timeout":
        why = f"did not finish within {_timeout(step, limits):g} s"
    else:
        why = f"crashed the process ({fault.detail})"
    return f"{step.label} {why}; it was skipped, and grading went on without it"


def _cell_error(step: Step, reply: dict, limits: sandbox.Limits) -> str:
    if reply.get("status") == "memory":
        return f"{step.label} ran out of memory (the limit is {limits.memory_mb} MiB)"
    last = "\n".join(compare.tail(reply.get("traceback", ""), compare.MAX_TRACEBACK).splitlines()[-3:])
    return f"{step.label} raised {compare.short(reply.get('error'), compare.MAX_ERROR_NAME)}:\n{last}"
