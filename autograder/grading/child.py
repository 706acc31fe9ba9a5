"""The grading child: runs one submission's cells and calls its functions.

This file is copied into an empty working directory and started as a script
(``python -I -S -B child.py FD_IN FD_OUT``); its configuration is the first line
the parent sends. It imports nothing of the course but its own copies of
``autograder.suites`` (public) and ``rnncourse``.

1. **Groups**: it joins the cgroups the parent made for it (one memory limit and
   one CPU for it and everything it starts), before it starts anything.
2. **Sandbox** (still root, if the parent is): new mount, network, IPC, UTS and
   PID namespaces; it forks, and the child, PID 1 of the new PID namespace, gets a
   root of its own (:func:`isolate`): the system's programs and libraries and the
   Python folders read-only, its work folder read-only at ``/tmp/work`` with a small
   writable ``scratch``, a small ``/tmp``, a few devices and a ``/proc`` that shows
   only its own processes. Nothing else of the host: no home, no ``/run`` (no
   daemon's socket), no folder anyone may write to, no other checkout. The first
   process waits and ends as the second ended, so the parent sees one process.
3. **Limits**: CPU, address space, file size, open files, processes.
4. **Drop privileges** to the unprivileged uid the parent chose; a fresh session
   keyring, and the kernel's key system calls denied (keys outlive processes and
   are not namespaced: one student could leave an answer there for the next).
5. **Serve** the parent over two pipes, one JSON message per line:
   ``{"op": "cell", "source": ...}`` runs a cell in the notebook's namespace;
   ``{"op": "run", "name": ..., "cases": [...]}`` calls the learner's function
   on the hidden inputs and sends back the outputs as plain arrays.

Student output goes to stdout/stderr, which the parent drains and caps; the
protocol never uses them.
"""

import ctypes
import json
import os
import resource
import select
import signal
import sys
import traceback
import types

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS = 1, 22, 38
# The host's programs and libraries, bound read-only (or, where they are links, as links).
SYSTEM = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
DEVICES = ("null", "zero", "full", "random", "urandom")
BIG = 2_000_000  # arrays with more entries are described, not sent

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_life = []  # the read end of a pipe the first process holds open while it lives


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src, target, fstype, flags, data=None) -> None:
    enc = [None if v is None else str(v).encode() for v in (src, target, fstype, data)]
    _check(_libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]), f"mount {target}")


# --------------------------------------------------------------------------
# 1-4. Groups, sandbox, limits, privileges
# --------------------------------------------------------------------------


def join_groups(cfg: dict) -> list[str]:
    """Join the cgroups the parent made (their ``cgroup.procs`` files) before starting anything:
    every process this one starts is then in them too. Returns those it joined."""
    joined = []
    for procs in cfg.get("cgroups", []):
        try:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
            joined.append(procs)
        except OSError:
            pass
    return joined


def enter_namespaces(keep: tuple = ()) -> None:
    """New namespaces; then fork, and return in the child, PID 1 of the new PID namespace.

    This process (root, outside the new PID namespace) waits for it and ends as it ended, with
    its exit code or its signal: the parent sees one process. It dies with the parent; the child
    dies with it (see :func:`drop_privileges`), and with the child every process it started.
    ``keep``: file descriptors only the child keeps (the protocol's pipes).
    """
    parent = os.getppid()
    _check(_libc.unshare(NAMESPACES), "unshare")
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
    life_r, life_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(life_w)
        _life.append(life_r)
        return
    os.close(life_r)
    for fd in keep:
        os.close(fd)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def isolate(cfg: dict) -> dict:
    """Give this process (PID 1 of fresh namespaces, still root) a root of its own; returns the
    paths the child uses from now on. Without namespaces, the host's paths as they are."""
    work = os.getcwd()
    paths = {"work": work, "sys_path": list(cfg["sys_path"]), "scratch": os.path.join(work, "scratch")}
    if not cfg["isolate"]:
        return paths
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing below propagates back to the host
    root = os.path.join(work, "root")  # the new root's mount point (the template has it)
    os.makedirs(root, exist_ok=True)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=755")
    bound: list[tuple[str, str]] = []  # (host path, path in the new root)

    def bind(host: str, inside: str) -> None:
        target = root + inside
        if os.path.isdir(host):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "w").close()
        _mount(host, target, None, MS_BIND)  # one tree, not the mounts below it
        _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        bound.append((host, inside))

    for name in SYSTEM:
        host = "/" + name
        if os.path.islink(host):  # /bin -> usr/bin where /usr is merged
            os.symlink(os.readlink(host), os.path.join(root, name))
        elif os.path.isdir(host):
            bind(host, host)
    os.mkdir(os.path.join(root, "etc"))
    if os.path.isfile("/etc/ld.so.cache"):  # where the dynamic linker finds libraries
        bind("/etc/ld.so.cache", "/etc/ld.so.cache")
    # A small /tmp; in it the work folder, read-only, with a small scratch folder to write in,
    # and the Python folders the child needs (they may live under a hidden or unreadable path).
    size = f"size={cfg['tmp_mb']}m,mode=1777"
    os.mkdir(os.path.join(root, "tmp"))
    _mount("tmpfs", os.path.join(root, "tmp"), "tmpfs", MS_NOSUID | MS_NODEV, size)
    for i in range(len(cfg["sys_path"])):
        os.makedirs(os.path.join(work, "sys", str(i)), exist_ok=True)
    bind(work, "/tmp/work")
    _mount("tmpfs", root + "/tmp/work/scratch", "tmpfs", MS_NOSUID | MS_NODEV, size)
    for i, path in enumerate(cfg["sys_path"]):
        bind(path, f"/tmp/work/sys/{i}")
    # A site-packages made of links (a venv that links another's packages, as the Gradescope
    # test does; Nix): what they lead to, read-only at the same place, unless it must stay hidden.
    hidden = [h.rstrip("/") for h in cfg["hide"]]
    for target in _link_targets(cfg["sys_path"], hidden):
        if not os.path.lexists(root + target):
            try:
                bind(target, target)
            except OSError:  # below something bound read-only: the link stays broken
                pass
    # What must stay hidden but lies inside what was bound: the course installed in a
    # site-packages the child reads, a course or gradebook under /usr.
    for path in cfg["hide"]:
        for host, inside in bound:
            if path == host or path.startswith(host.rstrip("/") + "/"):
                target = root + inside + path[len(host):]
                if os.path.isdir(target) and not os.path.islink(target):
                    _mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555")
                elif os.path.isfile(target):
                    _mount("/dev/null", target, None, MS_BIND)
    dev = os.path.join(root, "dev")
    os.mkdir(dev)
    _mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=755")
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            open(os.path.join(dev, name), "w").close()
            _mount("/dev/" + name, os.path.join(dev, name), None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, os.path.join(dev, name))
    _mount(None, dev, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC)
    os.mkdir(os.path.join(root, "proc"))  # of this PID namespace: the child's processes only
    _mount("proc", os.path.join(root, "proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(root)
    _check(_libc.pivot_root(b".", b"."), "pivot_root")  # the old root now lies on top of the new one:
    _check(_libc.umount2(b".", MNT_DETACH), "umount the host's root")  # gone, with every host mount
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir("/tmp/work")
    return {"work": "/tmp/work", "sys_path": [inside for host, inside in bound if inside.startswith("/tmp/work/sys/")], "scratch": "/tmp/work/scratch"}


def _link_targets(folders: list, hidden: list) -> list:
    """Where the absolute links at the top of ``folders`` lead (their real paths), leaving out
    links and targets in ``hidden``. (A relative link that leaves its folder is not followed:
    inside the child's root it would lead somewhere else.)"""

    def inside(path, tops):
        return any(path == t or path.startswith(t + "/") for t in tops)

    found: list[str] = []
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not entry.is_symlink() or inside(entry.path, hidden) or not os.readlink(entry.path).startswith("/"):
                continue
            real = os.path.realpath(entry.path)
            if os.path.exists(real) and not inside(real, hidden) and real not in found:
                found.append(real)
    return found


def limit(cfg: dict) -> None:
    mib = 1024 * 1024
    limits = {
        resource.RLIMIT_CPU: cfg["cpu_seconds"],
        resource.RLIMIT_AS: cfg["memory_mb"] * mib,
        resource.RLIMIT_FSIZE: cfg["file_mb"] * mib,
        resource.RLIMIT_NOFILE: cfg["open_files"],
        resource.RLIMIT_CORE: 0,
    }
    if cfg["uid"] is not None:  # only meaningful for a uid of its own
        limits[resource.RLIMIT_NPROC] = cfg["processes"]
        # No POSIX message queues: without an IPC namespace one would outlive the child,
        # and without /dev/mqueue mounted the grader could not find it to remove it.
        limits[resource.RLIMIT_MSGQUEUE] = 0
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))


# The kernel's key system calls (add_key, request_key, keyctl) for each architecture (AUDIT_ARCH_*)
# a process on this machine may call them as: a 64-bit kernel also runs 32-bit code.
KEY_SYSCALLS = {
    0xC000003E: (248, 249, 250),  # x86_64 (x32 uses the same numbers with bit 30 set)
    0x40000003: (286, 287, 288),  # i386
    0xC00000B7: (217, 218, 219),  # aarch64
    0x40000028: (309, 310, 311),  # arm
    0xC00000F3: (217, 218, 219),  # riscv64
}
NATIVE_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7, "riscv64": 0xC00000F3}
X32_BIT = 0x40000000
KEYCTL_JOIN_SESSION_KEYRING = 1


def key_syscalls() -> tuple | None:
    """(add_key, request_key, keyctl) of this machine's own architecture, or None if unknown."""
    arch = NATIVE_ARCH.get(os.uname().machine)
    return KEY_SYSCALLS[arch] if arch else None


def fresh_session_keyring() -> bool:
    """Leave the session keyring inherited from the grader (an SSH login's, a container's: the
    instructor's keys) for a new, empty one."""
    numbers = key_syscalls()
    return numbers is not None and _libc.syscall(numbers[2], KEYCTL_JOIN_SESSION_KEYRING, None) >= 0


def deny_key_syscalls() -> bool:
    """A seccomp filter that makes add_key, request_key and keyctl fail with EPERM, for this
    process and all it starts (as Docker's default profile does): keys are not namespaced and
    outlive every process of a uid, so one child could leave an answer for the next, or for a
    child graded at the same time. Needs PR_SET_NO_NEW_PRIVS. False if this kernel refused."""
    if key_syscalls() is None:
        return False
    LD_ABS, AND_K, JEQ_K, RET_K = 0x20, 0x54, 0x15, 0x06
    ALLOW, DENY = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ERRNO | EPERM
    program: list[list[int]] = [[LD_ABS, 0, 0, 4]]  # seccomp_data.arch
    jumps = []  # instructions whose "true" branch goes to DENY
    for arch, numbers in KEY_SYSCALLS.items():
        block = [[LD_ABS, 0, 0, 0]]  # seccomp_data.nr
        if arch == 0xC000003E:
            block.append([AND_K, 0, 0, 0xFFFFFFFF ^ X32_BIT])
        for number in numbers:
            jumps.append(len(program) + 1 + len(block))
            block.append([JEQ_K, 0, 0, number])
        block.append([RET_K, 0, 0, ALLOW])
        program.append([JEQ_K, 0, len(block), arch])
        program.extend(block)
    program.append([RET_K, 0, 0, ALLOW])
    deny = len(program)
    program.append([RET_K, 0, 0, DENY])
    for i in jumps:
        program[i][1] = deny - i - 1

    class Filter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]

    filters = (Filter * len(program))(*[Filter(*op) for op in program])
    prog = Program(len(program), filters)
    return _libc.prctl(PR_SET_SECCOMP, 2, ctypes.byref(prog), 0, 0) == 0


def drop_privileges(cfg: dict) -> dict:
    """The uid the parent chose (root modes), then the keyrings; returns what was granted."""
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if cfg["uid"] is not None:
        parent = os.getppid()
        os.setgroups([])
        os.setgid(cfg["uid"])
        os.setuid(cfg["uid"])
        # Die with the grader, or with the first process of the sandbox (see enter_namespaces),
        # even when it is killed outright (set after setuid, which clears it).
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if _life:  # the first process holds the pipe's other end open while it lives
            if select.select(_life, [], [], 0)[0]:
                os._exit(1)
            os.close(_life.pop())
        elif os.getppid() != parent:  # it died before the line above
            os._exit(1)
    return {"session_keyring": fresh_session_keyring(), "key_syscalls_denied": deny_key_syscalls()}


def probe(work: str, sys_path: list) -> None:
    """``child.py --probe WORK SYS_PATH_JSON``: build the sandbox in an empty folder with the Python
    folders children get, import NumPy inside it, and exit 0, or print why not and exit 1. The parent
    runs it once per run to choose between this sandbox and the uid-only one: a root in which NumPy
    cannot be found (a site-packages made of relative links that leave it, say) would give every
    student 0, so it counts as a root that cannot be built."""
    try:
        enter_namespaces()
        os.chdir(work)
        os.makedirs("scratch", exist_ok=True)
        paths = isolate({"isolate": True, "sys_path": sys_path, "hide": [], "tmp_mb": 1})
    except OSError as exc:
        print(exc, file=sys.stderr)
        os._exit(1)
    sys.path[:] = [paths["work"], *paths["sys_path"]]
    remap_packages(sys_path, paths["sys_path"])
    try:
        import numpy  # noqa: F401
    except Exception as exc:  # noqa: BLE001 (any failure means the same: children could not run)
        print(f"NumPy cannot be imported in the child's own root ({type(exc).__name__}: {exc})", file=sys.stderr)
        os._exit(1)
    os._exit(0)


# --------------------------------------------------------------------------
# 4. Serving the parent
# --------------------------------------------------------------------------


class Channel:
    def __init__(self, fd_in: int, fd_out: int):
        self.fd_in, self.fd_out, self.buf = fd_in, fd_out, b""

    def receive(self) -> dict | None:
        while b"\n" not in self.buf:
            chunk = os.read(self.fd_in, 1 << 20)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def send(self, msg: dict) -> None:
        data = (json.dumps(msg) + "\n").encode()
        while data:
            data = data[os.write(self.fd_out, data) :]


class Shell:
    """Just enough of ``get_ipython()`` for magics in cells not to crash: they do nothing."""

    def __init__(self, ns: dict):
        self.user_ns = ns
        self.input_transformers_cleanup, self.input_transformers_post, self.ast_transformers = [], [], []

    def run_line_magic(self, name, line, *args, **kwargs):
        return None

    def run_cell_magic(self, name, line, cell, *args, **kwargs):
        if name in ("time", "timeit", "capture", "prun"):
            exec(compile(cell, "<cell>", "exec"), self.user_ns)

    def system(self, *args, **kwargs):
        return None

    getoutput = system

    def set_custom_exc(self, *args, **kwargs):
        return None

    def __getattr__(self, name):  # anything else is a no-op
        return lambda *a, **k: None


def ipython_transform(source: str) -> str:
    """IPython's own input transformations (magics, !shell, ?help), when a cell needs them."""
    if not any(line.lstrip()[:1] in ("%", "!") or line.rstrip().endswith("?") for line in source.splitlines()):
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def short_traceback(exc: BaseException, keep: int = 3) -> str:
    """The last ``keep`` frames of the learner's code and the error line, as the notebook's check
    shows them: without this file's frames, the course's suites (the calls that wrap the
    learner's function) and NumPy's internals."""
    skip = [os.path.realpath(__file__)]
    for name in ("autograder", "numpy"):
        path = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(path, str):
            skip.append(os.path.dirname(os.path.realpath(path)) + os.sep)
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__)
        if not os.path.realpath(f.filename).startswith(tuple(skip))
    ]
    lines = traceback.format_list(frames[-keep:]) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()[-4000:]


def error_reply(exc: BaseException, **extra) -> dict:
    status = "memory" if isinstance(exc, MemoryError) else "error"
    try:
        message = str(exc)[:2000]  # to name a catalogued mistake that raises this very error
    except BaseException:  # noqa: BLE001 — a learner's exception class may fail even at this
        message = ""
    return {"status": status, "error": type(exc).__name__, "message": message, "traceback": short_traceback(exc), **extra}


def run_cell(ns: dict, msg: dict) -> dict:
    try:
        code = compile(ipython_transform(msg["source"]), f"<cell {msg['label']}>", "exec")
        exec(code, ns)
    except BaseException as exc:  # noqa: BLE001 — a learner's cell may raise anything, even SystemExit
        return error_reply(exc)
    return {"status": "ok"}


def describe(value, np, encode) -> dict:
    """A returned value as plain data: encoded arrays and integers, else just its type."""
    if isinstance(value, np.ndarray):
        value = np.asarray(value)
        if value.size > BIG:
            return {"big": True, "shape": list(value.shape), "dtype": str(value.dtype)}
    try:
        return encode(value)
    except (TypeError, ValueError):
        if isinstance(value, np.ndarray):  # complex, strings, objects, ...: its shape and dtype say why it is wrong
            dtype = f"V{value.dtype.itemsize}" if value.dtype.kind == "V" else str(value.dtype)  # a structured one by its size
            return {"odd": True, "shape": list(value.shape), "dtype": dtype}
        kind = {"type": type(value).__name__}
        try:  # a list of arrays: their shapes say how to join them
            from autograder.suites.core import listed_shapes

            shapes = listed_shapes(value)
            if shapes is not None:
                kind["shapes"] = [list(shape) for shape in shapes]
        except Exception:  # noqa: BLE001 — learner objects: a courtesy, never a crash of the child
            pass
        return kind


def run_exercise(ns: dict, msg: dict) -> dict:
    import numpy as np

    from autograder.suites import EXERCISES
    from autograder.suites.core import CallProblem, HelperFailed, copy_inputs, decode, encode

    fn = ns.get(msg["name"])
    if not callable(fn):
        return {"status": "missing"}
    helpers = {name: ns.get(name) for name in msg["needs"]}
    for name, helper in helpers.items():
        if not callable(helper):  # its cell was skipped, failed, or defines something else
            return {"status": "helper_missing", "helper": name}
    exercise = EXERCISES[msg["name"]]
    graded = [msg["returns"].index(name) for name in msg["graded"]]
    results = []
    for index, encoded in enumerate(msg["cases"]):
        given = copy_inputs({k: decode(v) for k, v in encoded.items()})
        try:
            raw = exercise.run(fn, given, helpers)
        except NotImplementedError:
            return {"status": "not_attempted", "case": index}
        except HelperFailed as exc:  # the learner's forward pass, run first, crashed
            return {**error_reply(exc.error, case=index), "status": "helper_error", "helper": exc.name}
        except CallProblem as exc:  # judged in the parent like any failing property
            results.append({"problem": {"prop": exc.prop, "message": exc.message[:2000]}})
            continue
        except BaseException as exc:  # noqa: BLE001
            # The cases before this one are judged too: an earlier failure is the thing to fix first.
            return error_reply(exc, case=index, cases=results)
        if len(msg["returns"]) == 1 and isinstance(raw, tuple):  # judged as "should return ... alone"
            result = {"tuple": len(raw), "items": {}}
        elif len(msg["returns"]) == 1:
            result = {"value": describe(raw, np, encode)}
        elif isinstance(raw, (tuple, list)):
            result = {"tuple": len(raw), "items": {str(i): describe(raw[i], np, encode) for i in graded if i < len(raw)}}
            for i in range(min(len(raw), len(msg["returns"]))):  # the cache: only its shape, which can tell a swap
                try:  # (its dtype is never compared: the stand-in the parent builds is float64)
                    if i not in graded and isinstance(raw[i], np.ndarray):
                        shape = [int(n) for n in np.ndarray.view(raw[i], np.ndarray).shape]
                        result["items"][str(i)] = {"big": True, "shape": shape, "dtype": "float64"}
                except Exception:  # noqa: BLE001 — learner objects: a courtesy, never a crash of the child
                    pass
            if isinstance(raw, list):
                result["list"] = True
        else:
            result = {"value": {"type": type(raw).__name__}}
        after = {k: describe(v, np, encode) for k, v in given.items() if isinstance(v, np.ndarray)}
        results.append({"result": result, "after": after})
    return {"status": "ok", "cases": results}


class Watch:
    """Notices code that changes the course's modules in this process, however it reached them.

    The checks that run here (an input or a cache changed in place, a second call that gives
    the same result) could be fooled by code that replaces their functions; the outputs are
    compared in the parent, so that cannot make a wrong value right, but it is for a human to
    read. Once, every binding of the modules of ``autograder``, ``rnncourse``, NumPy and this
    script is noted, and, a level or two down, what the course's own objects hold (the members
    of its classes, the code and defaults of its functions, the items of its dicts and lists,
    the attributes of its instances: an Exercise's ``call``). After each request
    :meth:`changes` looks each one up again, by identity (about a millisecond): one that
    changed or went is reported to the parent, once. Objects are held by reference, so that no
    replaced object's id can be reused.
    """

    WATCHED = ("autograder", "rnncourse")
    _MISSING = object()

    def __init__(self):
        self.probes: list[tuple] = []  # (holder, key, value it held, name for the report)
        self.modules: set[str] = set()
        self.seen: set[int] = set()
        self.scan()

    def scan(self) -> None:
        """Note the bindings of the watched modules not noted yet."""
        self.count = len(sys.modules)
        for name, module in list(sys.modules.items()):
            if name in self.modules or (name.partition(".")[0] not in self.WATCHED and name not in ("numpy", "__main__")):
                continue
            self.modules.add(name)
            self.probes.append((sys.modules, name, module, f"sys.modules[{name!r}]"))
            try:
                members = vars(module)
            except TypeError:
                continue
            for key, value in list(members.items()):
                if not (key.startswith("__") and key.endswith("__")):  # not module bookkeeping (__spec__, ...)
                    self._note(members, key, value, f"{name}.{key}", 2 if name != "numpy" else 0)

    def _note(self, holder, key, value, where: str, depth: int) -> None:
        self.probes.append((holder, key, value, where))
        if isinstance(value, types.FunctionType):
            if id(value) not in self.seen:
                self.seen.add(id(value))
                for k in ("__code__", "__defaults__", "__kwdefaults__"):
                    self.probes.append((value, k, getattr(value, k), f"{where}.{k}"))
            return
        if depth <= 0 or id(value) in self.seen:
            return
        if isinstance(value, type):
            if value.__module__.partition(".")[0] not in self.WATCHED:
                return
            self.seen.add(id(value))
            for k, v in list(vars(value).items()):
                self._note(value, k, v, f"{where}.{k}", depth - 1)
        elif isinstance(value, (dict, list)):
            self.seen.add(id(value))
            items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
            for k, v in items[:1000]:
                self._note(value, k, v, f"{where}[{k!r}]", depth - 1)
        elif isinstance(value, tuple):
            self.seen.add(id(value))
            for i, v in enumerate(value[:1000]):
                self._note(None, i, v, f"{where}[{i}]", depth - 1)
        elif type(value).__module__.partition(".")[0] in self.WATCHED and isinstance(getattr(value, "__dict__", None), dict):
            self.seen.add(id(value))
            for k, v in list(vars(value).items()):
                self._note(vars(value), k, v, f"{where}.{k}", depth - 1)

    def _now(self, holder, key):
        try:
            if isinstance(holder, (dict, list)):
                return holder[key]
            if isinstance(holder, type):
                return holder.__dict__.get(key, self._MISSING)
            return getattr(holder, key, self._MISSING)
        except LookupError:
            return self._MISSING

    def changes(self) -> list[str]:
        """What changed since the last call (new modules are only noted)."""
        changed = [where for holder, key, value, where in self.probes if holder is not None and self._now(holder, key) is not value]
        if changed:  # note the new state, so that each change is reported once
            self.probes, self.modules, self.seen = [], set(), set()
            self.scan()
        elif len(sys.modules) != self.count:
            self.scan()
        return changed


def serve(channel: Channel) -> None:
    ns = {"__name__": "__main__", "__builtins__": __builtins__}
    ns["get_ipython"] = lambda: shell
    shell = Shell(ns)
    watch = Watch()
    while True:
        msg = channel.receive()
        if msg is None or msg["op"] == "bye":
            return
        reply = run_cell(ns, msg) if msg["op"] == "cell" else run_exercise(ns, msg)
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            changed = watch.changes()
        except Exception:  # noqa: BLE001 — a module that even vars() fails on was tampered with
            changed = ["(a module the grader could not read)"]
        if changed:
            reply["changed"] = changed[:5] + ([f"and {len(changed) - 5} more"] if len(changed) > 5 else [])
        channel.send(reply)


def remap_packages(old: list, new: list) -> None:
    """Point already-imported packages (``encodings``, ...) at the re-exposed paths."""
    for module in list(sys.modules.values()):
        path = getattr(module, "__path__", None)
        if not isinstance(path, list):
            continue
        for i, entry in enumerate(path):
            for o, n in zip(old, new):
                if o != n and (entry == o or entry.startswith(o + os.sep)):
                    path[i] = n + entry[len(o) :]
                    break


def main() -> None:
    if sys.argv[1] == "--probe":
        probe(sys.argv[2], json.loads(sys.argv[3]) if len(sys.argv) > 3 else [])
    fd_in, fd_out = int(sys.argv[1]), int(sys.argv[2])
    channel = Channel(fd_in, fd_out)
    cfg = channel.receive()  # the first line: no file for student code to find it in
    granted = {"namespaces": False, "uid": None, "cgroups": join_groups(cfg)}
    try:
        if cfg["isolate"]:
            enter_namespaces(keep=(fd_in, fd_out))
        paths = isolate(cfg)
        granted["namespaces"] = cfg["isolate"]
    except OSError as exc:  # the parent probed the sandbox, so this is rare: never run as root then
        channel.send({"status": "hello", "sandbox": granted, "refused": f"the sandbox could not be set up: {exc}"})
        return
    limit(cfg)
    granted.update(drop_privileges(cfg))
    granted["uid"] = os.getuid()
    sys.path[:] = [paths["work"], *paths["sys_path"]]
    remap_packages(cfg.get("sys_path_orig") or cfg["sys_path"], paths["sys_path"])
    sys.dont_write_bytecode = True
    os.chdir(paths["scratch"])
    mpl = os.path.join(paths["scratch"], ".matplotlib")
    os.makedirs(mpl, exist_ok=True)
    cache = os.path.join(paths["work"], "mplcache")
    if os.path.isdir(cache):
        for name in os.listdir(cache):
            with open(os.path.join(cache, name), "rb") as src, open(os.path.join(mpl, name), "wb") as dst:
                dst.write(src.read())
    os.environ.update(HOME=paths["scratch"], MPLCONFIGDIR=mpl, TMPDIR="/tmp" if cfg["isolate"] else paths["scratch"])
    try:  # the course's checking code, loaded before any student code, so that Watch knows it whole
        import autograder.checks.check  # noqa: F401
    except Exception:  # noqa: BLE001 — the setup cell, which imports it too, reports what is wrong
        pass
    channel.send({"status": "hello", "sandbox": granted})
    serve(channel)


if __name__ == "__main__":
    main()
