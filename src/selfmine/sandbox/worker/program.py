"""The program's process: runs the model's code, then answers the tests process's calls with values."""

import builtins
import itertools
import json
import os
import signal
import socket
import sys

from .confine import (
    MAX_RECURSION,
    MESSAGE_CAP,
    PLAIN_CALL,
    PLAIN_MODULE,
    PLAIN_NEXT,
    PLAIN_RECURSION,
    PR_SET_PDEATHSIG,
    WORKER_RECURSION,
    drop_capabilities,
    install_seccomp,
    limits,
    prctl,
    zero,
)
from .decode import decode
from .digest import digest
from .encode import (
    DIGEST_NODES,
    ITERATORS,
    SEND_NODES,
    TooBig,
    Unencodable,
    enc,
    estimated_nodes,
    large,
    next_part,
)
from .errors import describe, exc_class_bases, raised_exception
from .objects import OPS, NoHandle, described, handle_of
from .stdlib import stdlib_name
from .wire import MUTABLE, flush, recv, send


def run_program(hdr, code, sock_fd, work_fd, out_fd):
    """Runs in the forked program child. Never returns."""
    try:
        sock, code = _enter_program(hdr, code, sock_fd, work_fd, out_fd)
    except BaseException:
        os._exit(70)
    t = _Tools()  # bound now: the program may replace module attributes, which only spoils its own answers
    signal.signal(signal.SIGALRM, _alarm)
    scope = {"__name__": "solution", "__builtins__": builtins}
    try:
        t.send(sock, {"ready": 1}, t.dumps)  # set up: from here on, whatever happens is the program's doing
    except BaseException:
        os._exit(70)
    try:
        _as_plain(t, PLAIN_MODULE, exec, compile(code, "solution.py", "exec"), scope)
    except BaseException:
        try:
            flush()
            t.send(sock, {"load_error": t.describe(t.info())}, t.dumps)
        finally:
            os._exit(0)
    try:
        names = _loaded(scope, t)
        flush()
        t.send(sock, {"loaded": names}, t.dumps)
        _serve(sock, scope, t)
    except BaseException:
        pass
    finally:
        os._exit(0)  # skips atexit hooks and finalizers the program registered


def _enter_program(hdr, code, sock_fd, work_fd, out_fd):
    """The program's process before its code runs: its own session, directory, descriptors, limits, no
    capabilities, the seccomp filter. (the socket, the code as text)"""
    os.setsid()
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.fchdir(work_fd)
    n = len(code)
    code = bytes(code).decode("utf-8", "replace")
    zero(n)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # the tests that follow on stdin are not ours to read
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.dup2(sock_fd, 3)
    os.closerange(4, 1 << 16)
    limits(hdr, hdr["nproc"])
    if not drop_capabilities() or (hdr.get("seccomp") and not install_seccomp()):
        os._exit(70)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    return socket.socket(fileno=3), code


class _Tools:
    """What the program's process uses to answer, taken before the program's code runs."""

    def __init__(self):
        self.send, self.recv, self.enc, self.dec, self.info = send, recv, enc, decode, sys.exc_info
        self.describe, self.iterators, self.large, self.part, self.digest = (
            describe,
            ITERATORS,
            large,
            next_part,
            digest,
        )
        self.dumps, self.setitimer, self.timer_real, self.callable = (
            json.dumps,
            signal.setitimer,
            signal.ITIMER_REAL,
            callable,
        )
        self.modtype, self.estimate, self.raised, self.lineage = type(os), estimated_nodes, _raised, _lineage
        self.exc_bases, self.ops = exc_class_bases, OPS
        self.setlimit, self.getlimit, self.frame = sys.setrecursionlimit, sys.getrecursionlimit, sys._getframe
        self.limit = PLAIN_RECURSION  # the limit as the program sees it: its own sys.setrecursionlimit counts


def _shift(t, plain_depth):
    """How much deeper, by frames, the frame a call from the caller's frame opens is than the frame the
    program's code opens in a plain run, `plain_depth` deep (the PLAIN_* constants)."""
    depth, f = 0, t.frame(1)  # the caller, then its callers
    while f is not None:
        depth, f = depth + 1, f.f_back
    return depth + 1 - plain_depth


def _to_plain(t, shift):
    """The program's limit (PLAIN_RECURSION, or what it set), moved by `shift`."""
    t.setlimit(min(t.limit + shift, MAX_RECURSION))


def _to_worker(t, shift):
    """Keep what the program set for its next call; the worker's own code gets WORKER_RECURSION back."""
    now = t.getlimit()
    t.limit = now - shift
    t.setlimit(max(WORKER_RECURSION, now))


def _as_plain(t, plain_depth, fn, /, *args, **kwargs):
    """fn(*args) under the recursion limit a plain run would have: the program's own (PLAIN_RECURSION, or
    what it set), moved by how much deeper this call starts than in a plain run. Calls an assert makes
    from deeper frames of its own (a helper, a comprehension) start a few frames deeper in a plain run
    than here: not counted. `_serve` puts WORKER_RECURSION back if a time limit cut this short."""
    shift = _shift(t, plain_depth)
    _to_plain(t, shift)
    try:
        return fn(*args, **kwargs)
    finally:
        _to_worker(t, shift)


def _alarm(*_):
    raise TimeoutError("the call took longer than its time limit")


def _loaded(scope, t):
    """The names the program defined, as the tests process binds them: its modules, its callables (or the
    standard-library object they are), and its plain values."""
    names, left = {}, SEND_NODES  # one message for all: past its budget a value crosses in parts, if named
    lineages = [LINEAGES]  # how many more exception classes go with their lineage
    for name, value in list(scope.items())[:5000]:
        try:
            if not isinstance(name, str) or name.startswith("__"):
                continue
            if isinstance(value, t.modtype):
                names[name] = ["module", str(value.__name__)]
            elif t.callable(value):
                known = stdlib_name(value) or _exception_kind(value, t, lineages)
                if not known and isinstance(value, type):  # its own class: a handle, so isinstance works there
                    budget = [left]
                    try:
                        made = t.enc(value, 0, False, budget)
                    except TooBig:  # the other names took the message's room: a proxy by name, as before
                        made = {}
                    known, left = (["value", made], budget[0]) if "p" in made else (None, left)
                names[name] = known or ["callable", _handle(value)]  # the handle: a test may pass it back
            else:
                budget = [left]
                try:
                    names[name] = ["value", t.enc(value, 0, False, budget)]
                    left = budget[0]
                except TooBig:
                    names[name] = ["value", _too_big(value, t)]
        except BaseException:
            continue
    return names


LINEAGES = 256  # exception classes sent with their lineage at most (as many as the tests process builds)


def _exception_kind(value, t, lineages):
    """["exception", builtin bases, name, handle, lineage] for one of the program's own exception classes
    (the tests name it in `except`), else None. Past LINEAGES classes, no lineage: the class by name."""
    bases = t.exc_bases(value)
    if not bases:
        return None
    name = str(type.__getattribute__(value, "__name__"))[:200]
    lineages[0] -= 1
    return ["exception", bases, name, _handle(value), t.lineage(value) if lineages[0] >= 0 else None]


def _handle(cls):
    """The handle of one of the program's exception classes or functions, or None past the judge's
    handles: the tests know its returned instances by it (raised.py `_RemoteType`), and pass it back by it
    (`apply(double, xs)`, both the program's)."""
    try:
        return handle_of(cls)
    except NoHandle:
        return None


def _lineage(cls):
    """The program's exception class `cls` and the program classes it derives from, bases first, as
    `objects.described` lists them ([handle, name, qualname, base handles, ...]): the tests process builds
    the class it raises with the same program bases (raised.py `_lineage_class`), so `except AppError`
    catches a NotFound(AppError). None for a builtin class, or past the judge's handles or classes."""
    try:
        return described(cls)[2] if exc_class_bases(cls) is not None else None
    except BaseException:
        return None


def _raised(t, value=None, budget=None):
    """What the tests process raises the program's exception (or `value`, a group's member) from:
    `raised_exception`, its class's `_lineage`, for an exception group its members (`_members`), and
    for a class of the standard library's its name (`json.JSONDecodeError`: the tests raise that class)."""
    value = t.info()[1] if value is None else value
    budget = [MEMBERS] if budget is None else budget
    members = _members(value, t, budget)
    return [*raised_exception(t, value), _lineage(type(value)), members, stdlib_name(type(value))]


MEMBERS = 256  # members of a raised exception group described at most, its nested groups' included
_GROUP_MEMBERS = BaseExceptionGroup.__dict__["exceptions"]  # read at the C level


def _members(group, t, budget):
    """The members of an exception group, each as `_raised` describes an exception (so the tests raise the
    group with them: `except*` and `.exceptions` read as in one interpreter); None for any other
    exception, or past MEMBERS members in all (the group then arrives without them, as before)."""
    if not isinstance(group, BaseExceptionGroup):
        return None
    out = []
    for member in tuple(_GROUP_MEMBERS.__get__(group)):
        budget[0] -= 1
        if budget[0] < 0:
            return None
        out.append(_raised(t, member, budget))
    return out


def _serve(sock, scope, t):
    """Answer the tests process's requests until it is done (the process is then killed)."""
    while True:
        req = t.recv(sock)
        if req.get("seconds"):
            t.setitimer(t.timer_real, float(req["seconds"]))
        try:
            reply = _answer(req, scope, t)
        finally:
            t.setitimer(t.timer_real, 0)
            if t.getlimit() < WORKER_RECURSION:  # the alarm fired between _as_plain's two limits
                t.setlimit(WORKER_RECURSION)
        flush()
        data = t.dumps(reply)
        if len(data) > MESSAGE_CAP:  # never silently: the test sees a value that could not cross
            data = t.dumps({"unencodable": "value too large to cross (%d MiB)" % (len(data) >> 20)})
        t.send(sock, data, str)


def _answer(req, scope, t):
    """A call of one of the program's functions, an operation on one of its objects, the next items of an
    iterator it returned, or the next part of a value too large for one message."""
    try:
        if "part" in req:
            return t.part(int(req["part"]), int(req["at"]))
        if "next" in req:
            return _next_items(t.iterators.get(req["next"]), int(req["count"]), t)
        if "op" in req:  # an operation on one of its objects (objects.py), named by the tests process
            fn = t.ops.get(req["op"]) if type(req["op"]) is str else None
            if fn is None:
                raise NameError("the judge has no operation %r" % str(req["op"])[:100])
        else:
            fn = scope.get(req["call"])
            if not t.callable(fn):
                raise NameError("name %r is not a function of the program" % req["call"])
        args, kwargs = t.dec(req["args"]), t.dec(req["kwargs"])
    except BaseException:
        return {"raise": t.raised(t)}
    try:
        value = _as_plain(t, PLAIN_CALL, fn, *args, **kwargs)
        same = _which_argument(value, args, kwargs)
        if same is not None:  # `return xs`: the tests' own object, with the content the call left in it
            reply = {"argument": same}
        else:
            try:
                reply = {"value": t.enc(value, 0, False, [SEND_NODES])}
            except TooBig:
                reply = {"value": _too_big(value, t)}
    except Unencodable as e:
        reply = {"unencodable": str(e)}
    except BaseException:
        reply = {"raise": t.raised(t)}
    changed = _changed(req, args, kwargs, t)  # seen by the tests whether the call returned or raised
    return {**reply, "mutated": changed} if changed else reply


def _which_argument(value, args, kwargs):
    """The key ("0", "=name") of the mutable argument the call returned itself, else None: the tests then
    hold the object they passed, as in one interpreter (`ys = f(xs); ys.append(1)` changes xs)."""
    if not isinstance(value, MUTABLE):
        return None
    for i, a in enumerate(args):
        if a is value:
            return str(i)
    for k, a in kwargs.items():
        if a is value:
            return "=" + k
    return None


def _changed(req, args, kwargs, t):
    """The arguments the call changed in place (a list it appended to), by position or name, as they are
    now: the tests process gives its own objects the same content, as one interpreter would show it."""
    sent_kwargs = dict((k, v) for k, v in req["kwargs"]["d"]) if isinstance(req["kwargs"], dict) else {}
    named = [(str(i), a, sent) for i, (a, sent) in enumerate(zip(args, req["args"]))]
    named += [("=" + k, a, sent_kwargs.get(k)) for k, a in kwargs.items()]
    out = {}
    for key, arg, sent in named:
        if not isinstance(arg, MUTABLE):
            continue
        try:
            now = t.enc(arg, 0, False, [SEND_NODES])
        except TooBig:
            out[key] = _too_big(arg, t)  # grown past one message: in parts
            continue
        except Exception as e:  # it holds what cannot cross now: the tests cannot be given its content
            out[key] = {"unsent": str(e)[:100] or type(e).__name__}
            continue
        if now != sent or t.dumps(now) != t.dumps(sent):  # 1 == True in JSON data, not in its text
            out[key] = now
    return out


# Iterators whose items are views into the iterator itself: taking the next item empties the last one's
# group, so they are read one item at a time, never ahead (taken before the program runs).
_ONE_AT_A_TIME = (itertools.groupby,)


def _next_items(it, count, t):
    """Up to `count` next items of a program's iterator: taken under the program's recursion limit (once
    for the batch: per item, moving the limit would cost more than a cheap `next`), then encoded."""
    got, end = [], {}
    if type(it) in _ONE_AT_A_TIME:
        count = 1
    shift = _shift(t, PLAIN_NEXT)
    try:
        _to_plain(t, shift)
        try:
            while len(got) < count:
                got.append(next(it))
        finally:
            _to_worker(t, shift)
    except StopIteration:
        end = {"stop": 1}
    except BaseException:
        end = {"raise": t.raised(t)}
    items = []
    for x in got:  # in order: the first item that cannot cross ends the batch, as taking it would have
        try:
            items.append(t.enc(x, 0))
        except Unencodable as e:
            return {"items": items, "unencodable": str(e)}
        except BaseException:
            return {"items": items, "raise": t.raised(t)}
    return {"items": items, **end}


def _too_big(value, t):
    """A value over SEND_NODES: sent in parts, or past DIGEST_NODES as a digest."""
    if t.estimate(value) < DIGEST_NODES:
        return t.large(value)
    size = len(value) if isinstance(value, (list, tuple, dict, set, frozenset, str, bytes)) else None
    try:
        return {"h": [t.digest(value), type(value).__name__, size]}
    except (TypeError, ValueError, RecursionError):  # a NaN in it: too large, and equal to nothing
        return {"o": [type(value).__name__, None if size is None else bool(size)]}
