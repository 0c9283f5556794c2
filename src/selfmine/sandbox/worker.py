"""The fork server that runs inside the sandbox. Standard library only: it is started as a script.

For each request the worker forks two children that share nothing but a socket:

- the *program* process runs the model's code and nothing else. It reads the code straight from the
  worker's stdin, drops every capability, and then only answers calls ("run f on these arguments") with
  the value, encoded as plain data. It never sees the tests, the expected values, the nonce or the
  reporting pipe, so nothing it does can produce a pass.
- the *tests* process never runs model code. It reads the tests (and the nonce) straight from stdin, makes
  itself non-dumpable, and runs each assert with the program's functions replaced by proxies that call
  across the socket. Comparisons happen here, on decoded values, and only this process reports outcomes.

The worker itself never holds code, tests or outcomes in ordinary Python objects: payloads go from the
kernel pipe into the child that needs them, and the children's reports pass through one preallocated
buffer that is zeroed after each reply, so a later program forked from the worker finds nothing in its
inherited memory.

Protocol, host -> worker: 8 ASCII digits, a JSON header, the code bytes, the tests bytes (JSON).
Worker -> host: 8 ASCII digits, a JSON header, the tests process's event records (each 8 ASCII digits
and a JSON object), the output bytes.
"""

import ast
import bisect  # noqa: F401  (warm imports: the program's process inherits them for free)
import builtins
import collections
import copy  # noqa: F401
import ctypes
import dataclasses  # noqa: F401
import decimal  # noqa: F401
import fractions  # noqa: F401
import functools
import gc
import hashlib
import heapq  # noqa: F401
import importlib
import itertools  # noqa: F401
import json
import math  # noqa: F401
import mmap
import operator  # noqa: F401
import os
import random  # noqa: F401
import re  # noqa: F401
import resource
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
import traceback
import typing  # noqa: F401

TAIL_CHARS = 2000
EVENTS_CAP = 4 * 1024 * 1024
MESSAGE_CAP = 64 * 1024 * 1024
CODE_CAP = 4 * 1024 * 1024
SEND_NODES = 1_000_000  # a larger value crosses as a digest
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36

try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:
    _LIBC = None


def _prctl(option, value):
    try:
        return _LIBC.prctl(option, value, 0, 0, 0)
    except Exception:
        return -1


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities():
    """Zero every capability set (the program may run as root inside a user namespace, where it would
    otherwise be allowed to read the tests process's memory). Returns False where that is not possible."""
    if _prctl(PR_SET_NO_NEW_PRIVS, 1) != 0:
        return False
    try:
        return _LIBC.capset(ctypes.byref(_CapHeader(0x20080522, 0)), (_CapData * 2)()) == 0
    except Exception:
        return False


# Syscalls the program's process never needs and an attacker would: reading or writing another process's
# memory, kernel attack surface, and leaving the namespaces. x86_64 numbers; elsewhere no filter is set
# (and the verdict says so).
SECCOMP_DENY_X86_64 = {
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "perf_event_open": 298,
    "bpf": 321,
    "userfaultfd": 323,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "mount": 165,
    "umount2": 166,
    "unshare": 272,
    "setns": 308,
    "pivot_root": 155,
    "chroot": 161,
    "kexec_load": 246,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "open_by_handle_at": 304,
    "name_to_handle_at": 303,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "pidfd_send_signal": 424,
    "pidfd_getfd": 438,
    "fsopen": 430,
    "fsmount": 432,
    "move_mount": 429,
    "open_tree": 428,
}
# Signals reach only the process itself and its own process group: the tests process and the worker run as
# the same user, and a stopped or killed tests process must never be the program's doing. (Their ids, as
# the first argument.)
SECCOMP_SIGNAL_X86_64 = {"kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297}
# ... nor by proxy: a file's owner (F_SETOWN, F_SETSIG, F_SETOWN_EX; FIOSETOWN, SIOCSPGRP) receives SIGIO
# or any chosen signal whenever the file becomes ready.
FCNTL, FCNTL_OWNER = 72, (8, 10, 15)
IOCTL, IOCTL_OWNER = 16, (0x8901, 0x8902)
X32_SYSCALL_BIT = 0x40000000  # the x32 ABI shares x86_64's audit arch: its numbers would bypass every check
AUDIT_ARCH_X86_64 = 0xC000003E
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
EPERM = 1


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def _assemble(lines):
    """Classic BPF from (op, k, true label, false label) and label strings: jumps are resolved to the
    forward offsets the kernel wants."""
    at, n = {}, 0
    for line in lines:
        if isinstance(line, str):
            at[line] = n
        else:
            n += 1
    code, n = [], 0
    for line in lines:
        if isinstance(line, str):
            continue
        op, k, yes, no = line
        jt = at[yes] - n - 1 if yes else 0
        jf = at[no] - n - 1 if no else 0
        code.append((op, jt, jf, k))
        n += 1
    return code


def _seccomp_program(own_pid):
    """The filter of one process: wrong architecture -> kill; an x32 or denied syscall -> EPERM; a signal
    to anything but itself or its own process group -> EPERM; making a file signal its owner -> EPERM;
    anything else allowed."""
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET|K
    arg0, arg1 = 16, 24  # low words of seccomp_data.args[0] and args[1] (little endian)
    lines = [(ld, 4, None, None), (jeq, AUDIT_ARCH_X86_64, "nr", "kill"), "nr", (ld, 0, None, None)]
    lines.append((jge, X32_SYSCALL_BIT, "deny", "x64"))
    lines.append("x64")
    for nr in sorted(SECCOMP_DENY_X86_64.values()):
        lines.append((jeq, nr, "deny", None))
    for nr in sorted(SECCOMP_SIGNAL_X86_64.values()):
        lines.append((jeq, nr, "signal", None))
    lines += [(jeq, FCNTL, "fcntl", None), (jeq, IOCTL, "ioctl", None), (ret, SECCOMP_RET_ALLOW, None, None)]
    lines += ["signal", (ld, arg0, None, None)]
    for pid in (own_pid, 0, (-own_pid) & 0xFFFFFFFF):
        lines.append((jeq, pid, "allow", None))
    lines.append((ret, SECCOMP_RET_ERRNO | EPERM, None, None))
    lines += ["fcntl", (ld, arg1, None, None)] + [(jeq, cmd, "deny", None) for cmd in FCNTL_OWNER]
    lines.append((ret, SECCOMP_RET_ALLOW, None, None))
    lines += ["ioctl", (ld, arg1, None, None)] + [(jeq, cmd, "deny", None) for cmd in IOCTL_OWNER]
    lines += ["allow", (ret, SECCOMP_RET_ALLOW, None, None)]
    lines += ["deny", (ret, SECCOMP_RET_ERRNO | EPERM, None, None)]
    lines += ["kill", (ret, SECCOMP_RET_KILL_PROCESS, None, None)]
    code = _assemble(lines)
    return (_SockFilter * len(code))(*[_SockFilter(*c) for c in code])


SECCOMP_ARCH = os.uname().machine == "x86_64"


def _install_seccomp():
    """True when this process's filter is in place (needs no_new_privs, set just before). Built here, after
    the fork, because it names the process's own id."""
    if not SECCOMP_ARCH:
        return False
    filt = _seccomp_program(os.getpid())
    prog = _SockFprog(len(filt), ctypes.cast(filt, ctypes.POINTER(_SockFilter)))
    try:
        return _LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) == 0
    except Exception:
        return False


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


def _read_exact(fd, n):
    parts, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError("stream ended")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _limits(hdr, extra_processes):
    cpu = int(hdr["timeout"]) + 1
    mem = int(hdr["memory_mb"]) * 1024 * 1024
    nproc = extra_processes + _OWN_PROCESSES
    for which, value in [
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_AS, (mem, mem)),
        (resource.RLIMIT_FSIZE, (hdr["output_limit"], hdr["output_limit"])),
        (resource.RLIMIT_NPROC, (nproc, nproc)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_NOFILE, (256, 256)),
    ]:
        try:
            resource.setrlimit(which, value)
        except (ValueError, OSError):
            pass


def _describe(info):
    """(type name, message, traceback) of the exception being handled; the program chooses the exception,
    and its __str__ or __repr__ may raise or loop: never let that escape."""
    etype, value, tb = info
    try:
        text = "".join(traceback.format_exception(etype, value, tb.tb_next if tb is not None else None))
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


# -- values across the socket: plain data only, every type named exactly (no subclasses, no objects) --


class Unencodable(TypeError):
    pass


_TAGGED_DICTS = ((collections.Counter, "C"), (collections.OrderedDict, "O"), (collections.defaultdict, "D"))


class TooBig(Exception):
    pass


def encode(v, depth=0, budget=None, strict=False):
    """Plain data for `v`. Subclasses become their standard base type (so an overridden __eq__ never
    crosses), except the standard library's dict and deque types, which keep their type."""
    if depth > 200:
        raise Unencodable("a value nested deeper than 200 levels")
    if budget is not None:
        budget[0] -= 1
        if budget[0] < 0:
            raise TooBig()
    t = type(v)
    if t is int:
        return v if -(1 << 62) < v < (1 << 62) else {"i": "%x" % v}  # decimal conversion of a huge int is quadratic
    if v is None or t is bool or t is str:
        return v
    if t is float:
        return {"f": v.hex()}
    if t is list:
        return [encode(x, depth + 1, budget, strict) for x in v]
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return encode(int.__int__(v), depth, budget, strict)
    if isinstance(v, float):
        return {"f": float.hex(float.__float__(v))}
    if isinstance(v, str):
        return str.__str__(v)
    if isinstance(v, dict):
        tag = next((tag for kind, tag in _TAGGED_DICTS if isinstance(v, kind)), "d")
        return {
            tag: [
                [encode(k, depth + 1, budget, strict), encode(x, depth + 1, budget, strict)] for k, x in dict.items(v)
            ]
        }
    if isinstance(v, (list, collections.deque)):
        return (
            {"q": [encode(x, depth + 1, budget, strict) for x in v]}
            if isinstance(v, collections.deque)
            else [encode(x, depth + 1, budget, strict) for x in list(v)]
        )
    if isinstance(v, tuple):
        return {"t": [encode(x, depth + 1, budget, strict) for x in tuple(v)]}
    if isinstance(v, (set, frozenset)):
        return {"z" if isinstance(v, frozenset) else "s": [encode(x, depth + 1, budget, strict) for x in v]}
    if isinstance(v, complex):
        return {"c": [float.hex(v.real), float.hex(v.imag)]}
    if isinstance(v, bytes):
        return {"b": bytes.hex(v)}
    if strict:
        raise Unencodable(t.__name__ if isinstance(t.__name__, str) else "object")
    try:
        truth = bool(v)
    except BaseException:
        truth = None
    return {"o": [t.__name__ if isinstance(t.__name__, str) else "object", truth]}  # seen only as an opaque object


def _jsonable(o):
    if isinstance(o, (set, frozenset)):
        return ["__set__"] + sorted(json.dumps(x, default=_jsonable, check_circular=False) for x in o)
    if isinstance(o, complex):
        return ["__complex__", o.real, o.imag]
    if isinstance(o, bytes):
        return ["__bytes__", o.hex()]
    if isinstance(o, collections.deque):
        return list(o)
    raise TypeError("not plain data")


def digest(v):
    """sha256 of a canonical encoding, for values too large to send: a long top-level sequence is encoded
    element by element (each with the C encoder), sets and dicts in sorted order."""
    h, dumps = (
        hashlib.sha256(),
        functools.partial(json.dumps, default=_jsonable, check_circular=False, separators=(",", ":")),
    )
    if isinstance(v, (list, tuple, collections.deque)):
        h.update(b"T[" if isinstance(v, tuple) else b"L[")
        for x in v:
            h.update(dumps(x).encode() + b",")
    elif isinstance(v, (set, frozenset)):
        h.update(b"S[" + ",".join(sorted(dumps(x) for x in v)).encode())
    elif isinstance(v, dict):
        h.update(b"D[" + ",".join(sorted(dumps([k, x]) for k, x in dict.items(v))).encode())
    else:
        h.update(b"V" + dumps(v).encode())
    return h.hexdigest()


class Opaque:
    """An object the program returned that is not plain data: it equals nothing but itself."""

    def __init__(self, kind, truth):
        self.kind, self.truth = kind, truth

    def __bool__(self):
        if self.truth is None:
            raise TypeError("the program's %s has no truth value" % self.kind)
        return self.truth

    def __repr__(self):
        return "<%s object from the program>" % self.kind


class Digest:
    """A value too large to send: compares equal to a value with the same canonical encoding."""

    def __init__(self, hexdigest, kind):
        self.hexdigest, self.kind = hexdigest, kind

    def __eq__(self, other):
        try:
            return digest(other) == self.hexdigest
        except Exception:
            return False

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = None

    def __repr__(self):
        return "<a large %s from the program, sha256 %s>" % (self.kind, self.hexdigest[:16])


def decode(x, depth=0):
    if depth > 200:
        raise ValueError("nested too deep")
    t = type(x)
    if x is None or t is bool or t is int or t is str:
        return x
    if t is list:
        return [decode(i, depth + 1) for i in x]
    if t is dict and len(x) == 1:
        ((k, v),) = x.items()
        if k == "f" and type(v) is str:
            return float.fromhex(v)
        if k == "i" and type(v) is str:
            return int(v, 16)
        if k in "tszqdCOD" and type(v) is list:
            items = [decode(i, depth + 1) for i in v]
            if k in "tszq":
                return {"t": tuple, "s": set, "z": frozenset, "q": collections.deque}[k](items)
            pairs = {kk: vv for kk, vv in items}
            return (
                {"d": dict, "C": collections.Counter, "O": collections.OrderedDict}[k](pairs)
                if k != "D"
                else collections.defaultdict(None, pairs)
            )
        if k == "c" and type(v) is list and len(v) == 2:
            return complex(float.fromhex(v[0]), float.fromhex(v[1]))
        if k == "b" and type(v) is str:
            return bytes.fromhex(v)
        if k == "o" and type(v) is list and len(v) == 2 and type(v[0]) is str and v[1] in (True, False, None):
            return Opaque(v[0][:100], v[1])
        if k == "h" and type(v) is list and len(v) == 2 and all(type(i) is str for i in v):
            return Digest(v[0], v[1][:100])
    raise ValueError("not a value the judge understands")


def _send(sock, obj, dumps):
    data = dumps(obj).encode()
    sock.sendall(b"%08d" % len(data) if len(data) < 10**8 else b"99999999")
    sock.sendall(data)


class ProgramGone(Exception):
    """The program's process ended, or broke the call protocol."""


def _recv(sock):
    def exact(n):
        parts, got = [], 0
        while got < n:
            chunk = sock.recv(min(n - got, 1 << 20))
            if not chunk:
                raise ProgramGone("the program's process ended")
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    head = exact(8)
    if not head.isdigit() or int(head) > MESSAGE_CAP:
        raise ProgramGone("the program broke the call protocol")
    try:
        return json.loads(exact(int(head)))
    except ValueError:
        raise ProgramGone("the program broke the call protocol") from None


# -- the program process --


def _program(hdr, code, sock_fd, work_fd, out_fd):
    """Runs in the forked program child. Never returns."""
    try:
        os.setsid()
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.fchdir(work_fd)
        n = len(code)
        code = bytes(code).decode("utf-8", "replace")
        _zero(n)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)  # the tests that follow on stdin are not ours to read
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.dup2(sock_fd, 3)
        os.closerange(4, 1 << 16)
        _limits(hdr, hdr["nproc"])
        if not _drop_capabilities() or (hdr.get("seccomp") and not _install_seccomp()):
            os._exit(70)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        sock = socket.socket(fileno=3)
    except BaseException:
        os._exit(70)

    # Bound to locals now: the program may replace module attributes, which only spoils its own answers.
    send, recv, enc, dec, info, describe, digest_ = _send, _recv, encode, decode, sys.exc_info, _describe, digest
    dumps, setitimer, timer_real, callable_, modtype = (
        json.dumps,
        signal.setitimer,
        signal.ITIMER_REAL,
        callable,
        type(os),
    )

    def alarm(*_):
        raise TimeoutError("the call took longer than its time limit")

    def flush():
        # the process is killed, not ended, once the tests are done: what the program printed must be out by then
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass

    signal.signal(signal.SIGALRM, alarm)
    scope = {"__name__": "solution", "__builtins__": builtins}
    try:
        send(sock, {"ready": 1}, dumps)  # set up: from here on, whatever happens is the program's doing
    except BaseException:
        os._exit(70)
    try:
        exec(compile(code, "solution.py", "exec"), scope)
    except BaseException:
        try:
            flush()
            send(sock, {"load_error": describe(info())}, dumps)
        finally:
            os._exit(0)
    names = {}
    for name, value in list(scope.items())[:5000]:
        try:
            if not isinstance(name, str) or name.startswith("__"):
                continue
            if isinstance(value, modtype):
                names[name] = ["module", str(value.__name__)]
            elif callable_(value):
                names[name] = ["callable"]
            else:
                names[name] = ["value", enc(value)]
        except BaseException:
            continue
    try:
        flush()
        send(sock, {"loaded": names}, dumps)
        while True:
            req = recv(sock)
            try:
                fn = scope.get(req["call"])
                if not callable_(fn):
                    raise NameError("name %r is not a function of the program" % req["call"])
                args, kwargs = dec(req["args"]), dec(req["kwargs"])
                if req.get("seconds"):
                    setitimer(timer_real, float(req["seconds"]))
                try:
                    value = fn(*args, **kwargs)
                finally:
                    setitimer(timer_real, 0)
                try:
                    reply = {"value": enc(value, 0, [SEND_NODES])}
                except TooBig:
                    reply = {"value": {"h": [digest_(value), type(value).__name__]}}
            except Unencodable as e:
                reply = {"unencodable": str(e)}
            except BaseException:
                reply = {"raise": describe(info())}
            flush()
            send(sock, reply, dumps)
    except BaseException:
        pass
    finally:
        os._exit(0)  # skips atexit hooks and finalizers the program registered


# -- the tests process --


class _Proxy:
    """Stands for one of the program's functions in the tests process: a call crosses to the program."""

    def __init__(self, name, link):
        self._name, self._link = name, link

    def __call__(self, *args, **kwargs):
        return self._link.call(self._name, args, kwargs)

    def __repr__(self):
        return "<program function %s>" % self._name


class RemoteError(Exception):
    pass


_EXC_KEEP = {
    n
    for n in dir(builtins)
    if isinstance(getattr(builtins, n), type) and issubclass(getattr(builtins, n), BaseException)
}


class _Link:
    def __init__(self, sock, scope):
        self.sock, self.scope, self.gone = sock, scope, None

    def call(self, name, args, kwargs):
        if self.gone:
            raise ProgramGone(self.gone)
        try:
            req = {"call": name, "args": encode(list(args), strict=True), "kwargs": encode(dict(kwargs), strict=True)}
        except Unencodable as e:
            raise TypeError("a %s cannot be passed to the program's %s()" % (e, name)) from None
        req["seconds"] = self.scope.get("_sm_call_seconds")
        try:
            _send(self.sock, req, json.dumps)
            reply = _recv(self.sock)
        except (ProgramGone, OSError) as e:
            self.gone = str(e) or "the program's process ended"
            raise ProgramGone(self.gone) from None
        if not isinstance(reply, dict):
            self.gone = "the program broke the call protocol"
            raise ProgramGone(self.gone)
        if "value" in reply:
            try:
                return decode(reply["value"])
            except (ValueError, TypeError, RecursionError):
                self.gone = "the program sent a malformed value"
                raise ProgramGone(self.gone) from None
        if "unencodable" in reply:
            kind = str(reply["unencodable"])[:100]
            exc = self.scope["_sm_NotAValue"]("%s() returned a %s, which the judge cannot compare" % (name, kind))
            exc.kind = kind
            raise exc
        err = reply.get("raise")
        if isinstance(err, list) and len(err) == 3 and all(isinstance(x, str) for x in err):
            err = _bounded(err)
            kind = getattr(builtins, err[0]) if err[0] in _EXC_KEEP else None
            try:
                exc = kind(err[1]) if kind is not None else RemoteError("%s: %s" % (err[0], err[1]))
            except BaseException:
                exc = RemoteError("%s: %s" % (err[0], err[1]))
            exc._sm_remote = (err[0], err[1], err[2])
            raise exc
        self.gone = "the program broke the call protocol"
        raise ProgramGone(self.gone)


def _bounded(described):
    """(type, message, traceback) as the program sent them, cut to the sizes the tests process reports:
    nothing the program writes reaches a report at a length it chose."""
    kind, message, tb = described
    return [kind[:200], message[:TAIL_CHARS], tb[-TAIL_CHARS:]]


def _referenced(sources):
    names = set()
    for src in sources:
        try:
            names |= {n.id for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name)}
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
    return names


def _tests(hdr, sock_fd, ev_fd, ready_fd, work_fd, out_fd):
    """Runs in the forked tests child. Never returns."""
    try:
        os.setsid()
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _prctl(PR_SET_DUMPABLE, 0)  # no /proc/<pid>/mem or /proc/<pid>/fd for the program to reach
        os.fchdir(work_fd)
        payload = json.loads(_read_exact(0, hdr["tests_len"]))
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.write(ready_fd, b"t")
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.dup2(ev_fd, 3)
        os.dup2(sock_fd, 4)
        os.closerange(5, 1 << 16)
        _limits(hdr, 0)
        # The tests may be model-written (mine.tests: model) or come from a file: confined like the program.
        if not _drop_capabilities() or (hdr.get("seccomp") and not _install_seccomp()):
            os._exit(70)
        sock = socket.socket(fileno=4)
        nonce, setup, tests, shadow = payload["nonce"], payload["setup"], payload["tests"], set(payload["shadow"])
    except BaseException:
        os._exit(70)

    sent = [0]

    def report(**event):
        # One length-prefixed record per event, written until complete (a pipe may take a large write in
        # parts), so no short or interleaved write can make or close a record. Past half the worker's
        # buffer, failures keep their outcome and type but lose their text: the final record must fit.
        event["nonce"] = nonce
        if sent[0] > EVENTS_CAP // 2:
            event.pop("message", None)
            event.pop("traceback", None)
        data = json.dumps(event).encode()
        frame = memoryview(b"%08d" % len(data) + data)
        done = 0
        while done < len(frame):
            done += os.write(3, frame[done:])
        sent[0] += len(frame)

    def outcome():
        etype, value, tb = sys.exc_info()
        remote = getattr(value, "_sm_remote", None)
        return remote if remote is not None else _describe((etype, value, tb))

    report(event="start")
    try:
        if _recv(sock) != {"ready": 1}:
            raise ProgramGone("no ready message")
    except ProgramGone as e:
        report(event="no_program", message=str(e))
        os._exit(0)
    try:
        first = _recv(sock)
    except ProgramGone as e:
        report(event="program_gone", message=str(e))
        os._exit(0)
    if not isinstance(first, dict) or not isinstance(first.get("loaded", first.get("load_error")), (dict, list)):
        report(event="program_gone", message="the program broke the call protocol")
        os._exit(0)
    if "load_error" in first:
        e = first["load_error"]
        ok = isinstance(e, list) and len(e) == 3 and all(isinstance(x, str) for x in e)
        fields = _bounded(e) if ok else ["Error", "", ""]
        report(event="load_error", **dict(zip(("type", "message", "traceback"), fields)))
        os._exit(0)

    class NotAValue(TypeError):
        pass

    scope = {"__name__": "tests", "__builtins__": builtins, "_sm_NotAValue": NotAValue}
    link = _Link(sock, scope)
    # A program that redefines abs, len or isinstance must not change how the tests compare: its names
    # that shadow a builtin are taken only where the caller named them (a task whose function is `sum`).
    wanted = _referenced([setup] + tests) - (set(dir(builtins)) - shadow)
    for name, kind in first["loaded"].items():
        if name not in wanted or name.startswith("_sm") or not isinstance(kind, list) or not kind:
            continue
        try:
            if kind[0] == "callable":
                scope[name] = _Proxy(name, link)
            elif kind[0] == "module" and str(kind[1]).split(".")[0] in sys.stdlib_module_names:
                scope[name] = importlib.import_module(kind[1])
            elif kind[0] == "value":
                scope[name] = decode(kind[1])
        except Exception:
            continue
    try:
        if setup:
            exec(compile(setup, "tests_setup.py", "exec"), scope)
    except ProgramGone as e:
        report(event="program_gone", message=str(e))
        os._exit(0)
    except BaseException:
        etype, msg, tb = outcome()
        report(event="load_error", type=etype, message=msg, traceback=tb)
        os._exit(0)
    for i, test in enumerate(tests):
        try:
            exec(compile(test, "test_%d.py" % i, "exec"), scope)
        except ProgramGone as e:
            report(event="program_gone", index=i, message=str(e))
            os._exit(0)
        except AssertionError:
            etype, msg, tb = outcome()
            report(event="test", index=i, outcome="failed", type=etype, message=msg, traceback=tb)
        except BaseException:
            etype, msg, tb = outcome()
            report(event="test", index=i, outcome="error", type=etype, message=msg, traceback=tb)
        else:
            report(event="test", index=i, outcome="passed")
    report(event="done", count=len(tests))
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os.close(3)  # the worker stops waiting here, not after this process's teardown
    os._exit(0)


# -- the worker --


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


def _kill_all_below(me, settle=2.0):
    """Kill every descendant and wait until each is gone (reaped), so that nothing the program started
    outlives its verdict. The worker is a subreaper: once a process dies its orphans become the worker's
    children, so killing until none is left reaches every descendant, whatever its session. A SIGKILLed
    process can take a moment to die on a loaded machine; one that is still there after `settle` seconds
    returns False, and the worker retires (its whole sandbox is then killed)."""
    kill_until_none_new(lambda: descendants(me), 0.0005, before=_reap)
    until = time.monotonic() + settle
    while True:
        _reap()
        left = descendants(me)
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


# Private anonymous memory, not a bytearray: untouched pages are not resident, so every fork copies (and
# every child's exit tears down) only what was used; MADV_DONTNEED zeroes a used region by giving it back.
# Never MAP_SHARED: the program's process would see, and could rewrite, the reports of its tests.
BUF = mmap.mmap(-1, EVENTS_CAP + CODE_CAP, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)


def _zero(n):
    if n > 0:
        BUF.madvise(mmap.MADV_DONTNEED, 0, min(len(BUF), (n + mmap.PAGESIZE - 1) // mmap.PAGESIZE * mmap.PAGESIZE))


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


class _Scratch:
    """The worker's own directory (`base`, held open by descriptor, so renaming or removing its path
    changes nothing for the worker) and, per program, a fresh working directory inside it."""

    def __init__(self, base):
        self.base = base
        self.fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
        self.count = 0

    def fresh(self):
        """A new, empty working directory for the next program, as a descriptor."""
        os.fchmod(self.fd, 0o700)  # the program runs as the same user and may have taken the modes away
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
            try:
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            except OSError:
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


def run_one(hdr, scratch):
    """Judge one program; returns (reply header, number of bytes of BUF that follow it)."""
    _reap()  # children of the last program that were still tearing down
    # The program's output goes to an anonymous file that only the two children hold (no path to replace
    # with a directory, a link or a FIFO); its current directory is new and held by descriptor.
    out_fd = os.memfd_create("output")
    try:
        work_fd = scratch.fresh()
    except OSError:
        os.close(out_fd)
        raise
    try:
        return _run(hdr, scratch, out_fd, work_fd)
    finally:
        os.close(out_fd)
        os.close(work_fd)


def _run(hdr, scratch, out_fd, work_fd):
    start = time.monotonic()
    deadline = start + float(hdr["timeout"])
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
    prog = _fork(_program, hdr, code, prog_sock.fileno(), work_fd, out_fd)
    _zero(hdr["code_len"])
    prog_sock.close()
    ready_r, ready_w = os.pipe()
    ev_r, ev_w = os.pipe()
    tests_pid = _fork(_tests, hdr, tests_sock.fileno(), ev_w, ready_w, work_fd, out_fd)
    for fd in (ev_w, ready_w):
        os.close(fd)
    tests_sock.close()
    n_events, timed_out = 0, False
    while True:  # until the tests process closes its report pipe (it is done, or dead)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        if not select.select([ev_r], [], [], remaining)[0]:
            continue
        if n_events < EVENTS_CAP:
            got = os.readv(ev_r, [memoryview(BUF)[n_events:EVENTS_CAP]])
            n_events += got
        else:
            got = len(os.read(ev_r, 65536))
        if not got:
            break
    # How each child ended matters only where it ended first: the program when it died mid-tests, the
    # tests process when it died before its last report. Read that now, then kill both (the program is
    # never left running past its tests) without waiting out their teardown.
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
    # the tests process wrote its byte once it had read all of its tests from stdin
    retire = not (select.select([ready_r], [], [], 0)[0] and os.read(ready_r, 1) == b"t")
    os.close(ready_r)
    os.close(ev_r)
    duration = time.monotonic() - start
    if not _kill_all_below(os.getpid()):
        retire = True
    output_bytes = os.fstat(out_fd).st_size
    view = memoryview(BUF)[n_events : n_events + min(hdr["output_keep"], len(BUF) - n_events)]
    n_output = 0
    while n_output < len(view):
        got = os.preadv(out_fd, [view[n_output:]], n_output)
        if not got:
            break
        n_output += got
    if not scratch.clean(hdr.get("scrub", ())):
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


def main():
    global _OWN_PROCESSES
    _OWN_PROCESSES = _count_own_processes()
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_DUMPABLE, 0)  # a program must not reach the protocol pipes through /proc/<ppid>/fd
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
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
                head = _read_exact(0, 8)
                hdr = json.loads(_read_exact(0, int(head)))
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
            _zero(n)  # nothing of this program's tests or output stays in the worker's memory
            if reply.get("retire"):
                return  # stdin may hold bytes no child read: the pool starts a fresh worker
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
