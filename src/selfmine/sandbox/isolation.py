"""Which isolation this machine offers, strongest first: bubblewrap, then `unshare` namespaces, then
resource limits alone. Each mode is a command prefix that the worker runs under."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from ..errors import UserError
from . import cgroup

log = logging.getLogger(__name__)

NOBODY = 65534
MODES = ("bwrap", "unshare", "rlimits")
TMPFS_BYTES = 256 * 1024 * 1024  # each writable place in the sandbox (/tmp, /var, /run, /home, /root)
# ... where no cgroup caps the sandbox's memory (its files in tmpfs count there): smaller, so the six places
# add at most 192 MiB beside the processes' own limits
TMPFS_BYTES_ALONE = 32 * 1024 * 1024


def tmpfs_bytes() -> int:
    return TMPFS_BYTES if cgroup.label() != cgroup.NONE else TMPFS_BYTES_ALONE


WRITABLE = ("/tmp", "/var", "/run", "/home", "/root", "/dev/shm")
DEVICES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")
ETC = ("/etc/ld.so.cache", "/etc/localtime")
SECCOMP = os.uname().machine == "x86_64"  # the worker's filter is written for x86_64 syscall numbers


# Every sandbox's environment: string hashes seeded alike, so a verdict never depends on a set's order by
# chance (a program returning `list(set(words))` gets the same verdict every time, as it does under any
# one PYTHONHASHSEED). Until session 23 the sandbox ran `python -I`, which ignores PYTHONHASHSEED, and
# bubblewrap cleared the environment: every worker drew its own seed, and such a program's verdict
# depended on the worker that judged it.
HASH_SEED = "0"
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": HASH_SEED}
# `-I` without its `-E`: no user site-packages (-s), nothing prepended to sys.path (-P); the environment
# is read, and it is the judge's: bubblewrap clears the caller's and sets PYTHONHASHSEED alone (Python then
# adds LC_CTYPE=C.UTF-8), the other launchers start with ENV.
PYTHON_FLAGS = ("-s", "-P")


@dataclass(frozen=True)
class Launcher:
    mode: str
    prefix: tuple[str, ...]
    drop_to_nobody: bool  # root runs sandboxes as an unprivileged user, so RLIMIT_NPROC applies
    python: str = sys.executable

    @property
    def label(self) -> str:
        """What the verdict records: how the program was isolated, here."""
        return self.describe()

    def describe(self, cgroup: str = "") -> str:
        """The label with the cgroup's part (`+cgroup1`, or ` (no cgroup)`) where it belongs."""
        tag, note = (cgroup, "") if cgroup.startswith("+") else ("", cgroup)
        rlimits = " (no filesystem or network isolation)" if self.mode == "rlimits" else ""
        return self.mode + ("+seccomp" if SECCOMP else "") + tag + rlimits + note

    def command(self, *args: str) -> list[str]:
        return [*self.prefix, self.python, *PYTHON_FLAGS, *args]


def interpreter() -> str:
    """The one interpreter every sandbox runs, whoever starts it: the system Python of this minor version
    where there is one (an unprivileged user can reach it), else this Python's base interpreter. Never a
    virtual environment: judged code may import the standard library only."""
    same = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    if os.path.exists(same):
        return same
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


@functools.cache
def _prefix(python: str) -> str:
    try:
        out = subprocess.run(
            [python, "-I", "-c", "import sys; print(sys.base_prefix)"], capture_output=True, text=True, timeout=20
        )
        return out.stdout.strip() or "/usr"
    except (OSError, subprocess.SubprocessError):
        return "/usr"


def view(python: str) -> list[tuple[str, str]]:
    """The host paths the sandbox sees, read-only: the system's programs and libraries and the
    interpreter's own tree. ("bind", path) or ("link", path -> target) entries."""
    out: list[tuple[str, str]] = []
    for path in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(path):
            out.append(("link", path))
        elif os.path.isdir(path):
            out.append(("bind", path))
    prefix = _prefix(python)
    if not any(prefix == p or prefix.startswith(p + "/") for kind, p in out if kind == "bind"):
        out.append(("bind", prefix))
    out.extend(("bind", p) for p in ETC if os.path.exists(p))
    return out


def _bwrap_prefix(python: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    # By its full path: the sandbox's environment has a bare PATH, and a bwrap in /usr/local/bin or a
    # venv would not be found there.
    args = [shutil.which("bwrap") or "bwrap"]
    for kind, path in view(python):
        args += ["--symlink", os.readlink(path), path] if kind == "link" else ["--ro-bind", path, path]
    for path in WRITABLE:
        args += ["--size", str(tmpfs_bytes()), "--tmpfs", path]
    for path in extra:  # after the tmpfs mounts, which would hide a path under /home or /root
        args += ["--ro-bind", path, path]
    for dev in DEVICES:
        args += ["--dev-bind-try", dev, dev]
    args += [
        "--proc",
        "/proc",
        "--unshare-all",
        # No reaper of bubblewrap's as pid 1: that process runs as the program's user, is dumpable and holds
        # the worker's request and reply pipes, so the program could open /proc/1/mem for writing, and
        # where the pipes are that user's own (a judge not run as root), /proc/1/fd/0 and 1: read the
        # tests (and their nonce) from the one and write a forged reply onto the other. The worker, made
        # non-dumpable at once and a reaper itself, is pid 1 instead.
        "--as-pid-1",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv",
        "PYTHONHASHSEED",
        HASH_SEED,
        "--chdir",
        "/tmp",
        "--remount-ro",
        "/",
        "--",
    ]
    return tuple(args)


# unshare gives namespaces but no view of its own: the namespace's root builds one (a read-only tmpfs
# root holding read-only binds of the same paths bubblewrap shows) and chroots into it.
_UNSHARE_SETUP = r"""
set -e
R=$HOLD/.selfmine-root
mount -t tmpfs -o size=1m,mode=755 selfmine $HOLD
mkdir -p $R && mount -t tmpfs -o size=16m,mode=755 selfmine $R
for p in $BINDS; do
  if [ -d $p ]; then mkdir -p $R$p; else mkdir -p $R$(dirname $p) && touch $R$p; fi
  mount --rbind $p $R$p && mount -o remount,bind,ro $R$p
done
for p in $LINKS; do ln -s "$(readlink $p)" $R$p; done
mkdir -p $R/proc $R/dev && mount -t proc proc $R/proc
for d in $DEVICES; do [ -e $d ] && touch $R$d && mount --bind $d $R$d || true; done
for p in $WRITABLE; do mkdir -p $R$p && mount -t tmpfs -o size=$SIZE,mode=1777 selfmine $R$p; done
for p in $EXTRA; do mkdir -p $R$p && mount --rbind $p $R$p && mount -o remount,bind,ro $R$p; done
mount -o remount,ro,bind $R
cd $R/tmp
exec /usr/sbin/chroot $R "$@"
"""


def _hold(extra: tuple[str, ...]) -> str:
    """Where the namespace's root builds its new root: a host directory hidden (in the namespace only) by a
    small tmpfs, so it must not lie above a path still to be bound (a venv or a staged copy under /tmp)."""
    for path in ("/tmp", "/mnt", "/media", "/srv", "/var/tmp", "/opt", "/home"):
        if os.path.isdir(path) and not os.path.islink(path) and not any(p.startswith(path + "/") for p in extra):
            return path
    raise RuntimeError("unshare: no directory to build the sandbox's root in")


def _unshare_prefix(python: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    entries = view(python)
    env = {
        "HOLD": _hold((*extra, *(p for kind, p in entries if kind == "bind"))),
        "EXTRA": " ".join(extra),
        "BINDS": " ".join(p for kind, p in entries if kind == "bind"),
        "LINKS": " ".join(p for kind, p in entries if kind == "link"),
        "DEVICES": " ".join(DEVICES),
        "WRITABLE": " ".join(WRITABLE),
        "SIZE": str(tmpfs_bytes()),
    }
    setup = "".join(f"{k}='{v}'\n" for k, v in env.items()) + _UNSHARE_SETUP
    return (
        shutil.which("unshare") or "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "--net",
        "--ipc",
        "--uts",
        "--pid",
        "--fork",
        "--mount-proc",
        "--kill-child",
        "--",
        "/bin/sh",
        "-c",
        setup,
        "selfmine-sandbox",
    )


def candidates() -> list[Launcher]:
    """Strongest first. Whether or not the drop to `nobody` works, the interpreter and the view are the
    same, so a program gets the same verdict on every machine that offers the same mode."""
    root = os.geteuid() == 0
    python = interpreter()
    prefixes = []
    if shutil.which("bwrap"):
        prefixes.append(("bwrap", _bwrap_prefix(python)))
    if shutil.which("unshare") and os.path.exists("/usr/sbin/chroot"):
        prefixes.append(("unshare", _unshare_prefix(python)))
    prefixes.append(("rlimits", ()))
    return [
        Launcher(mode, prefix, drop, python)
        for mode, prefix in prefixes
        for drop in ([True, False] if root else [False])
    ]


def popen_kwargs(launcher: Launcher) -> dict:
    kw: dict = {"env": dict(ENV), "cwd": "/"}
    if launcher.drop_to_nobody:
        kw.update(user=NOBODY, group=NOBODY, extra_groups=[])
    return kw


def _failure(launcher: Launcher) -> str | None:
    """Why a probe program fails under this launcher (its first line of error), or None if it runs."""
    probe = "import os,socket;s=socket.socket();print(os.getpid())"
    cmd = launcher.command("-c", probe)
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=20, start_new_session=True, **popen_kwargs(launcher))
    except (OSError, subprocess.SubprocessError) as e:
        return str(e)
    if r.returncode == 0:
        return None
    lines = r.stderr.decode(errors="replace").strip().splitlines()
    return lines[0][:200] if lines else f"exit status {r.returncode}"


def with_binds(launcher: Launcher, paths: tuple[str, ...]) -> Launcher:
    """The same isolation with more host directories in view, read-only (a helper's own packages)."""
    if launcher.mode == "bwrap":
        return Launcher("bwrap", _bwrap_prefix(launcher.python, paths), launcher.drop_to_nobody, launcher.python)
    if launcher.mode == "unshare":
        return Launcher("unshare", _unshare_prefix(launcher.python, paths), launcher.drop_to_nobody, launcher.python)
    return launcher


class NoIsolation(UserError, RuntimeError):
    """No sandbox that isolates the program works here, and the weak one was not asked for."""


@functools.cache
def best_launcher(require: str | None = None) -> Launcher:
    """The strongest launcher that works here; `require` pins a mode (or fails with a clear error)."""
    wanted = os.environ.get("SELFMINE_ISOLATION") if require is None else require
    if wanted and wanted not in MODES:
        raise ValueError(f"unknown isolation {wanted!r}: choose one of {', '.join(MODES)}")
    why = "bubblewrap is not installed"
    for launcher in candidates():
        if wanted and launcher.mode != wanted:
            continue
        if launcher.mode == "rlimits" and not wanted:
            # Without namespaces the program runs as this process's user beside it: it can open this
            # process's /proc/<pid>/mem and write any verdict. Only an explicit choice runs it.
            raise NoIsolation(
                f"no isolating sandbox works here ({why}; unshare of user namespaces is not allowed either): "
                "install bubblewrap, or set SELFMINE_ISOLATION=rlimits to judge with resource limits only, "
                "where a program written to do so can forge its verdict"
            )
        failure = _failure(launcher)
        if failure is None:
            if launcher.mode != MODES[0] and not wanted:
                print(
                    f"selfmine sandbox: {why}; judging under {launcher.label}"
                    + (". Install bubblewrap." if launcher.mode == "rlimits" else ""),
                    file=sys.stderr,
                )
            return launcher
        if launcher.mode == "bwrap":
            why = f"bubblewrap does not work here ({failure})"
    raise RuntimeError(f"isolation {wanted!r} is not available on this machine")
