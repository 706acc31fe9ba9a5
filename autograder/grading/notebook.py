"""Read a submission and decide which cells run: the student's solutions, the course's everything else.

The submission is read as JSON (never executed, never trusted). Its solution
cells are matched to the source notebook's by ``grade_id``; a cell whose
nbgrader metadata differs from the source's, a cell the student added and a
solution cell that is missing are not run (the release's stub stands in for a
missing solution), and the feedback says so. Locked cells and check cells
always come from the source notebook.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import stat
from pathlib import Path

import nbformat
from nbformat import NotebookNode

MAX_BYTES = 5 * 1024 * 1024
DEMO_TAG = "demo"
NBGRADER_FLAGS = ("solution", "grade", "locked", "points")


class Unreadable(Exception):
    """The submission cannot be read as a notebook; the message says why, for the student."""


@dataclasses.dataclass
class Step:
    """One thing the child does, in notebook order: run a cell, or grade an exercise."""

    kind: str  # "cell" or "check"
    label: str  # how feedback names it: "cell 'setup'", "your solution cell 'softmax'"
    source: str = ""
    exercise: str | None = None
    student: bool = False  # the student's code (else the course's own cell)


@dataclasses.dataclass
class Plan:
    """What to run for one submitted notebook, and what to tell the student about it."""

    steps: list[Step]
    notes: list[str]
    assembled: NotebookNode  # source layout with the student's solutions: goes to autograded/
    # Top-level names the student defined only in cells the grader does not run (a helper in a
    # cell of their own): a NameError for one of them is explained where it happens.
    # name -> "definition" (def, class, import) or "value" (an assignment).
    unrun_names: dict[str, str] = dataclasses.field(default_factory=dict)


def nbgrader_meta(cell: dict) -> dict:
    meta = cell.get("metadata", {})
    md = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return md if isinstance(md, dict) else {}


def cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------


def read_submission(path: Path, max_bytes: int = MAX_BYTES) -> dict:
    """The submitted notebook as plain JSON, or :class:`Unreadable` with a message."""
    try:
        info = path.lstat()
    except OSError as exc:
        raise Unreadable(f"{path.name} cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
        raise Unreadable(
            f"{path.name} is {kind}, not a notebook file; submit the .ipynb file itself"
        )
    size = info.st_size
    if size > max_bytes:
        raise Unreadable(
            f"{path.name} is {size / 1e6:.1f} MB, more than the {max_bytes / 1e6:.0f} MB a submission "
            "may have (clear the outputs: Kernel > Restart & Clear Output, then save)"
        )
    try:
        data = json.loads(_read_regular(path, max_bytes).decode("utf-8"))
    except RecursionError:
        raise Unreadable(f"{path.name} is not a notebook: its JSON is nested far too deeply") from None
    except OSError as exc:
        raise Unreadable(f"{path.name} cannot be read ({exc.strerror})") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unreadable(
            f"{path.name} is not a valid notebook file (not valid JSON: {exc}). "
            "It may have been edited in a text editor or saved incompletely; "
            "re-download your notebook from Jupyter and submit it again"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise Unreadable(f"{path.name} is JSON but not a notebook (it has no list of cells)")
    cells = [_clean_cell(c) for c in data["cells"] if isinstance(c, dict) and isinstance(c.get("cell_type"), str)]
    return {"cells": cells}


def _read_regular(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file, never following a link or blocking on a FIFO."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(max_bytes + 1)
    finally:
        os.close(fd)


def _well_typed(key: str, value) -> bool:
    if key == "grade_id":
        return isinstance(value, str)
    if key == "points":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if key in ("solution", "grade", "locked"):
        return isinstance(value, bool)
    return True


def _clean_cell(cell: dict) -> dict:
    """The cell with only well-typed fields: text sources, and nbgrader metadata of the right types.

    A submission is never trusted: a source that is a list of numbers, a grade_id that
    is a list or points that are a string would otherwise crash the grader. Fields of
    the wrong type are dropped, so the cell is treated as one the student changed.
    """
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    elif not isinstance(source, str):
        source = ""
    meta = cell.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    md = meta.get("nbgrader")
    if isinstance(md, dict):
        meta = {**meta, "nbgrader": {k: v for k, v in md.items() if _well_typed(k, v)}}
    return {**cell, "source": source, "metadata": meta}


def read_source(path: Path) -> NotebookNode:
    return nbformat.read(str(path), as_version=4)


def release_stubs(source: NotebookNode) -> dict[str, str]:
    """grade_id -> the release's text of each solution cell (nbgrader's own ClearSolutions)."""
    from nbgrader.preprocessors import ClearSolutions
    from traitlets.config import Config

    cfg = Config()
    cfg.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    cfg.ClearSolutions.text_stub = "YOUR ANSWER HERE"
    nb = copy.deepcopy(source)
    nb, _ = ClearSolutions(config=cfg).preprocess(nb, {})
    return {nbgrader_meta(c)["grade_id"]: c.source for c in nb.cells if nbgrader_meta(c).get("solution")}


# --------------------------------------------------------------------------
# Selecting
# --------------------------------------------------------------------------


def check_exercise(cell: NotebookNode, exercises: set[str]) -> str | None:
    """The exercise a check cell grades: grade_id "check_<name>", else the check.<name>( call."""
    grade_id = nbgrader_meta(cell).get("grade_id", "")
    if grade_id.startswith("check_") and grade_id[6:] in exercises:
        return grade_id[6:]
    match = re.search(r"check\.(\w+)\(", cell.source)
    return match.group(1) if match and match.group(1) in exercises else None


def _flags(md: dict) -> tuple:
    return tuple(bool(md.get(k)) if k != "points" else float(md.get(k) or 0) for k in NBGRADER_FLAGS)


# Solution code has no reason to touch the checking code, which runs in the same child
# process: a submission that names it, or a way to reach code by a computed name, is flagged
# for a human to read (see README §9). The child also reports code that changed the course's
# modules however it reached them (engine._note_changes): the flag is a note holding this phrase.
AUTOGRADER_NAME = re.compile(r"\bautograder\b")
REFERS_TO_AUTOGRADER = "refers to the course's autograder package"
# Names and attributes that reach modules, frames or objects by a computed name: an RNN
# exercise needs none of them, and each can reach the checking code without naming it.
REACHING = {
    "modules": "sys.modules", "__import__": "__import__", "importlib": "importlib", "import_module": "importlib",
    "__globals__": "a function's __globals__", "_getframe": "sys._getframe", "f_back": "a frame",
    "f_globals": "a frame", "f_locals": "a frame", "tb_frame": "a frame", "gi_frame": "a frame",
    "gc": "the gc module", "get_referrers": "the gc module", "get_objects": "the gc module",
    "ctypes": "ctypes", "inspect": "the inspect module", "__subclasses__": "__subclasses__",
    "__builtins__": "__builtins__", "builtins": "the builtins module", "check": "the notebook's check module",
    "__code__": "a function's code", "__closure__": "a function's closure",
}


def reaches_for(text: str) -> str | None:
    """How ``text`` (a solution cell) names the autograder or could reach it without naming it,
    or None. Parsed, never run: names, attributes and imports (``sys.modules['auto' + 'grader']``,
    ``importlib``, ``gc``, a frame's globals, ...); the word itself anywhere, strings included."""
    if AUTOGRADER_NAME.search(text):
        return "autograder"
    import ast

    if len(text) > 100_000:
        return None
    try:
        tree = ast.parse(text)
    except Exception:  # noqa: BLE001 — SyntaxError, a cell magic, RecursionError: the cell's own problem
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name.split(".")[0] for a in node.names] + [a.name for a in node.names]
            if isinstance(node, ast.ImportFrom) and node.module:
                names.append(node.module.split(".")[0])
            name = next((n for n in names if n in REACHING), None)
            if name is None:
                continue
        else:
            continue
        if name in REACHING:
            return REACHING[name]
    return None


def select_cells(source: NotebookNode, stubs: dict[str, str], submitted: dict, exercises: list[str]) -> Plan:
    """The steps to run and the notes for the student (see the module docstring)."""
    by_id: dict[str, list[dict]] = {}
    for cell in submitted["cells"]:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if isinstance(grade_id, str):
            by_id.setdefault(grade_id, []).append(cell)
    unrun = _added_code_cells(source, submitted)

    steps: list[Step] = []
    notes: list[str] = []
    assembled = copy.deepcopy(source)
    graded_here: set[str] = set()
    for index, cell in enumerate(source.cells):
        md = nbgrader_meta(cell)
        grade_id = md.get("grade_id")
        if md.get("solution"):
            text = _student_solution(cell, grade_id, by_id.get(grade_id, []), stubs, notes)
            assembled.cells[index].source = text
            if cell.cell_type == "code":
                assembled.cells[index].outputs = []
                steps.append(Step("cell", solution_label(grade_id), text, student=True))
            continue
        if cell.cell_type != "code":
            continue
        assembled.cells[index].outputs = []
        if md.get("grade"):
            name = check_exercise(cell, set(exercises))
            if name is not None:
                steps.append(Step("check", f"check cell '{grade_id}'", exercise=name))
                graded_here.add(name)
                _note_tampering(cell, grade_id, by_id.get(grade_id, []), notes)
            continue
        if DEMO_TAG in cell.metadata.get("tags", []):
            continue
        label = f"cell '{grade_id}'" if grade_id else f"cell {index + 1}"
        steps.append(Step("cell", label, cell.source))
    for name in exercises:  # an exercise without a check cell is graded at the end
        if name not in graded_here:
            steps.append(Step("check", f"exercise '{name}'", exercise=name))
    if unrun:
        notes.append(
            f"{len(unrun)} code cell(s) you added or changed outside the solution cells were not run during "
            "grading: only the solution cells "
            "(and the course's own cells) are. Put everything your functions need inside them."
        )
    return Plan(steps, notes, assembled, _defined_names(unrun))


def solution_label(grade_id: str) -> str:
    """How the notes name a solution cell (its grade_id is the function's name)."""
    return f"your solution cell '{grade_id}'"


def _added_code_cells(source: NotebookNode, submitted: dict) -> list[str]:
    """The texts of the code cells of the submission are not the course's: a cell with a grade_id the course
    lacks, a locked course cell the student edited, or a cell without a grade_id whose text is none of
    the course's cells (a helper in a cell of the student's own). Solution and check cells are told
    about elsewhere; empty cells do not count."""
    by_id = {nbgrader_meta(c).get("grade_id"): c for c in source.cells}
    course_texts = {cell_source(c).strip() for c in source.cells if c.cell_type == "code"}
    added = []
    for cell in submitted["cells"]:
        text = cell_source(cell).strip() if isinstance(cell, dict) else ""
        if not text or cell.get("cell_type") != "code":
            continue
        grade_id = nbgrader_meta(cell).get("grade_id")
        if not isinstance(grade_id, str):
            ours = text in course_texts
        elif grade_id not in by_id:
            ours = False
        else:
            md = nbgrader_meta(by_id[grade_id])
            ours = bool(md.get("solution") or md.get("grade")) or text == cell_source(by_id[grade_id]).strip()
        if not ours:
            added.append(text)
    return added


def _defined_names(texts: list[str]) -> dict[str, str]:
    """Names that ``texts`` define at top level: "definition" for def, class and import, "value"
    for an assignment. Parsed, never run; a cell that does not parse (or is huge, or so deeply
    nested that the parser gives up) contributes nothing."""
    import ast

    names: dict[str, str] = {}
    for text in texts:
        if len(text) > 100_000:
            continue
        try:
            tree = ast.parse(text)
        except Exception:  # noqa: BLE001 — SyntaxError, a cell magic, RecursionError, MemoryError
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names[node.name] = "definition"
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if alias.name != "*":
                        names[(alias.asname or alias.name).split(".")[0]] = "definition"
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for n in ast.walk(target):
                        if isinstance(n, ast.Name):
                            names.setdefault(n.id, "value")
    return names


def _student_solution(cell: NotebookNode, grade_id: str, theirs: list[dict], stubs: dict, notes: list) -> str:
    stub = stubs.get(grade_id, "")
    if not theirs:
        notes.append(f"the solution cell '{grade_id}' is missing from your notebook; it was graded as not attempted")
        return stub
    if len(theirs) > 1:
        notes.append(f"your notebook has {len(theirs)} cells with the id '{grade_id}'; only the first was used")
    mine = theirs[0]
    if mine.get("cell_type") != cell.cell_type or _flags(nbgrader_meta(mine)) != _flags(nbgrader_meta(cell)):
        notes.append(
            f"the cell '{grade_id}' had its type or grading metadata changed, so it was not used "
            "(graded as not attempted); keep the cells as they came in the release"
        )
        return stub
    text = cell_source(mine)
    how = reaches_for(text)
    if how is not None:
        through = "" if how == "autograder" else f", or may reach it through {how}"
        notes.append(
            f"your solution cell '{grade_id}' {REFERS_TO_AUTOGRADER}{through}; it was graded "
            "as usual, and this note is here so that your instructor reads that cell"
        )
    return text


def _note_tampering(cell: NotebookNode, grade_id: str, theirs: list[dict], notes: list) -> None:
    if not theirs:
        notes.append(f"the check cell '{grade_id}' was deleted from your notebook; the course's own check was used")
    elif cell_source(theirs[0]).strip() != cell.source.strip():
        notes.append(f"the check cell '{grade_id}' was changed in your notebook; the course's own check was used")
