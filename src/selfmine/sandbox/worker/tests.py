"""The tests process: runs each assert with the program's functions replaced by proxies that call across
the socket, compares decoded values, and alone reports outcomes."""

import ast
import builtins
import collections
import importlib
import json
import linecache
import os
import signal
import socket
import sys

from .confine import (
    EVENTS_CAP,
    MESSAGE_CAP,
    PR_SET_DUMPABLE,
    PR_SET_PDEATHSIG,
    TAIL_CHARS,
    drop_capabilities,
    install_seccomp,
    limits,
    prctl,
    read_exact,
)
from .decode import NotAValue, decode, mapping_builder, sequence_builder
from .encode import Unencodable, encode
from .errors import EXC_BUILTIN, describe
from .objects import (
    ProgramFunction,
    on_the_tests_side,
)
from .raised import LINK, bounded, exception_class, raised_exception
from .stdlib import importable, stdlib_object
from .wire import MUTABLE, ProgramGone, flush, recv, send


class _Proxy(ProgramFunction):
    """Stands for one of the program's functions in the tests process: a call crosses to the program."""

    __slots__ = ("_name", "_link")

    def __init__(self, name, link, handle=None):
        self._name, self._link, self._sm_h = name, link, handle

    def __call__(self, *args, **kwargs):
        return self._link.call(self._name, args, kwargs)

    def __repr__(self):
        return "<program function %s>" % self._name


class _Link:
    def __init__(self, sock, scope):
        self.sock, self.scope, self.gone = sock, scope, None
        # a value that could not cross during the current test, swallowed or not: the test cannot pass
        self.unsendable = None
        # While a large value is built: one object for each distinct str and float in it, as the program's
        # value shares them (1.66M tuples of 7 repeated items would otherwise take 3x the memory here).
        self.shared = None
        self.objects = {}  # the program's objects seen so far, by handle: one stand-in each (objects.py)

    def call(self, name, args, kwargs):
        """The program's function `name` called with these arguments."""
        return self._request({"call": name}, name, args, kwargs)

    def op(self, name, args, kwargs):
        """An operation (objects.OPS) applied in the program's process to these arguments, one of which
        at least is one of its objects."""
        return self._request({"op": name}, name, args, kwargs)

    def _request(self, req, name, args, kwargs):
        try:
            req.update(args=encode(list(args), strict=True), kwargs=encode(dict(kwargs), strict=True))
        except Unencodable as e:
            raise TypeError("a %s cannot be passed to the program's %s()" % (e, name)) from None
        text = self._text(req)  # serialized once: measured, then sent
        if len(text) > MESSAGE_CAP:  # the program's process would refuse the message and end
            why = "the test's arguments to %%s() are too large to pass to the program (%d MiB)" % (len(text) >> 20)
            self._not_a_value(why, name)
        reply = self._exchange(text)
        if isinstance(reply.get("mutated"), dict):
            self._update(reply["mutated"], args, kwargs, name, raised="raise" in reply)
        if "argument" in reply:
            target = self._argument(reply["argument"], args, kwargs)
            if not isinstance(target, MUTABLE):  # only a mutable argument is answered by reference
                self._broken("the program broke the call protocol")
            return target
        if "value" in reply:
            return self._value(reply["value"])
        self._fail(reply, "%s()" % name)

    def _update(self, mutated, args, kwargs, name, raised=False):
        """Give the tests' own arguments the content the call left in them (`_changed`). An argument left
        holding what cannot cross fails the call as a returned one would: its content cannot be compared."""
        for key, data in mutated.items():
            target = self._argument(key, args, kwargs)
            if not isinstance(target, MUTABLE):
                continue
            if type(data) is dict and type(data.get("unsent")) is str and len(data) == 1:
                message = "%s() left a %%s in an argument, which the judge cannot compare" % name.replace("%", "%%")
                try:
                    self._not_a_value(message, data["unsent"])
                except NotAValue:
                    if not raised:  # else the call's own exception is raised; the test still cannot pass
                        raise
                continue
            new = self._value(data)
            base = next(b for b in (dict, set, collections.deque, bytearray, list) if isinstance(target, b))
            if not isinstance(new, base):  # a call cannot change an object's type: a forged reply
                self._broken("the program sent a malformed value")
            if base in (dict, set, collections.deque):
                base.clear(target)
                {dict: dict.update, set: set.update, collections.deque: collections.deque.extend}[base](target, new)
            else:
                base.__setitem__(target, slice(None), new)

    @staticmethod
    def _argument(key, args, kwargs):
        """The argument a `mutated` key names: "=name", or a position; None for anything else."""
        if not isinstance(key, str):
            return None
        if key.startswith("="):
            return kwargs.get(key[1:])
        position = int(key) if key.isdecimal() and key.isascii() and len(key) < 6 else None
        return args[position] if position is not None and position < len(args) else None

    def advance(self, handle, count):
        """(up to `count` next items of the program's iterator `handle`, the exception that ended it or None)."""
        reply = self._exchange({"next": handle, "count": count})
        items = reply.get("items")
        if not isinstance(items, list):
            self._broken("the program broke the call protocol")
        items = [self._value(x) for x in items]
        if reply.get("stop") == 1:
            return items, StopIteration()
        if "unencodable" in reply or "raise" in reply:
            before = self.unsendable  # read ahead: it counts once the test reaches it (RemoteIterator)
            try:
                self._fail(reply, "an iterator")
            except BaseException as e:
                self.unsendable = before
                return items, e
        return items, None

    def whole(self, handle, kind, extra):
        """The program's large value `handle`, fetched a part at a time and built as it was."""
        items, pairs, outer = [], kind in "dCOEkva", self.shared
        self.shared = {} if outer is None else outer
        try:
            while True:
                reply = self._exchange({"part": handle, "at": len(items)})
                got = self._part_items(reply, pairs)
                if not got and reply.get("end") != 1:
                    self._broken("the program broke the call protocol")  # no progress: it would never end
                items.extend(got)
                if reply.get("end") == 1:
                    break
        finally:
            self.shared = outer
        try:
            return (mapping_builder if pairs else sequence_builder)(kind, extra)(items)
        except (ValueError, TypeError) as e:  # unhashable keys or items the program chose: as Python would
            self._broken("the program sent a malformed value (%s)" % e)

    def _part_items(self, reply, pairs):
        """The items of one part (`next_part`, `_plain`), decoded; a mapping's as (key, value)."""
        if not pairs and isinstance(reply.get("plain"), list):
            if not set(map(type, reply["plain"])) <= {int, str}:
                self._broken("the program sent a malformed value")
            return reply["plain"]
        if not pairs and isinstance(reply.get("floats"), list):
            try:
                return list(map(float.fromhex, reply["floats"]))
            except (TypeError, ValueError, OverflowError):
                self._broken("the program sent a malformed value")
        got = reply.get("items")
        if not isinstance(got, list):
            self._fail(reply, "a large value")  # it could not be encoded, or raised: as for any value
        if pairs and not all(type(x) is list and len(x) == 2 for x in got):
            self._broken("the program sent a malformed value")
        return [tuple(map(self._value, x)) for x in got] if pairs else [self._value(x) for x in got]

    def _text(self, req):
        """The request as the message's JSON text (ASCII: its length is its size), with the call's time limit."""
        req["seconds"] = self.scope.get("_sm_call_seconds")
        return json.dumps(req)

    def _exchange(self, req):
        """Send a request (or its `_text`) and return the program's reply."""
        if self.gone:
            raise ProgramGone(self.gone)
        text = req if isinstance(req, str) else self._text(req)
        try:
            send(self.sock, text, str)
            reply = recv(self.sock)
        except (ProgramGone, OSError) as e:
            self.gone = str(e) or "the program's process ended"
            raise ProgramGone(self.gone) from None
        if not isinstance(reply, dict):
            self._broken("the program broke the call protocol")
        return reply

    def _broken(self, why):
        self.gone = why
        raise ProgramGone(why)

    def _value(self, data):
        try:
            return decode(data, link=self)
        except (ValueError, TypeError, RecursionError, OverflowError, ArithmeticError):
            self._broken("the program sent a malformed value")

    def _not_a_value(self, message, kind):
        kind = str(kind)[:100]
        exc = self.scope["_sm_NotAValue"](message % kind)
        exc.kind = kind
        self.unsendable = str(exc)
        raise exc

    def _fail(self, reply, what):
        if "unencodable" in reply:
            self._not_a_value(
                what.replace("%", "%%") + " returned a %s, which the judge cannot compare", reply["unencodable"]
            )
        exc = raised_exception(reply.get("raise"), self)
        if exc is not None:
            raise exc
        self._broken("the program broke the call protocol")


def _referenced(sources):
    names = set()
    for src in sources:
        try:
            names |= {n.id for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name)}
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
    return names


def _compiled(source, name):
    """The tests' code under a name no file has: a traceback reads its lines from linecache, never from the
    working directory, where the program may have put a file of that name (a FIFO hangs the traceback, a
    forged file lies in it)."""
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    return compile(source, name, "exec")


def run_tests(hdr, sock_fd, ev_fd, ready_fd, work_fd, out_fd):
    """Runs in the forked tests child. Never returns."""
    try:
        sock, payload = _enter_tests(hdr, sock_fd, ev_fd, ready_fd, work_fd, out_fd)
        nonce, setup, tests, shadow = payload["nonce"], payload["setup"], payload["tests"], set(payload["shadow"])
    except BaseException:
        os._exit(70)
    on_the_tests_side()  # the program's process alone holds and resolves handles (decode's "P")
    report = _reporter(nonce)
    report(event="start")
    loaded = _loaded_names(sock, report)
    link = _Link(sock, None)
    LINK.append(link)
    shadow |= _exceptions_named_as_builtins(loaded) - _referenced([setup])  # the judge's harness means builtins
    scope = _bind(loaded, link, wanted=_referenced([setup] + tests) - (set(dir(builtins)) - shadow))
    try:
        if setup:
            exec(_compiled(setup, "<tests_setup>"), scope)
    except ProgramGone as e:
        report(event="program_gone", message=str(e))
        os._exit(0)
    except BaseException:
        etype, msg, tb = _outcome()
        report(event="load_error", type=etype, message=msg, traceback=tb)
        os._exit(0)
    for i, test in enumerate(tests):
        _run_test(i, test, scope, report, link)
    report(event="done", count=len(tests))
    flush()
    os.close(3)  # the worker stops waiting here, not after this process's teardown
    os._exit(0)


def _enter_tests(hdr, sock_fd, ev_fd, ready_fd, work_fd, out_fd):
    """The tests process before its tests run: its own session, non-dumpable, its tests read from stdin,
    its descriptors, limits, no capabilities, the seccomp filter. (the socket, the tests' payload)"""
    os.setsid()
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    prctl(PR_SET_DUMPABLE, 0)  # no /proc/<pid>/mem or /proc/<pid>/fd for the program to reach
    # A program that shuts its end of the socket must not kill this process by SIGPIPE (the worker's
    # default): the write fails instead, and the program is gone, by its own doing.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    os.fchdir(work_fd)
    payload = json.loads(read_exact(0, hdr["tests_len"]))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.write(ready_fd, b"t")
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.dup2(ev_fd, 3)
    os.dup2(sock_fd, 4)
    os.closerange(5, 1 << 16)
    limits(hdr, 0)
    # The tests may be model-written (mine.tests: model) or come from a file: confined like the program.
    if not drop_capabilities() or (hdr.get("seccomp") and not install_seccomp()):
        os._exit(70)
    return socket.socket(fileno=4), payload


def _reporter(nonce):
    """The tests process's one way to report: `report(event=..., ...)`, stamped with the nonce."""
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

    return report


def _outcome():
    """(type, message, traceback) of the exception being handled: the program's own where it raised."""
    etype, value, tb = sys.exc_info()
    remote = getattr(value, "_sm_remote", None)
    return remote if remote is not None else describe((etype, value, tb))


def _loaded_names(sock, report):
    """What the program's process defined (its first message after it is ready); ends this process with
    the right report when the program did not start, broke the protocol or failed to load."""
    try:
        if recv(sock) != {"ready": 1}:
            raise ProgramGone("no ready message")
    except ProgramGone as e:
        report(event="no_program", message=str(e))
        os._exit(0)
    try:
        first = recv(sock)
    except ProgramGone as e:
        report(event="program_gone", message=str(e))
        os._exit(0)
    if not isinstance(first, dict) or not (isinstance(first.get("loaded"), dict) or "load_error" in first):
        report(event="program_gone", message="the program broke the call protocol")
        os._exit(0)
    if "load_error" in first:
        e = first["load_error"]
        ok = isinstance(e, list) and len(e) == 3 and all(isinstance(x, str) for x in e)
        fields = bounded(e) if ok else ["Error", "", ""]
        report(event="load_error", **dict(zip(("type", "message", "traceback"), fields)))
        os._exit(0)
    return first["loaded"]


def _exceptions_named_as_builtins(loaded):
    """The program's own exception classes named as builtin ones (`class TimeoutError(Exception)`): the
    tests mean them by that name, as in one interpreter (bound only as the class they are raised as,
    `_bind`, never as a proxy: no function of the program's can take a builtin's name this way)."""
    return {n for n, kind in loaded.items() if n in EXC_BUILTIN and type(kind) is list and kind[:1] == ["exception"]}


def _bind(loaded, link, *, wanted):
    """The tests' globals: the program's names they use (`wanted`), as proxies, modules, standard-library
    objects or values. A program that redefines abs, len or isinstance must not change how the tests
    compare: its names that shadow a builtin are wanted only where the caller named them (a task whose
    function is `sum`)."""
    scope = {"__name__": "tests", "__builtins__": builtins, "_sm_NotAValue": NotAValue}
    link.scope = scope
    for name, kind in loaded.items():
        if name not in wanted or name.startswith("_sm") or not isinstance(kind, list) or not kind:
            continue
        try:  # a value that cannot cross is left out here; a program gone is seen by the first test
            if kind[0] == "callable":
                scope[name] = _Proxy(name, link, kind[1] if len(kind) == 2 and type(kind[1]) is int else None)
            elif kind[0] == "module" and importable(kind[1]):
                scope[name] = importlib.import_module(kind[1])
            elif kind[0] == "stdlib":  # `from fractions import Fraction`: the class itself, not a proxy
                scope[name] = stdlib_object(kind) or _Proxy(name, link)
            elif kind[0] == "exception":  # the class the program's exceptions of this name arrive as
                made = exception_class(kind)
                if made or name not in EXC_BUILTIN:
                    scope[name] = made or _Proxy(name, link)
            elif kind[0] == "value":
                scope[name] = decode(kind[1], link=link)
        except BaseException:  # a program gone is in link.gone: the first test reports it
            continue
    return scope


def _run_test(i, test, scope, report, link):
    """Run test `i` and report its outcome; a program gone mid-test ends this process, even where the test
    caught what said so (in plain Python nothing after a process's end runs)."""
    link.unsendable = None
    try:
        exec(_compiled(test, "<test_%d>" % i), scope)
        if link.gone:
            raise ProgramGone(link.gone)
        if link.unsendable:  # caught by the test: the judge could not compare, which is not a pass
            report(event="test", index=i, outcome="error", type="NotAValue", message=link.unsendable[:TAIL_CHARS])
            return
    except ProgramGone as e:
        report(event="program_gone", index=i, message=str(e))
        os._exit(0)
    except AssertionError:
        etype, msg, tb = _outcome()
        report(event="test", index=i, outcome="failed", type=etype, message=msg, traceback=tb)
    except BaseException:
        etype, msg, tb = _outcome()
        report(event="test", index=i, outcome="error", type=etype, message=msg, traceback=tb)
    else:
        report(event="test", index=i, outcome="passed")
