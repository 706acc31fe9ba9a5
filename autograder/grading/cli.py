"""``python -m autograder grade`` and ``python -m autograder gradescope``.

The run, top to bottom:

1. find the submissions (``SUBMITTED/<student>/<assignment>/*.ipynb``; with
   no folder given, build the sample submissions and grade those);
2. per assignment, load the source notebooks and draw the hidden cases from
   the run's seed (:class:`~autograder.grading.engine.Assignment`);
3. grade each submission in sandboxed children, ``--jobs`` at a time
   (:func:`~autograder.grading.engine.grade_submission`);
4. record each as it finishes: gradebook (one transaction), autograded/
   copy, feedback, results.json (:mod:`~autograder.grading.record`);
5. write the CSV and a run report, print the score table.

The exit code is 0 unless the grader itself failed; a broken or hostile
submission costs its author points, never the run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import hashlib
import json
import os
import queue
import secrets
import sys
import tempfile
import time
import traceback
from pathlib import Path

from tqdm import tqdm

from autograder.grading import class_report, engine, record, sandbox
from autograder.grading.engine import Assignment, GraderError, NotebookResult

COURSE = sandbox.COURSE


@dataclasses.dataclass
class Options:
    submitted: Path | None = None
    assignment: str | None = None
    student: str | None = None
    course: Path = COURSE
    db_url: str | None = None  # default: sqlite:///<course>/gradebook.db; "" for none (samples: see resolve)
    output: Path | None = None  # default: <course>/grading_output (the samples: its samples/ folder)
    autograded: Path | None = None  # default: <course>/autograded
    feedback: Path | None = None  # default: <course>/feedback
    jobs: int = 2
    seed: int | None = None
    limits: sandbox.Limits = dataclasses.field(default_factory=sandbox.Limits)
    sandbox: bool = True  # False: no namespaces or separate uid even when root
    quiet: bool = False

    def resolve(self) -> Options:
        """Defaults filled in. The samples (no ``submitted``) keep everything they write under
        ``<output>/samples/`` (default ``grading_output/samples/``): their own gradebook, autograded
        and feedback folders and grades.csv, so that trying the grader never mixes with a class's
        grades, whatever ``--output`` says."""
        o = dataclasses.replace(self)
        o.course = Path(o.course).resolve()
        if o.submitted is None:
            o.output = (Path(o.output or o.course / "grading_output") / "samples").resolve()
            home = o.output
        else:
            o.output = Path(o.output or o.course / "grading_output").resolve()
            home = o.course
        o.autograded = Path(o.autograded or home / "autograded").resolve()
        o.feedback = Path(o.feedback or home / "feedback").resolve()
        if o.db_url is None:
            o.db_url = f"sqlite:///{home / 'gradebook.db'}"
        if o.seed is None:
            o.seed = secrets.randbits(32)
        return o


@dataclasses.dataclass
class Run:
    results: list[NotebookResult]
    seed: int
    faults: list[str]

    @property
    def exit_code(self) -> int:
        return 1 if self.faults else 0


def student_id(folder_name: str) -> str:
    """The student's id in the gradebook, the CSV, file names and the terminal: the folder's name,
    with what cannot be written or shown escaped (bytes that are not UTF-8, control characters such
    as a terminal's ESC) and a name too long for a file name cut, with a hash of the whole."""
    text = record.writable(folder_name)
    text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    if len(text.encode("utf-8")) > 200:  # a file name may hold 255 bytes
        digest = hashlib.sha256(os.fsencode(folder_name)).hexdigest()[:12]
        text = text.encode("utf-8")[:150].decode("utf-8", "ignore") + "-" + digest
    return text


@dataclasses.dataclass
class Refused:
    """A path in ``submitted/`` that is not graded (a link), and why: it still gets a row."""

    student: str
    assignment: str | None  # None: the student's whole folder (what is behind it is never listed)
    path: Path
    reason: str


def _student_ids(names: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The id of each student folder name, and a note for each whose id had to be made unique.

    Two names can give one id (``a\\x1b`` and ``a`` followed by ESC both read ``a\\x1b``): neither may
    overwrite the other's grade, and neither may fail the run. Each of them gets the common id with
    a hash of its own name after it, and a note that says so. Decided over every folder, whatever
    ``--student`` picks, so that a student keeps one id from run to run.
    """
    plain = {name: student_id(name) for name in names}
    by_id: dict[str, list[str]] = {}
    for name, sid in plain.items():
        by_id.setdefault(sid, []).append(name)
    ids, notes = dict(plain), {}
    taken = set(plain.values())
    for sid, group in by_id.items():
        if len(group) < 2:
            continue
        for name in group:
            digest = hashlib.sha256(os.fsencode(name)).hexdigest()
            unique = next(f"{sid}-{digest[:n]}" for n in (8, 16, 64) if f"{sid}-{digest[:n]}" not in taken)
            taken.add(unique)
            ids[name] = unique
            notes[name] = (
                f"{len(group)} student folders have names that read {sid!r}; this one was graded "
                f"as {unique!r}, so that no grade replaces another's"
            )
    return ids, notes


def find_submissions(
    submitted: Path,
    assignment: str | None,
    student: str | None,
    notes: dict[str, list[str]] | None = None,
    refused: list[Refused] | None = None,
) -> list[tuple[str, str, Path]]:
    """(student id, assignment, folder) of each submission in ``submitted/<student>/<assignment>/``.

    A student or assignment folder that is a link (zip and tar keep links, so a student can
    make one) is never followed: it would grade the target (the solutions, another student's
    work) as this student's. It goes to ``refused`` instead, as does any folder whose real
    location is not where it appears. ``notes``: id -> notes for that student (an id clash)."""
    root = Path(os.path.realpath(submitted))
    students = sorted(os.scandir(submitted), key=lambda e: e.name)
    ids, clash_notes = _student_ids([e.name for e in students if e.is_dir() or e.is_symlink()])
    found = []

    def refuse(sid: str, a: str | None, path: Path, what: str) -> None:
        if refused is not None:
            refused.append(Refused(sid, a, path, f"{what} is a link, not a folder of the student's own; it was not graded"))

    for entry in students:
        if not (entry.is_dir() or entry.is_symlink()):
            continue
        sid = ids[entry.name]
        if student not in (None, sid, entry.name):
            continue
        if clash_notes.get(entry.name) and notes is not None:
            notes.setdefault(sid, []).append(clash_notes[entry.name])
        shown = f"{sid}/" if entry.is_symlink() else None
        if entry.is_symlink() or os.path.realpath(entry.path) != str(root / entry.name):
            if assignment is None:
                refuse(sid, None, Path(entry.path), shown or f"{sid}/")
            else:
                refuse(sid, assignment, Path(entry.path) / assignment, shown or f"{sid}/")
            continue
        for sub in sorted(os.scandir(entry.path), key=lambda e: e.name):
            if assignment not in (None, sub.name) or not (sub.is_dir() or sub.is_symlink()):
                continue
            folder = Path(sub.path)
            if sub.is_symlink() or os.path.realpath(folder) != str(root / entry.name / sub.name):
                refuse(sid, sub.name, folder, f"{sid}/{sub.name}")
                continue
            found.append((sid, sub.name, folder))
    return found


def hidden_paths(o: Options) -> list[Path]:
    """What a child must not see (it gets its own copies of the public parts)."""
    paths = [o.course, COURSE, o.output, o.autograded, o.feedback]
    if o.submitted is not None:
        paths.append(Path(o.submitted).resolve())
    if o.db_url and o.db_url.startswith("sqlite:///"):
        paths.append(Path(o.db_url[len("sqlite:///") :]).resolve())
    unique = []
    for p in paths:
        if p not in unique:
            unique.append(p)
    return unique


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived: the run stops, restoring what it changed on the way out.

    A BaseException, like KeyboardInterrupt: no ``except Exception`` on the way
    (a grader fault recorded for one submission, say) may swallow it.
    """

    def __str__(self) -> str:
        import signal

        return f"stopped by {signal.Signals(self.args[0]).name}"


@contextlib.contextmanager
def stop_on_signals():
    """Turn SIGTERM and SIGHUP into an exception in the main thread, so that every ``finally``
    runs: children killed, hidden permissions restored, temporary folders removed."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        for sig in signals:  # a second signal (Ctrl-C pressed twice) must not interrupt the clean-up
            signal.signal(sig, signal.SIG_IGN)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Stopped(signum)

    signals = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
    previous = {sig: signal.signal(sig, stop) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_grading(options: Options) -> Run:
    """Grade everything ``options`` selects; record it; return the results."""
    with stop_on_signals():
        return _run_grading(options)


def _run_grading(options: Options) -> Run:
    o = options.resolve()
    sandbox.allow_children()
    faults: list[str] = []
    if o.submitted is None:
        from autograder.grading import samples

        o.submitted = o.output / "submitted"
        built = samples.build_samples(o.course, o.submitted, o.assignment)
        samples.write_manifest(o.submitted.parent, built)
    o.submitted = Path(o.submitted).resolve()
    refused: list[Refused] = []
    student_notes: dict[str, list[str]] = {}
    todo = find_submissions(o.submitted, o.assignment, o.student, student_notes, refused)
    for r in refused:
        sandbox.warn_always(f"{r.path}: {r.reason}")
    isolate = o.sandbox and sandbox.can_isolate()
    namespaces = isolate and sandbox.namespaces_work()
    if not isolate:
        what = "its sandbox (disabled with --no-sandbox)" if not o.sandbox else "root privileges (no namespaces, no separate uid)"
        sandbox.warn_once(sandbox.NOT_ENFORCED.format(what=what))
    elif not namespaces:
        sandbox.warn_once(sandbox.UID_ONLY.format(why=sandbox.namespace_problem() or "refused"))
    if isolate:
        reaped = sandbox.reap_orphans(shared_dirs=not namespaces)
        if reaped:
            sandbox.warn_always(
                f"killed the processes a grading run that was killed left running under {len(reaped)} sandbox uid(s)"
            )
    for folder in (o.output, o.autograded, o.feedback):  # exist before any child starts, so they are hidden
        Path(folder).mkdir(parents=True, exist_ok=True)

    assignments: dict[str, Assignment] = {}
    for name in sorted({a for _, a, _ in todo} | {r.assignment for r in refused if r.assignment}):
        if not (o.course / "solutions" / name).is_dir():
            print(f"warning: no source notebook for assignment {name!r}; its submissions are skipped", file=sys.stderr)
            continue
        assignments[name] = Assignment.load(o.course / "solutions", name, o.seed)
        if o.db_url:
            record.ensure_assignment(o.db_url, assignments[name])
    todo = [t for t in todo if t[1] in assignments]

    sandbox.remove_stale_folders()  # of runs that were killed (after reaping what they left running)
    with tempfile.TemporaryDirectory(prefix=f"rnngrade-template-{os.getpid()}-") as tmp:
        template = sandbox.build_template(Path(tmp) / "child", o.course)
        hide = hidden_paths(o)
        uid_only = isolate and not namespaces
        sys_path = None
        if uid_only:  # children must read Python themselves: copy what their uid cannot reach
            Path(tmp).chmod(0o711)
            sys_path = sandbox.sys_path_for_uid(Path(tmp) / "python")
        runner = engine.Runner(template, o.limits, hide, isolate, namespaces, sys_path)
        with contextlib.ExitStack() as uid_only_sandbox:
            if uid_only:  # no mounts, no PID namespace: permissions and a blank command line instead
                installed = sandbox.installed_copies(sandbox.child_sys_path())
                try:
                    uid_only_sandbox.enter_context(sandbox.hidden_by_permissions(hide + installed, sys_path or []))
                except OSError as exc:
                    raise GraderError(
                        f"the grader cannot hide {exc.filename or 'a path'} from the children ({exc.strerror}); "
                        "they would read the course's reference there. Grade where namespaces are allowed, "
                        "or from an editable install (pip install -e .)"
                    ) from None
                uid_only_sandbox.enter_context(sandbox.command_line_hidden())
            results = _grade_all(o, todo, assignments, runner, faults, student_notes)
    for r in refused:  # a row of 0 with the reason for each; what the link points to is never read
        for name in [r.assignment] if r.assignment else sorted(assignments):
            if name in assignments:
                graded = engine.not_graded(r.student, assignments[name], r.reason)
                _record(o, assignments[name], r.student, None, graded)
                results.extend(graded)
    results.sort(key=lambda r: (r.student, r.assignment, r.notebook))
    o.output.mkdir(parents=True, exist_ok=True)
    record.write_csv(o.output / "grades.csv", results)
    report = {
        "seed": o.seed,
        "sandbox": (
            "namespaces + separate uid" if namespaces
            else "separate uid, paths hidden by permissions" if isolate
            else "resource limits only"
        ),
        "memory_limit": "per child and all it starts (cgroup)" if isolate and sandbox.memory_groups_work() else "per process",
        "cpu_limit": f"{o.limits.cpus:g} CPU per child and all it starts (cgroup)" if isolate and sandbox.cpu_groups_work() else "none",
        "submitted": str(o.submitted),
        "limits": dataclasses.asdict(o.limits),
        "grader_faults": faults,
        "refused": [f"{r.path}: {r.reason}" for r in refused],
        "results": [
            {
                "student": r.student, "assignment": r.assignment, "notebook": r.notebook, "score": r.score,
                "max_score": r.max_score, "read_by_hand": r.flagged,
            }
            for r in results
        ],
    }
    (o.output / "report.json").write_text(json.dumps(report, indent=1))
    # Per assignment graded, from the records of every student graded so far (not only this run's).
    pages = class_report.write_reports(o.output, sorted({r.assignment for r in results}), o.feedback, faults)
    if not o.quiet:
        print(record.score_table(results))
        print(f"\nseed {o.seed} (rerun with --seed {o.seed}); grades in {o.output / 'grades.csv'}")
        for page in pages:
            print(f"what the class got wrong: {page}")
    return Run(results, o.seed, faults)


def _grade_all(o: Options, todo, assignments, runner, faults, student_notes=None) -> list[NotebookResult]:
    slots: queue.Queue[int] = queue.Queue()
    for k in range(max(1, o.jobs)):
        slots.put(k)

    def task(student: str, assignment: str, folder: Path) -> list[NotebookResult]:
        slot = slots.get()
        try:
            graded = engine.grade_submission(folder, student, assignments[assignment], runner, slot)
        finally:
            slots.put(slot)
        for r in graded:
            r.notes[:0] = (student_notes or {}).get(student, [])
        return graded

    results: list[NotebookResult] = []
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, o.jobs))
    # On stderr, so the score table on stdout stays clean; redrawn at most every few seconds
    # where stderr is a log file rather than a terminal.
    progress = tqdm(
        total=len(todo), desc="grading", unit="submission", file=sys.stderr, disable=o.quiet or not todo,
        mininterval=0.5 if sys.stderr.isatty() else 10.0,
    )
    try:
        futures = {pool.submit(task, *t): t for t in todo}
        for future in concurrent.futures.as_completed(futures):
            student, assignment, folder = futures[future]
            progress.update(1)
            try:
                graded = future.result()
                _record(o, assignments[assignment], student, folder, graded)
            except GraderError as exc:
                faults.append(f"{student}/{assignment}: {exc}")
                progress.write(f"grader fault on {student}/{assignment}: {exc}", file=sys.stderr)
                continue
            except Exception:  # a bug of the grader: report it, go on with the others
                faults.append(f"{student}/{assignment}: {traceback.format_exc()}")
                progress.write(f"grader fault on {student}/{assignment}:\n{traceback.format_exc()}", file=sys.stderr)
                continue
            results.extend(graded)
    except BaseException:  # a signal or Ctrl-C: stop the children now, not after the queue
        progress.close()
        sandbox.stop_all()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    progress.close()
    pool.shutdown(wait=True)
    results.sort(key=lambda r: (r.student, r.assignment, r.notebook))
    return results


def _record(o: Options, assignment: Assignment, student: str, folder: Path | None, graded: list[NotebookResult]) -> None:
    record.make_writable(graded)  # the student id is writable already (student_id)
    timestamp = record.read_timestamp(folder) if folder is not None else None
    secret = record.read_submission_secret(folder) if folder is not None else None
    autograded = o.autograded / student / assignment.name
    if o.db_url:
        before = record.graded_answers(autograded)  # read before the new copy replaces it
        record.record_gradebook(o.db_url, assignment, student, graded, timestamp or None, before)
    record.write_autograded(autograded, timestamp, graded, secret)
    record.write_student_files(o.output, o.feedback, graded, timestamp, secret)
    class_report.write_record(o.output, graded)


# --------------------------------------------------------------------------
# Command lines
# --------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m autograder grade",
        description="Grade submissions SUBMITTED/<student>/<assignment>/*.ipynb in a sandbox; "
        "without SUBMITTED, grade freshly built sample submissions.",
    )
    p.add_argument("submitted", nargs="?", type=Path, help="nbgrader's submitted/ folder")
    p.add_argument("--assignment", help="grade only this assignment, e.g. 01_rnn_cell")
    p.add_argument("--student", help="grade only this student")
    p.add_argument("--course", type=Path, default=COURSE, help="course folder with solutions/ (default: this one)")
    p.add_argument("--db-url", help="nbgrader gradebook (default sqlite:///<course>/gradebook.db); 'none' to skip")
    p.add_argument("--output", type=Path, help="grades.csv, results/, report.json (default <course>/grading_output)")
    p.add_argument("--autograded", type=Path, help="graded notebooks for formgrader (default <course>/autograded)")
    p.add_argument("--feedback", type=Path, help="feedback per student (default <course>/feedback)")
    p.add_argument("--jobs", "-j", type=int, default=2, help="submissions graded in parallel (default 2)")
    p.add_argument("--seed", type=int, help="seed of the hidden cases (default: fresh; printed, to reproduce a run)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per cell and per exercise (default 30)")
    p.add_argument(
        "--notebook-timeout", type=float, default=300.0,
        help="seconds for one whole notebook, replays after crashes included (default 300)",
    )
    p.add_argument("--memory-mb", type=int, default=sandbox.Limits.memory_mb, help="address space per child")
    p.add_argument("--no-sandbox", action="store_true", help="no namespaces or separate uid even as root (debugging)")
    p.add_argument("--quiet", action="store_true")
    return p


def options_from(args: argparse.Namespace) -> Options:
    limits = sandbox.Limits(
        cell_timeout=args.timeout,
        exercise_timeout=args.timeout,
        notebook_timeout=args.notebook_timeout,
        memory_mb=args.memory_mb,
    )
    return Options(
        submitted=args.submitted,
        assignment=args.assignment,
        student=args.student,
        course=args.course,
        db_url="" if args.db_url == "none" else args.db_url,
        output=args.output,
        autograded=args.autograded,
        feedback=args.feedback,
        jobs=args.jobs,
        seed=args.seed,
        limits=limits,
        sandbox=not args.no_sandbox,
        quiet=args.quiet,
    )


def grade_main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    start = time.monotonic()
    try:
        run = run_grading(options_from(args))
    except GraderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (Stopped, KeyboardInterrupt) as exc:
        what = str(exc) if isinstance(exc, Stopped) else "interrupted"
        print(f"grading {what}: the submissions still running were not recorded; "
              "children, permissions and temporary files are cleaned up", file=sys.stderr)
        return 128 + (exc.args[0] if isinstance(exc, Stopped) else 2)
    if not args.quiet:
        n = len({(r.student, r.assignment) for r in run.results})
        print(f"{n} submission(s) graded in {time.monotonic() - start:.1f} s")
    return run.exit_code


def gradescope_main(argv: list[str]) -> int:
    from autograder.grading import gradescope

    return gradescope.main(argv)
