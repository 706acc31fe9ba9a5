"""Issue 20: students must not reach each other, the instructor, or the solutions.

Each test is one attack of the second red-team pass, graded for real; it failed
before the fix that it names.
"""

from __future__ import annotations

import csv
import json
import os
import shutil

import pytest
from conftest import (
    COURSE,
    FAST,
    LESSON,
    full_points,
    grade_notebook,
    needs_isolation,
    notebook_with,
    points,
)

from autograder.grading import cli, record, samples
from autograder.grading.compare import ExerciseResult
from autograder.grading.engine import NotebookResult


def run(tmp_path, submitted, **kw):
    kw.setdefault("assignment", LESSON)
    kw.setdefault("quiet", True)
    kw.setdefault("db_url", f"sqlite:///{tmp_path / 'gradebook.db'}")
    options = cli.Options(
        submitted=submitted,
        course=COURSE,
        output=tmp_path / "out",
        autograded=tmp_path / "autograded",
        feedback=tmp_path / "feedback",
        jobs=2,
        seed=7,
        limits=FAST,
        **kw,
    )
    return cli.run_grading(options)


@pytest.fixture(scope="module")
def full_sample(tmp_path_factory):
    """The full sample submission of lesson 01 (a folder to copy)."""
    built = tmp_path_factory.mktemp("built")
    return samples.build_samples(COURSE, built, LESSON)[LESSON]["sample-full"]


@pytest.fixture(scope="module")
def uid_only(runner):
    """Children as in a container that refuses namespaces: a uid of their own, Python copied where they can read it."""
    import tempfile
    from pathlib import Path

    from autograder.grading import engine, sandbox

    base = Path(tempfile.mkdtemp(prefix="rnngrade-test-python-"))
    base.chmod(0o711)
    sys_path = sandbox.sys_path_for_uid(base / "python")
    yield engine.Runner(runner.template, runner.limits, runner.hide, True, False, sys_path)
    shutil.rmtree(base, ignore_errors=True)


def _csv_rows(tmp_path):
    with open(tmp_path / "out" / "grades.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------
# 1. Links in submitted/ are refused at every level, with a row
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_linked_folders_in_submitted_are_refused_with_a_row(tmp_path, full_sample):
    """An assignment folder that links to solutions/ and a student folder that links to another
    student's are not graded (they used to score the solutions', and bob's, full marks): each gets a
    row of 0 with the reason, nothing of the link's target is copied, and the run succeeds."""
    submitted = tmp_path / "submitted"
    shutil.copytree(full_sample, submitted / "bob" / LESSON)
    (submitted / "mallory").mkdir()
    (submitted / "mallory" / LESSON).symlink_to(COURSE / "solutions" / LESSON)
    (submitted / "eve").symlink_to(submitted / "bob")
    result = run(tmp_path, submitted)
    assert result.exit_code == 0, result.faults
    scores = {r.student: r.score for r in result.results}
    full = samples.expected_scores(LESSON)["sample-full"]
    assert scores == {"bob": full, "mallory": 0.0, "eve": 0.0}
    errors = {r.student: r.error for r in result.results}
    assert "is a link" in errors["mallory"] and "not graded" in errors["mallory"]
    assert "is a link" in errors["eve"]
    assert {row["student"] for row in _csv_rows(tmp_path)} == {"bob", "mallory", "eve"}
    for student in ("mallory", "eve"):  # nothing of the target was read into the student's records
        assert not (tmp_path / "autograded" / student / LESSON / f"{LESSON}.ipynb").exists()
        feedback = (tmp_path / "feedback" / student / LESSON / f"{LESSON}.html").read_text()
        assert "is a link" in feedback
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert len(report["refused"]) == 2 and all("is a link" in r for r in report["refused"])


def test_a_path_whose_real_location_leaves_submitted_is_refused(tmp_path):
    """Discovery alone: links at the student and the assignment level are refused, a plain folder is
    not, and a link is never followed to list what is behind it."""
    submitted = tmp_path / "submitted"
    (submitted / "ann" / LESSON).mkdir(parents=True)
    (submitted / "bo").mkdir()
    (submitted / "bo" / LESSON).symlink_to(tmp_path)
    (tmp_path / "elsewhere" / LESSON).mkdir(parents=True)
    (submitted / "cy").symlink_to(tmp_path / "elsewhere")
    refused: list = []
    found = cli.find_submissions(submitted, None, None, refused=refused)
    assert [(s, a) for s, a, _ in found] == [("ann", LESSON)]
    assert sorted((r.student, r.assignment) for r in refused) == [("bo", LESSON), ("cy", None)]
    assert all("is a link" in r.reason for r in refused)


# --------------------------------------------------------------------------
# 7. grades.csv is safe to open in a spreadsheet; an id clash fails nobody
# --------------------------------------------------------------------------


def _graded(student, points=3.0):
    exercise = ExerciseResult("f", "1.1", 3.0, points, "pass" if points else "fail", "")
    return NotebookResult(student, "01_rnn_cell", "01_rnn_cell.ipynb", [exercise], [], 7)


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_grades_csv_fields_cannot_become_spreadsheet_formulas(tmp_path, lead):
    """A student folder named like a formula (=HYPERLINK(...), +1, -2, @SUM, a tab or a CR first)
    is written with a quote before it, so a spreadsheet shows text; a second run still replaces
    that student's rows instead of keeping the old ones beside them."""
    name = f"{lead}HYPERLINK(\"http://x\")"
    path = tmp_path / "grades.csv"
    record.write_csv(path, [_graded(name, 0.0), _graded("alice")])
    record.write_csv(path, [_graded(name, 3.0)])
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    assert {row[0] for row in rows} == {"'" + name, "alice"}
    assert [row[4] for row in rows if row[0] == "'" + name and row[3] == "TOTAL"] == ["3"]
    assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for row in rows for cell in row)


# --------------------------------------------------------------------------
# 7. The cache check judges the caches a forward returns, however it calls its step
# --------------------------------------------------------------------------

_OVERWRITING_FORWARD = {
    # The step through a default argument: the name the check used to watch is never looked up.
    "default argument": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h, _step=rnn_step_forward):\n"
        "    N, T, _ = x.shape\n"
        "    h, cache, h_prev = np.empty((N, T, h0.shape[1])), [], h0.copy()\n"
        "    for t in range(T):\n"
        "        h_next, step_cache = _step(x[:, t], h_prev, W_xh, W_hh, b_h)\n"
        "        h_prev[...] = h_next\n"
        "        h[:, t] = h_next\n"
        "        cache.append(step_cache)\n"
        "    return h, cache\n"
    ),
    # The step written out in the loop: no call to watch at all.
    "inline": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    N, T, _ = x.shape\n"
        "    h, cache, h_prev = np.empty((N, T, h0.shape[1])), [], h0.copy()\n"
        "    for t in range(T):\n"
        "        h_next = np.tanh(x[:, t] @ W_xh + h_prev @ W_hh + b_h)\n"
        "        cache.append((x[:, t], h_prev, W_xh, W_hh, h_next))\n"
        "        h_prev[...] = h_next\n"
        "        h[:, t] = h_next\n"
        "    return h, cache\n"
    ),
}


@pytest.mark.parametrize("how", sorted(_OVERWRITING_FORWARD))
def test_a_forward_that_overwrites_its_cached_states_fails_however_it_calls_its_step(lesson, runner, how):
    """h comes out right, but every step's cache holds the one array the loop keeps overwriting, so
    a backward pass would read the last state everywhere. Calling the step through a default
    argument (or not calling it) used to hide that from the check (11 -> 14)."""
    nb = notebook_with(lesson, edits={"rnn_forward": lambda _: _OVERWRITING_FORWARD[how]})
    result = grade_notebook(lesson, runner, nb)
    verdict = {e.name: e for e in result.exercises}["rnn_forward"]
    assert verdict.points == 0 and "changed a cache after" in verdict.message, verdict.message
    assert points(result) == {**full_points(lesson), "rnn_forward": 0.0}


# --------------------------------------------------------------------------
# 4, 5. The child's root is its own: no host socket, no host folder anyone may write to
# --------------------------------------------------------------------------


def append(code):
    return lambda text: text + "\n\n" + code + "\n"


@pytest.fixture
def host_folder():
    """A fresh folder outside every list the sandbox ever had (not /tmp, /var/tmp, /run/lock, ...)."""
    import tempfile

    base = next(d for d in ("/run", "/srv", "/opt", "/var/lib") if os.path.isdir(d) and os.access(d, os.W_OK))
    folder = tempfile.mkdtemp(prefix="rnngrade-test-", dir=base)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@needs_isolation
def test_unix_socket_files_on_the_host_are_unreachable(lesson, runner, host_folder):
    """A daemon's socket file that anyone may connect to (under /run, say) was reachable from the
    child, network namespace or not, and the listener saw who connected. The child's root has none."""
    import socket
    import threading

    path = os.path.join(host_folder, "daemon.sock")
    os.chmod(host_folder, 0o755)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o777)
    listener.listen(4)
    listener.settimeout(0.5)
    accepted = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    probe = (
        "import socket\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        "try:\n"
        f"    s.connect({path!r})\n"
        "    print('SOCKET REACHED')\n"
        "except OSError as exc:\n"
        "    print('no socket:', exc)"
    )
    try:
        result = grade_notebook(lesson, runner, notebook_with(lesson, edits={"softmax": append(probe)}))
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert accepted == [] and "SOCKET REACHED" not in result.output and "no socket" in result.output
    assert points(result) == full_points(lesson)


@needs_isolation
def test_host_folders_anyone_may_write_to_are_not_shared(lesson, runner, host_folder):
    """A mode-1777 folder outside the old fixed list kept what a child wrote there (240 MB, for the
    next students to read). In the child's own root it does not exist."""
    os.chmod(host_folder, 0o1777)
    code = (
        "try:\n"
        f"    open({host_folder + '/left-for-later'!r}, 'w').write('x' * 1000)\n"
        "    print('WRITTEN')\n"
        "except OSError as exc:\n"
        "    print('not written:', exc)"
    )
    result = grade_notebook(lesson, runner, notebook_with(lesson, edits={"softmax": append(code)}))
    assert os.listdir(host_folder) == [] and "WRITTEN" not in result.output
    assert points(result) == full_points(lesson)


@needs_isolation
def test_the_child_sees_only_its_own_processes_and_a_minimal_root(lesson, runner):
    """/proc is its own PID namespace's; the root holds the system's programs and libraries, the
    work folder, /tmp and a few devices: no home, no /etc beyond the linker's cache, no /run."""
    code = (
        "import os\n"
        "print('PIDS', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
        "print('ROOT', sorted(os.listdir('/')))\n"
        "print('DEV', sorted(os.listdir('/dev')))\n"
        "print('ETC', sorted(os.listdir('/etc')))"
    )
    result = grade_notebook(lesson, runner, notebook_with(lesson, edits={"softmax": append(code)}))
    lines = {line.split(" ", 1)[0]: eval(line.split(" ", 1)[1]) for line in result.output.splitlines() if line[:4] in ("PIDS", "ROOT", "DEV ", "ETC ")}
    assert lines["PIDS"] == [1]
    assert set(lines["ROOT"]) <= {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "tmp", "dev", "proc"}
    assert {"null", "zero", "urandom"} <= set(lines["DEV"]) and "shm" not in lines["DEV"]
    assert set(lines["ETC"]) <= {"ld.so.cache"}
    assert points(result) == full_points(lesson)


# --------------------------------------------------------------------------
# 7. The grader's command line is not readable from the child
# --------------------------------------------------------------------------


def _grade_in_a_process(tmp_path, submitted, env, *extra, prefix=()):
    """``python -m autograder grade`` in a process of its own (as an instructor runs it); returns it."""
    import subprocess
    import sys

    cmd = [
        *prefix, sys.executable, "-m", "autograder", "grade", str(submitted), "--quiet", "--assignment", LESSON,
        "--output", str(tmp_path / "out"), "--autograded", str(tmp_path / "autograded"),
        "--feedback", str(tmp_path / "feedback"), *extra,
    ]
    return subprocess.run(cmd, cwd=COURSE, env={**os.environ, **env}, capture_output=True, text=True, timeout=600)


def _submit(tmp_path, full_sample, student, edits):
    """``full_sample`` for ``student``, with ``edits`` (grade_id -> function of the text) applied."""
    import nbformat

    from autograder.grading.notebook import nbgrader_meta

    folder = tmp_path / "submitted" / student / LESSON
    shutil.copytree(full_sample, folder)
    path = folder / f"{LESSON}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in edits:
            cell.source = edits[grade_id](cell.source)
    nbformat.write(nb, str(path))
    return tmp_path / "submitted"


def _softmax_that_reports(finder):
    """A correct softmax that raises (so that the feedback shows it) what ``finder``'s code found."""

    def edit(text):
        head, _, _ = text.rpartition('"""')
        body = finder + "\nif found:\n    raise RuntimeError('FOUND ' + repr(found))\n"
        body += "e = np.exp(scores - scores.max(axis=-1, keepdims=True))\nreturn e / e.sum(axis=-1, keepdims=True)"
        return head + '"""\n' + "\n".join("    " + line for line in body.splitlines()) + "\n"

    return edit


def _feedback(tmp_path, student):
    return (tmp_path / "feedback" / student / LESSON / f"{LESSON}.html").read_text()


_SCAN_COMMAND_LINES = (
    "import os\n"
    "found = []\n"
    "for pid in os.listdir('/proc'):\n"
    "    try:\n"
    "        text = open('/proc/%s/cmdline' % pid, 'rb').read().replace(b'\\0', b' ').decode()\n"
    "    except (OSError, ValueError):\n"
    "        continue\n"
    "    if 'S3CRET' in text:\n"
    "        found.append(text)"
)


@needs_isolation
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["namespaces", "uid-only"])
def test_the_graders_command_line_is_not_readable_from_the_child(tmp_path, full_sample, mode, course_permissions):
    """The seed, a database URL with its password and every path were readable from
    /proc/<grader>/cmdline, and a student could copy them into their own feedback."""
    submitted = _submit(tmp_path, full_sample, "mallory", {"softmax": _softmax_that_reports(_SCAN_COMMAND_LINES)})
    env = {"RNNGRADE_NO_NAMESPACES": "1"} if mode == "uid-only" else {}
    done = _grade_in_a_process(tmp_path, submitted, env, "--db-url", f"sqlite:///{tmp_path}/gradebook-S3CRET.db")
    assert done.returncode == 0, done.stderr
    feedback = _feedback(tmp_path, "mallory")
    assert "S3CRET" not in feedback and "FOUND" not in feedback
    assert "score <b>14 / 14</b>" in feedback


# --------------------------------------------------------------------------
# 2. Kernel keyrings carry nothing between students, or from the instructor
# --------------------------------------------------------------------------

_KEY_SYSCALLS = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}
needs_known_keys = pytest.mark.skipif(
    __import__("platform").machine() not in _KEY_SYSCALLS, reason="the test knows the key system calls of x86_64 and aarch64"
)
_KEYS = (
    "import ctypes, platform\n"
    f"_nr = {_KEY_SYSCALLS!r}[platform.machine()]\n"
    "_libc = ctypes.CDLL(None, use_errno=True)\n"
    "_libc.syscall.restype = ctypes.c_long\n"
    "def add_key(desc, payload, ring):\n"
    "    return _libc.syscall(_nr[0], b'user', desc, payload, ctypes.c_size_t(len(payload)), ctypes.c_int(ring))\n"
    "def search_key(desc, ring):\n"
    "    return _libc.syscall(_nr[2], 10, ctypes.c_int(ring), b'user', desc, 0)\n"
    "def read_key(key):\n"
    "    buf = ctypes.create_string_buffer(256)\n"
    "    n = _libc.syscall(_nr[2], 11, ctypes.c_int(key), buf, 256)\n"
    "    return buf.raw[:n] if n >= 0 else None\n"
    "USER, SESSION = -4, -3\n"
)


MODES = [pytest.param("namespaces", marks=needs_isolation), pytest.param("uid-only", marks=needs_isolation), "limits only"]


@needs_known_keys
@pytest.mark.parametrize("mode", MODES)
def test_keys_left_in_a_user_keyring_do_not_reach_the_next_student(lesson, runner, mode, request):
    """A student stored an answer with add_key(..., KEY_SPEC_USER_KEYRING); a later student on the
    same sandbox uid read it (13 -> 14), in the same run or the next: keys outlive the uid's processes.
    (Without root both run as the instructor, whose keys the filter keeps from them just as well.)"""
    from autograder.grading import engine

    if mode == "uid-only":
        chosen = request.getfixturevalue("uid_only")
    else:
        chosen = runner if mode == "namespaces" else engine.Runner(runner.template, runner.limits, runner.hide, False)
    desc = f"rnngrade-test-{os.getpid()}-{mode}".encode()
    store = _KEYS + f"print('ADDED', add_key({desc!r}, b'the answer', USER))"
    fetch = _KEYS + f"key = search_key({desc!r}, USER)\nprint('READ', key, read_key(key) if key >= 0 else None)"
    first = grade_notebook(lesson, chosen, notebook_with(lesson, edits={"softmax": append(store)}), student="alice", slot=7)
    second = grade_notebook(lesson, chosen, notebook_with(lesson, edits={"softmax": append(fetch)}), student="bob", slot=7)
    assert "READ -1 None" in second.output and b"the answer" not in second.output.encode(), second.output
    assert "ADDED -1" in first.output, first.output  # the key system calls are denied
    assert points(second) == full_points(lesson)


def _as_uid(uid: int, call) -> int:
    """``call()`` in a fork of this process that became ``uid``: 0 if it returned true, else 1."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the fork
        try:
            os.setuid(uid)
            os._exit(0 if call() else 1)
        finally:
            os._exit(2)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@needs_isolation
@needs_known_keys
@pytest.mark.parametrize("mode", ["namespaces", "uid-only"])
def test_a_key_left_in_a_sandbox_uids_keyring_by_an_earlier_run_is_gone(lesson, runner, mode, request):
    """Keys outlive every process of a uid: one that a child of an earlier run left in its uid's user
    keyring (a grader without the key filter: an older version, say) was there for every later child
    of that uid, in every later run. The next child cannot read it, and after it the keyring is empty."""
    import ctypes
    import platform

    from autograder.grading import sandbox

    chosen = runner if mode == "namespaces" else request.getfixturevalue("uid_only")
    slot = 200 if mode == "namespaces" else 201  # a uid no other test uses
    uid = sandbox.SANDBOX_UID_BASE + slot
    nr = _KEY_SYSCALLS[platform.machine()]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    desc = f"rnngrade-test-left-{os.getpid()}-{mode}".encode()

    def leave():
        return libc.syscall(nr[0], b"user", desc, b"the answer", ctypes.c_size_t(10), ctypes.c_int(-4)) >= 0

    def there():
        return libc.syscall(nr[2], 10, ctypes.c_int(-4), b"user", desc, 0) >= 0

    def as_sandbox_uid(call):  # holding the uid's lock, as a run does: no run takes the fork for an orphan
        claimed, lock = sandbox._claim_uid(slot)
        try:
            assert claimed == uid, "another run holds this test's sandbox uid"
            return _as_uid(uid, call)
        finally:
            os.close(lock)

    assert as_sandbox_uid(leave) == 0 and as_sandbox_uid(there) == 0  # left, as a run before the filter could
    fetch = _KEYS + f"key = search_key({desc!r}, USER)\nprint('READ', key, read_key(key) if key >= 0 else None)"
    result = grade_notebook(lesson, chosen, notebook_with(lesson, edits={"softmax": append(fetch)}), student="bob", slot=slot)
    assert "READ -1 None" in result.output and b"the answer" not in result.output.encode(), result.output
    assert as_sandbox_uid(there) == 1  # the uid's keyring was emptied after the child
    assert points(result) == full_points(lesson)


@needs_known_keys
@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_the_graders_session_keyring_is_not_the_childs(tmp_path, full_sample, mode, course_permissions):
    """A grader started inside a session keyring (an SSH login with pam_keyinit, runc) passed it to
    every child: one read the instructor's key, another left a key in it for the next child."""
    import sys

    desc = f"rnngrade-test-instructor-{os.getpid()}-{mode}".encode()
    finder = _KEYS + f"key = search_key({desc!r}, SESSION)\nfound = read_key(key) if key >= 0 else None"
    submitted = _submit(tmp_path, full_sample, "mallory", {"softmax": _softmax_that_reports(finder)})
    in_a_session = (  # join a fresh session keyring, put the instructor's key in it, then run the grader there
        _KEYS
        + "import os, sys\n"
        "assert _libc.syscall(_nr[2], 1, None) >= 0\n"
        f"assert add_key({desc!r}, b'instructor secret', SESSION) >= 0\n"
        "os.execv(sys.argv[1], sys.argv[1:])\n"
    )
    env = {"RNNGRADE_NO_NAMESPACES": "1"} if mode == "uid-only" else {}
    plain = ("--no-sandbox",) if mode == "limits only" else ()
    done = _grade_in_a_process(tmp_path, submitted, env, "--db-url", "none", *plain, prefix=(sys.executable, "-c", in_a_session))
    assert done.returncode == 0, done.stderr
    feedback = _feedback(tmp_path, "mallory")
    assert "instructor secret" not in feedback and "FOUND" not in feedback
    assert "score <b>14 / 14</b>" in feedback


# --------------------------------------------------------------------------
# 6. The reference is hidden however the course is installed
# --------------------------------------------------------------------------


@pytest.fixture
def installed_copy():
    """A site-packages folder that anyone may read, holding the course as ``pip install .`` puts it
    there: autograder/ with the reference and the grader, rnncourse/ with nn/."""
    import tempfile

    site = tempfile.mkdtemp(prefix="rnngrade-test-site-", dir="/var/tmp")
    os.chmod(site, 0o755)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(COURSE / "autograder", os.path.join(site, "autograder"), ignore=ignore)
    shutil.copytree(COURSE / "rnncourse", os.path.join(site, "rnncourse"), ignore=ignore)
    for folder, dirs, files in os.walk(site):  # pip's modes, not the course's at this moment (a run
        for name in dirs:  # without namespaces on another test worker may be hiding it)
            os.chmod(os.path.join(folder, name), 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    yield site
    shutil.rmtree(site, ignore_errors=True)


_FIND_INSTALLED = (
    "import importlib.util, os, sys\n"
    "here = [p for p in sys.path if os.path.exists(os.path.join(p, 'autograder', 'reference', 'lesson01.py'))]\n"
    "nn = [p for p in sys.path if os.path.isdir(os.path.join(p, 'rnncourse', 'nn'))]\n"
    "print('INSTALLED', here, nn)\n"
)


@needs_isolation
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["namespaces", "uid-only"])
def test_the_reference_is_hidden_when_the_course_is_installed_in_site_packages(
    tmp_path, full_sample, installed_copy, monkeypatch, mode, course_permissions
):
    """With the course installed (not editable) in a site-packages the child reads, a release
    notebook loaded the reference from its own sys.path and scored 0 -> 14."""
    from autograder.grading import sandbox

    load = (
        _FIND_INSTALLED
        + "import types\n"  # the child's own autograder has no reference: graft the installed one onto it
        "package = types.ModuleType('autograder.reference')\n"
        "package.__path__ = [os.path.join(here[0], 'autograder', 'reference')]\n"
        "sys.modules['autograder.reference'] = package\n"
        "from autograder.reference.lesson01 import softmax as reference\n"
        "return reference(scores)"
    )

    def steal(text):
        head, _, _ = text.rpartition('"""')
        return head + '"""\n' + "\n".join("    " + line for line in load.splitlines()) + "\n"

    own = sandbox.child_sys_path()
    monkeypatch.setattr(sandbox, "child_sys_path", lambda: [*own, installed_copy])
    if mode == "uid-only":
        monkeypatch.setenv("RNNGRADE_NO_NAMESPACES", "1")
    submitted = _submit(tmp_path, full_sample, "mallory", {"softmax": steal, "rnn_forward": append(_FIND_INSTALLED)})
    result = run(tmp_path, submitted, db_url="")
    (graded,) = result.results
    assert {e.name: e.points for e in graded.exercises}["softmax"] == 0, graded.output
    assert "INSTALLED [] []" in graded.output, graded.output
    # Given back after the run; or, where another run still hides paths (with RNNGRADE_NO_NAMESPACES=1
    # every xdist worker's run does, some for minutes), on the record for the last of them to give back.
    copy = os.path.join(installed_copy, "autograder")
    record = sandbox._read_state(sandbox._state_dir() / "rnngrade-hidden" / "state.json")["modes"]
    assert os.stat(copy).st_mode & 0o007 or record.get(os.path.realpath(copy), 0) & 0o007


# --------------------------------------------------------------------------
# 3. One submission cannot take another's CPU
# --------------------------------------------------------------------------

_HOG = (  # 30 busy processes, each in a session of its own
    "import os\n"
    "for _ in range(30):\n"
    "    try:\n"
    "        if os.fork() == 0:\n"
    "            os.setsid()\n"
    "            while True:\n"
    "                pass\n"
    "    except OSError:\n"
    "        break"
)
_SLOW = (  # 4 s of CPU time, however long that takes on the wall clock
    "import time\n"
    "_start = time.process_time()\n"
    "while time.process_time() - _start < 4.0:\n"
    "    pass"
)


@needs_isolation
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["namespaces", "uid-only"])
def test_a_cpu_hog_graded_beside_a_slow_honest_student_costs_the_honest_one_nothing(lesson, runner, mode, request):
    """A full-marks notebook that starts 30 busy processes and keeps its cells alive under the time
    limit made a correct but slow student graded at the same time time out (14 -> 13 here, -> 11 in
    the red team's run). Each child now gets one CPU (a cgroup) and fewer processes, in both root
    modes (the cgroup does not need namespaces)."""
    import threading
    import time

    from autograder.grading import sandbox

    if not getattr(sandbox, "cpu_groups_work", lambda: True)():  # (main had no CPU groups at all)
        pytest.skip("this machine lets the grader create no CPU cgroup (v1 or v2)")
    if mode == "uid-only":
        runner = request.getfixturevalue("uid_only")
    stay = append("import time\ntime.sleep(25)")  # alive, just under the cell's time limit
    hog = notebook_with(lesson, edits={"rnn_step_forward": append(_HOG), "rnn_forward": stay, "softmax": stay, "rnn_output_forward": stay})
    honest = notebook_with(lesson, edits={"count_rnn_parameters": append(_SLOW)})
    graded = {}
    thread = threading.Thread(target=lambda: graded.setdefault("hog", grade_notebook(lesson, runner, hog, "hog", slot=11)))
    thread.start()
    time.sleep(8)  # the hog's processes are running
    graded["honest"] = grade_notebook(lesson, runner, honest, "honest", slot=12)
    assert thread.is_alive()  # the hog ran all along
    thread.join()
    assert points(graded["honest"]) == full_points(lesson), graded["honest"].notes


# --------------------------------------------------------------------------
# 7. "Read by hand": code that reaches the course's modules without naming them is flagged
# --------------------------------------------------------------------------

_THROUGH_SYS_MODULES = (  # reads the course's module without the word (used to be no flag at all)
    "import sys\n"
    "_core = sys.modules['auto' + 'grader.suites.core']"
)
_PATCH_BY_COMPUTED_NAMES = (  # and no telling name at all, but it replaces a function of the checks
    "import sys\n"
    "_m = getattr(sys, 'mod' + 'ules')['auto' + 'grader.suites.core']\n"
    "setattr(_m, 'copy_inputs', (lambda f: lambda x: f(x))(getattr(_m, 'copy_inputs')))"
)


@pytest.mark.parametrize("code", [_THROUGH_SYS_MODULES, _PATCH_BY_COMPUTED_NAMES], ids=["sys.modules", "computed names"])
def test_reaching_the_checks_without_naming_them_is_read_by_hand(lesson, runner, code):
    """The flag was a search for the word autograder: sys.modules['auto' + 'grader...'] evaded it.
    Reaching modules by a computed name is flagged from the text, and a change to the course's
    modules, however made, by the child that saw it happen."""
    nb = notebook_with(lesson, edits={"softmax": append(code)})
    result = grade_notebook(lesson, runner, nb)
    assert points(result) == full_points(lesson)
    assert any("refers to the course's autograder package" in n for n in result.notes), result.notes
    assert "read by hand (solution code that refers to the course's autograder package): attacker" in record.score_table([result])
    honest = grade_notebook(lesson, runner, notebook_with(lesson))
    assert honest.notes == [] and "read by hand" not in record.score_table([honest])


@needs_isolation
def test_a_root_in_which_numpy_cannot_be_found_is_refused_by_the_probe(monkeypatch):
    """The probe builds the child's root with the Python folders children get and imports NumPy in it:
    a root where NumPy is missing (links that lead out of site-packages, say) would give every student 0,
    so the run must fall back to the uid-only sandbox and say why, not grade in it."""
    from autograder.grading import sandbox

    monkeypatch.delenv("RNNGRADE_NO_NAMESPACES", raising=False)
    assert sandbox.namespaces_work(), sandbox.namespace_problem()
    stdlib_only = [p for p in sandbox.child_sys_path() if "site-packages" not in p and "dist-packages" not in p]
    monkeypatch.setattr(sandbox, "child_sys_path", lambda: stdlib_only)
    assert not sandbox.namespaces_work()
    assert "NumPy cannot be imported in the child's own root" in sandbox.namespace_problem()
