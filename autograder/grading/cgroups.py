"""One memory limit and one CPU for a grading child and everything it starts (cgroups).

``RLIMIT_AS`` and ``RLIMIT_CPU`` limit each process; a submission that forks
multiplies them, and thirty busy processes take the CPU of the student graded
beside it. Where the grader (root) may create cgroups, v1 or v2, each child
gets a memory group and a CPU group of its own; the child joins them itself
before it starts anything (``child.join_groups``). Elsewhere :meth:`make`
returns None and the per-process limits are all there is.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _own_cgroups(controller: str) -> tuple[Path | None, Path | None]:
    """This process's cgroup directory for ``controller``: (cgroup v1, cgroup v2), where they exist."""
    v1 = v2 = None
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None, None
    for line in lines:
        number, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if controller in controllers.split(","):
            mount = next((m for m in (CGROUP_ROOT / controllers, CGROUP_ROOT / controller) if m.is_dir()), None)
            if mount is not None:
                v1 = mount / path.lstrip("/")
        elif number == "0" and controllers == "" and (CGROUP_ROOT / "cgroup.controllers").is_file():
            v2 = CGROUP_ROOT / path.lstrip("/")
    return v1, v2


class Group:
    """A cgroup that one child and every process it starts share (see the subclasses).

    Where this (root) process may create cgroups, v1 or v2, :meth:`make` creates one per child;
    elsewhere it returns None and the per-process limits are all there is. The child joins it
    itself, before it starts anything (``child.join_groups``).
    """

    controller = ""

    def __init__(self, path: Path, version: int):
        self.path, self.version = path, version

    @classmethod
    def make(cls, name: str, settings: dict[int, list[tuple[str, str, bool]]]):
        """The group ``name``, with ``settings`` per version: (file, value, optional) each."""
        if os.environ.get("RNNGRADE_NO_CGROUP") == "1":
            return None
        v1, v2 = _own_cgroups(cls.controller)
        for version, base in ((1, v1), (2, v2)):
            if base is None or not base.is_dir():
                continue
            path = base / name
            try:
                if path.is_dir():
                    path.rmdir()  # left by a grader that was killed: empty, or busy (then we fail below)
                path.mkdir()
            except OSError:
                continue
            group = cls(path, version)
            try:
                for file, value, optional in settings[version]:
                    if optional and not (path / file).exists():
                        continue
                    try:
                        (path / file).write_text(value)
                    except OSError:
                        if not optional:
                            raise
                return group
            except OSError:
                group.remove()
        return None

    @property
    def procs(self) -> str:
        return str(self.path / "cgroup.procs")

    def add(self, pid: int) -> bool:
        try:
            (self.path / "cgroup.procs").write_text(str(pid))
            return True
        except OSError:
            return False

    def remove(self) -> None:
        for _ in range(50):  # its processes were just killed; the kernel may take a moment
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)


class MemoryGroup(Group):
    """One memory limit for a child and all it forks.

    ``RLIMIT_AS`` limits each process; a submission that forks would multiply it.
    The kernel's OOM killer enforces the group's limit.
    """

    controller = "memory"

    @classmethod
    def create(cls, name: str, limit_mb: int) -> MemoryGroup | None:
        limit = str(limit_mb * 1024 * 1024)
        return cls.make(name, {
            1: [("memory.limit_in_bytes", limit, False), ("memory.memsw.limit_in_bytes", limit, True)],  # swap: if accounted
            2: [("memory.max", limit, False), ("memory.swap.max", "0", True)],
        })

    def hit(self) -> bool:
        """Did the group reach its limit (so that the kernel killed a process of it)?"""
        try:
            if self.version == 1:
                return int((self.path / "memory.failcnt").read_text()) > 0
            events = (self.path / "memory.events").read_text().split()
            return int(dict(zip(events[::2], events[1::2])).get("oom_kill", "0")) > 0
        except (OSError, ValueError):
            return False


class CpuGroup(Group):
    """One CPU for a child and all it starts: 30 busy processes of one submission share one
    CPU, and cannot slow a student graded beside it (whose one process needs no more)."""

    controller = "cpu"
    PERIOD = 100_000  # microseconds

    @classmethod
    def create(cls, name: str, cpus: float = 1.0) -> CpuGroup | None:
        quota = str(int(cpus * cls.PERIOD))
        return cls.make(name, {
            1: [("cpu.cfs_period_us", str(cls.PERIOD), False), ("cpu.cfs_quota_us", quota, False)],
            2: [("cpu.max", f"{quota} {cls.PERIOD}", False)],
        })


def memory_groups_work() -> bool:
    """Can children get one memory limit for their whole process tree here?"""
    group = MemoryGroup.create(f"rnngrade-probe-{os.getpid()}", 64)
    if group is None:
        return False
    group.remove()
    return True


def cpu_groups_work() -> bool:
    """Can each child get one CPU for its whole process tree here?"""
    group = CpuGroup.create(f"rnngrade-probe-{os.getpid()}")
    if group is None:
        return False
    group.remove()
    return True
