"""The whole run: samples, gradebook, files, re-grading, tampering with outputs."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3

import nbformat
import pytest
from conftest import COURSE, FAST, ISOLATED, LESSON, needs_isolation, notebook_with

from autograder.grading import cli, samples
from autograder.grading.sample_edits import SAMPLE_EDITS


def run(tmp_path, submitted=None, **kw):
    kw.setdefault("assignment", LESSON)
    kw.setdefault("quiet", True)
    options = cli.Options(
        submitted=submitted,
        course=COURSE,
        db_url=f"sqlite:///{tmp_path / 'gradebook.db'}",
        output=tmp_path / "out",
        autograded=tmp_path / "autograded",
        feedback=tmp_path / "feedback",
        jobs=2,
        seed=7,
        limits=FAST,
        **kw,
    )
    return cli.run_grading(options)


def gradebook_scores(tmp_path):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(LESSON)}


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("samples")
    return tmp, run(tmp)


@pytest.mark.slow
def test_samples_expected_scores(sample_run):
    """Every bundled sample scores what samples.expected_scores says."""
    tmp, result = sample_run
    assert result.exit_code == 0
    got = {r.student: r.score for r in result.results}
    assert got == samples.expected_scores(LESSON)


@pytest.mark.slow
def test_samples_gradebook_holds_the_scores(sample_run):
    """The nbgrader gradebook has each sample's auto scores (written answers still need a human)."""
    tmp, result = sample_run
    got = {k: v for k, v in gradebook_scores(tmp).items()}
    # the full sample answered the written questions: those are not scored automatically
    assert got == samples.expected_scores(LESSON)


@pytest.mark.slow
def test_samples_mistakes_are_named(sample_run):
    """The mistakes sample's feedback names each catalogued mistake it contains."""
    tmp, result = sample_run
    (wrong,) = [r for r in result.results if r.student == "sample-mistakes"]
    found = {e.name: e.mistake for e in wrong.exercises if e.status != "pass"}
    assert found == {name: edit["mistake"] for name, edit in SAMPLE_EDITS[LESSON]["mistakes"].items()}
    html = (tmp / "feedback" / "sample-mistakes" / LESSON / f"{LESSON}.html").read_text()
    assert "This looks like a known mistake" in html and "seed 7" in html


@pytest.mark.slow
def test_samples_messages(sample_run):
    """Invalid JSON, renamed notebook, deleted and faked check cells each get their sentence."""
    tmp, result = sample_run
    by = {r.student: r for r in result.results}
    assert "not valid JSON" in by["sample-invalid"].error
    assert any("my_copy_of_the_lesson.ipynb" in n for n in by["sample-renamed"].notes)
    assert any("deleted" in n for n in by["sample-nochecks"].notes)
    assert any("changed" in n for n in by["sample-fakechecks"].notes)
    assert {e.status for e in by["sample-untouched"].exercises} == {"not_attempted"}


@pytest.mark.slow
def test_samples_files_written(sample_run):
    """CSV rows per student x exercise plus totals, results.json, autograded notebooks."""
    tmp, result = sample_run
    rows = list(csv.DictReader((tmp / "out" / "samples" / "grades.csv").open()))
    totals = {r["student"]: float(r["points"]) for r in rows if r["exercise"] == "TOTAL"}
    assert totals == samples.expected_scores(LESSON)
    gs = json.loads((tmp / "out" / "samples" / "results" / "sample-full" / LESSON / "results.json").read_text())
    assert gs["score"] == samples.expected_scores(LESSON)["sample-full"]
    assert all({"name", "score", "max_score", "output", "visibility"} <= set(t) for t in gs["tests"])
    nb = nbformat.read(str(tmp / "autograded" / "sample-full" / LESSON / f"{LESSON}.ipynb"), as_version=4)
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


@pytest.mark.slow
def test_feedback_never_shows_hidden_inputs(sample_run):
    """No number of any hidden input appears in the feedback of a failing sample."""
    tmp, result = sample_run
    from autograder.grading.engine import Assignment

    assignment = Assignment.load(COURSE / "solutions", LESSON, seed=7)
    html = (tmp / "feedback" / "sample-mistakes" / LESSON / f"{LESSON}.html").read_text()
    for hidden in assignment.hidden.values():
        for case in hidden.cases:
            for value in case.inputs.values():
                for x in getattr(value, "flat", []):
                    if abs(x - round(x)) > 1e-3:  # a real number, not a 0 or 1 anyone could guess
                        assert f"{x:.6g}" not in html
        for expected in hidden.expected:
            for value in expected.values():
                for x in getattr(value, "flat", [value]):
                    if abs(x - round(x)) > 1e-3:
                        assert f"{x:.6g}" not in html


@pytest.mark.slow
@pytest.mark.parametrize("lesson", samples.lessons(COURSE))
def test_every_lessons_full_sample_scores_full_points_with_no_note(tmp_path, lesson):
    """Every lesson grades, and its own cells run cleanly in the sandbox: a course cell that raises
    (an import of what the grader hides, say) would put a note no one can act on before every student."""
    built = samples.build_samples(COURSE, tmp_path / "built", lesson)[lesson]
    shutil.copytree(built["sample-full"], tmp_path / "submitted" / "alice" / lesson)
    result = run(tmp_path, tmp_path / "submitted", **{"assignment": lesson})
    assert result.exit_code == 0
    (graded,) = result.results
    assert graded.score == samples.expected_scores(lesson)["sample-full"]
    assert graded.notes == []


@pytest.mark.slow
def test_regrade_replaces_stale_scores(tmp_path):
    """Grading a student again with a worse notebook lowers the gradebook's score."""
    built = samples.build_samples(COURSE, tmp_path / "a", LESSON)[LESSON]
    submitted = tmp_path / "submitted" / "alice" / LESSON
    shutil.copytree(built["sample-full"], submitted)
    run(tmp_path, tmp_path / "submitted")
    assert gradebook_scores(tmp_path) == {"alice": samples.expected_scores(LESSON)["sample-full"]}
    shutil.rmtree(submitted)
    shutil.copytree(built["sample-partial"], submitted)
    run(tmp_path, tmp_path / "submitted")
    assert gradebook_scores(tmp_path) == {"alice": samples.expected_scores(LESSON)["sample-partial"]}


@needs_isolation
@pytest.mark.slow
def test_writing_gradebook_and_outputs_changes_nothing(tmp_path, lesson):
    """Writes to the gradebook, the output folders and other submissions fail or vanish."""
    db = tmp_path / "gradebook.db"
    attack = f"""
for path in [{str(db)!r}, {str(tmp_path / 'out' / 'grades.csv')!r}, {str(tmp_path / 'submitted' / 'bob' / LESSON / (LESSON + '.ipynb'))!r}]:
    try:
        with open(path, 'w') as f:
            f.write('owned')
    except OSError as exc:
        print('cannot write', path, exc)
try:
    open({str(tmp_path / 'out' / 'pwned.txt')!r}, 'w').write('x')
except OSError:
    pass
"""
    mallory = notebook_with(lesson, solved=(), edits={"softmax": lambda t: t + "\n" + attack})
    for student, nb in (("mallory", mallory), ("bob", notebook_with(lesson))):
        folder = tmp_path / "submitted" / student / LESSON
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / f"{LESSON}.ipynb"))
    result = run(tmp_path, tmp_path / "submitted")
    assert {r.student: r.score for r in result.results} == {"mallory": 0.0, "bob": samples.expected_scores(LESSON)["sample-full"]}
    assert gradebook_scores(tmp_path) == {"mallory": 0.0, "bob": samples.expected_scores(LESSON)["sample-full"]}
    assert not (tmp_path / "out" / "pwned.txt").exists()
    sqlite3.connect(db).execute("select count(*) from grade").fetchone()
    assert ISOLATED


def _damage(path, how):
    """Damage a submitted notebook the ways a red-team review found that crashed the grader."""
    if how == "deep":
        path.write_text('{"cells": ' + "[" * 200_000 + "]" * 200_000 + "}")
        return
    if how == "symlink":
        path.unlink()
        path.symlink_to(COURSE / "solutions" / LESSON / f"{LESSON}.ipynb")
        return
    if how == "fifo":
        path.unlink()
        os.mkfifo(path)
        return
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
    if how == "source_numbers":
        cell["source"] = [1, 2, 3]
    elif how == "grade_id_list":
        cell["metadata"]["nbgrader"]["grade_id"] = ["x"]
    elif how == "points_list":
        cell["metadata"]["nbgrader"]["points"] = [3]
    path.write_text(json.dumps(nb))


def test_damaged_resubmissions_are_graded_and_replace_stale_scores(tmp_path):
    """A damaged notebook, link, FIFO or timestamp costs that student points, never the run or a stale grade."""
    built = samples.build_samples(COURSE, tmp_path / "a", LESSON)[LESSON]
    full = samples.expected_scores(LESSON)["sample-full"]
    damages = ["deep", "symlink", "fifo", "source_numbers", "grade_id_list", "points_list"]
    students = ["stamp", *damages]
    for student in students:
        shutil.copytree(built["sample-full"], tmp_path / "submitted" / student / LESSON)
    run(tmp_path, tmp_path / "submitted")
    assert gradebook_scores(tmp_path) == {s: full for s in students}

    (tmp_path / "submitted" / "stamp" / LESSON / "timestamp.txt").write_text("not a date")
    for how in damages:
        _damage(tmp_path / "submitted" / how / LESSON / f"{LESSON}.ipynb", how)
    result = run(tmp_path, tmp_path / "submitted")
    assert result.faults == []
    scores = gradebook_scores(tmp_path)
    assert scores["stamp"] == full  # a bad timestamp is ignored, the grade still recorded
    for how in ("deep", "symlink", "fifo"):
        assert scores[how] == 0, how
    for how in ("source_numbers", "grade_id_list"):  # that cell is lost, the others count
        assert 0 < scores[how] < full, how
    assert scores["points_list"] == full  # ill-typed metadata is dropped; the code itself is intact
    with open(tmp_path / "out" / "grades.csv") as f:
        assert {row["student"] for row in csv.DictReader(f)} == set(students)
    feedback = {r.student: r for r in result.results}
    assert "a link, not a notebook file" in feedback["symlink"].error
    assert "not a regular file" in feedback["fifo"].error
    assert "nested far too deeply" in feedback["deep"].error


def test_text_that_is_not_utf8_and_odd_timestamps_are_recorded(tmp_path):
    """Lone surrogates (in an exception message, a cell, a file name) and a timestamp.txt that is
    not UTF-8, a link to a secret, or a FIFO: every grade is recorded, nothing secret is copied."""
    built = samples.build_samples(COURSE, tmp_path / "a", LESSON)[LESSON]
    full = samples.expected_scores(LESSON)["sample-full"]
    students = ["surrogate", "badname", "stamp_bytes", "stamp_link", "stamp_fifo"]
    for student in students:
        shutil.copytree(built["sample-full"], tmp_path / "submitted" / student / LESSON)
    folder = {s: tmp_path / "submitted" / s / LESSON for s in students}
    path = folder["surrogate"] / f"{LESSON}.ipynb"
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id == "count_rnn_parameters":  # the message of its exception holds a lone surrogate
            cell["source"] = "def count_rnn_parameters(*args):\n    raise ValueError('bad \\udc80 byte')\n"
        elif grade_id == "q_weight_sharing":  # a written answer holds one itself
            cell["source"] = "The same weights \udc80 at every step."
    path.write_text(json.dumps(nb))  # ASCII JSON: the lone surrogate is an escape, as a broken editor writes it
    os.rename(folder["badname"] / f"{LESSON}.ipynb", os.path.join(os.fsencode(folder["badname"]), b"\xffnotebook.ipynb"))
    (folder["stamp_bytes"] / "timestamp.txt").write_bytes(b"\xff\xfe2024-01-01 00:00:00")
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET")
    (folder["stamp_link"] / "timestamp.txt").unlink(missing_ok=True)
    (folder["stamp_link"] / "timestamp.txt").symlink_to(secret)
    (folder["stamp_fifo"] / "timestamp.txt").unlink(missing_ok=True)
    os.mkfifo(folder["stamp_fifo"] / "timestamp.txt")

    result = run(tmp_path, tmp_path / "submitted")
    assert result.faults == []
    scores = gradebook_scores(tmp_path)
    assert scores["surrogate"] == full - 1  # count_rnn_parameters raised; everything else counts
    assert {s: scores[s] for s in students[1:]} == {s: full for s in students[1:]}
    with open(tmp_path / "out" / "grades.csv", encoding="utf-8") as f:
        assert {row["student"] for row in csv.DictReader(f)} == set(students)
    message = {e.name: e for e in next(r for r in result.results if r.student == "surrogate").exercises}["count_rnn_parameters"].message
    assert "ValueError" in message and "\\udc80" in message
    graded = (tmp_path / "autograded" / "surrogate" / LESSON / f"{LESSON}.ipynb").read_text(encoding="utf-8")
    assert "\\udc80" in graded
    assert (tmp_path / "out" / "results" / "badname" / LESSON / "results.json").is_file()
    assert not (tmp_path / "autograded" / "stamp_link" / LESSON / "timestamp.txt").exists()
    assert not (tmp_path / "autograded" / "stamp_fifo" / LESSON / "timestamp.txt").exists()
    assert "2024" in (tmp_path / "autograded" / "stamp_bytes" / LESSON / "timestamp.txt").read_text(encoding="utf-8")


def test_student_folder_names_are_safe_ids(tmp_path, capsys):
    """A folder name with a terminal escape, bytes that are not UTF-8, or 60 such bytes gives an id
    that prints and fits a file name; two folders that would give one id are both refused."""
    built = samples.build_samples(COURSE, tmp_path / "a", LESSON)[LESSON]
    full = samples.expected_scores(LESSON)["sample-full"]
    submitted = os.fsencode(tmp_path / "submitted")
    names = [b"zed\x1b[8m", b"jos\xe9", b"jos\\udce9", b"\xff" * 60, "\U0001f600".encode() * 63]
    for name in names:
        target = os.path.join(submitted, name, os.fsencode(LESSON))
        shutil.copytree(built["sample-full"], os.fsdecode(target))
    options = cli.Options(
        submitted=tmp_path / "submitted", assignment=LESSON, course=COURSE, db_url=f"sqlite:///{tmp_path / 'gradebook.db'}",
        output=tmp_path / "out", autograded=tmp_path / "autograded", feedback=tmp_path / "feedback",
        jobs=2, seed=7, limits=FAST,
    )
    result = cli.run_grading(options)
    printed = capsys.readouterr()
    assert "\x1b" not in printed.out + printed.err
    scores = gradebook_scores(tmp_path)
    long_id = next(s for s in scores if s.startswith("\\udcff"))
    emoji_id = next(s for s in scores if s.startswith("\U0001f600"))
    assert scores == {"zed\\x1b[8m": full, long_id: full, emoji_id: full}
    for sid in (long_id, emoji_id):
        assert len(sid.encode()) <= 200 and (tmp_path / "feedback" / sid / LESSON).is_dir()
    assert len(result.faults) == 1 and "jos\\udce9" in result.faults[0] and "none was graded" in result.faults[0]


@needs_isolation
def test_root_without_namespaces_grades_in_the_uid_only_sandbox(tmp_path, monkeypatch, capsys, course_permissions):
    """Where unshare is refused (a default Docker container), children run under their own uid and
    the course is hidden by permissions during the run, then restored."""
    monkeypatch.setenv("RNNGRADE_NO_NAMESPACES", "1")
    built = samples.build_samples(COURSE, tmp_path / "a", LESSON)[LESSON]
    shutil.copytree(built["sample-full"], tmp_path / "submitted" / "alice" / LESSON)
    modes = {p: os.stat(p).st_mode for p in (COURSE / "solutions", COURSE / "autograder")}
    result = run(tmp_path, tmp_path / "submitted")
    assert result.faults == []
    assert gradebook_scores(tmp_path) == {"alice": samples.expected_scores(LESSON)["sample-full"]}
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["sandbox"] == "separate uid, paths hidden by permissions"
    assert {p: os.stat(p).st_mode for p in modes} == modes


def test_a_run_shows_its_progress_on_stderr_and_the_table_on_stdout(tmp_path, capsys):
    """An instructor grading hundreds sees how far the run is; the score table on stdout stays
    clean for a pipe, and --quiet prints neither."""
    built = samples.build_samples(COURSE, tmp_path / "built", LESSON)[LESSON]
    for student in ("ana", "ben"):
        shutil.copytree(built["sample-full"], tmp_path / "submitted" / student / LESSON)
    run(tmp_path, tmp_path / "submitted", quiet=False)
    printed = capsys.readouterr()
    assert "grading: 100%" in printed.err and "2/2" in printed.err
    assert "grading:" not in printed.out and "ana" in printed.out and "ben" in printed.out
    run(tmp_path, tmp_path / "submitted")
    printed = capsys.readouterr()
    assert printed.out == "" and "grading" not in printed.err


@pytest.mark.slow
def test_samples_class_report(sample_run):
    """The run writes the class report next to grades.csv: every sample counted, each sample's
    catalogued mistake ranked with its count (the mistakes and fakechecks samples make them), the
    unreadable and the untouched notebooks counted, and only the samples that edited or deleted
    check cells listed to be read by hand."""
    tmp, result = sample_run
    out = tmp / "out" / "samples"
    numbers = json.loads((out / f"class_report_{LESSON}.json").read_text())
    assert (out / f"class_report_{LESSON}.html").exists()
    assert numbers["students"]["submitted"] == len(samples.expected_scores(LESSON))
    assert numbers["students"]["could_not_be_read"] == 1 and numbers["students"]["did_not_attempt"] == 1
    by = {e["name"]: e for e in numbers["exercises"]}
    for name, edit in SAMPLE_EDITS[LESSON]["mistakes"].items():
        assert [(m["key"], m["count"]) for m in by[name]["mistakes"]] == [(edit["mistake"], 2)]
    assert sorted(r["student"] for r in numbers["read_by_hand"]) == ["sample-fakechecks", "sample-nochecks"]
    assert numbers["run"]["seeds"] == [7]
