"""The README's instructor's guide, walked from release to release_feedback with real nbgrader commands.

An exchange in a temporary folder (``--Exchange.root``, as README section 2 says to set
``c.Exchange.root``); a course folder as an instructor has it (this course's
``nbgrader_config.py``, ``solutions/``, ``notebooks/``); students who fetch, submit and
fetch their feedback with nbgrader's own commands. In between: ``nbgrader collect``,
the course's grader, a written answer scored by hand that a regrade keeps graded,
``nbgrader generate_feedback``, ``release_feedback`` and ``export``.

Students run as the instructor's own user (root here) and, where the tests run as root,
as a plain user made with ``useradd``: that is where the exchange's permissions matter. That walk
is in ``test_instructor_guide_plain_user.py``, so that pytest-xdist (``--dist loadfile``) runs the two
walks, minutes each, side by side.
"""

from __future__ import annotations

import csv
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from conftest import COURSE, LESSON

from autograder.grading import samples

PLAIN_USER = "rnnstudent"


def _site_packages() -> str:
    import sysconfig

    return sysconfig.get_paths()["purelib"]


def _python_for(user: str | None) -> str | None:
    """A Python 3.11 that ``user`` can run (the course's own may live under /root), with nbgrader from this venv."""
    if user is None:
        return sys.executable
    for candidate in ("/usr/bin/python3.11", "/usr/local/bin/python3.11", shutil.which("python3.11")):
        if candidate and os.path.exists(candidate):
            check = _as(user, [candidate, "-c", "import sys, nbgrader; assert sys.version_info[:2] == (3, 11)"], cwd="/")
            if check.returncode == 0:
                return candidate
    return None


def _as(user: str | None, command: list[str], cwd, home: str | None = None) -> subprocess.CompletedProcess:
    """Run ``command`` as ``user`` (None: this process's user), with this venv's packages."""
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": home or str(cwd)}
    kw = {}
    if user is not None:
        info = pwd.getpwnam(user)
        env.update(PYTHONPATH=_site_packages(), USER=user, LOGNAME=user)
        kw = {"user": info.pw_uid, "group": info.pw_gid, "extra_groups": []}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def plain_user():
    """A plain user for the students, made for these tests and removed after them."""
    if os.geteuid() != 0:
        pytest.skip("students as a plain user need root to create one (useradd); the walk as one user runs anyway")
    made = subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", PLAIN_USER], capture_output=True)
    python = _python_for(PLAIN_USER)
    if python is None:
        if made.returncode == 0:
            subprocess.run(["userdel", PLAIN_USER], capture_output=True)
        pytest.skip("no Python 3.11 that a plain user may run (the course's venv points under /root)")
    yield PLAIN_USER, python
    if made.returncode == 0:
        subprocess.run(["userdel", PLAIN_USER], capture_output=True)


class Walk:
    """One class: the instructor in the course folder, students in their homes, one exchange."""

    def __init__(self, base: Path, student: str | None, python: str):
        self.base, self.student_user, self.student_python = base, student, python
        self.exchange = base / "exchange"
        self.exchange.mkdir()
        self.exchange.chmod(0o777)  # README section 2: writable by everyone
        self.course = base / "course"
        self.course.mkdir()
        for name in ("solutions", "notebooks", "rnncourse", "data"):
            (self.course / name).symlink_to(COURSE / name)
        shutil.copy(COURSE / "nbgrader_config.py", self.course / "nbgrader_config.py")
        self.home = base / "home"
        self.home.mkdir()
        if student is not None:
            info = pwd.getpwnam(student)
            os.chown(self.home, info.pw_uid, info.pw_gid)
        self.student = student or pwd.getpwuid(os.geteuid()).pw_name

    def instructor(self, *args: str) -> str:
        done = _as(None, [sys.executable, "-m", *args], cwd=self.course)
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    def nbgrader(self, *args: str) -> str:
        return self.instructor("nbgrader", *args, f"--Exchange.root={self.exchange}")

    def as_student(self, *args: str) -> str:
        command = [self.student_python, "-m", "nbgrader", *args, "--course", "rnn-from-scratch", f"--Exchange.root={self.exchange}"]
        done = _as(self.student_user, command, cwd=self.home, home=str(self.home))
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    def grade(self) -> str:
        """README section 4, as the instructor types it (--course: this course folder is not the package's)."""
        return self.instructor("autograder", "grade", "submitted", "--assignment", LESSON, "--course", ".", "--quiet")


def _gradebook(course: Path):
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{course / 'gradebook.db'}")


def _walk(base: Path, lesson, student: str | None, python: str) -> None:
    walk = Walk(base, student, python)
    source, _, _ = lesson

    # 2. Release
    walk.nbgrader("release_assignment", LESSON)
    assert LESSON in walk.as_student("list")
    walk.as_student("fetch_assignment", LESSON)
    fetched = walk.home / LESSON / f"{LESSON}.ipynb"
    assert fetched.is_file()

    # the student works: every exercise solved, the written answers answered
    built = samples.build_samples(COURSE, base / "samples", LESSON)[LESSON]
    solved = nbformat.read(str(built["sample-full"] / f"{LESSON}.ipynb"), as_version=4)
    nbformat.write(solved, str(fetched))
    if student is not None:
        info = pwd.getpwnam(student)
        os.chown(fetched, info.pw_uid, info.pw_gid)
    walk.as_student("submit", LESSON)

    # 3. Collect
    walk.nbgrader("collect", LESSON)
    submitted = walk.course / "submitted" / walk.student / LESSON
    assert (submitted / f"{LESSON}.ipynb").is_file() and (submitted / "submission_secret.txt").is_file()

    # 4. Grade; the grader's own feedback can be handed back at once
    walk.grade()
    walk.nbgrader("release_feedback", LESSON)
    assert len(list((walk.exchange / "rnn-from-scratch" / "feedback").glob("*.html"))) == 1
    written = [c.metadata["nbgrader"]["grade_id"] for c in source.cells if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")]
    full = samples.expected_scores(LESSON)["sample-full"]
    with _gradebook(walk.course) as gb:
        assert gb.find_submission(LESSON, walk.student).score == full
        assert gb.find_submission(LESSON, walk.student).needs_manual_grade  # the written answers

    # 5. Grade by hand, as formgrader's GradeHandler stores a score typed in; then a regrade
    with _gradebook(walk.course) as gb:
        for grade_id in written:
            grade = gb.find_grade(grade_id, LESSON, LESSON, walk.student)
            grade.manual_score = 1.0
            grade.needs_manual_grade = False
        gb.db.commit()
    walk.grade()
    with _gradebook(walk.course) as gb:
        submission = gb.find_submission(LESSON, walk.student)
        assert submission.score == full + len(written)
        assert not submission.needs_manual_grade

    # 6. Feedback: nbgrader renders it again (with the scores given by hand) and hands it back
    walk.nbgrader("generate_feedback", LESSON)
    page = (walk.course / "feedback" / walk.student / LESSON / f"{LESSON}.html").read_text()
    assert "Grader&#39;s report" in page or "Grader's report" in page
    walk.nbgrader("release_feedback", LESSON)
    walk.as_student("fetch_feedback", LESSON)
    (fetched_feedback,) = (walk.home / LESSON / "feedback").glob(f"*/{LESSON}.html")
    assert fetched_feedback.read_text() == page

    # 7. Export
    walk.nbgrader("export")
    with open(walk.course / "grades.csv", encoding="utf-8") as f:
        (row,) = [r for r in csv.DictReader(f) if r["student_id"] == walk.student]
    assert float(row["raw_score"]) == full + len(written)


@pytest.fixture
def base():
    """Folders a plain user may reach (pytest's own tmp_path is the instructor's only)."""
    folder = Path(tempfile.mkdtemp(prefix="rnn-instructor-guide-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_instructor_guide_round_trip_with_students_as_the_instructors_user(base, lesson):
    """Release, fetch, submit, collect, grade, a manual score kept over a regrade, generate, release
    and fetch feedback, export: everyone as one user."""
    _walk(base, lesson, None, sys.executable)

