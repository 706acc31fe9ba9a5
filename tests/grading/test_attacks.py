"""Hostile and broken submissions get exactly what their honest work deserves."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from conftest import (
    COURSE,
    ISOLATED,
    full_points,
    grade_notebook,
    needs_isolation,
    notebook_with,
    points,
)


def append(code):
    return lambda text: text + "\n\n" + code + "\n"


def body(name, code):
    """Replace the function's body (after its docstring) with ``code``."""

    def edit(text):
        head, _, _ = text.rpartition('"""')
        indented = "\n".join("    " + line for line in code.splitlines())
        return head + '"""\n' + indented + "\n"

    return edit


def expect(lesson, zeroed):
    want = full_points(lesson)
    for name in zeroed:
        want[name] = 0.0
    return want


def test_numpy_comparison_patch_earns_nothing(lesson, runner):
    """Replacing np.allclose & co. in a solution cell changes nothing: the parent compares."""
    patch = (
        "np.allclose = lambda *a, **k: True\n"
        "np.array_equal = lambda *a, **k: True\n"
        "np.testing.assert_allclose = lambda *a, **k: None"
    )
    nb = notebook_with(lesson, solved=(), edits={"softmax": append(patch)})
    assert sum(points(grade_notebook(lesson, runner, nb)).values()) == 0


def test_numpy_comparison_patch_keeps_honest_points(lesson, runner):
    """The same patch next to correct code still gets that code's points."""
    nb = notebook_with(lesson, solved=("rnn_step_forward", "softmax"), edits={"softmax": append("np.allclose = lambda *a, **k: True")})
    got = points(grade_notebook(lesson, runner, nb))
    assert got["rnn_step_forward"] == 3 and got["softmax"] == 2 and sum(got.values()) == 5


def test_solution_code_naming_the_autograder_is_flagged(lesson, runner):
    """Code that reaches into the checking code (which shares the child's process) is graded as
    usual and flagged, in the student's notes and below the score table, for a human to read."""
    from autograder.grading import record

    code = "import autograder.suites.core as _core\n_core.Exercise.run = _core.Exercise.run"
    nb = notebook_with(lesson, solved=("softmax",), edits={"softmax": append(code)})
    result = grade_notebook(lesson, runner, nb)
    assert points(result)["softmax"] == 2
    assert any("your solution cell 'softmax' refers to the course's autograder package" in n for n in result.notes)
    assert "read by hand (solution code that refers to the course's autograder package): attacker" in (
        record.score_table([result])
    )
    honest = grade_notebook(lesson, runner, notebook_with(lesson, solved=("softmax",)))
    assert not any("autograder" in n for n in honest.notes) and "read by hand" not in record.score_table([honest])


def test_ipython_transformers_earn_nothing(lesson, runner):
    """Input and AST transformers cannot rewrite the checks: no check runs in the child."""
    code = (
        "ip = get_ipython()\n"
        "ip.input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n"
        "import ast\n"
        "class T(ast.NodeTransformer):\n"
        "    def visit_Call(self, node): return ast.Constant(None)\n"
        "ip.ast_transformers.append(T())"
    )
    nb = notebook_with(lesson, solved=(), edits={"rnn_step_forward": append(code)})
    assert sum(points(grade_notebook(lesson, runner, nb)).values()) == 0


def test_custom_exception_handler_earns_nothing(lesson, runner):
    """sys.excepthook and set_custom_exc cannot swallow a failing check."""
    code = (
        "import sys\n"
        "sys.excepthook = lambda *a: None\n"
        "get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)"
    )
    nb = notebook_with(lesson, solved=(), edits={"rnn_step_forward": append(code)})
    assert sum(points(grade_notebook(lesson, runner, nb)).values()) == 0


@needs_isolation
def test_reading_solutions_from_disk_earns_nothing(lesson, runner):
    """The solution notebook, the reference and the autograder are not visible to the child."""
    steal = f"""
import json, os
stolen = {{}}
for path in [{str(COURSE / 'solutions' / '01_rnn_cell' / '01_rnn_cell.ipynb')!r}]:
    try:
        for cell in json.load(open(path))['cells']:
            if cell['cell_type'] == 'code' and 'BEGIN SOLUTION' in ''.join(cell['source']):
                exec(''.join(cell['source']), globals())
    except Exception as exc:
        print('no solutions:', exc)
try:
    exec(open({str(COURSE / 'autograder' / 'reference' / 'lesson01.py')!r}).read(), globals())
except Exception as exc:
    print('no reference:', exc)
try:
    from autograder.reference import REFERENCE
    globals().update(REFERENCE)
except Exception as exc:
    print('no import:', exc)
assert not os.path.exists({str(COURSE / 'solutions')!r} + '/01_rnn_cell')
"""
    nb = notebook_with(lesson, solved=(), edits={"count_rnn_parameters": append(steal)})
    result = grade_notebook(lesson, runner, nb)
    assert sum(points(result).values()) == 0
    assert "no solutions" in result.output and "no reference" in result.output


def test_endless_loop_in_a_cell_costs_that_cell(lesson, short_runner):
    """A cell that never finishes is stopped and skipped; the others are graded."""
    nb = notebook_with(lesson, edits={"count_rnn_parameters": append("while True:\n    pass")})
    result = grade_notebook(lesson, short_runner, nb)
    assert points(result) == expect(lesson, ["count_rnn_parameters"])
    assert any("did not finish" in n for n in result.notes)


def test_exercise_that_never_returns_does_not_block_the_next(lesson, short_runner):
    """rnn_step_forward loops (and rnn_forward, which calls it); softmax after it still passes."""
    nb = notebook_with(lesson, edits={"rnn_step_forward": body("rnn_step_forward", "while True:\n    pass")})
    result = grade_notebook(lesson, short_runner, nb)
    assert points(result) == expect(lesson, ["rnn_step_forward", "rnn_forward"])
    statuses = {e.name: e.status for e in result.exercises}
    assert statuses["rnn_step_forward"] == "timeout"


def test_os_exit_in_a_cell_costs_that_cell(lesson, runner):
    """os._exit kills the child; a fresh one goes on without that cell."""
    nb = notebook_with(lesson, edits={"rnn_forward": append("import os\nos._exit(3)")})
    result = grade_notebook(lesson, runner, nb)
    assert points(result) == expect(lesson, ["rnn_forward"])
    assert any("exited with code 3" in n for n in result.notes)


def test_segfault_in_an_exercise_costs_that_exercise(lesson, runner):
    """A segmentation fault while softmax runs costs softmax and what calls it, nothing else."""
    nb = notebook_with(lesson, edits={"softmax": body("softmax", "import ctypes\nreturn ctypes.string_at(0)")})
    result = grade_notebook(lesson, runner, nb)
    assert points(result) == expect(lesson, ["softmax", "rnn_output_forward", "jordan_step_forward"])
    assert {e.name: e.status for e in result.exercises}["softmax"] == "crash"


def test_memory_blowup_is_reported_as_memory(lesson, runner):
    """An allocation beyond the limit fails in the child and is named as such."""
    grow = "blocks = []\nwhile True:\n    blocks.append(bytearray(50_000_000))"
    nb = notebook_with(lesson, edits={"count_rnn_parameters": body("count_rnn_parameters", grow)})
    result = grade_notebook(lesson, runner, nb)
    assert points(result) == expect(lesson, ["count_rnn_parameters"])
    verdict = {e.name: e for e in result.exercises}["count_rnn_parameters"]
    assert verdict.status == "memory" and "ran out of memory" in verdict.message


def test_millions_of_lines_of_output_cost_nothing(lesson, runner):
    """Two million printed lines are drained and capped; a correct answer keeps its points."""
    nb = notebook_with(lesson, edits={"softmax": append("import sys\nsys.stdout.write('spam\\n' * 2_000_000)")})
    result = grade_notebook(lesson, runner, nb)
    assert points(result) == full_points(lesson)
    assert len(result.output) < 200_000 and "more bytes of output not kept" in result.output


def test_warnings_never_cost_points(lesson, runner):
    """A correct answer that warns on stderr gets full marks."""
    code = "import warnings\nwarnings.warn('this softmax is fine')\nimport sys\nprint('noise', file=sys.stderr)"
    nb = notebook_with(lesson, edits={"softmax": append(code)})
    assert points(grade_notebook(lesson, runner, nb)) == full_points(lesson)


@needs_isolation
@pytest.mark.slow
def test_fork_bomb_is_contained(lesson, short_runner):
    """A fork bomb hits the process limit of the child's own uid, is killed, and costs one cell."""
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    nb = notebook_with(lesson, edits={"count_rnn_parameters": append(bomb)})
    short_runner.uids_used.clear()
    result = grade_notebook(lesson, short_runner, nb, slot=3)
    assert points(result) == expect(lesson, ["count_rnn_parameters"])
    uids = ",".join(str(u) for u in short_runner.uids_used)
    for _ in range(50):  # killed processes may linger a moment until init reaps them
        left = subprocess.run(["ps", "-u", uids, "-o", "pid=,stat="], capture_output=True, text=True)
        alive = [line for line in left.stdout.splitlines() if not line.split()[-1].startswith("Z")]
        if not alive:
            break
        time.sleep(0.1)
    assert alive == []


@needs_isolation
def test_network_is_unreachable(lesson, runner):
    """The child has its own network namespace without any interface up."""
    probe = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
        "    print('NETWORK REACHABLE')\n"
        "except OSError as exc:\n"
        "    print('no network:', exc)"
    )
    nb = notebook_with(lesson, edits={"softmax": append(probe)})
    result = grade_notebook(lesson, runner, nb)
    assert "no network" in result.output and "NETWORK REACHABLE" not in result.output
    assert ISOLATED and os.geteuid() == 0


def test_garbage_on_the_grader_pipe_costs_that_cell(lesson, runner):
    """JSON nested 100,000 deep written to the grader's pipe is a protocol fault, not a grader crash."""
    flood = (
        "import os, sys\n"  # the child is started as child.py FD_IN FD_OUT
        "os.write(int(sys.argv[-1]), b'[' * 100000 + b']' * 100000 + b'\\n')"
    )
    nb = notebook_with(lesson, edits={"count_rnn_parameters": append(flood)})
    result = grade_notebook(lesson, runner, nb)
    assert points(result) == expect(lesson, ["count_rnn_parameters"])


@needs_isolation
def test_files_in_shared_writable_directories_do_not_outlive_the_child(lesson, runner, tmp_path):
    """/run/lock, /dev/shm and friends are private to the child: nothing written there stays."""
    marker = f"rnngrade-test-{os.getpid()}"
    dirs = [d for d in ("/run/lock", "/dev/shm", "/var/tmp") if os.path.isdir(d)]
    code = "\n".join(f"open('{d}/{marker}', 'w').write('x')" for d in dirs)
    nb = notebook_with(lesson, edits={"count_rnn_parameters": append(code)})
    grade_notebook(lesson, runner, nb)
    assert [d for d in dirs if os.path.exists(f"{d}/{marker}")] == []


@needs_isolation
def test_shared_memory_segments_do_not_outlive_the_child(lesson, runner):
    """A System V segment created and detached (outside the memory limit) dies with the child's IPC namespace."""
    before = open("/proc/sysvipc/shm").read().count("\n")
    code = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None)\n"
        "segment = libc.shmget(0, 1 << 20, 0o1600)\n"
        "assert segment >= 0"
    )
    nb = notebook_with(lesson, edits={"count_rnn_parameters": append(code)})
    result = grade_notebook(lesson, runner, nb)
    assert points(result) == full_points(lesson)  # the segment was created: the cell ran to the end
    assert open("/proc/sysvipc/shm").read().count("\n") == before


# --------------------------------------------------------------------------
# The uid-only sandbox: root where namespaces are refused (a default Docker container)
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def uid_only_runner(runner):
    """Children as in a container that refuses namespaces: a uid of their own, Python copied where they can read it."""
    import shutil
    import tempfile
    from pathlib import Path

    from autograder.grading import engine, sandbox

    base = Path(tempfile.mkdtemp(prefix="rnngrade-test-python-"))
    base.chmod(0o711)
    sys_path = sandbox.sys_path_for_uid(base / "python")
    yield engine.Runner(runner.template, runner.limits, runner.hide, True, False, sys_path)
    shutil.rmtree(base, ignore_errors=True)


def _read_reference(name, arg):
    path = COURSE / "autograder" / "reference" / "lesson01.py"
    return (
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('ref', {str(path)!r})\n"
        "ref = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(ref)\n"
        f"return ref.{name}({arg})"
    )


@needs_isolation
def test_without_namespaces_children_still_run_under_their_own_uid(lesson, uid_only_runner):
    """Root without namespaces never runs student code as root; a full notebook still gets full points."""
    nb = notebook_with(lesson, edits={"softmax": append("import os\nassert os.getuid() >= 64000, os.getuid()")})
    assert points(grade_notebook(lesson, uid_only_runner, nb)) == full_points(lesson)


@needs_isolation
def test_without_namespaces_the_course_is_hidden_by_permissions(lesson, uid_only_runner, course_permissions):
    """Reading the reference from disk fails while grading runs; the permissions come back afterwards."""
    from autograder.grading import sandbox

    nb = notebook_with(lesson, solved=(), edits={"softmax": body("softmax", _read_reference("softmax", "scores"))})
    before = os.stat(COURSE / "autograder").st_mode
    with sandbox.hidden_by_permissions(uid_only_runner.hide, uid_only_runner.sys_path) as changed:
        assert changed and all(not os.stat(p).st_mode & 0o007 for p in changed)
        result = grade_notebook(lesson, uid_only_runner, nb)
    assert points(result)["softmax"] == 0
    assert "PermissionError" in {e.name: e for e in result.exercises}["softmax"].message
    assert _mode_comes_back(COURSE / "autograder", before)


@needs_isolation
def test_without_namespaces_files_and_ipc_objects_do_not_outlive_the_child(lesson, uid_only_runner):
    """No private /tmp or IPC namespace: what the child's uid left in shared places is removed after it."""
    marker = f"rnngrade-test-{os.getpid()}"
    dirs = [d for d in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock") if os.access(d, os.W_OK)]
    before = open("/proc/sysvipc/shm").read().count("\n")
    code = "\n".join(
        [f"open('{d}/{marker}', 'w').write('x')" for d in dirs]
        + [
            f"os.makedirs('/tmp/{marker}-dir/sub')",
            "import ctypes",
            "assert ctypes.CDLL(None).shmget(0, 1 << 20, 0o1600) >= 0",
            "rt = ctypes.CDLL('librt.so.1')",
            f"assert rt.mq_open(b'/{marker}', os.O_CREAT | os.O_RDWR, 0o600, None) == -1  # RLIMIT_MSGQUEUE is 0",
        ]
    )
    many = (  # more long names than one command line may hold ("Argument list too long")
        "for i in range(11000):\n"
        f"    open('/tmp/{marker}-many-%05d-' % i + 'x' * 200, 'w').close()"
    )
    deep = (  # deeper than Python's recursion limit: shutil.rmtree would fail on it
        f"os.mkdir('/tmp/{marker}-deep'); os.chdir('/tmp/{marker}-deep')\n"
        "for _ in range(1500):\n"
        "    os.mkdir('d'); os.chdir('d')\n"
        "os.chdir('/')"
    )
    nb = notebook_with(lesson, edits={"count_rnn_parameters": append("import os\n" + code + "\n" + deep + "\n" + many)})
    result = grade_notebook(lesson, uid_only_runner, nb)
    assert points(result) == full_points(lesson)  # everything was created: the cell ran to the end
    assert [d for d in dirs if os.path.exists(f"{d}/{marker}")] == []
    assert not os.path.exists(f"/tmp/{marker}-dir") and not os.path.exists(f"/tmp/{marker}-deep")
    assert not [name for name in os.listdir("/tmp") if name.startswith(f"{marker}-many")]
    assert open("/proc/sysvipc/shm").read().count("\n") == before
    honest = grade_notebook(lesson, uid_only_runner, notebook_with(lesson))  # the uid is free and clean again
    assert points(honest) == full_points(lesson)


@needs_isolation
def test_leftovers_are_deleted_as_their_uid_never_as_root(tmp_path):
    """A path the uid only seems to own (a folder above it swapped for a link) cannot make root delete:
    the deletion runs as the uid, which may not touch a folder of root's."""
    from autograder.grading import sandbox

    victim = tmp_path / "victim"
    victim.mkdir(mode=0o700)
    (victim / "precious").write_text("root's")
    sandbox._delete_as(sandbox.SANDBOX_UID_BASE + 200, [str(victim / "precious"), str(victim)])
    assert (victim / "precious").read_text() == "root's"


@needs_isolation
def test_children_of_a_killed_grader_die_and_their_daemons_are_reaped(tmp_path, course_permissions):
    """SIGKILL leaves no finally: the children die with the grader (PR_SET_PDEATHSIG), and what they
    started in a session of its own is killed by the next run before it gives the course back."""
    import sys

    from autograder.grading import sandbox

    daemon = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    time.sleep(120)\n"
        "    os._exit(0)\n"
        "time.sleep(60)"
    )
    _submission_with(tmp_path, "s1", daemon)
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograder", "grade", str(tmp_path / "submitted"), "--db-url", "none", "--quiet",
         "--output", str(tmp_path / "out"), "--autograded", str(tmp_path / "ag"), "--feedback", str(tmp_path / "fb")],
        cwd=COURSE, env={**os.environ, "RNNGRADE_NO_NAMESPACES": "1"}, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        found: set[int] = set()
        while time.monotonic() < deadline and len(found) < 2:  # the child and its daemon
            found |= _sandboxed_descendants(proc.pid)
            time.sleep(0.2)
        assert len(found) >= 2, found
        uids = {os.stat(f"/proc/{pid}").st_uid for pid in found if os.path.exists(f"/proc/{pid}")}
        children = [pid for pid in found if _parent(pid) == proc.pid]
        assert children
        # The run's work and template folders, which SIGKILL leaves behind. Listed before the kill: after
        # it, another xdist worker's run removes them at its start (what is asserted below) at any moment.
        left = [f for f in os.listdir(sandbox.tempfile.gettempdir()) if f.startswith((f"rnngrade-{proc.pid}-", f"rnngrade-template-{proc.pid}-"))]
        assert left
        proc.kill()
        proc.wait()
        time.sleep(1)
        # The child died with the grader. (Its daemon lives on until a run reaps it: under pytest-xdist,
        # another worker's run may do so at any moment, so only its end is asserted, below.)
        assert _running(children) == []
        assert os.stat(COURSE / "solutions").st_mode & 0o007 == 0  # still hidden: the grader had no finally
    finally:
        proc.kill()
        with sandbox.hidden_by_permissions([], []):  # the next run restores them, killing the daemon first
            pass
    # Killed by this run, or by another xdist worker's run that took the uid at that moment (it kills what
    # the uid runs as it takes it): either way within moments, which is what is asserted.
    deadline = time.monotonic() + 10
    while _running(found) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _running(found) == [] and uids
    sandbox.remove_stale_folders()  # what the next run does at its start
    assert not [f for f in left if os.path.exists(os.path.join(sandbox.tempfile.gettempdir(), f))]
    assert sandbox._read_state(sandbox._state_dir() / "rnngrade-hidden" / "state.json")["modes"] == {}


@needs_isolation
def test_a_terminated_grader_restores_permissions_and_kills_its_children(tmp_path, course_permissions):
    """SIGTERM in the middle of a uid-only run: the run stops within seconds, no child survives,
    and the course's permissions are as before."""
    import signal
    import sys


    for student in ("s1", "s2", "s3"):
        _submission_with(tmp_path, student, "import time\ntime.sleep(25)")
    watched = COURSE / "autograder"
    before = os.stat(watched).st_mode
    env = {**os.environ, "RNNGRADE_NO_NAMESPACES": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograder", "grade", str(tmp_path / "submitted"), "--db-url", "none", "--quiet",
         "--output", str(tmp_path / "out"), "--autograded", str(tmp_path / "ag"), "--feedback", str(tmp_path / "fb")],
        cwd=COURSE, env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        children: set[int] = set()
        while time.monotonic() < deadline and len(children) < 2:  # two jobs: two children sleeping
            children |= _sandboxed_descendants(proc.pid)
            time.sleep(0.2)
        assert children, "no child started"
        assert os.stat(watched).st_mode != before  # hidden while grading
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM" in err
    assert _mode_comes_back(watched, before)
    assert _running(children) == []


def _mode_comes_back(path, before, timeout=120.0):
    """``path`` has its mode ``before`` again. Where every grading run hides by permissions (namespaces
    refused, or RNNGRADE_NO_NAMESPACES=1 for the whole suite), another xdist worker's run may hold the
    course hidden a while longer: the last run to end restores it, so this waits for that."""
    deadline = time.monotonic() + timeout
    while os.stat(path).st_mode != before and time.monotonic() < deadline:
        time.sleep(0.2)
    return os.stat(path).st_mode == before


def _running(pids):
    """Those of ``pids`` that still run (a zombie is dead: this container's init may never reap it)."""
    alive = []
    for pid in pids:
        try:
            state = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def _parent(pid):
    try:
        return int(open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _submission_with(tmp_path, student, code):
    """The full sample submission of lesson 01 for ``student``, with ``code`` run by its first solution cell."""
    import json
    import shutil

    from autograder.grading import samples

    full = tmp_path / "built" / "sample-full" / "01_rnn_cell"
    if not full.exists():
        full = samples.build_samples(COURSE, tmp_path / "built", "01_rnn_cell")["01_rnn_cell"]["sample-full"]
    folder = tmp_path / "submitted" / student / "01_rnn_cell"
    shutil.copytree(full, folder)
    path = folder / "01_rnn_cell.ipynb"
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
    cell["source"] = "".join(cell["source"]) + "\n" + code + "\n"
    path.write_text(json.dumps(nb))


def _sandboxed_descendants(root: int) -> set[int]:
    """Processes below ``root`` that run under a sandbox uid."""
    from autograder.grading import sandbox

    parent, uid = {}, {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            parent[int(pid)] = int(open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[1])
            uid[int(pid)] = os.stat(f"/proc/{pid}").st_uid
        except (OSError, ValueError, IndexError):
            continue
    found = set()
    for pid in parent:
        p = pid
        while p in parent and p not in (root, 0, 1):
            p = parent[p]
        if p == root and sandbox.SANDBOX_UID_BASE <= uid[pid] < sandbox.SANDBOX_UID_BASE + sandbox.SANDBOX_UIDS:
            found.add(pid)
    return found


def test_a_notebook_has_a_time_budget(lesson, runner):
    """Cells that each run just under their limit cannot hold a grading slot: after the notebook's
    budget the remaining exercises are marked, not run."""
    import dataclasses

    from autograder.grading import engine

    limits = dataclasses.replace(runner.limits, cell_timeout=6.0, exercise_timeout=6.0, notebook_timeout=10.0)
    budgeted = engine.Runner(runner.template, limits, runner.hide, runner.isolate)
    slow = append("import time\ntime.sleep(4.5)")
    nb = notebook_with(lesson, edits={"rnn_step_forward": slow, "rnn_forward": slow, "softmax": slow})
    start = time.monotonic()
    result = grade_notebook(lesson, budgeted, nb)
    assert time.monotonic() - start < 30
    verdicts = {e.name: e for e in result.exercises}
    assert verdicts["rnn_step_forward"].points == 3  # graded before the budget ran out
    last = verdicts["count_rnn_parameters"]
    assert last.status == "timeout" and "time budget of 10 s" in last.message


def _memory_groups():
    from autograder.grading import sandbox

    return ISOLATED and sandbox.memory_groups_work()


@pytest.mark.skipif(not _memory_groups(), reason="needs root and a writable memory cgroup (v1 or v2)")
def test_forked_processes_share_one_memory_limit(lesson, runner):
    """Three forks of 700 MiB each stay under the per-process limit, but not under the child's one
    memory cgroup: one of them is killed, and the machine never sees 2.1 GiB from one submission."""
    code = (
        "import os, time\n"
        "pids = []\n"
        "for _ in range(3):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        block = bytearray(b'x') * (700 * 2**20)\n"
        "        time.sleep(3)\n"
        "        os._exit(0)\n"
        "    pids.append(pid)\n"
        "codes = [os.waitpid(p, 0)[1] for p in pids]\n"
        "assert any(code != 0 for code in codes), 'every fork kept its 700 MiB'"
    )
    assert runner.limits.memory_mb < 2100
    nb = notebook_with(lesson, edits={"count_rnn_parameters": append(code)})
    result = grade_notebook(lesson, runner, nb)
    assert points(result) == full_points(lesson)
    assert not [n for n in result.notes if "every fork kept" in n], result.notes
