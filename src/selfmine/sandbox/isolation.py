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

log = logging.getLogger(__name__)

NOBODY = 65534
MODES = ("bwrap", "unshare", "rlimits")


@dataclass(frozen=True)
class Launcher:
    mode: str
    prefix: tuple[str, ...]
    drop_to_nobody: bool  # root runs sandboxes as an unprivileged user, so RLIMIT_NPROC applies
    python: str = sys.executable

    @property
    def label(self) -> str:
        return self.mode

    def command(self, *args: str) -> list[str]:
        return [*self.prefix, self.python, "-I", *args]


def _bwrap_prefix() -> tuple[str, ...]:
    return (
        "bwrap", "--ro-bind", "/", "/", "--tmpfs", "/tmp", "--dev", "/dev", "--proc", "/proc",
        "--unshare-all", "--die-with-parent", "--new-session", "--clearenv", "--chdir", "/tmp", "--",
    )  # fmt: skip


def _unshare_prefix() -> tuple[str, ...]:
    return ("unshare", "--user", "--map-root-user", "--net", "--ipc", "--uts", "--pid", "--fork",
            "--mount-proc", "--kill-child", "--")  # fmt: skip


def _pythons() -> list[str]:
    """This interpreter, and the system one of the same version (an unprivileged user may not reach a
    pyenv or venv interpreter under /root)."""
    same = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    return [sys.executable] + ([same] if os.path.exists(same) else [])


def candidates() -> list[Launcher]:
    root = os.geteuid() == 0
    prefixes = []
    if shutil.which("bwrap"):
        prefixes.append(("bwrap", _bwrap_prefix()))
    if shutil.which("unshare"):
        prefixes.append(("unshare", _unshare_prefix()))
    prefixes.append(("rlimits", ()))
    out: list[Launcher] = []
    for mode, prefix in prefixes:
        for drop in ([True, False] if root else [False]):
            out.extend(Launcher(mode, prefix, drop, py) for py in _pythons())
    return out


def popen_kwargs(launcher: Launcher) -> dict:
    kw: dict = {"env": {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}, "cwd": "/"}
    if launcher.drop_to_nobody:
        kw.update(user=NOBODY, group=NOBODY, extra_groups=[])
    return kw


def _works(launcher: Launcher) -> bool:
    probe = "import os,socket;s=socket.socket();print(os.getpid())"
    cmd = launcher.command("-c", probe)
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=20, start_new_session=True, **popen_kwargs(launcher))
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


@functools.lru_cache(maxsize=None)
def best_launcher(require: str | None = None) -> Launcher:
    """The strongest launcher that works here; `require` pins a mode (or fails with a clear error)."""
    wanted = os.environ.get("SELFMINE_ISOLATION") if require is None else require
    if wanted and wanted not in MODES:
        raise ValueError(f"unknown isolation {wanted!r}: choose one of {', '.join(MODES)}")
    for launcher in candidates():
        if wanted and launcher.mode != wanted:
            continue
        if _works(launcher):
            if launcher.mode == "rlimits":
                log.warning(
                    "selfmine sandbox: neither bubblewrap nor user namespaces work here; model code runs "
                    "with resource limits only (no filesystem or network isolation). Install bubblewrap."
                )
            return launcher
    raise RuntimeError(f"isolation {wanted!r} is not available on this machine")
