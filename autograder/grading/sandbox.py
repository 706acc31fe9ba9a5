"""The parent's side of the grading child: start it, talk to it, kill it.

A :class:`Child` is one process running ``child.py`` in its own empty work
directory (as root: under a uid of its own, in cgroups of its own, and, where
namespaces are allowed, in a root of its own that ``child.py`` builds). The
parent sends it one request at a time and waits at most a deadline for the
reply; student output is drained from a separate pipe and capped. On a
timeout, a death or a garbled reply the whole process group is killed (and,
when the child ran under a uid of its own, every process of that uid), and the
caller gets a :class:`Fault` instead of a reply.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import selectors
import shutil
import signal
import site
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

import autograder
from autograder.grading import child
from autograder.grading.cgroups import (  # noqa: F401
    CpuGroup,
    Group,
    MemoryGroup,
    cpu_groups_work,
    memory_groups_work,
)

PACKAGE = Path(autograder.__file__).resolve().parent
COURSE = PACKAGE.parent
CHILD_SCRIPT = Path(__file__).resolve().with_name("child.py")
SANDBOX_UID_BASE = 64000  # children run as uids 64000..64255 (no login, no files, no other processes)
SANDBOX_UIDS = 256
MAX_MESSAGE = 8 * 1024 * 1024  # the largest honest reply is ~20 KB; parsing 8 MiB costs ~150 MB at worst


@dataclasses.dataclass
class Limits:
    """What one child may use. Times in seconds, sizes in MiB."""

    cell_timeout: float = 30.0  # wall clock per student cell
    course_cell_timeout: float = 120.0  # the course's own cells (setup imports matplotlib): not the student's fault
    exercise_timeout: float = 30.0  # wall clock per exercise (all its hidden cases)
    # Wall clock for one whole notebook, replays after crashes included: cells that each run
    # just under their limit cannot hold a grading slot for long.
    notebook_timeout: float = 300.0
    startup_timeout: float = 30.0
    memory_mb: int = 3072  # address space; numpy + OpenBLAS need ~300 MiB of it
    cpus: float = 1.0  # CPU time per wall second of a child and all it starts (a cgroup, as root)
    cpu_seconds: int = 600
    file_mb: int = 64
    tmp_mb: int = 64
    open_files: int = 256
    processes: int = 16  # per uid, so per child; with one CPU per child (a cgroup) more would only queue
    output_kb: int = 64  # student output kept (head and tail)


@dataclasses.dataclass
class Fault:
    """Why a request got no reply: "timeout", "died" or "protocol", with details."""

    kind: str
    detail: str


# --------------------------------------------------------------------------
# What the OS lets us enforce (decided once per process)
# --------------------------------------------------------------------------

_warned = threading.Lock()
_warning_done = False


def can_isolate() -> bool:
    """Root on Linux: a uid of its own per child is possible (and namespaces, see below)."""
    return sys.platform.startswith("linux") and os.geteuid() == 0


_namespace_problem: str | None = None  # why the last probe said no


def namespaces_work() -> bool:
    """Can this process build the child's sandbox: namespaces and a root of its own? A default
    Docker container cannot (no CAP_SYS_ADMIN, a seccomp profile that refuses unshare).

    Probed once per run by building it for real in a throwaway child (``child.py --probe``);
    :func:`namespace_problem` says why not. ``RNNGRADE_NO_NAMESPACES=1`` answers no (the tests
    use it to exercise the uid-only sandbox on a machine that has namespaces).
    """
    global _namespace_problem
    if os.environ.get("RNNGRADE_NO_NAMESPACES") == "1":
        _namespace_problem = "forced by RNNGRADE_NO_NAMESPACES"
        return False
    if not can_isolate():
        _namespace_problem = "not root on Linux"
        return False
    work = tempfile.mkdtemp(prefix=f"rnngrade-{os.getpid()}-probe-")
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-B", str(CHILD_SCRIPT), "--probe", work, json.dumps(child_sys_path())],
            env=_base_env(), stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False,
        )
        ok = done.returncode == 0
        _namespace_problem = None if ok else (done.stderr.decode(errors="replace").strip().splitlines() or ["refused"])[-1]
    except (OSError, subprocess.SubprocessError) as exc:
        ok, _namespace_problem = False, str(exc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ok


def namespace_problem() -> str | None:
    """Why :func:`namespaces_work` last said no (None if it said yes)."""
    return _namespace_problem


def _state_dir() -> Path:
    """Where runs record the permissions they took away: it must outlive a reboot-less crash."""
    return Path("/var/tmp") if os.path.isdir("/var/tmp") else Path(tempfile.gettempdir())


HIDDEN_STATE: Path | None = None  # None: <_state_dir()>/rnngrade-hidden (tests point it elsewhere)


def _private_folder(folder: Path) -> Path:
    """``folder``, made if missing, checked to be the grader's own that no one else may write to
    (the permission record and the uid locks live there: another user must not plant them)."""
    folder.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) & 0o022:
        raise RuntimeError(
            f"{folder} must be a folder of the grader's own user that no one else may write to; "
            "remove it and grade again"
        )
    return folder


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (field 22 of /proc/<pid>/stat), or None if it is gone.

    Together with the pid it names a process even after the pid is reused.
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()[19]


@contextlib.contextmanager
def _locked_state():
    """The shared record of hidden paths, locked against every other grading run on this machine."""
    import fcntl

    folder = _private_folder(HIDDEN_STATE or _state_dir() / "rnngrade-hidden")
    fd = os.open(folder / "lock", os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = folder / "state.json"
        state = _read_state(path)

        def save() -> None:
            tmp = folder / "state.json.new"
            with open(tmp, "w") as f:
                f.write(json.dumps(state))
                f.flush()
                os.fsync(f.fileno())  # a power cut must not leave an empty record of hidden paths
            os.replace(tmp, path)

        yield state, save
        save()
    finally:
        os.close(fd)


def _read_state(path: Path) -> dict:
    """The record, keeping only well-formed entries (a damaged file must not stop every run)."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return {"holders": [], "modes": {}}
    except (OSError, ValueError):
        raw = None
    holders = raw.get("holders") if isinstance(raw, dict) else None
    modes = raw.get("modes") if isinstance(raw, dict) else None
    good_holders = [
        h for h in (holders if isinstance(holders, list) else [])
        if isinstance(h, list) and len(h) == 3 and isinstance(h[0], int) and isinstance(h[2], str)
    ]
    good_modes = {
        k: v for k, v in (modes if isinstance(modes, dict) else {}).items()
        if isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 0o7777
    }
    if not isinstance(raw, dict) or len(good_holders) != len(holders or []) or len(good_modes) != len(modes or {}):
        warn_always(f"{path} was damaged; only its well-formed entries are used")
    return {"holders": good_holders, "modes": good_modes}


def _restore(modes: dict[str, int]) -> None:
    for path, mode in reversed(list(modes.items())):
        try:
            os.chmod(path, mode, follow_symlinks=False)
        except (OSError, NotImplementedError):
            pass


def _restore_all(state: dict) -> None:
    """Give the hidden paths back, after killing what a killed run's children left running
    (a grandchild in a session of its own outlives the grader; it must not read them then)."""
    if state["modes"] and can_isolate():
        reap_orphans(shared_dirs=True)
    _restore(state["modes"])
    state["modes"] = {}


def _drop_dead_holders(state: dict) -> None:
    """Forget runs that died without restoring (SIGKILL, a power cut), killing at once what their
    children left running (not only when the last live run ends); if no run is left, restore."""
    alive = [h for h in state["holders"] if _process_start(h[0]) == h[1]]
    if len(alive) < len(state["holders"]):
        if can_isolate():
            reap_orphans(shared_dirs=True)  # a live run's children are safe: their uids are locked
        if not alive and state["modes"]:
            warn_always(
                f"a grading run was killed while it hid {len(state['modes'])} path(s) from other users; "
                "their permissions are restored now"
            )
            _restore(state["modes"])
            state["modes"] = {}
    state["holders"] = alive


@contextlib.contextmanager
def hidden_by_permissions(hide: list[Path], keep: list[str]):
    """While the block runs, other users may not enter or read the ``hide`` paths.

    The uid-only sandbox (root without namespaces) cannot cover the course with
    empty mounts, so it takes "others" permissions away from every hidden path
    instead, and gives them back afterwards. A hidden directory that holds a path
    the children need (``keep``: the course's .venv, say) stays traversable and
    its other entries are hidden one by one. Yields the paths it hides.

    Grading runs that overlap share one record (under a lock): a path keeps its
    original mode on file while any run still needs it hidden, and the last run
    to finish restores it. A run that was killed is noticed by the next one,
    which restores what it left.
    """
    keep_real = [os.path.realpath(k) for k in keep]
    me = [os.getpid(), _process_start(os.getpid()), os.urandom(8).hex()]
    mine: list[str] = []

    def hide_path(path: str, modes: dict[str, int]) -> None:
        try:
            info = os.lstat(path)
        except OSError:
            return
        if stat.S_ISLNK(info.st_mode):
            return  # the link's target is hidden, or not secret
        real = os.path.realpath(path)
        if real in keep_real:
            return
        if any(k.startswith(real + os.sep) for k in keep_real):  # above a kept path: hide its siblings
            if stat.S_ISDIR(info.st_mode):
                for entry in os.scandir(real):
                    hide_path(entry.path, modes)
            return
        mode = stat.S_IMODE(info.st_mode)
        if real in modes:  # another run hid it: its original mode is on file
            mine.append(real)
        elif mode & 0o007:
            todo.append((real, mode))

    todo: list[tuple[str, int]] = []

    with _locked_state() as (state, save):
        _drop_dead_holders(state)
        state["holders"].append(me)
        try:
            for path in hide:
                hide_path(str(path), state["modes"])
            state["modes"].update(todo)
            save()  # on file before any change: a run killed in between leaves nothing unrecorded
            for real, mode in todo:
                os.chmod(real, mode & ~0o007)
                mine.append(real)
        except BaseException:
            state["holders"].remove(me)
            if not state["holders"]:
                _restore_all(state)
            raise
    try:
        yield mine
    finally:
        with _locked_state() as (state, _):
            state["holders"] = [h for h in state["holders"] if h != me]
            _drop_dead_holders(state)
            if not state["holders"]:
                _restore_all(state)


@contextlib.contextmanager
def command_line_hidden(shown: bytes = b"python\0-m\0autograder\0grade\0"):
    """While the block runs, this process's command line reads ``python -m autograder grade``.

    Without a PID namespace of its own (the uid-only sandbox), a child reads every process's
    ``/proc/<pid>/cmdline``: the grader's seed, its gradebook URL with any password in it, its
    paths. The kernel reads that file from the process's own memory, which is overwritten here
    (through ``/proc/self/mem``, as setproctitle does) and given back afterwards. Yields
    whether it could.
    """
    try:
        fields = Path("/proc/self/stat").read_text().rpartition(")")[2].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (fields 48 and 49)
        mem = open("/proc/self/mem", "r+b", buffering=0)
    except (OSError, ValueError, IndexError):
        yield False
        return
    with mem:
        try:
            mem.seek(start)
            original = mem.read(end - start)
            mem.seek(start)
            mem.write(shown[: end - start].ljust(end - start, b"\0"))
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            mem.seek(start)
            mem.write(original)


def warn_always(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def warn_once(message: str) -> None:
    global _warning_done
    with _warned:
        if not _warning_done:
            _warning_done = True
            print(f"warning: {message}", file=sys.stderr)


UID_ONLY = (
    "this machine does not let the grader give each child a root of its own in new namespaces "
    "({why}), as in a default Docker container: each child still runs under a uid of its own, "
    "with resource limits, and the course, submissions and outputs are hidden from it by file "
    "permissions while grading runs (restored afterwards), but it can reach the network, Unix "
    "sockets and folders that anyone may write to. For the full sandbox, allow namespaces "
    "(e.g. docker run --cap-add SYS_ADMIN --security-opt seccomp=unconfined)."
)

NOT_ENFORCED = (
    "the grading sandbox runs without {what}: student code runs as your user and can read "
    "files your user can read (solutions, other submissions) and reach the network. "
    "Resource limits and time limits still apply. On a shared server, run the grader "
    "as root in a container, or as a separate user."
)


# --------------------------------------------------------------------------
# The template work directory (built once per run)
# --------------------------------------------------------------------------


def child_sys_path() -> list[str]:
    """The standard library and site-packages directories (never the course itself)."""
    keep = {sysconfig.get_path(k) for k in ("stdlib", "platstdlib")}
    keep |= set(site.getsitepackages())
    paths = []
    for p in sys.path:
        real = os.path.realpath(p) if p else ""
        if p and os.path.isdir(p) and (p in keep or real in {os.path.realpath(k) for k in keep} or p.endswith("lib-dynload")):
            if real not in paths:
                paths.append(real)
    return paths


def readable_by_others(path: str) -> bool:
    """Can a uid that owns nothing here list and read ``path`` (every directory above it traversable)?"""
    real = Path(os.path.realpath(path))
    try:
        if not all(os.stat(d).st_mode & 0o001 for d in [*reversed(real.parents), real]):
            return False
        return bool(os.stat(real).st_mode & 0o004)
    except OSError:
        return False


COURSE_PACKAGES = ("autograder", "rnncourse")  # what pyproject.toml installs
_NOT_COPIED = shutil.ignore_patterns(
    "site-packages", "test", "tests", "idlelib", "turtledemo", "ensurepip", "tkinter", *COURSE_PACKAGES
)


def installed_copies(sys_path: list[str]) -> list[Path]:
    """The course's packages as an install put them in the folders children read Python from.

    An editable install leaves only a pointer to the course (hidden with it); ``pip install .``
    copies ``autograder/`` (with the reference and the grader) and ``rnncourse/`` (with ``nn``)
    into site-packages, where a child would find them on its own ``sys.path``. Looked for in
    each folder, in its ``site-packages`` or ``dist-packages``, and in ``*.egg`` folders."""
    found: list[Path] = []
    for folder in sys_path:
        bases = [folder]
        try:
            bases += [
                e.path for e in os.scandir(folder)
                if e.is_dir(follow_symlinks=False) and (e.name in ("site-packages", "dist-packages") or e.name.endswith(".egg"))
            ]
        except OSError:
            pass
        for base in bases:
            for name in COURSE_PACKAGES:
                for path in (os.path.join(base, name), os.path.join(base, name + ".py")):
                    if os.path.lexists(path) and Path(path) not in found:
                        found.append(Path(path))
    return found


def sys_path_for_uid(base: Path) -> list[str]:
    """:func:`child_sys_path`, with copies under ``base`` of what a child's uid cannot read.

    Without namespaces nothing can be bind-mounted, so an interpreter under /root
    (pyenv, say) is copied once per run: the standard library, without its tests.
    """
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)
    usable: list[str] = []
    copied: dict[str, str] = {}
    for i, path in enumerate(child_sys_path()):
        inside = next((o for o in copied if path.startswith(o + os.sep)), None)
        if inside is not None:
            usable.append(copied[inside] + path[len(inside) :])
        elif readable_by_others(path):
            usable.append(path)
        else:
            target = base / f"sys{i}"
            shutil.copytree(path, target, symlinks=True, ignore=_NOT_COPIED)
            for q in [target, *target.rglob("*")]:
                if not q.is_symlink():
                    q.chmod(0o755 if q.is_dir() else (q.stat().st_mode | 0o444) & 0o755)
            copied[path] = str(target)
            usable.append(str(target))
    return usable


def build_template(target: Path, course: Path = COURSE) -> Path:
    """The files every child gets: its script, the public suites and the course library.

    Not copied: ``autograder.reference``, ``autograder.grading``, ``rnncourse/nn``
    (solutions of later lessons), ``data/fixtures``.
    """
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(CHILD_SCRIPT, target / "child.py")
    pkg = target / "autograder"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""Public parts of the course\'s autograder, as the grader child sees them."""\n')
    for sub in ("suites", "checks"):
        shutil.copytree(PACKAGE / sub, pkg / sub, ignore=ignore)
    rnn = course / "rnncourse"
    if (rnn / "__init__.py").exists():
        shutil.copytree(rnn, target / "rnncourse", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "nn"))
    data = course / "data"
    if data.is_dir():
        shutil.copytree(data, target / "data", ignore=shutil.ignore_patterns("fixtures"))
    for name in ("root", "scratch", "sys"):
        (target / name).mkdir()
    _matplotlib_cache(target / "mplcache")
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


def _matplotlib_cache(target: Path) -> None:
    """Build matplotlib's font cache once, so that no child spends a second on it."""
    target.mkdir()
    env = {**_base_env(), "MPLCONFIGDIR": str(target)}
    try:
        subprocess.run(
            [sys.executable, "-c", "import matplotlib.font_manager"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        pass


def _base_env() -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "PYTHONIOENCODING": "utf-8",
    }
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
        env[var] = "1"
    return env


# --------------------------------------------------------------------------
# One child
# --------------------------------------------------------------------------


SHARED_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/dev/mqueue")
_IPC = {"shm": "shmid", "sem": "semid", "msg": "msqid"}


def remove_leftovers(uid: int, extra: tuple | list = ()) -> list[str]:
    """Remove what ``uid`` left where every user may write: files, System V IPC objects.

    The uid-only sandbox has no private /tmp or IPC namespace, so a child could
    leave a file or a shared memory segment for a later child (another student's)
    to read, or to fill the machine's memory with. ``extra``: more paths of the
    uid's to delete (its scratch folder). Returns what it removed.
    """
    removed: list[str] = []
    for kind, id_column in _IPC.items():
        try:
            header, *rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        except (OSError, ValueError):
            continue
        columns = header.split()
        for row in rows:
            fields = dict(zip(columns, row.split()))
            if str(uid) in (fields.get("uid"), fields.get("cuid")) and fields.get(id_column, "").isdigit():
                if _ipc_remove(kind, int(fields[id_column])):
                    removed.append(f"{kind} {fields[id_column]}")
    roots = {os.path.realpath(d) for d in (*SHARED_DIRS, tempfile.gettempdir()) if os.path.isdir(d)}
    owned: list[str] = []
    for root in sorted(roots):
        _find_owned(root, uid, owned, depth=0)
    owned += [str(p) for p in extra if os.path.lexists(p)]
    if owned:
        _delete_as(uid, owned)
        removed += [p for p in owned if not os.path.lexists(p)]
        left: list[str] = []
        for root in sorted(roots):
            _find_owned(root, uid, left, depth=0)
        if left:
            warn_always(f"{len(left)} file(s) of sandbox uid {uid} could not be removed, e.g. {left[0]!r}")
    return removed


def _delete_as(uid: int, paths: list[str]) -> None:
    """``rm -rf`` the paths as ``uid`` itself, never as root.

    Root deleting by path could be sent elsewhere: another sandbox uid may swap a
    folder above the path for a link (to a folder of root's) between the check
    and the deletion. As the uid, the kernel allows only what the uid could
    delete anyway. ``rm`` (not shutil.rmtree) copes with trees of any depth;
    ``chmod`` first gives back the write permission the uid may have taken away
    from its own folders.
    """
    # The paths go through stdin to xargs, which splits them into command lines of legal length:
    # ten thousand long names must not make the whole deletion fail ("Argument list too long").
    script = 'chmod -R u+rwX -- "$@" 2>/dev/null; exec rm -rf --one-file-system -- "$@"'
    listing = b"".join(os.fsencode(p) + b"\0" for p in paths)
    try:
        subprocess.run(
            ["xargs", "-0", "-r", "/bin/sh", "-c", script, "rm"],
            input=listing, user=uid, group=uid, extra_groups=[], env=_base_env(), cwd="/",
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        warn_always(f"removing what sandbox uid {uid} left failed: {exc}")


def processes_by_uid() -> dict[int, list[int]]:
    """The running processes of each sandbox uid (from /proc). Zombies are dead: a child's close
    stops killing as soon as only they are left (:func:`kill_uid`), and gives its uid back; another
    run must not take them for a killed run's orphans."""
    found: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                uid = os.stat(f"/proc/{name}").st_uid
            except OSError:
                continue
            if SANDBOX_UID_BASE <= uid < SANDBOX_UID_BASE + SANDBOX_UIDS and _process_state(int(name)) not in (None, "Z", "X"):
                found.setdefault(uid, []).append(int(name))
    return found


KEYCTL_CLEAR, KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING = 7, -4, -5


def kill_uid(uid: int) -> None:
    """Kill every process of ``uid`` and empty its keyrings: from a fork that becomes the uid,
    stopping them all first so that none forks while the others are killed.

    Children may not use keys at all (``child.deny_key_syscalls``); emptying the uid's own
    keyrings, which outlive its processes, also removes what a grader without that filter (an
    older version, an architecture the filter does not know) let a child leave there."""
    numbers = child.key_syscalls()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in a forked copy of the parent
        try:
            os.setuid(uid)
            if numbers is not None:
                for ring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING):
                    child._libc.syscall(numbers[2], KEYCTL_CLEAR, ring)
            for _ in range(50):
                os.kill(-1, signal.SIGSTOP)
                os.kill(-1, signal.SIGKILL)
                if not _running_as(uid):  # some kernels never answer ESRCH, which would cost 0.5 s
                    break
                time.sleep(0.01)
        finally:
            os._exit(0)  # ProcessLookupError above: none left
    os.waitpid(pid, 0)


def _running_as(uid: int) -> bool:
    """Does a process of ``uid`` other than this one still run (a zombie is dead)?"""
    me = str(os.getpid())
    for name in os.listdir("/proc"):
        if name.isdigit() and name != me:
            try:
                if os.stat(f"/proc/{name}").st_uid == uid and _process_state(int(name)) not in (None, "Z", "X"):
                    return True
            except OSError:
                continue
    return False


def _process_state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return None


def reap_orphans(shared_dirs: bool) -> list[int]:
    """Kill what a grading run that was killed (SIGKILL, a power cut) left running under sandbox
    uids no live run holds, and (``shared_dirs``: the uid-only sandbox) remove what they left in
    shared folders. A live run's children are never touched: their uids are locked. Returns the uids."""
    import fcntl

    locks = _uid_lock_dir()
    reaped = []
    for uid in sorted(processes_by_uid()):
        fd = os.open(locks / str(uid), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a live run's child
        try:
            kill_uid(uid)
            if shared_dirs:
                remove_leftovers(uid)
            reaped.append(uid)
        finally:
            os.close(fd)
    return reaped


_RUN_FOLDER = re.compile(r"rnngrade-(?:template-)?(\d+)-.+")


def remove_stale_folders() -> list[str]:
    """Remove the work and template folders of grading runs that were killed (SIGKILL leaves its
    folders: a template holds ~100 MB of copied standard library in the uid-only sandbox).

    A run's folders carry its pid; those of a pid that no longer runs are removed, with ``rm``
    (a student's scratch folder may be deeper than shutil.rmtree copes with). Call it after
    :func:`reap_orphans`, so that nothing of the killed run still writes into them.
    """
    removed = []
    base = Path(tempfile.gettempdir())
    for entry in os.scandir(base):
        match = _RUN_FOLDER.fullmatch(entry.name)
        if match and entry.is_dir(follow_symlinks=False) and not os.path.exists(f"/proc/{match.group(1)}"):
            subprocess.run(["rm", "-rf", "--one-file-system", "--", entry.path], check=False)
            removed.append(entry.path)
    return removed


def _ipc_remove(kind: str, ident: int) -> bool:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    IPC_RMID = 0
    if kind == "shm":
        return libc.shmctl(ident, IPC_RMID, None) == 0
    if kind == "sem":
        return libc.semctl(ident, 0, IPC_RMID) == 0
    return libc.msgctl(ident, IPC_RMID, None) == 0


def _find_owned(folder: str, uid: int, owned: list[str], depth: int) -> None:
    """Entries of ``folder`` owned by ``uid``; below, only folders anyone may write to (the only
    other places the uid could have created something). Only looks: deletion is :func:`_delete_as`."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if info.st_uid == uid:
            owned.append(entry.path)
        elif stat.S_ISDIR(info.st_mode) and info.st_mode & 0o002 and depth < 4:
            _find_owned(entry.path, uid, owned, depth + 1)


UID_LOCKS: Path | None = None  # None: <_state_dir()>/rnngrade-uids


def _uid_lock_dir() -> Path:
    """One folder of uid locks for the whole machine, whatever TMPDIR a run has: uids and
    processes are machine-wide, and a run must never take another run's child for an orphan."""
    return _private_folder(UID_LOCKS or _state_dir() / "rnngrade-uids")


def _claim_uid(slot: int) -> tuple[int, int]:
    """A uid no other child on this machine uses now (an flock per uid, across grader processes).

    Killing "every process of the uid" after a child must never hit another
    run's child, so two graders running at once (or test workers) never share one.
    """
    import fcntl

    locks = _uid_lock_dir()
    for k in range(SANDBOX_UIDS):
        uid = SANDBOX_UID_BASE + (slot + k) % SANDBOX_UIDS
        fd = os.open(locks / str(uid), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return uid, fd
    raise RuntimeError("no free sandbox uid: more than 256 grading children at once")


_live: set = set()  # children started and not yet closed, for stop_all
_live_lock = threading.Lock()
_stopping = threading.Event()


def stop_all() -> None:
    """The run is stopping (a signal, Ctrl-C): kill every child, and start no new one.

    Called from the main thread while worker threads may still be grading; each
    of them then gets a Fault from its child and finishes quickly.
    """
    _stopping.set()
    with _live_lock:
        children = list(_live)
    for running in children:
        running.kill()


def allow_children() -> None:
    """A new run may start children again (after :func:`stop_all`)."""
    _stopping.clear()


class Child:
    """A running grading child. Use :meth:`start`, :meth:`request`, :meth:`close`."""

    def __init__(
        self,
        template: Path,
        limits: Limits,
        hide: list[Path],
        slot: int,
        isolate: bool,
        namespaces: bool | None = None,
        sys_path: list[str] | None = None,
    ):
        # isolate: a uid of its own (root only); namespaces: also mount/network/IPC namespaces.
        self.limits, self.slot, self.isolate = limits, slot, isolate
        self.namespaces = isolate if namespaces is None else (isolate and namespaces)
        self.sys_path = sys_path  # where the child finds Python (copies in the uid-only sandbox)
        self.uid, self._uid_lock = (_claim_uid(slot) if isolate else (None, None))
        if self.uid is not None and self.uid in processes_by_uid():  # left by a run that was killed
            kill_uid(self.uid)
        if self.uid is not None and not self.namespaces:  # files its uid left in shared folders before
            remove_leftovers(self.uid)
        self.work = Path(tempfile.mkdtemp(prefix=f"rnngrade-{os.getpid()}-"))  # the pid: see remove_stale_folders
        try:
            shutil.copytree(template, self.work, dirs_exist_ok=True, symlinks=False)
        except BaseException:  # the template went away (the run is stopping): leave nothing behind
            shutil.rmtree(self.work, ignore_errors=True)
            if self._uid_lock is not None:
                os.close(self._uid_lock)
            raise
        self.work.chmod(0o755)
        if self.uid is not None and not self.namespaces:  # no tmpfs: its scratch dir is its own
            scratch = self.work / "scratch"
            scratch.mkdir(exist_ok=True)
            os.chown(scratch, self.uid, self.uid)
            scratch.chmod(0o700)
        self.hide = [str(p) for p in hide]
        self.output = bytearray()
        self.output_bytes = 0
        self.buf = b""
        self.proc: subprocess.Popen | None = None
        self.sandbox: dict = {}
        self.memory_group: MemoryGroup | None = None
        self.cpu_group: CpuGroup | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> dict | Fault:
        with _live_lock:
            if _stopping.is_set():
                return Fault("died", "the grading run is stopping")
            _live.add(self)
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()
        out_r, out_w = os.pipe()
        groups: list[Group] = []
        if self.uid is not None:  # root: one memory limit and one CPU for the child and all it starts
            name = f"rnngrade-{self.uid}"
            self.memory_group = MemoryGroup.create(name, self.limits.memory_mb)
            self.cpu_group = CpuGroup.create(name, self.limits.cpus)
            groups = [g for g in (self.memory_group, self.cpu_group) if g is not None]
        sys_path = self.sys_path or child_sys_path()
        cfg = {  # sent as the first line: a file would be there for student code to read
            "isolate": self.namespaces,
            "uid": self.uid,
            "cgroups": [g.procs for g in groups],
            "sys_path": sys_path,
            "sys_path_orig": child_sys_path(),
            "hide": [*self.hide, *map(str, installed_copies(sys_path))],
            "cpu_seconds": self.limits.cpu_seconds,
            "memory_mb": self.limits.memory_mb,
            "file_mb": self.limits.file_mb,
            "tmp_mb": self.limits.tmp_mb,
            "open_files": self.limits.open_files,
            "processes": self.limits.processes,
        }
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", str(self.work / "child.py"), str(cmd_r), str(res_w)],
                cwd=self.work,
                env=_base_env(),
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=out_w,
                pass_fds=(cmd_r, res_w),
                start_new_session=True,
                close_fds=True,
            )
        finally:
            for fd in (cmd_r, res_w, out_w):
                os.close(fd)
        try:
            os.write(cmd_w, (json.dumps(cfg) + "\n").encode())  # small: the pipe takes it at once
        except OSError:
            pass  # it died at once: the hello below says so
        self.cmd_w, self.res_r, self.out_r = cmd_w, res_r, out_r
        if _stopping.is_set():  # stop_all ran while this child was being started: it missed it
            self.kill()
            return Fault("died", "the grading run is stopping")
        os.set_blocking(res_r, False)
        os.set_blocking(out_r, False)
        hello = self._receive(self.limits.startup_timeout)
        if isinstance(hello, dict):
            self.sandbox = hello.get("sandbox", {})
            joined = self.sandbox.get("cgroups", [])
            for attr in ("memory_group", "cpu_group"):
                group = getattr(self, attr)
                if group is not None and group.procs not in joined:
                    group.remove()
                    setattr(self, attr, None)
        return hello

    def kill(self) -> None:
        """Kill the child and everything it started (its pipes and files stay until :meth:`close`)."""
        proc = self.proc
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._kill_uid()

    def close(self) -> None:
        """Kill the child, everything it started, and remove its work directory.

        Whatever a cleanup step meets, the uid is released at the end (a student's
        deep folder tree must not keep the uid, and the next student, stuck).
        """
        try:
            self._close()
        finally:
            if self._uid_lock is not None:
                os.close(self._uid_lock)  # releases the uid for the next child
                self._uid_lock = None

    def _close(self) -> None:
        with _live_lock:
            _live.discard(self)
        if self.proc is not None:
            self.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for fd in (self.cmd_w, self.res_r, self.out_r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.proc = None
        for attr in ("memory_group", "cpu_group"):
            group = getattr(self, attr)
            if group is not None:
                group.remove()
                setattr(self, attr, None)
        if self.uid is not None and not self.namespaces:  # no private IPC or tmpfs: clean up after it
            remove_leftovers(self.uid, [self.work / "scratch"])
        try:
            shutil.rmtree(self.work, ignore_errors=True)
        except RecursionError:  # a tree deeper than Python's recursion: rm copes
            subprocess.run(["rm", "-rf", "--one-file-system", "--", str(self.work)], check=False)

    def _kill_uid(self) -> None:
        """Processes that left the process group (setsid) die with their uid."""
        if self.uid is not None:
            kill_uid(self.uid)

    # -- requests ----------------------------------------------------------

    def request(self, msg: dict, timeout: float) -> dict | Fault:
        data = (json.dumps(msg) + "\n").encode()
        try:
            os.write(self.cmd_w, data) if len(data) < 65536 else self._write_all(data, timeout)
        except (BrokenPipeError, OSError):
            return self._died()
        return self._receive(timeout)

    def _write_all(self, data: bytes, timeout: float) -> None:
        os.set_blocking(self.cmd_w, False)
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self.cmd_w, selectors.EVENT_WRITE)
            while data and time.monotonic() < deadline:
                if sel.select(max(0.0, deadline - time.monotonic())):
                    data = data[os.write(self.cmd_w, data) :]
                self._drain_output()
        if data:
            raise OSError("the child stopped reading")

    def _receive(self, timeout: float) -> dict | Fault:
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self.res_r, selectors.EVENT_READ)
            sel.register(self.out_r, selectors.EVENT_READ)
            while b"\n" not in self.buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    return Fault("timeout", f"no answer within {timeout:g} s")
                for key, _ in sel.select(left):
                    if key.fd == self.out_r:
                        self._drain_output()
                        continue
                    try:
                        chunk = os.read(self.res_r, 1 << 20)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        return self._died()
                    self.buf += chunk
                    if len(self.buf) > MAX_MESSAGE:
                        return Fault("protocol", "the answer was too large")
        line, self.buf = self.buf.split(b"\n", 1)
        self._drain_output()
        try:
            reply = json.loads(line)
        except (ValueError, RecursionError):
            return Fault("protocol", "the answer was not valid JSON (did the code write to the grader's pipe?)")
        if not isinstance(reply, dict) or "status" not in reply:
            return Fault("protocol", "the answer was garbled")
        return reply

    def _died(self) -> Fault:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return Fault("died", "the process closed its channel")
        self._drain_output()
        if code < 0:
            name = signal.Signals(-code).name
            why = {"SIGXCPU": " (CPU time limit)", "SIGXFSZ": " (file size limit)", "SIGSEGV": " (segmentation fault)"}.get(name, "")
            if name == "SIGKILL" and self.memory_group is not None and self.memory_group.hit():
                why = f" (its processes together used more than the {self.limits.memory_mb} MiB memory limit)"
            return Fault("died", f"the process was killed by {name}{why}")
        return Fault("died", f"the process exited with code {code}")

    def _drain_output(self) -> None:
        cap = self.limits.output_kb * 1024
        while True:
            try:
                chunk = os.read(self.out_r, 1 << 20)
            except (BlockingIOError, OSError):
                return
            if not chunk:
                return
            self.output_bytes += len(chunk)
            if len(self.output) < cap:
                self.output += chunk[: cap - len(self.output)]

    def output_text(self) -> str:
        text = self.output.decode("utf-8", "replace")
        if self.output_bytes > len(self.output):
            text += f"\n[... {self.output_bytes - len(self.output)} more bytes of output not kept]"
        return text
