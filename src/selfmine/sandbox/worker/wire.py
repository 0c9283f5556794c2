"""One message between the program's process and the tests process: 8 ASCII digits and a JSON object."""

import collections
import json
import sys
from os import sched_yield
from socket import MSG_DONTWAIT
from time import perf_counter  # bound at the worker's start: a program can swap them in its own process only

from .confine import MESSAGE_CAP


def send(sock, obj, dumps):
    data = dumps(obj).encode()
    sock.sendall(b"%08d" % len(data) if len(data) < 10**8 else b"99999999")
    sock.sendall(data)


class ProgramGone(BaseException):
    """The program's process ended, or broke the call protocol. Not an Exception: a test's `except
    Exception` must not turn the judge's loss of the program into a behaviour of the program (a program that
    ended its process mid-call passed a test expecting an exception); a bare `except:` that catches it
    anyway is overruled in `_run_test`."""


# How long a process polls for the next message before it sleeps in recv. The two processes answer each
# other within tens of microseconds, and a sleeping core takes about as long to wake (a virtual CPU halts):
# polling first took a call of a program function from 72 to 25 us on an idle 2-core AMD EPYC
# (benchmarks/judge_handles.py). Between polls it yields its core: where the other process waits for the
# same core (one core, or more processes than cores), it runs at once; polling without yielding made that
# call 146 us on one core, against 39 asleep and 40 yielding. A slower answer costs 50 us of polling.
POLL_S = 50e-6


def _next_bytes(sock, n):
    deadline = perf_counter() + POLL_S
    while True:
        try:
            return sock.recv(n, MSG_DONTWAIT)
        except BlockingIOError:
            if perf_counter() > deadline:
                return sock.recv(n)
            sched_yield()


def recv(sock):
    def exact(n):
        parts, got = [], 0
        while got < n:
            chunk = _next_bytes(sock, min(n - got, 1 << 20))
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


def flush():
    # the process is killed, not ended, once the tests are done: what the program printed must be out by then
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


MUTABLE = (list, dict, set, bytearray, collections.deque)  # what a call can change in place (subclasses too)
