"""The fork server that runs inside the sandbox. Standard library only: it is started as a script.

One worker judges one program at a time. For each request it forks a fresh child (no interpreter start:
the modules below are already imported), the child drops to hard resource limits, runs the program and
then each test, and reports every step on a private pipe. The worker, not the child, decides the verdict:
a pass needs a report for every test, each carrying the request's nonce, followed by a final report.
Anything that stops the child early (sys.exit, os._exit, a signal, killing the worker) leaves reports
missing and so cannot pass.

Protocol: one JSON request per line on stdin, one JSON reply per line on stdout.
"""

import ctypes
import json
import os
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback

# Warm imports: children inherit them for free. Only pure standard library, nothing large.
import bisect, collections, copy, dataclasses, decimal, fractions, functools, hashlib  # noqa: E401,F401
import heapq, itertools, math, operator, random, re, statistics, string, typing  # noqa: E401,F401

TAIL_CHARS = 2000
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:
    _LIBC = None


def _prctl(option, value):
    try:
        _LIBC.prctl(option, value, 0, 0, 0)
    except Exception:
        pass


def _count_own_processes():
    # RLIMIT_NPROC counts every process of this user (in this user namespace), not just the child's.
    uid, n = os.getuid(), 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                n += os.stat("/proc/" + name).st_uid == uid
            except OSError:
                pass
    return n


_OWN_PROCESSES = 0


def _tail(text, n=TAIL_CHARS):
    return text if len(text) <= n else "..." + text[-n:]


def _child(req, wfd, workdir):
    """Runs in the forked child. Never returns."""
    try:
        os.setsid()
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.chdir(workdir)
        out = os.open("output.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.dup2(wfd, 3)
        os.closerange(4, 1 << 16)
        wfd = 3
        cpu = int(req["timeout"]) + 1
        mem = int(req["memory_mb"]) * 1024 * 1024
        limits = [
            (resource.RLIMIT_CPU, (cpu, cpu + 1)),
            (resource.RLIMIT_AS, (mem, mem)),
            (resource.RLIMIT_FSIZE, (req["output_limit"], req["output_limit"])),
            (resource.RLIMIT_NPROC, (req["nproc"] + _OWN_PROCESSES, req["nproc"] + _OWN_PROCESSES)),
            (resource.RLIMIT_CORE, (0, 0)),
            (resource.RLIMIT_NOFILE, (256, 256)),
        ]
        for which, value in limits:
            try:
                resource.setrlimit(which, value)
            except (ValueError, OSError):
                pass
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
    except BaseException:
        os._exit(70)

    # Bind what the reporting needs to locals now, so the program cannot swap it out from under us.
    nonce, write, dumps, exc_info, fmt = req["nonce"], os.write, json.dumps, sys.exc_info, traceback.format_exception

    def report(**event):
        event["nonce"] = nonce
        write(wfd, (dumps(event) + "\n").encode())

    def describe():
        etype, value, tb = exc_info()
        # the program chooses the exception: its __str__ or __repr__ may raise or loop; never let that escape
        try:
            text = "".join(fmt(etype, value, tb.tb_next if tb is not None else None))  # drop the harness frame
        except BaseException:
            text = "(traceback could not be formatted)"
        try:
            msg = str(value)[:TAIL_CHARS]
        except BaseException:
            msg = "(message could not be formatted)"
        try:
            name = str(etype.__name__)
        except BaseException:
            name = "BaseException"
        return name, msg, text[-TAIL_CHARS:]

    report(event="start")
    scope = {"__name__": "solution", "__builtins__": __builtins__}
    try:
        exec(compile(req["code"], "solution.py", "exec"), scope)
    except BaseException:
        etype, msg, tb = describe()
        report(event="load_error", type=etype, message=msg, traceback=tb)
        os._exit(0)
    for i, test in enumerate(req["tests"]):
        try:
            exec(compile(test, "test_%d.py" % i, "exec"), scope)
        except AssertionError:
            etype, msg, tb = describe()
            report(event="test", index=i, outcome="failed", type=etype, message=msg, traceback=tb)
        except BaseException:
            etype, msg, tb = describe()
            report(event="test", index=i, outcome="error", type=etype, message=msg, traceback=tb)
        else:
            report(event="test", index=i, outcome="passed")
    report(event="done", count=len(req["tests"]))
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()  # the program may have closed or replaced the stream
        except BaseException:
            pass
    os._exit(0)  # skips atexit hooks and finalizers the program registered


def _descendants(root):
    """Every live process below `root` (orphans included: the worker is a subreaper)."""
    parent = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    stat = f.read()
                parent[int(name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
            except (OSError, ValueError):
                continue
    found, frontier = set(), {root}
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier and p not in found}
        found |= frontier
    return found


def _kill_all_below(me):
    for _ in range(50):
        pids = _descendants(me)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _reap()
        time.sleep(0.001)
    _reap()


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def run_one(req, base):
    workdir = tempfile.mkdtemp(prefix="run-", dir=base)
    os.chmod(workdir, 0o700)
    rfd, wfd = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        # The forked child must never return into the server loop below (whose cleanup would delete the
        # worker's base directory and poison every later program): whatever escapes, it exits here.
        try:
            os.close(rfd)
            _child(req, wfd, workdir)
        finally:
            os._exit(71)
    os.close(wfd)
    deadline = start + float(req["timeout"])
    pidfd = os.pidfd_open(pid)
    buf, timed_out, exited, eof = b"", False, False, False
    while not exited:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([pidfd] if eof else [rfd, pidfd], [], [], remaining)
        if rfd in ready:
            chunk = os.read(rfd, 65536)
            eof = not chunk
            if len(buf) < 4 * 1024 * 1024:
                buf += chunk
        exited = pidfd in ready
    if timed_out:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass
    _, status = os.waitpid(pid, 0)
    os.close(pidfd)
    # Reports still in the pipe; a grandchild may hold its write end open, so never wait for EOF here.
    while not eof and select.select([rfd], [], [], 0)[0]:
        chunk = os.read(rfd, 65536)
        eof = not chunk
        if len(buf) < 4 * 1024 * 1024:
            buf += chunk
    duration = time.monotonic() - start
    _kill_all_below(os.getpid())
    os.close(rfd)
    output, output_bytes = "", 0
    try:
        path = os.path.join(workdir, "output.txt")
        output_bytes = os.path.getsize(path)
        with open(path, "rb") as f:
            output = f.read(req["output_keep"]).decode("utf-8", "replace")
    except OSError:
        pass
    shutil.rmtree(workdir, ignore_errors=True)
    events = []
    for line in buf.decode("utf-8", "replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("nonce") == req["nonce"]:
            event.pop("nonce")
            events.append(event)
    signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    return {
        "events": events,
        "timed_out": timed_out,
        "signal": signum,
        "exit_code": exit_code,
        "duration_s": duration,
        "output": output,
        "output_bytes": output_bytes,
    }


def main():
    global _OWN_PROCESSES
    _OWN_PROCESSES = _count_own_processes()
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    base = tempfile.mkdtemp(prefix="selfmine-judge-")
    proto_in = os.fdopen(os.dup(0), "r")
    proto_out = os.fdopen(os.dup(1), "w")
    # Children must not inherit the protocol pipes under their usual numbers.
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    proto_out.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    proto_out.flush()
    try:
        for line in proto_in:
            req = json.loads(line)
            try:
                reply = run_one(req, base)
            except Exception as e:  # the worker's own failure: reported as such, never as the program's
                reply = {"worker_error": "%s: %s" % (type(e).__name__, e)}
            reply["id"] = req.get("id")
            proto_out.write(json.dumps(reply) + "\n")
            proto_out.flush()
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
