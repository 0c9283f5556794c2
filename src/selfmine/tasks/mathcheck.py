"""Answer equivalence with math-verify, under a hard deadline that works from any thread.

math-verify's own timeouts use `signal.alarm`, which only works on a process's main thread, and its
errors turn quietly into `False`. Here every check runs in a long-lived helper process (one per core,
warm: sympy and the LaTeX parser load once) with its own memory limit. The caller waits at most
`deadline` seconds; a helper that overruns is killed and replaced, and the check is recorded as
undecided, never as wrong. An error inside math-verify is undecided too. There is no fall-back to
comparing strings.

Outcomes: "equal", "different", "no_answer" (nothing parseable in the prediction), "undecided"."""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import select
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import UserError
from ..sandbox.isolation import best_launcher, popen_kwargs, with_binds

DEADLINE_S = 5.0
MEMORY_MB = 2048
OUTCOMES = ("equal", "different", "no_answer", "undecided")

HELPER = r"""
import json, resource, sys
sys.path[:0] = sys.argv[2:]  # the directories that hold math-verify and its dependencies, read-only
limit = int(sys.argv[1]) << 20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
CONFIG = [LatexExtractionConfig(), ExprExtractionConfig()]

def parsed(text):
    # a bare answer ("1,234", "\\frac{1}{2}") is tried as LaTeX math too
    for form in (text, "$" + text + "$", "\\boxed{" + text + "}"):
        got = parse(form, CONFIG, parsing_timeout=None, raise_on_error=True)
        if got:
            return got
    return []

sys.stdout.write("ready\n"); sys.stdout.flush()
for line in sys.stdin:
    req = json.loads(line)
    try:
        gold = parsed(req["gold"])
        if not gold:
            out = {"outcome": "undecided", "detail": "the reference answer does not parse"}
        else:
            pred = parsed(req["pred"])
            if not pred:
                out = {"outcome": "no_answer", "detail": ""}
            else:
                same = verify(gold, pred, timeout_seconds=None, raise_on_error=True)
                out = {"outcome": "equal" if same else "different", "detail": str(pred[-1])[:200]}
    except MemoryError:
        out = {"outcome": "undecided", "detail": "memory limit"}
    except BaseException as e:
        out = {"outcome": "undecided", "detail": (type(e).__name__ + ": " + str(e))[:200]}
    sys.stdout.write(json.dumps(out) + "\n"); sys.stdout.flush()
"""


class MathVerifyMissing(UserError, RuntimeError):
    pass


class MathHelperFailed(UserError, RuntimeError):
    """The sandboxed helper would not start here (its message names the isolation and the first error)."""


@dataclass
class Check:
    outcome: str  # one of OUTCOMES
    detail: str = ""

    @property
    def equal(self) -> bool:
        return self.outcome == "equal"


PACKAGES = ("math_verify", "latex2sympy2_extended", "sympy", "mpmath", "antlr4")  # what the helper imports


def _packages() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(package directories and their metadata to show read-only, their parents for sys.path). The
    metadata travels too: the LaTeX parser checks the ANTLR runtime's version through it."""
    import importlib.metadata
    import importlib.util

    dirs, parents, owners = [], [], importlib.metadata.packages_distributions()
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise MathVerifyMissing("the math domain needs math-verify: pip install -e '.[eval]'")
        package = os.path.realpath(list(spec.submodule_search_locations)[0])
        dirs.append(package)
        parents.append(os.path.dirname(package))
        for dist in owners.get(name, []):
            meta = getattr(importlib.metadata.distribution(dist), "_path", None)
            if meta is not None and os.path.isdir(meta):
                dirs.append(os.path.realpath(meta))
    return tuple(dict.fromkeys(dirs)), tuple(dict.fromkeys(parents))


def _world_readable(path: str) -> bool:
    """Whether any user (the sandbox's `nobody`) can reach `path`: every directory above it searchable by
    others, and the path itself readable and searchable."""
    try:
        st = os.stat(path)
        if (st.st_mode & (stat.S_IROTH | stat.S_IXOTH)) != (stat.S_IROTH | stat.S_IXOTH):
            return False
        parent = os.path.dirname(path)
        while parent and parent != os.path.dirname(parent):
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
            parent = os.path.dirname(parent)
    except OSError:
        return False
    return True


def _stage(dirs: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A copy of `dirs` that the sandbox's unprivileged user can read, for a virtual environment under a
    directory it cannot enter (`/root`, a 0700 home or `mktemp -d` folder): hard links where the file
    system allows (no data copied), else copies, in one directory per content under the system's temporary
    directory, made once and reused. Returns (what to bind, what to put on sys.path)."""
    key = hashlib.sha256()
    for d in dirs:
        key.update(f"{d}:{os.stat(d).st_mtime_ns}\n".encode())
    home = os.path.join(tempfile.gettempdir(), f"selfmine-math-{os.geteuid()}")
    os.makedirs(home, mode=0o755, exist_ok=True)
    st = os.lstat(home)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise MathHelperFailed(f"math checker: {home} is not a private directory of this user; remove it")
    os.chmod(home, 0o755)
    final = os.path.join(home, key.hexdigest()[:16])
    if not os.path.isdir(final):
        work = tempfile.mkdtemp(prefix=".staging-", dir=home)
        os.chmod(work, 0o755)
        site = os.path.join(work, "site")
        os.mkdir(site, 0o755)
        try:
            for d in dirs:
                shutil.copytree(d, os.path.join(site, os.path.basename(d)), copy_function=_link_or_copy, symlinks=True)
            for root, _, _ in os.walk(site):  # the copied directories readable by others, whatever the umask
                os.chmod(root, 0o755)
        except OSError as e:  # a full disk, say: nothing half-made stays, and one line says why
            shutil.rmtree(work, ignore_errors=True)
            first = e.args[0][0][-1] if isinstance(e, shutil.Error) and e.args and e.args[0] else e  # copytree's list
            raise MathHelperFailed(f"math checker: could not stage its packages in {home}: {first}") from None
        try:
            os.rename(work, final)
        except OSError:  # another process staged the same content first
            shutil.rmtree(work, ignore_errors=True)
    site = os.path.join(final, "site")
    return (final,), (site,)


def _link_or_copy(src: str, dst: str) -> None:
    """A hard link of a file others may read; a copy, made readable, of any other (a link shares the
    venv's inode, whose mode is not ours to change) or across file systems."""
    if os.stat(src).st_mode & stat.S_IROTH:
        try:
            os.link(src, dst)
            return
        except OSError:
            pass
    shutil.copy2(src, dst)
    os.chmod(dst, 0o644)


_ANNOUNCED: set[str] = set()


def helper_command(memory_mb: int) -> tuple[list[str], dict, str, tuple[str, ...]]:
    """The helper runs in the judge's isolation (its minimal view of the host, its namespaces, no
    network), with only math-verify's packages added read-only: the text it parses is the model's.
    Returns (command, Popen keyword arguments, isolation label, the helper's package directories)."""
    dirs, paths = _packages()
    launcher = best_launcher()
    if launcher.drop_to_nobody and not all(_world_readable(d) for d in dirs):
        dirs, paths = _stage(dirs)
    launcher = with_binds(launcher, dirs)
    if launcher.mode == "rlimits" and "rlimits" not in _ANNOUNCED:
        _ANNOUNCED.add("rlimits")
        print("selfmine math checker: no sandbox here; math-verify runs under a memory limit only", file=sys.stderr)
    label = launcher.label.replace("+seccomp", "")  # the filter is the judge's program process's, not this
    return launcher.command("-c", HELPER, str(memory_mb), *paths), popen_kwargs(launcher), label, paths


class _Helper:
    def __init__(self, memory_mb: int):
        self.memory_mb = memory_mb
        self.proc: subprocess.Popen | None = None
        self.isolation = ""
        self.paths: tuple[str, ...] = ()  # where the helper finds math-verify (a staged copy, if it had to be)

    def _start(self) -> None:
        cmd, kwargs, self.isolation, self.paths = helper_command(self.memory_mb)
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            start_new_session=True,
            **kwargs,
        )
        line = self._read(120.0)
        if line != "ready":
            try:  # its output ended: let it exit, so that what it said is there to read
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.kill()
            if "No module named" in err:
                raise MathVerifyMissing(f"the math checker could not import its packages: {err.strip()[-200:]}")
            first = next((x for x in reversed(err.strip().splitlines()) if x.strip()), "no output")
            raise MathHelperFailed(f"math-verify helper did not start ({self.isolation}): {first[:300]}")

    def _read(self, timeout: float) -> str | None:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        return line.strip() if line else None

    def kill(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, 9)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            self.proc = None

    def check(self, gold: str, pred: str, deadline: float) -> Check:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        try:
            self.proc.stdin.write(json.dumps({"gold": gold, "pred": pred}) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.kill()
            return Check("undecided", "checker process died")
        line = self._read(deadline)
        if line is None:
            self.kill()  # overran (or died): the next check gets a fresh helper
            return Check("undecided", f"no decision within {deadline:g}s")
        out = json.loads(line)
        return Check(out["outcome"], out.get("detail", ""))


class MathChecker:
    """`check_many([(gold, pred), ...])` in input order, across `workers` warm helper processes."""

    def __init__(self, workers: int | None = None, deadline: float = DEADLINE_S, memory_mb: int = MEMORY_MB):
        self.workers = max(1, workers or min(8, os.cpu_count() or 1))
        self.deadline = deadline
        self._free = [_Helper(memory_mb) for _ in range(self.workers)]
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self.workers)

    def _one(self, gold: str, pred: str | None) -> Check:
        if pred is None or not pred.strip():
            return Check("no_answer")
        with self._lock:
            helper = self._free.pop()
        try:
            return helper.check(gold, pred, self.deadline)
        finally:
            with self._lock:
                self._free.append(helper)

    def check(self, gold: str, pred: str | None) -> Check:
        return self._one(gold, pred)

    def check_many(self, pairs: list[tuple[str, str | None]]) -> list[Check]:
        return list(self._pool.map(lambda gp: self._one(*gp), pairs))

    def close(self) -> None:
        self._pool.shutdown()
        for h in self._free:
            h.kill()


_SHARED: MathChecker | None = None
_SHARED_PID = 0


def checker() -> MathChecker:
    """The process's shared checker (helpers start on first use, stop at exit)."""
    global _SHARED, _SHARED_PID
    if _SHARED is None or _SHARED_PID != os.getpid():
        _SHARED, _SHARED_PID = MathChecker(), os.getpid()
        atexit.register(_SHARED.close)
    return _SHARED
