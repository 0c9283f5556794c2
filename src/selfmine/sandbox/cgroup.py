"""Aggregate limits for a whole sandbox (its worker, tests process, program and anything the program
starts): a cap on processes and threads (`pids`) and on memory, through cgroups.

cgroup v2 where our own cgroup lets us create children with the pids and memory controllers (root, or a
delegated subtree); else cgroup v1's pids and memory hierarchies where they are mounted and writable (the
hybrid layout of older distributions); else none, announced once. Per-process rlimits apply either way.
The host creates one cgroup per sandbox and moves the sandbox's processes into it after the worker says
it is ready and before the first program arrives, so every process that ever runs model code is inside.
"""

from __future__ import annotations

import errno
import functools
import itertools
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .worker.server import descendants, kill_until_none_new

PIDS_MAX = 128  # threads count too; the worker, its two children and the program's own processes
OVERHEAD = 512 * 1024 * 1024  # the worker and the tests process, beside the program's own limit

_counter = itertools.count()


def _own_paths() -> dict[str, str]:
    """controller name (or "" for the unified hierarchy) -> our cgroup's path, from /proc/self/cgroup."""
    out: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            out[name] = path
    return out


def _mounts() -> dict[str, tuple[str, str]]:
    """controller name (or "" for cgroup2) -> (mount point, the cgroup path mounted there)."""
    out: dict[str, tuple[str, str]] = {}
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) < 5 or len(rest) < 3:
            continue
        root, point, fstype = fields[3], fields[4], rest[0]
        if fstype == "cgroup2":
            out.setdefault("", (point, root))
        elif fstype == "cgroup":
            for opt in rest[2].split(","):
                out.setdefault(opt, (point, root))
    return out


def _own_dir(controller: str) -> Path | None:
    mount, own = _mounts().get(controller), _own_paths().get(controller)
    if mount is None or own is None:
        return None
    point, root = mount
    rel = os.path.relpath(own, root) if own.startswith(root) else None
    if rel is None or rel.startswith(".."):
        return None
    path = Path(point) / rel if rel != "." else Path(point)
    return path if path.is_dir() else None


@dataclass
class Cgroup:
    """One sandbox's cgroup: a single directory (v2) or one per controller (v1)."""

    version: int
    dirs: tuple[Path, ...]

    def _write(self, name: str, value: str) -> bool:
        for d in self.dirs:
            if (d / name).exists():
                try:
                    (d / name).write_text(value)
                    return True
                except OSError:
                    return False
        return False

    def limit(self, memory_bytes: int) -> None:
        if self.version == 2:
            self._write("memory.max", str(memory_bytes))
            self._write("memory.swap.max", "0")
        else:  # memsw (memory + swap, present only with swap accounting) may never fall below the limit
            self._write("memory.memsw.limit_in_bytes", str(memory_bytes))
            self._write("memory.limit_in_bytes", str(memory_bytes))
            self._write("memory.memsw.limit_in_bytes", str(memory_bytes))

    def adopt(self, root_pid: int) -> None:
        """Move a process and every descendant it has now into this cgroup (on v1, into each hierarchy)."""
        for pid in [root_pid, *sorted(descendants(root_pid))]:
            for d in self.dirs:
                (d / "cgroup.procs").write_text(str(pid))

    def processes(self) -> list[int]:
        return [int(x) for x in (self.dirs[0] / "cgroup.procs").read_text().split()]

    def kill(self) -> None:
        """SIGKILL everything inside, wherever its session or process group, then remove the cgroup."""
        try:
            kill_until_none_new(self.processes, 0.005)
            for _ in range(100):  # a killed process leaves the cgroup once it has exited
                if not self.processes():
                    break
                time.sleep(0.005)
        except OSError:
            return
        for d in self.dirs:
            try:
                d.rmdir()  # fails while a process is still inside; the kernel then keeps it
            except OSError:
                pass


def _v2_parent() -> Path | None:
    own = _own_dir("")
    if own is None:
        return None
    try:
        available = set((own / "cgroup.controllers").read_text().split())
        if not {"pids", "memory"} <= available:
            return None
        enabled = set((own / "cgroup.subtree_control").read_text().split())
        if not {"pids", "memory"} <= enabled:
            _enable(own)
    except OSError:
        return None  # not delegated to us
    return own


def _enable(own: Path) -> None:
    """Turn on pids and memory for our cgroup's children. v2 refuses that while our cgroup holds
    processes (the no-internal-process rule): when the only one is this process (a delegated scope of our
    own, e.g. `systemd-run --scope -p Delegate=yes`), it first moves into a leaf beside the sandboxes."""
    try:
        (own / "cgroup.subtree_control").write_text("+pids +memory")
        return
    except OSError as e:
        if e.errno != errno.EBUSY:
            raise
    if [int(x) for x in (own / "cgroup.procs").read_text().split()] != [os.getpid()]:
        raise OSError(errno.EBUSY, "our cgroup holds other processes")
    leaf = own / f"selfmine-host-{os.getpid()}"
    leaf.mkdir(exist_ok=True)
    (leaf / "cgroup.procs").write_text(str(os.getpid()))
    (own / "cgroup.subtree_control").write_text("+pids +memory")


def _v1_parents() -> tuple[Path, ...] | None:
    dirs = tuple(_own_dir(c) for c in ("pids", "memory"))
    if any(d is None or not os.access(d, os.W_OK) for d in dirs):
        return None
    return dirs  # type: ignore[return-value]


def _sweep(parents: tuple[Path, ...]) -> None:
    """Remove empty cgroups left by selfmine processes that died without closing their pools."""
    for parent in parents:
        for d in parent.glob("selfmine-*-*"):
            try:
                pid = int(d.name.split("-")[1])
                os.kill(pid, 0)
            except ProcessLookupError:
                try:
                    d.rmdir()
                except OSError:
                    pass
            except (ValueError, OSError):
                pass


def _off() -> bool:
    return os.environ.get("SELFMINE_CGROUP", "1") == "0"


def _active() -> tuple[int, tuple[Path, ...]] | None:
    """The layout sandboxes use: none when turned off."""
    return None if _off() else _layout()


@functools.cache
def _layout() -> tuple[int, tuple[Path, ...]] | None:
    parent = _v2_parent()
    layout = (2, (parent,)) if parent is not None else None
    if layout is None:
        parents = _v1_parents()
        layout = (1, parents) if parents is not None else None
    if layout is not None:
        _sweep(layout[1])
    return layout


def create() -> Cgroup | None:
    """A fresh cgroup for one sandbox, its process cap set (the memory cap comes with each request); None
    where this machine offers none to us."""
    layout = _active()
    if layout is None:
        return None
    version, parents = layout
    name = f"selfmine-{os.getpid()}-{next(_counter)}"
    made: list[Path] = []
    try:
        for parent in parents:
            (parent / name).mkdir()
            made.append(parent / name)
    except OSError:
        for d in made:
            d.rmdir()
        return None
    cg = Cgroup(version, tuple(made))
    cg._write("pids.max", str(PIDS_MAX))
    return cg


NONE = " (no cgroup)"


def label() -> str:
    """The suffix every verdict's isolation carries."""
    layout = _active()
    return NONE if layout is None else f"+cgroup{layout[0]}"


_announced = False


def announce() -> None:
    global _announced
    if not _announced and label() == NONE:
        _announced = True
        why = (
            "turned off (SELFMINE_CGROUP=0)"
            if _off()
            else "not available here (needs cgroup v2 with pids and memory delegated, or writable cgroup v1 "
            "pids and memory hierarchies)"
        )
        print(f"selfmine sandbox: cgroups {why}; per-process limits only", file=sys.stderr)
