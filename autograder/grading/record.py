"""Record grades: the nbgrader gradebook, autograded/ copies, feedback, CSV, results.json, a table.

The gradebook is written through nbgrader's own API (``nbgrader.api.Gradebook``
and its ``SaveCells`` preprocessor), one transaction per submission, so a crash
leaves it as it was; formgrader, manual grading of written answers and
``nbgrader export`` work on it as if ``nbgrader autograde`` had run. What a
student is shown never contains a hidden input or a reference output: only the
verdict sentences, which name shapes, the largest error and a catalogued
mistake.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import html
import json
import os
import stat
import sys
import warnings
from pathlib import Path

import nbformat
from traitlets.config import Config

from autograder.grading.engine import Assignment, GraderError, NotebookResult
from autograder.grading.notebook import REFERS_TO_AUTOGRADER, check_exercise, nbgrader_meta

STATUS_WORDS = {
    "pass": "passed",
    "fail": "wrong values",
    "not_attempted": "not attempted",
    "error": "error",
    "timeout": "timeout",
    "memory": "memory limit",
    "crash": "crashed",
}


# --------------------------------------------------------------------------
# nbgrader gradebook
# --------------------------------------------------------------------------


def _alembic_on_path() -> None:
    """nbgrader's Gradebook runs the ``alembic`` command: find it next to this Python."""
    bindir = str(Path(sys.executable).parent)
    if (Path(bindir) / "alembic").exists() and bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def ensure_assignment(db_url: str, assignment: Assignment) -> None:
    """Make the assignment, its notebooks and grade cells exist (what generate_assignment records)."""
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import ClearSolutions, ComputeChecksums, SaveCells

    _alembic_on_path()
    cfg = Config()
    cfg.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    cfg.ClearSolutions.text_stub = "YOUR ANSWER HERE"
    with Gradebook(db_url) as gb:
        gb.update_or_create_assignment(assignment.name)
    for source in assignment.notebooks:
        nb = copy.deepcopy(source.nb)
        nb, _ = ClearSolutions(config=cfg).preprocess(nb, {})
        nb, _ = ComputeChecksums().preprocess(nb, {})
        resources = {"nbgrader": {"db_url": db_url, "assignment": assignment.name, "notebook": Path(source.name).stem}}
        try:
            SaveCells().preprocess(nb, resources)
        except RuntimeError as exc:
            raise GraderError(f"the gradebook does not match the source notebook {source.name}: {exc}") from None


def record_gradebook(db_url: str, assignment: Assignment, student: str, results: list[NotebookResult], timestamp: str | None) -> None:
    """Set every grade cell's auto_score for this submission, in one transaction."""
    from nbgrader.api import Gradebook, MissingEntry

    _alembic_on_path()
    with Gradebook(db_url) as gb:
        gb.update_or_create_student(student)
        try:
            submission = gb.find_submission(assignment.name, student)
        except MissingEntry:
            with warnings.catch_warnings():  # nbgrader's own SQLAlchemy autoflush chatter
                warnings.simplefilter("ignore")
                submission = gb.add_submission(assignment.name, student)
        try:
            stamp = _parse_timestamp(timestamp)
            if stamp is not None:
                submission.timestamp = stamp
            for source, result in zip(assignment.notebooks, results):
                _record_notebook(gb, assignment.name, student, source, result)
            gb.db.commit()
        except Exception:
            gb.db.rollback()
            raise


def _parse_timestamp(text: str | None):
    """nbgrader's reading of timestamp.txt, or None when it is missing or not a date.

    A damaged timestamp must not keep a submission's grade from being recorded.
    """
    if not text:
        return None
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(text)
    except Exception:  # dateutil's ParserError, OverflowError, ...: a bad stamp is no stamp
        return None


def _record_notebook(gb, assignment: str, student: str, source, result: NotebookResult) -> None:
    nb_id = Path(source.name).stem
    points = {e.name: e.points for e in result.exercises}
    answered = {}
    if result.assembled is not None:
        answered = {
            nbgrader_meta(c).get("grade_id"): c.source.strip() != source.stubs.get(nbgrader_meta(c).get("grade_id"), "").strip()
            for c in result.assembled.cells
            if nbgrader_meta(c).get("solution")
        }
    for cell in source.nb.cells:
        md = nbgrader_meta(cell)
        grade_id = md.get("grade_id")
        if md.get("grade"):
            grade = gb.find_grade(grade_id, nb_id, assignment, student)
            if cell.cell_type == "code":
                name = check_exercise(cell, set(points))
                grade.auto_score = points.get(name, 0.0) if name else None
            else:  # a written answer: 0 if left blank, else for a human to grade
                grade.auto_score = None if answered.get(grade_id) else 0.0
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        if md.get("solution"):
            comment = gb.find_comment(grade_id, nb_id, assignment, student)
            comment.auto_comment = None if answered.get(grade_id) else "No response."


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def read_timestamp(submitted: Path) -> str | None:
    """The submission's timestamp.txt as text, or None: only a regular file, never through a link.

    The grader runs as root and the folder is the student's: a link to a secret
    file, a FIFO that blocks, or bytes that are not UTF-8 must not leak, hang or
    crash the recording.
    """
    try:
        fd = os.open(submitted / "timestamp.txt", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, 200)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace").replace("\0", "").strip()


def writable(value):
    """A string that can be written as UTF-8: lone surrogates (from a broken notebook or a
    file name that is not UTF-8) become backslash escapes."""
    if not isinstance(value, str):
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _clean_tree(node):
    if isinstance(node, dict):
        for key in list(node):
            value = node.pop(key)
            node[writable(key)] = _clean_tree(value)
        return node
    if isinstance(node, list):
        node[:] = [_clean_tree(v) for v in node]
        return node
    return writable(node)


def make_writable(results: list[NotebookResult]) -> None:
    """Make every string of ``results`` encodable as UTF-8, in place, before anything is written.

    Student code controls exception messages, cell sources and file names; one
    unencodable character must not keep a grade from being recorded.
    """
    for r in results:
        r.student, r.notebook, r.submitted_as = writable(r.student), writable(r.notebook), writable(r.submitted_as)
        r.error, r.output = writable(r.error), writable(r.output)
        r.notes = [writable(n) for n in r.notes]
        for e in r.exercises:
            e.message = writable(e.message)
            e.lines = [writable(line) for line in e.lines]
        if r.assembled is not None:
            _clean_tree(r.assembled)


def write_autograded(folder: Path, timestamp: str | None, results: list[NotebookResult]) -> None:
    """The graded notebook for formgrader: the course's cells, the student's solutions, verdicts as outputs.

    ``timestamp``: the submission's, as :func:`read_timestamp` read it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if timestamp is not None:
        (folder / "timestamp.txt").write_text(timestamp, encoding="utf-8")
    for result in results:
        if result.assembled is None:
            continue
        nb = copy.deepcopy(result.assembled)
        verdicts = {e.name: e for e in result.exercises}
        for cell in nb.cells:
            if cell.cell_type == "code" and nbgrader_meta(cell).get("grade"):
                name = check_exercise(cell, set(verdicts))
                if name:
                    text = "\n".join(verdicts[name].lines) + "\n"
                    stream = "stdout" if verdicts[name].status == "pass" else "stderr"
                    cell.outputs = [nbformat.v4.new_output("stream", name=stream, text=text)]
        nbformat.write(nb, str(folder / result.notebook))


def feedback_html(results: list[NotebookResult], result: NotebookResult) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{esc(result.assignment)} · {esc(result.notebook)} · {esc(result.student)}</title>",
        "<style>body{font-family:sans-serif;max-width:52em;margin:2em auto;line-height:1.4}"
        "pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap}.pass{color:#1a7f37}.fail{color:#b42318}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}</style></head><body>",
        f"<h1>{esc(result.assignment)} · {esc(result.notebook)}</h1>",
        f"<p>Student: <b>{esc(result.student)}</b> · score <b>{result.score:g} / {result.max_score:g}</b> "
        f"(automatically graded exercises; written answers are graded by hand) · hidden-case seed {result.seed}</p>",
        "<p>Each exercise was run on fresh hidden inputs and scores its full points when every case passes, "
        "else 0. Your check cells and any cells you added were not used: the course's own checks were.</p>",
    ]
    if result.error:
        parts.append(f"<h2 class='fail'>Your notebook could not be graded</h2><pre>{esc(result.error)}</pre>")
    if result.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li><pre>{esc(n)}</pre></li>" for n in result.notes) + "</ul>")
    parts.append("<h2>Exercises</h2><table><tr><th>exercise</th><th>points</th><th>result</th></tr>")
    for e in result.exercises:
        cls = "pass" if e.status == "pass" else "fail"
        parts.append(
            f"<tr><td>{esc(e.number)} {esc(e.name)}</td><td>{e.points:g} / {e.max_points:g}</td>"
            f"<td class='{cls}'>{esc(STATUS_WORDS.get(e.status, e.status))}</td></tr>"
        )
    parts.append("</table>")
    for e in result.exercises:
        parts.append(f"<h3>{esc(e.number)} {esc(e.name)}</h3><pre>{esc(chr(10).join(e.lines))}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def gradescope_results(results: list[NotebookResult]) -> dict:
    """Gradescope's results.json: one test per exercise."""
    tests = []
    notes = []
    for r in results:
        for e in r.exercises:
            tests.append(
                {
                    "name": f"{e.number} {e.name}",
                    "score": e.points,
                    "max_score": e.max_points,
                    "output": "\n".join(e.lines),
                    "visibility": "visible",
                    "status": "passed" if e.status == "pass" else "failed",
                }
            )
        if r.error:
            notes.append(r.error)
        notes += r.notes
    seed = results[0].seed if results else None
    notes.append(f"hidden-case seed {seed}")
    return {
        "score": sum(r.score for r in results),
        "output": "\n".join(notes),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def write_student_files(out: Path, feedback_dir: Path, results: list[NotebookResult]) -> None:
    if not results:
        return
    student, assignment = results[0].student, results[0].assignment
    fb = feedback_dir / student / assignment
    fb.mkdir(parents=True, exist_ok=True)
    for r in results:
        (fb / f"{Path(r.notebook).stem}.html").write_text(feedback_html(results, r), encoding="utf-8")
    target = out / "results" / student / assignment
    target.mkdir(parents=True, exist_ok=True)
    (target / "results.json").write_text(json.dumps(gradescope_results(results), indent=1), encoding="utf-8")


CSV_HEADER = ["student", "assignment", "notebook", "exercise", "points", "max_points", "status", "seed"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(field) -> str:
    """``field`` as text a spreadsheet shows as text: one that starts like a formula (``=``, ``+``,
    ``-``, ``@``, a tab or a CR: a student folder named ``=HYPERLINK(...)``, say) gets a ``'`` first."""
    text = str(field)
    return "'" + text if text.startswith(FORMULA_START) else text


def write_csv(path: Path, all_results: list[NotebookResult]) -> None:
    """The grades of this run, after the rows an earlier run wrote for other students or assignments
    (grading lesson 05 after lesson 04 keeps lesson 04's rows; a student graded again is replaced).

    Runs that end at once take turns (a lock next to the file); a file this grader did not write
    (another header, say after editing it in a spreadsheet) is kept beside it, never dropped."""
    import fcntl
    import tempfile
    import time

    path.parent.mkdir(parents=True, exist_ok=True)
    graded = {(spreadsheet_safe(r.student), spreadsheet_safe(r.assignment)) for r in all_results}  # as written
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        kept: list[list[str]] = []
        if path.exists():
            try:
                with path.open(newline="", encoding="utf-8-sig") as f:  # -sig: as a spreadsheet saves it
                    rows = list(csv.reader(f))
            except (OSError, UnicodeDecodeError, csv.Error):
                rows = [["?"]]
            if rows and rows[0] == CSV_HEADER:
                kept = [row for row in rows[1:] if len(row) == len(CSV_HEADER) and (row[0], row[1]) not in graded]
            elif rows:
                aside = path.with_name(f"{path.stem}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}{path.suffix}")
                os.replace(path, aside)
                print(f"warning: {path} was not written by this grader (its header differs); it is kept as {aside}", file=sys.stderr)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(CSV_HEADER)
                w.writerows(kept)
                for r in all_results:
                    rows = [[r.student, r.assignment, r.notebook, e.name, f"{e.points:g}", f"{e.max_points:g}", e.status, r.seed] for e in r.exercises]
                    rows.append([r.student, r.assignment, r.notebook, "TOTAL", f"{r.score:g}", f"{r.max_score:g}", "error" if r.error else "", r.seed])
                    w.writerows([[spreadsheet_safe(field) for field in row] for row in rows])
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)  # a run stopped while writing leaves the old file whole
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def score_table(all_results: list[NotebookResult]) -> str:
    """One table per assignment: students down, exercises across, points or why not."""
    if not all_results:
        return "(no submissions)"
    by_assignment: dict[str, list[NotebookResult]] = {}
    for r in all_results:
        by_assignment.setdefault(r.assignment, []).append(r)
    return "\n\n".join(_table(name, rs) for name, rs in sorted(by_assignment.items()))


SHORT = {"fail": "wrong", "not_attempted": "-", "error": "error", "timeout": "time", "memory": "mem", "crash": "crash"}


def _table(assignment: str, results: list[NotebookResult]) -> str:
    names: list[str] = []
    for r in results:
        names += [e.name for e in r.exercises if e.name not in names]
    by_student: dict[str, list[NotebookResult]] = {}
    for r in results:
        by_student.setdefault(r.student, []).append(r)
    rows = []
    for student, rs in sorted(by_student.items()):
        cells = {e.name: f"{e.points:g}" + (f" {SHORT[e.status]}" if e.status in SHORT else "") for r in rs for e in r.exercises}
        total = f"{sum(r.score for r in rs):g}/{sum(r.max_score for r in rs):g}"
        rows.append([student, *[cells.get(n, "") for n in names], total])
    header = [assignment, *names, "total"]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]

    def line(cols):
        return "  ".join(str(c).ljust(w) for c, w in zip(cols, widths)).rstrip()

    table = [line(header), line(["-" * w for w in widths]), *map(line, rows)]
    flagged = sorted({r.student for r in results if any(REFERS_TO_AUTOGRADER in n for n in r.notes)})
    if flagged:
        table.append(f"read by hand (solution code that {REFERS_TO_AUTOGRADER}): {', '.join(flagged)}")
    return "\n".join(table)
