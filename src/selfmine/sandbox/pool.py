"""Warm sandboxed workers and a pool of them. Only pipes and deadlines here, no signals handlers,
so judging works from any thread and from worker processes."""

from __future__ import annotations

import base64
import json
import os
import queue
import select
import shutil
import signal
import subprocess
import threading
import time
import zlib
from pathlib import Path

from . import cgroup
from .isolation import SECCOMP, WRITABLE, Launcher, best_launcher, popen_kwargs
from .worker import MODULES

# Without a cgroup, memory is bounded per process only (RLIMIT_AS). The process limit counts the program and
# the tests process too: 3 lets the program start one child, so one sandbox holds at most three times its
# memory limit (program, child, tests process) instead of 32 times.
NPROC_WITHOUT_CGROUP = 3
# The worker's modules become one package inside the sandbox, each run in order (so each imports only the
# ones before it) under a name no file has: a traceback there never reads a file the program wrote.
BOOTSTRAP = """import base64, json, sys, types, zlib
def _load(sources):
    for name, text in sources:
        full = "selfmine_worker" + ("" if name == "__init__" else "." + name)
        module = sys.modules[full] = types.ModuleType(full)
        module.__package__ = "selfmine_worker"
        if name == "__init__":
            module.__path__ = []
        else:
            setattr(sys.modules["selfmine_worker"], name, module)
        exec(compile(text, "<selfmine_worker/%%s.py>" %% name, "exec"), module.__dict__)
    return module
_load(json.loads(zlib.decompress(base64.b85decode("%s")))).main()
"""


def worker_script() -> str:
    """The worker (the package `worker/`) as one `python -c` script. Compressed, because one argument
    may not exceed 128 KiB (the kernel's MAX_ARG_STRLEN), which its sources together come close to."""
    folder = Path(__file__).parent / "worker"
    sources = [[name, (folder / f"{name}.py").read_text()] for name in ("__init__", *MODULES)]
    return BOOTSTRAP % base64.b85encode(zlib.compress(json.dumps(sources).encode(), 9)).decode()


WORKER_SOURCE = worker_script()
START_TIMEOUT_S = 20.0
GRACE_S = 5.0  # the worker's own deadline handling gets this long before we kill the whole sandbox

_SPAWNER_LOCK = threading.Lock()
_SPAWNER: tuple[int, queue.SimpleQueue] | None = None  # (pid, requests) of this process's spawner thread


def _spawner(requests: queue.SimpleQueue) -> None:
    while True:
        args, kwargs, box, done = requests.get()
        try:
            box.append(subprocess.Popen(*args, **kwargs))
        except BaseException as e:  # handed to the caller, who raises it
            box.append(e)
        done.set()


def popen_lasting(*args, **kwargs) -> subprocess.Popen:
    """`subprocess.Popen`, forked from a thread that lives as long as this process. A sandbox dies with its
    parent (bubblewrap's --die-with-parent, the rlimits worker's own PR_SET_PDEATHSIG), and the kernel's
    "parent" is the *thread* that forked it: a worker started from one of `judge_many`'s executor threads
    was SIGKILLed when that call ended, while the pool kept it, often in the middle of another call's
    program (two such deaths in one `judge` were scored as the program killing its worker)."""
    global _SPAWNER
    if threading.current_thread() is threading.main_thread():  # it ends only when the process does
        return subprocess.Popen(*args, **kwargs)
    with _SPAWNER_LOCK:
        if _SPAWNER is None or _SPAWNER[0] != os.getpid():  # none yet, or a forked child's copy of none
            _SPAWNER = (os.getpid(), queue.SimpleQueue())
            threading.Thread(target=_spawner, args=(_SPAWNER[1],), name="selfmine-spawner", daemon=True).start()
        requests = _SPAWNER[1]
    box: list = []
    done = threading.Event()
    requests.put((args, kwargs, box, done))
    done.wait()
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


class WorkerDied(Exception):
    """The sandboxed worker vanished or hung mid-request, or answered out of protocol."""

    def __init__(self, message: str, hung: bool = False, protocol: bool = False):
        super().__init__(message)
        self.hung = hung
        self.protocol = protocol  # a missing, foreign or unparseable reply: the judge's failure, never the program's


class Worker:
    """One sandbox (one bwrap / namespace set) holding a warm fork server."""

    def __init__(self, launcher: Launcher):
        self.launcher = launcher
        self.proc = popen_lasting(
            launcher.command("-c", WORKER_SOURCE),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # one process group: killing it takes the whole sandbox down
            **popen_kwargs(launcher),
        )
        self._buf = b""
        self.cgroup: cgroup.Cgroup | None = None
        self._cgroup_memory = 0
        self._scratch: str | None = None
        raw = self._read_frame(time.monotonic() + START_TIMEOUT_S)
        hello = json.loads(raw)
        if not hello.get("ready"):
            raise WorkerDied(f"worker did not start: {raw[:200]!r}")
        scratch = str(hello.get("base", ""))
        if launcher.mode == "rlimits" and os.path.basename(scratch).startswith("selfmine-judge-"):
            # No private /tmp under rlimits: the worker's scratch directory is the host's, and a killed
            # worker cannot remove it itself.
            self._scratch = scratch
        if cgroup.label() != cgroup.NONE:
            # The worker forks nothing before its first request: moving the tree now puts every later
            # process of this sandbox inside.
            self.cgroup = cgroup.create()  # its memory cap follows each request's own limit
            try:
                if self.cgroup is None:
                    raise OSError("could not create it")
                self.cgroup.adopt(self.proc.pid)
            except OSError as e:
                self.kill()
                raise WorkerDied(f"could not place the sandbox in its cgroup: {e}") from None

    def _read_exact(self, n: int, deadline: float) -> bytes:
        fd = self.proc.stdout.fileno()
        while len(self._buf) < n:
            remaining = deadline - time.monotonic()
            # Past the deadline, what the worker already wrote is still read (a host suspended or starved
            # for a while finds the answer waiting); only a worker with nothing to say is hung.
            ready, _, _ = select.select([fd], [], [], max(0.0, remaining))
            if not ready and remaining <= 0:
                self.kill()
                raise WorkerDied("worker stopped answering", hung=True)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    self.kill()
                    raise WorkerDied("worker exited")
                self._buf += chunk
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def _read_frame(self, deadline: float) -> bytes:
        head = self._read_exact(8, deadline)
        if not head.isdigit():
            self.kill()
            raise WorkerDied(f"worker reply is out of protocol: {head!r}", protocol=True)
        return self._read_exact(int(head), deadline)

    def run(self, request: dict, code: str, tests: dict) -> dict:
        """Send one program and its tests; the reply's header, with `events` (raw lines) and `output`."""
        code_b, tests_b = code.encode("utf-8", "surrogatepass"), json.dumps(tests).encode()
        scrub = list(WRITABLE) if self.launcher.mode != "rlimits" else []  # never the host's own /tmp
        request = dict(request)
        if self.cgroup is None:  # no aggregate cap: each process may hold the whole address-space limit
            request["nproc"] = min(int(request.get("nproc", 0)), NPROC_WITHOUT_CGROUP)
        header = json.dumps(
            {**request, "code_len": len(code_b), "tests_len": len(tests_b), "scrub": scrub, "seccomp": SECCOMP}
        ).encode()
        memory = int(request.get("memory_mb", 0)) * 1024 * 1024 + cgroup.OVERHEAD
        if self.cgroup is not None and memory != self._cgroup_memory:  # before the program can exist
            self.cgroup.limit(memory)
            self._cgroup_memory = memory
        try:
            self.proc.stdin.write(b"%08d" % len(header) + header + code_b + tests_b)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as e:
            self.kill()
            raise WorkerDied(f"worker pipe closed: {e}") from None
        deadline = time.monotonic() + float(request["timeout"]) + GRACE_S
        line = self._read_frame(deadline)
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        # Each reply names its request: bytes written onto the pipe by anything else would otherwise shift
        # every later verdict of this worker by one.
        if not isinstance(reply, dict) or reply.get("id") != request.get("id"):
            self.kill()
            raise WorkerDied(f"worker reply does not match the request: {line[:120]!r}", protocol=True)
        reply["events"] = self._read_exact(int(reply.get("events_len", 0)), deadline).decode("utf-8", "replace")
        reply["output"] = self._read_exact(int(reply.get("output_len", 0)), deadline).decode("utf-8", "replace")
        if reply.get("retire"):
            self.kill()  # it said it is leaving: its stdin may hold bytes no child read
        return reply

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.returncode is None:  # once reaped, its pid (and group id) may already be another's
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.kill()
        except OSError:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self.cgroup is not None:
            self.cgroup.kill()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)


class WorkerPool:
    """Up to `size` warm workers, started lazily, handed out one per concurrent call."""

    def __init__(self, size: int | None = None, isolation: str | None = None):
        self.size = max(1, size or os.cpu_count() or 1)
        self.launcher = best_launcher(isolation)
        cgroup.announce()
        self._idle: queue.LifoQueue[Worker] = queue.LifoQueue()
        self._started = 0
        self._lock = threading.Lock()
        self._all: list[Worker] = []
        self._owner = os.getpid()

    @property
    def isolation(self) -> str:
        """The launcher's label with the cgroup part: `bwrap+seccomp+cgroup1`, `unshare+seccomp (no cgroup)`."""
        return self.launcher.describe(cgroup.label())

    def acquire(self) -> Worker:
        while True:
            try:
                return self._usable(self._idle.get_nowait())
            except queue.Empty:
                pass
            with self._lock:
                start_new = self._started < self.size
                if start_new:
                    self._started += 1
            if start_new:
                try:
                    return self._spawn()
                except Exception:
                    with self._lock:
                        self._started -= 1
                    raise
            try:
                return self._usable(self._idle.get(timeout=0.1))
            except queue.Empty:
                continue

    def _usable(self, worker: Worker) -> Worker:
        """An idle worker, if it is still alive; one that died between programs (killed from outside: no
        program was running in it) is dropped and queue.Empty raised, so that its death is never counted
        against the next program."""
        if worker.alive:
            return worker
        worker.kill()  # its cgroup and scratch directory
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
                self._started -= 1
        raise queue.Empty

    def _spawn(self) -> Worker:
        worker = Worker(self.launcher)
        with self._lock:
            self._all.append(worker)
        return worker

    def release(self, worker: Worker) -> None:
        if worker.alive:
            self._idle.put(worker)
            return
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        try:
            self._idle.put(self._spawn())
        except Exception:
            with self._lock:
                self._started -= 1

    def close(self) -> None:
        if os.getpid() != self._owner:  # a forked child must not kill its parent's sandboxes
            return
        with self._lock:
            workers, self._all = self._all, []
            self._started = 0
        for w in workers:
            w.kill()
        while not self._idle.empty():
            self._idle.get_nowait()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
