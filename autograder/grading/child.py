"""The grading child: runs one submission's cells and calls its functions.

This file is copied into an empty working directory and started as a script
(``python -I -S -B child.py config.json``); it imports nothing of the course
but its own copies of ``autograder.suites`` (public) and ``rnncourse``.

1. **Sandbox** (still root, if the parent is): new mount and network
   namespaces; the Python paths it needs are bind-mounted into its working
   directory, then the course, the submissions, the outputs and the gradebook
   are covered by empty directories, ``/tmp`` by a small tmpfs and every other
   directory anyone may write to (``/dev/shm``, ``/run/lock``, ...) by a tiny one;
   a private IPC namespace keeps shared-memory segments from outliving the child.
2. **Limits**: CPU, address space, file size, open files, processes.
3. **Drop privileges** to the unprivileged uid the parent chose.
4. **Serve** the parent over two pipes, one JSON message per line:
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
import signal
import sys
import traceback

CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWIPC = 0x00020000, 0x40000000, 0x08000000
# Directories any user may write to, besides /tmp: each gets a tiny tmpfs of its own, so
# that nothing a child writes outlives it or reaches another child.
SHARED_WRITABLE = ("/dev/shm", "/var/tmp", "/run/lock", "/var/lock", "/var/crash", "/dev/mqueue", "/run/shm")
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
BIG = 2_000_000  # arrays with more entries are described, not sent

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src, target, fstype, flags, data=None) -> None:
    enc = [None if v is None else str(v).encode() for v in (src, target, fstype, data)]
    _check(_libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]), f"mount {target}")


# --------------------------------------------------------------------------
# 1-3. Sandbox, limits, privileges
# --------------------------------------------------------------------------


def isolate(cfg: dict) -> dict:
    """Namespaces and mounts; returns the paths the child uses from now on."""
    work = os.getcwd()
    paths = {"work": work, "sys_path": list(cfg["sys_path"]), "scratch": os.path.join(work, "scratch")}
    if not cfg["isolate"]:
        return paths
    # A private IPC namespace: System V shared memory dies with the child, outside its memory limit.
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # Re-expose the interpreter's and site-packages' directories inside the work dir:
    # they may live under a hidden path (the course's .venv) or an unreadable one (/root).
    bound = []
    for i, path in enumerate(cfg["sys_path"]):
        target = os.path.join(work, "sys", str(i))
        os.makedirs(target, exist_ok=True)
        _mount(path, target, None, MS_BIND | MS_REC)
        bound.append(f"/tmp/work/sys/{i}")
    empty = os.path.join(work, "empty")
    for path in cfg["hide"]:
        if os.path.isdir(path):
            _mount(empty, path, None, MS_BIND)
        elif os.path.exists(path):
            _mount("/dev/null", path, None, MS_BIND)
    # A fresh, small /tmp (other children's work dirs and the parent's files vanish);
    # the work dir moves to /tmp/work, with a size-limited scratch dir as the cwd.
    size = f"size={cfg['tmp_mb']}m,mode=1777"
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, size)
    os.mkdir("/tmp/work")
    _mount(".", "/tmp/work", None, MS_BIND | MS_REC)  # "." is still the old work dir
    _mount("tmpfs", "/tmp/work/scratch", "tmpfs", MS_NOSUID | MS_NODEV, size)
    covered = set()
    for path in SHARED_WRITABLE:
        real = os.path.realpath(path)
        if real in covered or not os.path.isdir(real) or not os.stat(real).st_mode & 0o002:
            continue
        covered.add(real)
        _mount("tmpfs", real, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=1777")
    os.chdir("/tmp/work")
    return {"work": "/tmp/work", "sys_path": bound, "scratch": "/tmp/work/scratch"}


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


def drop_privileges(cfg: dict) -> None:
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if cfg["uid"] is not None:
        parent = os.getppid()
        os.setgroups([])
        os.setgid(cfg["uid"])
        os.setuid(cfg["uid"])
        # Die with the grader, even when it is killed outright (set after setuid, which clears it).
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # it died before the line above
            os._exit(1)


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


def serve(channel: Channel) -> None:
    ns = {"__name__": "__main__", "__builtins__": __builtins__}
    ns["get_ipython"] = lambda: shell
    shell = Shell(ns)
    while True:
        msg = channel.receive()
        if msg is None or msg["op"] == "bye":
            return
        reply = run_cell(ns, msg) if msg["op"] == "cell" else run_exercise(ns, msg)
        sys.stdout.flush()
        sys.stderr.flush()
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
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    channel = Channel(cfg["fd_in"], cfg["fd_out"])
    granted = {"namespaces": False, "uid": None}
    try:
        paths = isolate(cfg)
        granted["namespaces"] = cfg["isolate"]
    except OSError as exc:  # the parent probed namespaces, so this is rare: never run as root then
        channel.send({"status": "hello", "sandbox": granted, "refused": f"the sandbox could not be set up: {exc}"})
        return
    limit(cfg)
    drop_privileges(cfg)
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
    channel.send({"status": "hello", "sandbox": granted})
    serve(channel)


if __name__ == "__main__":
    main()
