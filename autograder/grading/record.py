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
import re
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


def record_gradebook(
    db_url: str,
    assignment: Assignment,
    student: str,
    results: list[NotebookResult],
    timestamp: str | None,
    graded_before: dict[tuple[str, str], str] | None = None,
) -> None:
    """Set every grade cell's auto_score for this submission, in one transaction.

    ``graded_before``: the written answers of the copy graded last time (:func:`graded_answers`):
    a score given by hand stays graded unless its answer changed since.
    """
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
                _record_notebook(gb, assignment.name, student, source, result, graded_before)
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


def _record_notebook(gb, assignment: str, student: str, source, result: NotebookResult, graded_before) -> None:
    nb_id = Path(source.name).stem
    points = {e.name: e.points for e in result.exercises}
    answered, answers = {}, {}
    if result.assembled is not None:
        for c in result.assembled.cells:
            grade_id = nbgrader_meta(c).get("grade_id")
            if nbgrader_meta(c).get("solution"):
                answered[grade_id] = c.source.strip() != source.stubs.get(grade_id, "").strip()
                answers[grade_id] = c.source
    for cell in source.nb.cells:
        md = nbgrader_meta(cell)
        grade_id = md.get("grade_id")
        if md.get("grade"):
            grade = gb.find_grade(grade_id, nb_id, assignment, student)
            auto_before = grade.auto_score
            if cell.cell_type == "code":
                name = check_exercise(cell, set(points))
                grade.auto_score = points.get(name, 0.0) if name else None
            else:  # a written answer: 0 if left blank, else for a human to grade
                grade.auto_score = None if answered.get(grade_id) else 0.0
            before = (graded_before or {}).get((nb_id, grade_id))
            changed = before is not None and before != answers.get(grade_id)
            grade.needs_manual_grade = needs_manual_grade(grade.auto_score, grade.manual_score, auto_before, changed)
        if md.get("solution"):
            comment = gb.find_comment(grade_id, nb_id, assignment, student)
            comment.auto_comment = None if answered.get(grade_id) else "No response."
    if result.flagged:  # nbgrader's own flag; a human unflags it in formgrader after reading
        gb.find_submission_notebook(nb_id, assignment, student).flagged = True


def needs_manual_grade(auto_score, manual_score, auto_before, answer_changed: bool) -> bool:
    """Whether formgrader lists a grade cell as waiting for a human, after a (re)grade.

    A written answer waits until someone scores it, and again only if its text changed since
    (a regrade after a fix must not undo manual grading; nbgrader's own autograde flags every
    manual score). A score set by hand on an automatically graded cell is kept, and flagged
    for a look when the automatic score under it changed.
    """
    if manual_score is None:
        return auto_score is None
    return answer_changed or (auto_score is not None and auto_before is not None and auto_score != auto_before)


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def read_timestamp(submitted: Path) -> str | None:
    """The submission's timestamp.txt as text, or None: only a regular file, never through a link.

    The grader runs as root and the folder is the student's: a link to a secret
    file, a FIFO that blocks, or bytes that are not UTF-8 must not leak, hang or
    crash the recording.
    """
    data = _read_own_file(submitted / "timestamp.txt", 200)
    if data is None:
        return None
    return data.decode("utf-8", "replace").replace("\0", "").strip()


def _read_own_file(path: Path, limit: int) -> bytes | None:
    """At most ``limit`` bytes of a regular file, never through a link or from a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit)
    except OSError:
        return None
    finally:
        os.close(fd)


SECRET = re.compile(r"[0-9a-f]{16,256}")


def read_submission_secret(submitted: Path) -> str | None:
    """The ``submission_secret.txt`` that ``nbgrader submit`` wrote, or None.

    ``nbgrader release_feedback`` names a student's feedback after a hash of it, and the
    student's ``fetch_feedback`` finds it by the same hash: it is copied byte for byte. Only
    the hex text nbgrader writes is accepted (the folder is the student's).
    """
    data = _read_own_file(submitted / "submission_secret.txt", 300)
    if data is None:
        return None
    text = data.decode("ascii", "replace")
    return text if SECRET.fullmatch(text) else None


def graded_answers(autograded: Path) -> dict[tuple[str, str], str]:
    """(notebook id, grade_id) -> the written answer in the copy graded last time (our own output)."""
    answers = {}
    for path in sorted(autograded.glob("*.ipynb")):
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception:  # a damaged or missing copy: no earlier answer to compare with
            continue
        for cell in nb.cells:
            md = nbgrader_meta(cell)
            if md.get("solution") and cell.cell_type == "markdown":
                answers[(path.stem, md.get("grade_id"))] = cell.source
    return answers


def _write_atomic(path: Path, text: str) -> None:
    """Replace ``path``: nbgrader leaves the files it writes read-only (0444)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


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


REPORT_CELL = "rnngrade_report"  # metadata key of the grader's report cell in an autograded notebook


def write_autograded(folder: Path, timestamp: str | None, results: list[NotebookResult], secret: str | None = None) -> None:
    """The graded notebook for formgrader: the grader's report, then the course's cells with the
    student's solutions and the verdicts as the check cells' outputs.

    ``timestamp`` and ``secret``: the submission's (:func:`read_timestamp`,
    :func:`read_submission_secret`), kept beside it as ``nbgrader autograde`` keeps them, for
    ``nbgrader generate_feedback`` to carry into feedback/.
    """
    folder.mkdir(parents=True, exist_ok=True)
    _write_submission_files(folder, timestamp, secret)
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
        report = nbformat.v4.new_markdown_cell(report_markdown(result), metadata={REPORT_CELL: True, "editable": False})
        nb.cells.insert(0, report)
        _write_atomic(folder / result.notebook, nbformat.writes(nb))


def _write_submission_files(folder: Path, timestamp: str | None, secret: str | None) -> None:
    for name, text in (("timestamp.txt", timestamp), ("submission_secret.txt", secret)):
        if text is not None:
            _write_atomic(folder / name, text)
        elif (folder / name).exists():  # from an earlier submission of this student
            (folder / name).unlink()


def _code_block(text: str) -> str:
    """Text shown as is in Markdown: indented, so that nothing in it (HTML, a fence) is interpreted."""
    return "\n".join("    " + line for line in text.splitlines()) or "    "


def report_markdown(result: NotebookResult) -> str:
    """The grader's report as the first cell of the autograded notebook: formgrader shows it, and
    ``nbgrader generate_feedback`` renders it with the verdicts and the scores given by hand."""
    parts = [
        "### Grader's report",
        f"Automatically graded exercises: **{result.score:g} / {result.max_score:g}** (written answers are graded by hand) "
        f"· hidden-case seed {result.seed}",
        "Each exercise was run on fresh hidden inputs and scores its full points when every case passes, else 0. "
        "Check cells and cells added to the notebook were not used: the course's own checks were. "
        "Each exercise's verdict is its check cell's output below.",
    ]
    if result.flagged:
        parts.append(f"**Read by hand:** solution code that {REFERS_TO_AUTOGRADER}.")
    if result.notes:
        parts.append("Notes:")
        parts += [_code_block(n) for n in result.notes]
    rows = [f"| {e.number} {e.name} | {e.points:g} / {e.max_points:g} | {STATUS_WORDS.get(e.status, e.status)} |" for e in result.exercises]
    parts.append("\n".join(["| exercise | points | result |", "|---|---|---|", *rows]))
    return "\n\n".join(parts)


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
    if result.flagged:
        parts.append(f"<p><b>Read by hand:</b> solution code that {esc(REFERS_TO_AUTOGRADER)}.</p>")
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


def write_student_files(
    out: Path, feedback_dir: Path, results: list[NotebookResult], timestamp: str | None = None, secret: str | None = None
) -> None:
    """Feedback per notebook, with the submission's timestamp and secret beside it (what
    ``nbgrader release_feedback`` reads), and Gradescope's results.json."""
    if not results:
        return
    student, assignment = results[0].student, results[0].assignment
    fb = feedback_dir / student / assignment
    fb.mkdir(parents=True, exist_ok=True)
    _write_submission_files(fb, timestamp, secret)
    for r in results:
        _write_atomic(fb / f"{Path(r.notebook).stem}.html", feedback_html(results, r))
    target = out / "results" / student / assignment
    target.mkdir(parents=True, exist_ok=True)
    (target / "results.json").write_text(json.dumps(gradescope_results(results), indent=1), encoding="utf-8")


CSV_HEADER = ["student", "assignment", "notebook", "exercise", "points", "max_points", "status", "seed", "read_by_hand"]
OLD_CSV_HEADER = CSV_HEADER[:-1]  # before read_by_hand: its rows are kept, with the column empty


def write_csv(path: Path, all_results: list[NotebookResult]) -> None:
    """The grades of this run, after the rows an earlier run wrote for other students or assignments
    (grading lesson 05 after lesson 04 keeps lesson 04's rows; a student graded again is replaced).

    Runs that end at once take turns (a lock next to the file); a file this grader did not write
    (another header, say after editing it in a spreadsheet) is kept beside it, never dropped."""
    import fcntl
    import tempfile
    import time

    path.parent.mkdir(parents=True, exist_ok=True)
    graded = {(r.student, r.assignment) for r in all_results}
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        kept: list[list[str]] = []
        if path.exists():
            try:
                with path.open(newline="", encoding="utf-8-sig") as f:  # -sig: as a spreadsheet saves it
                    rows = list(csv.reader(f))
            except (OSError, UnicodeDecodeError, csv.Error):
                rows = [["?"]]
            if rows and rows[0] == OLD_CSV_HEADER:
                rows = [CSV_HEADER] + [[*row, ""] for row in rows[1:]]
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
                    flag = "yes" if r.flagged else ""
                    for e in r.exercises:
                        w.writerow([r.student, r.assignment, r.notebook, e.name, f"{e.points:g}", f"{e.max_points:g}", e.status, r.seed, flag])
                    w.writerow([r.student, r.assignment, r.notebook, "TOTAL", f"{r.score:g}", f"{r.max_score:g}", "error" if r.error else "", r.seed, flag])
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
    flagged = sorted({r.student for r in results if r.flagged})
    if flagged:
        table.append(f"read by hand (solution code that {REFERS_TO_AUTOGRADER}): {', '.join(flagged)}")
    return "\n".join(table)
