"""The fork server: reads each request from the host, forks the program's and the tests' processes, and
replies with the tests' reports. `main` is the worker's entry point."""

import bisect  # noqa: F401
import copy  # noqa: F401
import decimal  # noqa: F401
import errno
import fractions  # noqa: F401
import functools  # noqa: F401
import gc
import heapq  # noqa: F401
import json
import math  # noqa: F401
import operator  # noqa: F401
import os
import random  # noqa: F401
import re  # noqa: F401
import select
import shutil
import signal
import socket
import stat
import statistics  # noqa: F401
import string  # noqa: F401
import sys
import tempfile
import time

from .confine import (
    BUF,
    EVENTS_CAP,
    PR_SET_CHILD_SUBREAPER,
    PR_SET_DUMPABLE,
    PR_SET_PDEATHSIG,
    WORKER_RECURSION,
    count_own_processes,
    own_attributes,
    prctl,
    read_exact,
    zero,
)
from .program import run_program
from .tests import run_tests

_ATTRIBUTES = None


def descendants(root):
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


def kill_until_none_new(current, pause, before=None):
    """SIGKILL every process `current()` names, again and again, until it names none not killed yet
    (the host's cgroup cleanup uses this too). Killed processes may still be tearing down: they can run no
    more code."""
    killed = set()
    for _ in range(200):
        if before:
            before()
        pids = set(current())
        if not pids - killed:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        killed |= pids
        time.sleep(pause)
    return killed


def _kill_all_below(me, children, settle=2.0):
    """Kill every descendant and wait until each is gone (reaped), so that nothing the program started
    outlives its verdict. The worker is a subreaper: once a process dies its orphans become the worker's
    children, so killing until none is left reaches every descendant, whatever its session. A SIGKILLed
    process can take a moment to die on a loaded machine; one that is still there after `settle` seconds
    returns False, and the worker retires (its whole sandbox is then killed). The two `children` (program
    and tests process, already SIGKILLed) are not waited for: they run no more code, and their teardown
    would cost every program a few milliseconds; they are reaped before the next program."""
    if not kill_until_none_new(lambda: descendants(me), 0.0005, before=_reap) - set(children):
        return True  # the usual case: the program started nothing
    until = time.monotonic() + settle
    while True:
        _reap()
        left = descendants(me) - set(children)
        if not left:
            return True
        if time.monotonic() > until:
            return False
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.001)


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _fork(target, *args):
    pid = os.fork()
    if pid == 0:
        # A forked child must never return into the server loop (whose cleanup would delete the worker's
        # base directory and poison every later program): whatever escapes, it exits here.
        try:
            target(*args)
        finally:
            os._exit(71)
    return pid


def _poll(pid, wait=0.0, forever=False):
    """The child's end, if it has ended within `wait` seconds (reaped now), or `forever`."""
    if forever:
        return _status(os.waitpid(pid, 0)[1])
    until = time.monotonic() + wait
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return _status(status)
        if time.monotonic() >= until:
            return {"signal": None, "exit_code": None, "running": True}
        time.sleep(0.001)


def _status(status):
    return {
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
    }


def _empty(dir_fd, keep=(), depth=0):
    """Remove everything in the directory `dir_fd`, whatever the program made of it: directories it made
    unreadable or unwritable are given back their modes first, links are removed, never followed, and
    special files are unlinked, never opened. Runs only once every process of the program is gone, so
    nothing changes underneath. Returns whether the directory is now empty (but for `keep`)."""
    if depth > 64:
        return False
    clean = True
    for name in os.listdir(dir_fd):
        if name in keep:
            continue
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                os.chmod(name, 0o700, dir_fd=dir_fd)
                sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
                try:
                    clean = _empty(sub, depth=depth + 1) and clean
                finally:
                    os.close(sub)
                os.rmdir(name, dir_fd=dir_fd)
            else:
                os.unlink(name, dir_fd=dir_fd)
        except OSError:
            clean = False
    return clean


def _strip_attributes(fd):
    """Remove every extended attribute of the directory `fd` (an ACL is one: a default ACL the program set
    would make every later program's files read-only, and mode bits do not show it). False where one
    stays."""
    try:
        for name in os.listxattr(fd):
            os.removexattr(fd, name)
        return not os.listxattr(fd)
    except OSError as e:
        return e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP)  # a filesystem without them: none to remove


class _Scratch:
    """The worker's own directory (`base`, held open by descriptor, so renaming or removing its path
    changes nothing for the worker) and, per program, a fresh working directory inside it."""

    def __init__(self, base):
        self.base = base
        self.fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
        self.count = 0
        self.places = {}  # writable place -> (device, inode, mode) as first seen, before any program ran

    def remember(self, scrub):
        """The sandbox's writable places as they are before the first program: what `clean` gives back."""
        for path in scrub:
            if path not in self.places:
                try:
                    st = os.stat(path, follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    self.places[path] = (st.st_dev, st.st_ino, stat.S_IMODE(st.st_mode))

    def fresh(self):
        """A new, empty working directory for the next program, as a descriptor."""
        os.fchmod(self.fd, 0o700)  # the program runs as the same user and may have taken the modes away
        _strip_attributes(self.fd)  # ... or set a default ACL that the new directory would inherit
        self.count += 1
        name = "work-%d" % self.count
        os.mkdir(name, 0o700, dir_fd=self.fd)
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=self.fd)

    def clean(self, scrub):
        """Remove what the program left, here and in the sandbox's private writable places. False when
        something stays: the worker then retires, and its sandbox (its tmpfs mounts) goes with it."""
        try:
            os.fchmod(self.fd, 0o700)
            ok = _empty(self.fd)
        except OSError:
            ok = False
        own = os.path.dirname(self.base)
        for path in scrub:
            fd = self._reopen(path)
            if fd is None:
                ok = ok and path not in self.places  # a place it had that cannot be given back: retire
                continue
            try:
                keep = (os.path.basename(self.base),) if path == own else ()
                ok = _empty(fd, keep=keep) and ok
            except OSError:
                ok = False
            finally:
                os.close(fd)
        try:  # the directory must still be the worker's own, at its own path
            return ok and os.stat(self.base).st_ino == os.fstat(self.fd).st_ino
        except OSError:
            return False

    def _reopen(self, path):
        """A writable place, opened, with the mode it had before the first program (the program runs as its
        owner and may have made it 0555 or 000: the next program could not make a temporary file), or None
        where it cannot be (it is gone, or another directory stands at its path)."""
        dev, ino, mode = self.places.get(path, (None, None, None))
        try:
            if mode is not None:
                os.chmod(path, mode)  # a mount point: the program can neither replace it nor rename it
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            return None
        st = os.fstat(fd)
        same = mode is None or ((st.st_dev, st.st_ino) == (dev, ino) and stat.S_IMODE(st.st_mode) == mode)
        if not same or not _strip_attributes(fd):
            os.close(fd)
            return None
        return fd


def run_one(hdr, scratch):
    """Judge one program; returns (reply header, number of bytes of BUF that follow it)."""
    _reap()  # children of the last program that were still tearing down
    scratch.remember(hdr.get("scrub", ()))
    # Each child's output goes to an anonymous file of its own (no path to replace with a directory, a
    # link or a FIFO): the program can neither read what the tests process prints (a grounding call's
    # secret tag) nor write among it. Its current directory is new and held by descriptor.
    out_fd, tests_out_fd = os.memfd_create("output"), os.memfd_create("tests-output")
    try:
        work_fd = scratch.fresh()
    except OSError:
        os.close(out_fd)
        os.close(tests_out_fd)
        raise
    try:
        return _run(hdr, scratch, (out_fd, tests_out_fd), work_fd)
    finally:
        os.close(out_fd)
        os.close(tests_out_fd)
        os.close(work_fd)


def _run(hdr, scratch, outs, work_fd):
    start = time.monotonic()
    out_fd, tests_out_fd = outs
    prog, tests_pid, ev_r, ready_r = _start_children(hdr, outs, work_fd)
    n_events, timed_out = _read_events(ev_r, start + float(hdr["timeout"]))
    prog_status, tests_status = _end_children(prog, tests_pid, n_events, timed_out)
    # the tests process wrote its byte once it had read all of its tests from stdin
    retire = not (select.select([ready_r], [], [], 0)[0] and os.read(ready_r, 1) == b"t")
    os.close(ready_r)
    os.close(ev_r)
    duration = time.monotonic() - start
    if not _kill_all_below(os.getpid(), (prog, tests_pid)):
        retire = True
    # the tests' output first: what the program prints cannot push it out of the kept part
    output_bytes = os.fstat(tests_out_fd).st_size + os.fstat(out_fd).st_size
    n_output = _read_output(tests_out_fd, n_events, hdr["output_keep"])
    n_output += _read_output(out_fd, n_events + n_output, hdr["output_keep"] - n_output)
    if not scratch.clean(hdr.get("scrub", ())):
        retire = True
    try:  # changed from outside by the program: the next program needs a fresh worker
        if own_attributes() != _ATTRIBUTES:
            retire = True
    except Exception:
        retire = True
    reply = {
        "events_len": n_events,
        "output_len": n_output,
        "output_bytes": output_bytes,
        "timed_out": timed_out,
        "program": prog_status,
        "tests": tests_status,
        "duration_s": duration,
        "retire": retire,
    }
    return reply, n_events + n_output


def _start_children(hdr, outs, work_fd):
    """Fork the program's process and the tests process. (their pids, the reports' and the ready pipe's
    read ends)"""
    # The code goes from the pipe into the buffer and, through the fork, to the program's process; the
    # worker zeroes its own copy at once, so no later program inherits it.
    code = memoryview(BUF)[: hdr["code_len"]]
    got = 0
    while got < len(code):
        n = os.readv(0, [code[got:]])
        if not n:
            raise EOFError("stream ended")
        got += n
    prog_sock, tests_sock = socket.socketpair()
    out_fd, tests_out_fd = outs
    prog = _fork(run_program, hdr, code, prog_sock.fileno(), work_fd, out_fd)
    zero(hdr["code_len"])
    prog_sock.close()
    ready_r, ready_w = os.pipe()
    ev_r, ev_w = os.pipe()
    tests_pid = _fork(run_tests, hdr, tests_sock.fileno(), ev_w, ready_w, work_fd, tests_out_fd)
    for fd in (ev_w, ready_w):
        os.close(fd)
    tests_sock.close()
    return prog, tests_pid, ev_r, ready_r


def _read_events(ev_r, deadline):
    """The tests process's reports into BUF, until it closes its pipe (done, or dead) or the deadline.
    (bytes kept, timed out)"""
    n_events = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return n_events, True
        if not select.select([ev_r], [], [], remaining)[0]:
            continue
        if n_events < EVENTS_CAP:
            got = os.readv(ev_r, [memoryview(BUF)[n_events:EVENTS_CAP]])
            n_events += got
        else:
            got = len(os.read(ev_r, 65536))
        if not got:
            return n_events, False


def _end_children(prog, tests_pid, n_events, timed_out):
    """How each child ended, then both killed. How each ended matters only where it ended first: the
    program when it died mid-tests, the tests process when it died before its last report. Read that now,
    then kill both (the program is never left running past its tests) without waiting out their teardown."""
    tail = bytes(BUF[max(0, n_events - 300) : n_events])
    if b'"event": "done"' in tail:  # the usual end: neither status matters
        prog_status, tests_status = _poll(prog), _poll(tests_pid)
    else:  # an early end: how each child ended decides the verdict, so wait for the true statuses
        tests_status = _poll(tests_pid, 0.05, forever=not timed_out)
        prog_status = _poll(prog, 0.2 if b'"program_gone"' in tail else 0.0)
    for pid in (prog, tests_pid):
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass
    return prog_status, tests_status


def _read_output(out_fd, at, keep):
    """What a child printed, its first `keep` bytes, into BUF at `at`; how many."""
    view = memoryview(BUF)[at : at + max(0, min(keep, len(BUF) - at))]
    n_output = 0
    while n_output < len(view):
        got = os.preadv(out_fd, [view[n_output:]], n_output)
        if not got:
            break
        n_output += got
    return n_output


def main():
    global _ATTRIBUTES
    count_own_processes()
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    prctl(PR_SET_DUMPABLE, 0)  # a program must not reach the protocol pipes through /proc/<ppid>/fd
    _ATTRIBUTES = own_attributes()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.setrecursionlimit(WORKER_RECURSION)  # values nested up to MAX_DEPTH levels cross; the program: _as_plain
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)  # values cross as JSON; some right answers are very large integers
    gc.freeze()  # the warm heap is never scanned again, so forked children do not copy it page by page
    base = tempfile.mkdtemp(prefix="selfmine-judge-")
    scratch = _Scratch(base)
    proto_out = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)  # children must not inherit the reply pipe under its usual number
    hello = json.dumps({"ready": True, "pid": os.getpid(), "base": base}).encode()
    os.write(proto_out, b"%08d" % len(hello) + hello)
    try:
        while True:
            try:
                head = read_exact(0, 8)
                hdr = json.loads(read_exact(0, int(head)))
            except (EOFError, ValueError):
                return
            try:
                reply, n = run_one(hdr, scratch)
            except Exception as e:  # the worker's own failure: reported as such, never as the program's
                reply, n = {"worker_error": "%s: %s" % (type(e).__name__, e), "retire": True}, 0
            reply["id"] = hdr.get("id")
            data = json.dumps(reply).encode()
            view = memoryview(BUF)[:n]
            os.write(proto_out, b"%08d" % len(data) + data)
            sent = 0
            while sent < n:
                sent += os.write(proto_out, view[sent:])
            zero(n)  # nothing of this program's tests or output stays in the worker's memory
            if reply.get("retire"):
                return  # stdin may hold bytes no child read: the pool starts a fresh worker
    finally:
        shutil.rmtree(base, ignore_errors=True)
