"""Regression tests for attacks on the judge from inside the sandbox, beyond those of `test_sandbox.py`: on the
tests process's reports, on the worker's scratch files and directories, on the sandbox's private writable
places, on memory across processes, on the seccomp filter and on the other processes by signal.

Each attack runs on a pool of one worker, so what follows lands on the same worker (or on the fresh one that
replaced it): an honest right program, which must pass, and an honest wrong one, which must fail. A wrong
attacker must never pass; an attacker whose function is right (honest but hostile) must get its true verdict.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest

from selfmine.sandbox import Status, WorkerPool, judge
from tests.test_sandbox import ISOLATED, ISOLATED_MODES, leftovers

RIGHT = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"
TESTS = ["assert add(1, 2) == 3", "assert add(2, 2) == 4", "assert add(0, 0) == 0"]
TIMEOUT = 5.0
SLACK_S = 4.0  # "within its timeout plus a few seconds"


def honest_after(pool: WorkerPool, timeout: float = TIMEOUT, rounds: int = 2, bounded: bool = False) -> None:
    """On the attacker's pool: an honest right program passes and an honest wrong one fails, never a
    sandbox_error (nor, with `bounded`, a judgement that outlasts its timeout by more than SLACK_S)."""
    for _ in range(rounds):
        for code, want in ((RIGHT, Status.PASSED), (WRONG, Status.FAILED)):
            start = time.monotonic()
            v = judge(code, TESTS, timeout=timeout, pool=pool)
            took = time.monotonic() - start
            assert v.status == want, (want, v.status, v.message)
            if bounded:
                assert took < timeout + SLACK_S, f"an honest judgement took {took:.1f} s (timeout {timeout} s)"


def isolated_pool() -> WorkerPool:
    """A pool whose /tmp, /var and /dev/shm are the sandbox's own tmpfs: the attacks that fill or wipe
    them must never run on the host's."""
    pool = WorkerPool(1)
    if pool.isolation.split()[0].split("+")[0] not in ("bwrap", "unshare"):
        pool.close()
        pytest.skip("needs bubblewrap or user namespaces")
    return pool


# Finds the tests process: the program's sibling, the other child of the worker (the program's parent).
SIBLINGS = r"""
import os, signal

def _siblings():
    me, parent, out = os.getpid(), os.getppid(), []
    for name in os.listdir('/proc'):
        if name.isdigit() and int(name) != me:
            try:
                with open('/proc/%s/stat' % name) as f:
                    stat = f.read()
                if int(stat[stat.rindex(')') + 2:].split()[1]) == parent:
                    out.append(int(name))
            except (OSError, ValueError):
                pass
    return out

def _signal(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass
"""


# -- 1. a forged pass through the tests process's reports --

# The worker is stopped, so the report pipe fills and the tests process blocks in its write of a report
# several MiB long (the exception's type name crosses uncut; its message is a few MiB too); stopping and
# continuing the tests process then cuts that write short. The cut report swallows the next one, and a
# judge that skips unparseable lines finds "done" with no failure left: a pass. The function is wrong for
# every call with b != 0; the last tests pass, so the stream ends with intact "passed" and "done" reports.
FORGE_THROUGH_TESTS = (
    SIBLINGS
    + r"""
import threading, time

def _hammer(tests, worker):
    time.sleep(0.3)
    for _ in range(10):
        _signal(tests, signal.SIGSTOP)
        time.sleep(0.005)
        _signal(tests, signal.SIGCONT)
        time.sleep(0.005)
    _signal(worker, signal.SIGCONT)

Big = type('Big' + 'E' * (2 << 20), (Exception,), {})

def add(a, b):
    if b == 0:
        return a
    worker = [os.getppid()]
    _signal(worker, signal.SIGSTOP)
    threading.Thread(target=_hammer, args=(_siblings(), worker), daemon=True).start()
    raise Big('x' * (3 << 20))
"""
)

FORGE_JOBS = {
    2: ["assert add(1, 2) == 3", "assert add(0, 0) == 0"],
    3: ["assert add(1, 2) == 3", "assert add(2, 3) == 5", "assert add(5, 0) == 5"],
    5: [
        "assert add(1, 2) == 3",
        "assert add(4, 0) == 4",
        "assert add(2, 3) == 5",
        "assert add(7, 0) == 7",
        "assert add(0, 0) == 0",
    ],
}


@pytest.mark.parametrize("n_tests", sorted(FORGE_JOBS))
def test_stopping_the_tests_process_mid_report_never_forges_a_pass(n_tests):
    tests = FORGE_JOBS[n_tests]
    with WorkerPool(1) as pool:
        v = judge(FORGE_THROUGH_TESTS, tests, timeout=TIMEOUT, pool=pool)
        assert not v.passed, (v.status, v.message, [t.outcome for t in v.tests])
        assert not v.infrastructure_failure, v.message
        honest = judge(RIGHT, tests, timeout=TIMEOUT, pool=pool)
        assert honest.status == Status.PASSED, honest.message
        honest_after(pool)


# -- 2, 3. the worker's `output` file replaced --

PRINTED = "printed by the attacker"


def _replace_output(make: str) -> str:
    """A wrong program that prints a line and then, when called, replaces the worker's `output` file (next
    to its working directory, or in any selfmine scratch directory it sees) with what `make` creates."""
    return f"""
import glob, os, shutil
print({PRINTED!r}, flush=True)

def _targets():
    out = set(glob.glob('/tmp/selfmine-judge-*/output'))
    try:
        out.add(os.path.join(os.path.dirname(os.getcwd()), 'output'))
    except OSError:
        pass
    return out

def add(a, b):
    for path in _targets():
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except OSError:
            pass
        try:
            {make}
        except OSError:
            pass
    return a - b
"""


@pytest.mark.parametrize(
    "make", ["os.mkdir(path)", "os.symlink('/dev/zero', path)"], ids=["directory", "symlink-to-dev-zero"]
)
def test_output_replaced_by_a_directory_or_a_link(make):
    with WorkerPool(1) as pool:
        v = judge(_replace_output(make), TESTS, timeout=TIMEOUT, pool=pool)
        assert not v.passed, v.message
        assert v.output == PRINTED + "\n", v.output[:100]  # what it printed, not what the link points to
        honest_after(pool)


def test_output_replaced_by_a_fifo_hangs_nothing():
    timeout = 2.0
    with WorkerPool(1) as pool:
        start = time.monotonic()
        v = judge(_replace_output("os.mkfifo(path)"), TESTS, timeout=timeout, pool=pool)
        took = time.monotonic() - start
        assert not v.passed, v.message
        # one hung worker (its timeout plus the pool's grace) might be forgiven, not a hang on every retry
        assert took < timeout + 5 + SLACK_S, f"the attacker's judgement took {took:.1f} s ({v.status})"
        honest_after(pool, timeout=timeout, bounded=True)


# -- 4. the program removes its own working directory --


def test_removing_its_own_working_directory_is_the_programs_verdict():
    code = (
        "import os, shutil\n"
        "here = os.getcwd()\n"
        "os.chdir('/')\n"
        "shutil.rmtree(here, ignore_errors=True)\n"
        "try:\n    os.rmdir(here)\nexcept OSError:\n    pass\n" + WRONG
    )
    with WorkerPool(1) as pool:
        v = judge(code, TESTS, timeout=TIMEOUT, pool=pool)
        assert v.status in (Status.ERROR, Status.FAILED), (v.status, v.message)
        honest_after(pool)


# -- 5, 6. the sandbox's private /tmp, /var and /dev/shm filled, locked or wiped --

SCRATCH_LEFT = """
import os

def left():
    seen = sorted('/tmp/' + n for n in os.listdir('/tmp') if not n.startswith('selfmine-judge-'))
    seen += sorted('/var/' + n for n in os.listdir('/var'))
    return seen + sorted('/dev/shm/' + n for n in os.listdir('/dev/shm'))
"""

FILL_AND_LOCK = (
    """
import os
block = b'x' * (512 * 1024)  # under the file size limit (1 MiB)
budget = 48 * 1024 * 1024
for top in ('/tmp', '/var', '/dev/shm'):
    d = os.path.join(top, 'fill-%d' % os.getpid())
    sub = os.path.join(d, 'deeper')
    try:
        os.makedirs(sub)
    except OSError:
        continue
    files = []
    for i in range(budget // 3 // len(block)):
        path = os.path.join(sub if i % 2 else d, 'f%d' % i)
        try:
            with open(path, 'wb') as f:
                f.write(block)
        except OSError:
            break
        files.append(path)
    for path in files:
        os.chmod(path, 0)
    os.chmod(sub, 0o500)
    os.chmod(d, 0o500)
"""
    + RIGHT
)


@pytest.mark.skipif(not ISOLATED, reason="needs bubblewrap or user namespaces")
def test_filled_and_locked_scratch_places_are_emptied_for_the_next_program():
    pool = isolated_pool()
    with pool:
        for _ in range(2):
            v = judge(FILL_AND_LOCK, TESTS, timeout=TIMEOUT, pool=pool)
            assert v.status == Status.PASSED, (v.status, v.message)  # its function is right
        v = judge(SCRATCH_LEFT + RIGHT, ["assert left() == [], left()", *TESTS], timeout=TIMEOUT, pool=pool)
        assert v.status == Status.PASSED, (v.status, v.message)
        honest_after(pool)


WIPE_TMP = """
import os

def _wipe():
    for root, dirs, files in os.walk('/tmp', topdown=False):
        for name in files:
            try:
                os.unlink(os.path.join(root, name))
            except OSError:
                pass
        for name in dirs:
            path = os.path.join(root, name)
            try:
                os.unlink(path) if os.path.islink(path) else os.rmdir(path)
            except OSError:
                pass
"""


@pytest.mark.skipif(not ISOLATED, reason="needs bubblewrap or user namespaces")
@pytest.mark.parametrize("when", ["at-load", "in-a-call"])
def test_wiping_tmp_is_judged_and_leaves_the_worker_sound(when):
    if when == "at-load":
        code = WIPE_TMP + "_wipe()\n" + RIGHT
    else:
        code = WIPE_TMP + "def add(a, b):\n    _wipe()\n    return a + b\n"
    pool = isolated_pool()
    with pool:
        v = judge(code, TESTS, timeout=TIMEOUT, pool=pool)
        assert v.status == Status.PASSED, (v.status, v.message)  # its function is right
        honest_after(pool)


# -- 7. memory across many processes --


def test_many_children_cannot_hold_more_memory_together_than_the_limit():
    marker = uuid.uuid4().hex
    child = f"b = b'x' * (100 << 20)\\nimport time\\nprint('up', flush=True)\\ntime.sleep(60)  # {marker}"
    code = f"""
import select, subprocess, sys, time

def f():
    kids = []
    for _ in range(20):
        try:
            kids.append(subprocess.Popen([sys.executable, '-c', "{child}"], stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, start_new_session=True))
        except OSError:
            pass
    up, deadline = set(), time.monotonic() + 3
    while len(up) < len(kids) and time.monotonic() < deadline:
        waiting = [k.stdout for k in kids if k.stdout not in up]
        for r in select.select(waiting, [], [], 0.1)[0]:
            if r.readline():
                up.add(r)
            else:
                kids = [k for k in kids if k.stdout is not r]
    time.sleep(0.2)
    return sum(1 for k in kids if k.stdout in up and k.poll() is None)
"""
    with WorkerPool(1) as pool:
        if pool.isolation.endswith("(no cgroup)"):
            pytest.skip("no cgroup here: nothing caps memory across processes")
        v = judge(code, ["assert f() == 20"], timeout=TIMEOUT, memory_mb=200, pool=pool)
        assert not v.passed, v.message  # 20 children holding 100 MB each, alive at once
        assert leftovers(marker) == []  # and none of them outlives the verdict
        honest_after(pool)


# -- 8. the x32 syscall ABI --


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the x32 ABI exists on x86_64 only")
def test_x32_syscall_numbers_are_refused():
    code = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)

def f():
    r = libc.syscall(0x40000000 + 39)  # getpid through the x32 ABI
    e = ctypes.get_errno()
    print('x32 getpid:', r, e)
    return r, e
"""
    with WorkerPool(1) as pool:
        v = judge(code, ["assert f() == (-1, 1)"], timeout=TIMEOUT, pool=pool)
        killed = v.status == Status.ERROR and "SIGSYS" in v.message  # a filter may kill instead of refusing
        assert v.status == Status.PASSED or killed, (v.status, v.message, v.output)  # -1 with EPERM
        assert "x32 getpid:" not in v.output or int(v.output.split("x32 getpid:")[1].split()[0]) <= 0
        honest_after(pool)


# -- 9. signals to the worker and the tests process by other routes than kill() --

SIGNAL_HELPERS = r"""
import ctypes, fcntl, threading, time
libc = ctypes.CDLL(None, use_errno=True)

def _pidfd_kill(pids):
    for pid in pids:
        fd = libc.syscall(434, pid, 0)  # pidfd_open
        if fd >= 0:
            libc.syscall(424, fd, signal.SIGKILL, None, 0)  # pidfd_send_signal

def _owned_pipe(pids, sig=None):
    for pid in pids:
        r, w = os.pipe()
        fcntl.fcntl(r, fcntl.F_SETOWN, pid)
        if sig is not None:
            fcntl.fcntl(r, 10, sig)  # F_SETSIG
        fcntl.fcntl(r, fcntl.F_SETFL, fcntl.fcntl(r, fcntl.F_GETFL) | os.O_ASYNC)
        os.write(w, b'x')

def _busy():
    end = time.monotonic() + 1
    while time.monotonic() < end:
        pass

calls = 0
"""

SIGNAL_ATTACKS = {
    # SIGIO (whose default action ends a process) to the worker when the socket gets data while the program
    # is not waiting on it: a busy thread keeps the program from its next read while the next call arrives
    "fsetown-socket-worker": (
        "fcntl.fcntl(3, fcntl.F_SETOWN, os.getppid())\n"
        "        fcntl.fcntl(3, fcntl.F_SETFL, fcntl.fcntl(3, fcntl.F_GETFL) | os.O_ASYNC)\n"
        "        threading.Thread(target=_busy, daemon=True).start()\n"
    ),
    # ... from a pipe of its own, which signals its reader's owner on every write
    "fsetown-pipe-worker": "_owned_pipe([os.getppid()])\n",
    # ... to the tests process, as SIGKILL (F_SETSIG)
    "fsetown-pipe-tests": "_owned_pipe(_siblings(), signal.SIGKILL)\n",
    "pidfd-worker": "_pidfd_kill([os.getppid()])\n",
    "pidfd-tests": "_pidfd_kill(_siblings())\n",
}


@pytest.mark.parametrize("attack", sorted(SIGNAL_ATTACKS))
def test_signals_by_file_owner_or_pidfd_never_pass(attack):
    code = (
        SIBLINGS
        + SIGNAL_HELPERS
        + "def add(a, b):\n"
        + "    global calls\n"
        + "    calls += 1\n"
        + "    if calls == 1:  # the tests process exists by now\n"
        + "        "
        + SIGNAL_ATTACKS[attack]
        + "    return a - b\n"
    )
    with WorkerPool(1) as pool:
        v = judge(code, TESTS * 3, timeout=TIMEOUT, pool=pool)  # calls enough for the socket's signal to land
        assert v.status in (Status.ERROR, Status.FAILED), (v.status, v.message)
        honest_after(pool)


# -- 10. the tests process made to run code of the program's choosing --

# Found in the tests process's stack, a forged pass: every test reported passed, then the final report.
FORGE_IN_TESTS = r"""
import os, sys
f = sys._getframe()
while f is not None and f.f_code.co_name != "_tests":
    f = f.f_back
report, tests = f.f_locals["report"], f.f_locals["tests"]
for i in range(len(tests)):
    report(event="test", index=i, outcome="passed")
report(event="done", count=len(tests))
os._exit(0)
"""

CODE_IN_TESTS = {
    # A module object of its own named `unittest.__main__`: the tests process imported it, and unittest's
    # main ran test discovery in the working directory, where the program had written a test_*.py.
    "unittest-main": (
        f"import types\nopen('test_forge.py', 'w').write({FORGE_IN_TESTS!r})\n"
        "add = types.ModuleType('unittest.__main__')\n"
    ),
    # The builtin `breakpoint` as the function: called in the tests process, pdb ran the commands of the
    # program's .pdbrc in the working directory.
    "breakpoint-pdbrc": f"open('.pdbrc', 'w').write('!exec(' + {repr(FORGE_IN_TESTS)!r} + ')\\n')\nadd = breakpoint\n",
    # The socket's "stdlib" binding, which the program writes: unittest.mock's always-equal class.
    "stdlib-any": (
        "import sys\n"
        "worker = sys.modules['selfmine_worker.program']\n"
        "_named = worker.stdlib_name\n"
        "worker.stdlib_name = lambda v: ['stdlib', 'unittest.mock', '_ANY'] if v is add else _named(v)\n"
        "def add():\n    return 0\n"
    ),
}


@pytest.mark.parametrize("attack", sorted(CODE_IN_TESTS))
def test_names_the_program_binds_never_run_its_code_in_the_tests_process(attack):
    tests = ["assert add() == 3", "assert add() == 4"]  # no call with no arguments returns both
    with WorkerPool(1) as pool:
        v = judge(CODE_IN_TESTS[attack], tests, timeout=TIMEOUT, pool=pool)
        assert not v.passed, (v.status, v.message)
        assert not v.infrastructure_failure, v.message
        honest_after(pool)


# -- 11. large values that Python finds unequal --

# A result over 2 million nodes crosses in parts and is built again in the tests process (it once crossed
# as a digest, and each pair here had one canonical encoding though Python finds them unequal). Each wrong
# value leads a list long enough to cross in parts.
UNEQUAL_LARGE = {
    "list-for-tuple": ("[1, 2]", "(1, 2)"),
    "str-key-for-int-key": ("{'1': 2}", "{1: 2}"),
    "deque-for-list": ("__import__('collections').deque([1, 2])", "[1, 2]"),
    "list-for-bytes": ("['__bytes__', '6162']", "b'ab'"),
    "surrogates-for-emoji": ("'\\ud83d\\ude00'", "'\\U0001f600'"),
    "nan-for-nan": ("float('nan')", "float('nan')"),
    "ordered-dicts-in-another-order": (
        "__import__('collections').OrderedDict([(1, 1), (2, 2)])",
        "__import__('collections').OrderedDict([(2, 2), (1, 1)])",
    ),
    "int-for-float-in-the-plain-tail": ("[0] * 2_100_000", "[0.5] * 2_100_000"),
}


@pytest.mark.parametrize("pair", sorted(UNEQUAL_LARGE))
def test_a_large_value_equals_only_what_python_finds_equal(pair):
    wrong, expected = UNEQUAL_LARGE[pair]
    code = f"def f():\n    return [{wrong}] + [0] * 2_100_000\n"
    test = [f"assert f() == [{expected}] + [0] * 2_100_000"]
    with WorkerPool(1) as pool:
        v = judge(code, test, timeout=30, pool=pool)
        assert v.status == Status.FAILED, (v.status, v.message)
        if pair != "nan-for-nan":  # a NaN equals no NaN but itself
            right = judge(f"def f():\n    return [{expected}] + [0] * 2_100_000\n", test, timeout=30, pool=pool)
            assert right.passed, (right.status, right.message)


# A program that answers a call itself, on the socket, with a large value of its own making whose parts
# never end, make no progress or are malformed: never a pass, and the worker serves the next program.
# A program that writes its own replies on the socket (fd 3), framed as the worker frames them.
FRAME = """
import json, os

def _frame(o):
    d = json.dumps(o).encode()
    os.write(3, b'%08d' % len(d) + d)
"""
FORGED_PARTS = {
    "endless": {"items": [3]},
    "no-progress": {"items": []},
    "wrong-shape": {"plain": [[3]], "end": 1},
    "bad-floats": {"floats": ["nope"], "end": 1},
    "pairs-for-a-list": {"items": [[3, 3]], "end": 1},
}


@pytest.mark.parametrize("forge", sorted(FORGED_PARTS))
def test_forged_parts_of_a_large_value_never_pass(forge):
    code = (
        FRAME
        + f"""
def _read():
    n, data = int(os.read(3, 8)), b''
    while len(data) < n:
        data += os.read(3, n - len(data))
    return json.loads(data)

def add(a, b):
    _frame({{"value": {{"g": [1, "d" if {forge!r} == "pairs-for-a-list" else "l", 1, None]}}}})
    while True:
        _read()
        _frame({FORGED_PARTS[forge]!r})
"""
    )
    with WorkerPool(1) as pool:
        v = judge(code, TESTS, timeout=TIMEOUT, pool=pool)
        assert not v.passed and not v.infrastructure_failure, (v.status, v.message)
        honest_after(pool)


# -- 11b. digests of values that Python finds unequal --

# A result of an estimated 20 million nodes or more crosses as a digest, and the program may send one for any value (it writes
# the socket; here it dresses its wrong answer up as one through the worker's own encoder). Each pair is
# unequal in Python but had one canonical encoding.
UNEQUAL_DIGESTS = {
    "list-for-tuple": ("[[1, 2]]", "[(1, 2)]"),
    "str-key-for-int-key": ("[{'1': 2}]", "[{1: 2}]"),
    "deque-for-list": ("__import__('collections').deque([1, 2])", "[1, 2]"),
    "list-for-bytes": ("[['__bytes__', '6162']]", "[b'ab']"),
    "surrogates-for-emoji": ("['\\ud83d\\ude00']", "['\\U0001f600']"),
    "nan-for-nan": ("[float('nan')]", "[float('nan')]"),
    "ordered-dicts-in-another-order": (
        "__import__('collections').OrderedDict([(1, 1), (2, 2)])",
        "__import__('collections').OrderedDict([(2, 2), (1, 1)])",
    ),
}


@pytest.mark.parametrize("pair", sorted(UNEQUAL_DIGESTS))
def test_a_digest_equals_only_what_python_finds_equal(pair):
    wrong, expected = UNEQUAL_DIGESTS[pair]
    code = f"""
import sys
worker = sys.modules["selfmine_worker.encode"]
_encode = worker.encode

def _as_digest(v, depth=0, strict=False, budget=None):
    if type(v) is list and v[:1] == ['wrap']:
        return {{"h": [sys.modules["selfmine_worker.digest"].digest(v[1]), 'list', 1]}}
    return _encode(v, depth, strict, budget)

worker.encode = _as_digest

def f():
    return [['wrap', {wrong}]]
"""
    with WorkerPool(1) as pool:
        v = judge(code, [f"assert f() == [{expected}]"], timeout=TIMEOUT, pool=pool)
        assert not v.passed and not v.infrastructure_failure, (v.status, v.message)
        right = code.replace(f"['wrap', {wrong}]", f"['wrap', {expected}]")  # the digest itself works
        if pair != "nan-for-nan":  # a NaN equals no NaN but itself
            assert judge(right, [f"assert f() == [{expected}]"], timeout=TIMEOUT, pool=pool).passed


# -- 12. what outlives a program in its worker --

# The worker is the one process that serves every program of its sandbox, and runs as the program's user:
# what the program changes in it from outside would be inherited by every later program.
WORKER_CHANGES = {
    "file-size-limit": "resource.prlimit(os.getppid(), resource.RLIMIT_FSIZE, (100, 100))",
    "memory-limit": "resource.prlimit(os.getppid(), resource.RLIMIT_AS, (300 << 20, 300 << 20))",
    "open-files-limit": "resource.prlimit(os.getppid(), resource.RLIMIT_NOFILE, (40, 40))",
    "nice-every-process-of-the-user": "os.setpriority(os.PRIO_USER, 0, 19)",
    "idle-scheduling": "os.sched_setscheduler(os.getppid(), os.SCHED_IDLE, os.sched_param(0))",
    "one-cpu": "os.sched_setaffinity(os.getppid(), {min(os.sched_getaffinity(0))})",
}

PROBE = """
import os, resource

def probe():
    return [resource.getrlimit(resource.RLIMIT_FSIZE), resource.getrlimit(resource.RLIMIT_AS),
            resource.getrlimit(resource.RLIMIT_NOFILE), os.getpriority(os.PRIO_PROCESS, 0),
            os.sched_getscheduler(0), sorted(os.sched_getaffinity(0))]
"""


@pytest.mark.parametrize("mode", ISOLATED_MODES)
@pytest.mark.parametrize("change", sorted(WORKER_CHANGES))
def test_what_a_program_changes_in_its_worker_never_reaches_the_next_program(change, mode):
    with WorkerPool(1, isolation=mode) as pool:
        before = judge(PROBE, ["r = probe()\nassert r == 0, r"], timeout=TIMEOUT, pool=pool).tests[0].message
        attack = f"import os, resource\ntry:\n    {WORKER_CHANGES[change]}\nexcept OSError:\n    pass\n" + WRONG
        assert judge(attack, TESTS, timeout=TIMEOUT, pool=pool).status == Status.FAILED
        after = judge(PROBE, ["r = probe()\nassert r == 0, r"], timeout=TIMEOUT, pool=pool).tests[0].message
        assert after == before
        honest_after(pool)


SYSV_SHM = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
size = 8 << 20
sid = libc.shmget(0, size, 0o1000 | 0o600)  # IPC_PRIVATE, IPC_CREAT: a segment no process removes
if sid >= 0:
    p = libc.shmat(sid, None, 0)
    ctypes.memset(p, 1, size)
    libc.shmdt(ctypes.c_void_p(p))
libc.msgget(0, 0o1000 | 0o600)
libc.semget(0, 1, 0o1000 | 0o600)
"""

IPC_LEFT = """
def ipc_left():
    return [line for name in ('shm', 'msg', 'sem') for line in open('/proc/sysvipc/' + name).readlines()[1:]]
"""


@pytest.mark.parametrize("mode", ISOLATED_MODES)
def test_sysv_ipc_objects_never_outlive_the_program(mode):
    # Each segment stayed charged to the sandbox's memory (or, without a cgroup, to the machine's): five
    # programs of 150 MB each and an honest program after them was killed for memory.
    with WorkerPool(1, isolation=mode) as pool:
        assert judge(SYSV_SHM + WRONG, TESTS, timeout=TIMEOUT, pool=pool).status == Status.FAILED
        v = judge(IPC_LEFT + RIGHT, ["assert ipc_left() == [], ipc_left()", *TESTS], timeout=TIMEOUT, pool=pool)
        assert v.status == Status.PASSED, v.message
        honest_after(pool)


# -- 13. the other processes of the sandbox --

# bubblewrap's own pid 1 held the worker's request and reply pipes, ran as the program's user and was
# dumpable: the program could open its /proc/1/mem for writing and, where the pipes were that user's own
# (a judge not run as root), read the tests' nonce from /proc/1/fd/0 before the tests process did and
# write a whole forged reply onto /proc/1/fd/1 (a wrong program passed 37 times in 60).
REACHABLE = """
import os

def reachable():
    me, out = os.getpid(), []
    for pid in os.listdir('/proc'):
        if not pid.isdigit() or int(pid) == me:
            continue
        for what in ('mem', 'fd/0', 'fd/1'):
            try:
                os.close(os.open('/proc/%s/%s' % (pid, what), os.O_RDONLY | os.O_NONBLOCK))
                out.append((pid, what))
            except OSError:
                pass
    return out
"""


@pytest.mark.parametrize("mode", ISOLATED_MODES)
def test_no_other_process_of_the_sandbox_is_open_to_the_program(mode):
    with WorkerPool(1, isolation=mode) as pool:
        v = judge(REACHABLE, ["assert reachable() == [], reachable()"], timeout=TIMEOUT, pool=pool)
        assert v.status == Status.PASSED, v.message


# -- 13. found by the round-2 review: modes, SIGPIPE, limits of the other processes, tracebacks --

PLACES = ("/tmp", "/var", "/run", "/home", "/root", "/dev/shm")
MODES_OF_PLACES = f"""
import os

def modes():
    return [oct(os.stat(d).st_mode & 0o7777) for d in {PLACES!r}]
"""
# An honest program that needs a temporary file and a lock (a file in /dev/shm).
NEEDS_TMP = """
import multiprocessing, tempfile

def add(a, b):
    lock = multiprocessing.Lock()
    with lock, tempfile.TemporaryFile() as f:
        f.write(b'x')
    return a + b
"""


@pytest.mark.parametrize("mode", ISOLATED_MODES)
@pytest.mark.parametrize("locked", ["0555", "0000"])
def test_writable_places_get_their_modes_back_for_the_next_program(mode, locked):
    """A program that made the sandbox's writable places read-only (or unreachable) left them so: the next
    honest program could make no temporary file (`error`), in both isolated modes."""
    with WorkerPool(1, isolation=mode) as pool:
        before = judge(MODES_OF_PLACES, ["m = modes()\nassert m == 0, m"], timeout=TIMEOUT, pool=pool)
        lock = f"import os\nfor d in {PLACES!r}:\n    try:\n        os.chmod(d, 0o{locked})\n    except OSError:\n        pass\n"
        assert judge(lock + RIGHT, TESTS, timeout=TIMEOUT, pool=pool).status == Status.PASSED
        after = judge(MODES_OF_PLACES, ["m = modes()\nassert m == 0, m"], timeout=TIMEOUT, pool=pool)
        assert after.tests[0].message == before.tests[0].message
        v = judge(NEEDS_TMP, TESTS, timeout=TIMEOUT, pool=pool)
        assert v.status == Status.PASSED, (v.status, v.message)
        honest_after(pool)


OTHER_PROCESSES = {
    # SIGPIPE in the tests process (the worker's default action ends it) when the program shuts its end
    "sigpipe": "socket.socket(fileno=os.dup(3)).shutdown(socket.SHUT_RD)",
    # the tests process's CPU limit lowered: its own `failed` would become `timeout`
    "tests-cpu-limit": "[resource.prlimit(p, resource.RLIMIT_CPU, (0, 1)) for p in _siblings()]",
    # ... its memory limit: `memory`
    "tests-memory-limit": "[resource.prlimit(p, resource.RLIMIT_AS, (30 << 20, 30 << 20)) for p in _siblings()]",
    "tests-priority": "[os.setpriority(os.PRIO_PROCESS, p, 19) for p in _siblings()]",
    "tests-one-cpu": "[os.sched_setaffinity(p, {0}) for p in _siblings()]",
}


@pytest.mark.parametrize("attack", sorted(OTHER_PROCESSES))
def test_a_program_cannot_change_how_the_tests_process_ends(attack):
    """A wrong program gets `failed` (or, where it broke the call protocol, `error`), never `timeout` or
    `memory`, and never a tests-process death that costs a retry."""
    code = (
        SIBLINGS
        + "import resource, socket\n"
        + "def add(a, b):\n"
        + "    try:\n"
        + f"        {OTHER_PROCESSES[attack]}\n"
        + "    except OSError:\n"
        + "        pass\n"
        + "    return a - b\n"
    )
    # tests that then spend CPU time and memory in the tests process, where a lowered limit would show
    work = ["assert sum(range(5_000_000)) > 0", "assert len(bytearray(64 << 20)) > 0"]
    with WorkerPool(1) as pool:
        v = judge(code, TESTS + work, timeout=TIMEOUT, pool=pool)
        assert v.status in (Status.FAILED, Status.ERROR), (v.status, v.message)
        assert "killed the judge's tests process" not in v.message
        if attack != "sigpipe":
            assert v.status == Status.FAILED and "Operation not permitted" not in v.message
        honest_after(pool)


@pytest.mark.parametrize("plant", ["fifo", "forged"])
def test_a_file_named_like_a_test_never_reaches_the_traceback(plant):
    """The tests' tracebacks read their source from memory: a FIFO named test_0.py in the working directory
    hung the traceback (`timeout` for a wrong program), a file of that name put its lines in the verdict."""
    make = "os.mkfifo('test_0.py')" if plant == "fifo" else "open('test_0.py', 'w').write('assert True  # FORGED\\n')"
    with WorkerPool(1) as pool:
        start = time.monotonic()
        v = judge(f"import os\n{make}\n" + WRONG, TESTS, timeout=TIMEOUT, pool=pool)
        assert v.status == Status.FAILED and time.monotonic() - start < TIMEOUT, (v.status, v.message)
        assert "FORGED" not in v.traceback and "assert add(1, 2) == 3" in v.traceback
        honest_after(pool)


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the seccomp filter exists on x86_64 only")
def test_limits_priorities_and_placement_are_set_on_the_program_itself_only():
    code = (
        SIBLINGS
        + """
import errno, os, resource

def tries(pid):
    out = []
    for attempt in (lambda: resource.prlimit(pid, resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE)),
                    lambda: os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, 0)),
                    lambda: os.sched_setaffinity(pid, os.sched_getaffinity(0))):
        try:
            attempt()
            out.append('ok')
        except OSError as e:
            out.append(errno.errorcode[e.errno])
    return out

def own():
    return tries(0) + tries(os.getpid())

def others():
    return [tries(p) for p in _siblings() + [os.getppid()]]

def group():
    try:
        os.setpriority(os.PRIO_USER, 0, 19)
        return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
"""
    )
    tests = [
        "assert own() == ['ok'] * 6, own()",
        "o = others()\nassert len(o) == 2 and o == [['EPERM'] * 3] * 2, o",
        "assert group() == 'EPERM'",
    ]
    with WorkerPool(1) as pool:
        v = judge(code, tests, timeout=TIMEOUT, pool=pool)
        assert v.status == Status.PASSED, (v.status, v.message)
        honest_after(pool)


# -- 14. arguments sent back after a call --

FORGED_MUTATIONS = {
    # another type for a list argument; an argument that was never passed; a key that names nothing
    "dict-for-a-list": {"0": {"d": []}},
    "out-of-range": {"5": [3]},
    "not-an-index": {"x": [3]},
}


@pytest.mark.parametrize("forge", sorted(FORGED_MUTATIONS))
def test_forged_changes_to_arguments_never_pass(forge):
    """A program that answers a call itself with changed arguments of its own making gets no pass: the
    tests' objects take only content of their own type, for arguments they passed."""
    code = f"""
import json, os

def _frame(o):
    d = json.dumps(o).encode()
    os.write(3, b'%08d' % len(d) + d)

def add(xs, b):
    _frame({{"value": 3, "mutated": {FORGED_MUTATIONS[forge]!r}}})
    while True:
        os.read(3, 1 << 16)
"""
    tests = ["xs = [1]\nassert add(xs, 2) == 3 and xs == [3]", "assert add([0], 0) == 0"]
    with WorkerPool(1) as pool:
        v = judge(code, tests, timeout=TIMEOUT, pool=pool)
        assert not v.passed and not v.infrastructure_failure, (v.status, v.message)
        honest_after(pool)


# -- 15. what plain Python would show, forged through the judge's own machinery (review of session 14) --

WRONG_BY_PYTHON = {
    # destroys its argument and leaves in it what cannot cross: the tests must not keep the old content
    "argument-left-unsendable": (
        "def sorted_copy(xs):\n    out = sorted(xs)\n    xs.clear()\n    xs.append(len)\n    return out\n",
        ["xs = [3, 1, 2]\nassert sorted_copy(xs) == [1, 2, 3] and xs == [3, 1, 2]"],
    ),
    # returns its argument, not a copy: the tests' object is the one returned, as in one interpreter
    "argument-returned-as-the-copy": (
        "def clone(xs):\n    return xs\n",
        ["xs = [1, 2]\nys = clone(xs)\nys.append(3)\nassert xs == [1, 2]", "xs = [1]\nassert clone(xs) is not xs"],
    ),
    # ends its process where an exception is expected; the later tests catch broadly too
    "process-ended-inside-a-test-that-catches": (
        "import os\ndef div(a, b):\n    if b == 0:\n        os._exit(0)\n    return a // b\n",
        [
            "try:\n    div(1, 0)\nexcept Exception:\n    pass\nelse:\n    assert False",
            "try:\n    assert div(7, 2) == 3\nexcept:\n    pass",
        ],
    ),
    # returns what cannot cross, to a test that swallows whatever the call raises
    "unsendable-value-swallowed-by-a-bare-except": (
        "def parse(s):\n    return memoryview(b'abcd').cast('i')\n",
        ["try:\n    parse('x')\n    raised = False\nexcept:\n    raised = True\nassert raised"],
    ),
    # returns what cannot cross where a TypeError is expected: the judge's limit is not the program's raise
    "unsendable-value-where-an-exception-is-expected": (
        "def parse(s):\n    return memoryview(b'abcd').cast('i')\n",
        ["try:\n    parse('x')\nexcept TypeError:\n    pass\nelse:\n    assert False, 'no TypeError'"],
    ),
}


def _fails_in_plain_python(code: str, tests: list[str]) -> bool:
    scope: dict = {}
    exec(code, scope)
    for test in tests:
        try:
            exec(test, scope)
        except BaseException:
            return True
    return False


@pytest.mark.parametrize("case", sorted(WRONG_BY_PYTHON))
def test_what_plain_python_fails_never_passes_through_the_judges_machinery(case):
    """Each program fails these tests when program and tests run in one interpreter; through the judge it
    must not pass either, and must not be an infrastructure failure."""
    code, tests = WRONG_BY_PYTHON[case]
    assert _fails_in_plain_python(code.replace("os._exit(0)", "raise SystemExit"), tests)  # the end aside
    with WorkerPool(1) as pool:
        v = judge(code, tests, timeout=TIMEOUT, pool=pool)
        assert not v.passed and not v.infrastructure_failure, (v.status, v.message)
        honest_after(pool)


def test_the_program_cannot_read_or_rewrite_what_the_tests_print():
    """A grounding call's values are printed by the tests process under a secret tag: the program, which
    shares no output file with it, neither reads the tag nor rewrites the values, however long it prints."""
    from selfmine.tasks import grounding

    code = """
import os, sys

def f(i):
    seen = os.pread(1, 1 << 20, 0)
    print('x' * 200000)  # enough to push anything printed after it out of the kept output
    sys.stdout.flush()
    return [i * 10, b'SMG' in seen]
"""
    setup, tag = grounding.grounding_setup()
    tests = grounding.grounding_tests("f", [grounding.Call((i,)) for i in range(3)])
    v = judge(code, tests, timeout=TIMEOUT, setup=setup)
    assert grounding.read_grounding(v.output, tag) == {i: ("V", repr([i * 10, False])) for i in range(3)}


def test_an_object_left_in_an_argument_crosses_as_a_returned_one_does():
    """A right program that appends one of its own objects to an argument passes a test that never
    compares that object; an argument left holding what cannot cross at all fails only the test that
    called, and a raise of the call itself stays the program's (the test can still not pass)."""
    code = (
        "class Node:\n    pass\n\ndef h(xs):\n    xs.append(Node())\n    return len(xs)\n\n"
        "def g(xs):\n    xs.append(memoryview(b'abcd').cast('i'))\n    raise ValueError('no')\n"
    )
    tests = [
        "assert h([1]) == 2",
        "xs = [1]\nh(xs)\nassert len(xs) == 2 and bool(xs[1])",
        "try:\n    g([1])\nexcept ValueError:\n    pass",
    ]
    v = judge(code, tests, timeout=TIMEOUT)
    assert [t.outcome for t in v.tests] == ["passed", "passed", "error"], v.message


def test_a_returned_argument_is_the_tests_own_object_with_its_new_content():
    """`return xs` after changing xs in place: the tests hold one object, changed, as in plain Python."""
    code = "def push(xs, x):\n    xs.append(x)\n    return xs\n"
    tests = ["xs = [1]\nys = push(xs, 2)\nassert ys is xs and xs == [1, 2]", "d = []\nassert push(d, 0) is d"]
    assert judge(code, tests, timeout=TIMEOUT).status == Status.PASSED


FILL_TMP = """
import os

def filled():
    block, n = b'x' * (1 << 20), 0
    for place in ('/tmp', '/var', '/run', '/home', '/root', '/dev/shm'):
        try:
            for i in range(400):
                with open(os.path.join(place, 'fill-%d' % i), 'wb') as f:
                    f.write(block)
                n += 1
        except OSError:
            pass
    return n
"""


@pytest.mark.skipif(not ISOLATED, reason="needs bubblewrap or user namespaces")
def test_without_a_cgroup_the_writable_places_hold_little():
    """Files in tmpfs are memory no process limit counts: without a cgroup to cap them, the six writable
    places together hold at most 6 x 32 MiB (each 256 MiB under a cgroup, which counts them)."""
    code = subprocess.run(
        [
            sys.executable,
            "-c",
            "from selfmine.sandbox import judge\n"
            f"v = judge({FILL_TMP!r}, ['n = filled()\\nassert n == 0, n'], timeout=20)\n"
            "print(v.isolation, v.tests[0].message)",
        ],
        env={**os.environ, "SELFMINE_CGROUP": "0"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    isolation, written = code.stdout.split()[0], int(code.stdout.split()[-1])
    assert "(no cgroup)" in code.stdout and 100 <= written <= 6 * 32, (isolation, written, code.stderr[-500:])


# -- 15. found by the third review: ACLs, state under unshare, large values and write-back --

DEFAULT_ACL = f"""
import os, struct
acl = struct.pack('<I', 2) + b''.join(struct.pack('<HHI', tag, 5, 0xFFFFFFFF) for tag in (1, 4, 0x20))  # r-x
for d in {PLACES!r}:
    try:
        os.setxattr(d, 'system.posix_acl_default', acl)
    except OSError:
        pass
"""
MAKES_A_DIRECTORY = """
import os, tempfile

def add(a, b):
    d = tempfile.mkdtemp()
    open(os.path.join(d, 'f'), 'w').close()
    return a + b
"""


@pytest.mark.parametrize("mode", ISOLATED_MODES)
def test_a_default_acl_on_a_writable_place_never_reaches_the_next_program(mode):
    """Mode bits do not show an ACL: a default one the program set made every later program's new
    directories read-only."""
    with WorkerPool(1, isolation=mode) as pool:
        assert judge(DEFAULT_ACL + WRONG, TESTS, timeout=TIMEOUT, pool=pool).status == Status.FAILED
        v = judge(MAKES_A_DIRECTORY, TESTS, timeout=TIMEOUT, pool=pool)
        assert v.status == Status.PASSED, (v.status, v.message)
        honest_after(pool)


NAMESPACE_STATE = """
import os
for path, value in (('/proc/%d/oom_score_adj' % os.getppid(), b'1000'), ('/proc/sys/kernel/pid_max', b'400')):
    try:
        with open(path, 'wb', buffering=0) as f:
            f.write(value)
    except OSError:
        pass
"""
STATE = "def probe():\n    return [open('/proc/self/oom_score_adj').read(), open('/proc/sys/kernel/pid_max').read()]\n"


@pytest.mark.parametrize("mode", ISOLATED_MODES)
def test_the_oom_preference_and_pid_max_of_the_sandbox_never_reach_the_next_program(mode):
    """Under unshare the program's euid is the namespace's root: it could write the worker's oom_score_adj
    and the pid namespace's pid_max, which every later program inherited."""
    with WorkerPool(1, isolation=mode) as pool:
        before = judge(STATE, ["r = probe()\nassert r == 0, r"], timeout=TIMEOUT, pool=pool).tests[0].message
        assert judge(NAMESPACE_STATE + WRONG, TESTS, timeout=TIMEOUT, pool=pool).status == Status.FAILED
        after = judge(STATE, ["r = probe()\nassert r == 0, r"], timeout=TIMEOUT, pool=pool).tests[0].message
        assert after == before
        honest_after(pool)


RIGHT_BUT_AWKWARD = {
    # a large value inside a large value, the same one four times: its handles were reused while in use
    "the-same-large-value-twice": (
        "def f():\n    b = list(range(2_100_000))\n    return [[b, b], [b, b]]\n",
        "x = f()\nassert x[1][1][-1] == 2_099_999 and x[0][0] == list(range(2_100_000))",
    ),
    # a wide first row misled the estimate into a digest (no indexing)
    "a-wide-first-row": (
        "def f():\n    return [list(range(10))] + [0] * 2_100_000\n",
        "x = f()\nassert x[0][9] == 9 and x[-1] == 0",
    ),
    # few nodes, 70 MB: one message over its cap
    "long-strings": (
        "def f():\n    return ['x' * 100] * 700_000\n",
        "x = f()\nassert x[5] == 'x' * 100 and len(x) == 700_000",
    ),
    # a global the tests never name, too large for the first message
    "a-large-unnamed-global": (
        "T = [True] * 12_000_000\ndef f():\n    return len(T)\n",
        "assert f() == 12_000_000",
    ),
    # arguments changed in place: a large one, a defaultdict, an int made a bool
    "a-large-argument-sorted": (
        "def f(xs):\n    xs.sort()\n",
        "xs = list(range(2_100_000, 0, -1))\nf(xs)\nassert xs[0] == 1 and xs[-1] == 2_100_000",
    ),
    "a-defaultdict-argument": (
        "def f(d):\n    d['k'].append(1)\n",
        "import collections\nd = collections.defaultdict(list)\nf(d)\nassert d == {'k': [1]}",
    ),
    "an-int-made-a-bool": ("def f(xs):\n    xs[0] = True\n", "xs = [1]\nf(xs)\nassert xs[0] is True"),
}


@pytest.mark.parametrize("case", sorted(RIGHT_BUT_AWKWARD))
def test_right_answers_of_awkward_shapes_pass(case):
    code, test = RIGHT_BUT_AWKWARD[case]
    with WorkerPool(1) as pool:
        v = judge(code, [test], timeout=60, pool=pool)
        assert v.status == Status.PASSED, (v.status, v.message)


# -- 19. the program's objects, acted on through its process (objects.py) --

# An object that says yes to every comparison and every membership, returned where a number is expected:
# each of these asserts passes in plain Python. Through the judge, a comparison with a test's own value
# never asks the program, so none may pass.
ALWAYS_YES = """
class Yes:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __lt__(self, other):
        return True
    __le__ = __gt__ = __ge__ = __lt__
    def __contains__(self, item):
        return True
    def __hash__(self):
        return hash(3)
    def __iter__(self):
        return iter(())
    def __bool__(self):
        return True
def add(a, b):
    return Yes()
"""
YES_TESTS = [
    "assert add(1, 2) == 3",
    "assert 3 == add(1, 2)",
    "assert not add(1, 2) != 3",
    "assert add(1, 2) in [3]",
    "assert 3 in add(1, 2)",
    "assert add(1, 2) >= 3 and add(1, 2) <= 3",
    "assert {add(1, 2)} == {3} and [add(1, 2)] == [3] and (add(1, 2),) == (3,)",
    "assert {'k': add(1, 2)} == {'k': 3}",
    "assert sorted([add(1, 2), 3]) == [3, 3]",
]


def _forgery_passes_nothing(code: str, tests: list[str]) -> None:
    """Each of `tests` passes with `code` in one interpreter; through the judge none does, the verdict is
    the program's, and the pool then judges honest programs right."""
    assert not _fails_in_plain_python(code, tests)  # the forgery works in one interpreter
    with WorkerPool(1) as pool:
        v = judge(code, tests, timeout=TIMEOUT, pool=pool)
        assert [t.outcome for t in v.tests].count("passed") == 0, [(t.outcome, t.message) for t in v.tests]
        assert not v.infrastructure_failure, v.message
        honest_after(pool)


def test_an_object_that_says_yes_to_everything_never_passes_a_comparison_with_a_tests_value():
    _forgery_passes_nothing(ALWAYS_YES, YES_TESTS)


# A context manager of the program's whose `__exit__` swallows every exception: in one interpreter it
# swallows the test's own failing assert inside the block. `with obj:` is not forwarded (by design), so
# the block is an error, never a pass.
SWALLOW = """
class Quiet:
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return True
def quiet():
    return Quiet()
def add(a, b):
    return 0
"""
SWALLOW_TESTS = ["with quiet():\n    assert add(1, 2) == 3", "with quiet() as q:\n    assert add(1, 2) == 3"]


def test_a_context_manager_of_the_programs_never_swallows_a_tests_assert():
    _forgery_passes_nothing(SWALLOW, SWALLOW_TESTS)


# A returned exception whose chain names a traceback of the program's making, on a file it made (a FIFO):
# a test that raises it and fails has its traceback formatted in the tests process, which must never read
# the program's chain (nor open its files: the FIFO hung it). The verdict is the test's own failure.
FIFO_CHAIN = """
import os
class Code:
    co_filename = "trap.py"
    co_name = "judge_internal"
class Frame:
    f_code = Code()
    f_globals = {}
    f_locals = {}
class TB:
    tb_frame = Frame()
    tb_lineno = 1
    tb_lasti = -1
    tb_next = None
class Cause(Exception):
    @property
    def __traceback__(self):
        return TB()
class Bad(ValueError):
    @property
    def __cause__(self):
        return Cause("x")
def check(x):
    if not os.path.exists("trap.py"):
        os.mkfifo("trap.py")
    e = Bad("bad input")
    e.__notes__ = ["NOTE FROM THE PROGRAM"]
    return e
"""


def test_a_returned_exceptions_chain_is_never_formatted_from_the_program():
    test = "try:\n    raise check(1)\nexcept ValueError as e:\n    assert e.args == ('good',)"
    with WorkerPool(1) as pool:
        v = judge(FIFO_CHAIN, [test], timeout=TIMEOUT, pool=pool)
        assert v.status == Status.FAILED and v.tests[0].outcome == "failed", (v.status, v.message)
        assert "NOTE FROM THE PROGRAM" not in (v.traceback or "") and "trap.py" not in (v.traceback or "")
        honest_after(pool)


# A returned exception group whose `exceptions` names itself, raised (uncaught) by a test: an error in plain
# Python. Formatted through the stand-in, each read of `exceptions` asked the program again: a timeout, and
# the next test was never run.
ENDLESS_GROUP = """
class Grp(ExceptionGroup):
    @property
    def exceptions(self):
        return (self,) * 1000
def grp():
    return Grp("g", [ValueError("a")])
def ok():
    return 1
"""


def test_a_returned_group_raised_by_a_test_is_an_error_and_the_next_test_runs():
    raised = ["raise grp()", "raise ExceptionGroup('t', [grp()])"]  # itself, or a member of the test's own
    raised.append("try:\n    raise grp()\nexcept Exception:\n    raise ExceptionGroup('t', [KeyError(1)])")
    with WorkerPool(1) as pool:
        for test in raised:
            v = judge(ENDLESS_GROUP, [test, "assert ok() == 1"], timeout=TIMEOUT, pool=pool)
            assert [t.outcome for t in v.tests] == ["error", "passed"], (test, v.status, v.message)
        honest_after(pool)


# A metaclass whose `mro()` leaves a base out: isinstance walks the real MRO, so the object is no ParseError
# (no Node) in one interpreter. The mirror was built from `__bases__`.
MRO_IMPOSTORS = """
class ParseError(ValueError):
    pass
class Node:
    pass
class _Meta(type):
    def mro(cls):
        return [k for k in super().mro() if k is not ParseError and k is not Node]
class Impostor(ParseError, metaclass=_Meta):
    pass
class Other(Node, metaclass=_Meta):
    pass
class Mid(ParseError):
    pass
class Farther(Mid, metaclass=_Meta):
    pass
def parse(s):
    return Impostor(s)
def build():
    return Other()
def parse_far(s):
    return Farther(s)
"""
MRO_TESTS = [
    "assert isinstance(parse('x'), ParseError)",
    "assert issubclass(type(parse('x')), ParseError)",
    "assert isinstance(build(), Node)",
    "assert isinstance(parse_far('x'), ParseError)",  # left out of the MRO below a base that holds it
]


def test_a_class_is_what_its_real_mro_says():
    for test in MRO_TESTS:
        assert _fails_in_plain_python(MRO_IMPOSTORS, [test])
    with WorkerPool(1) as pool:
        v = judge(MRO_IMPOSTORS, MRO_TESTS, timeout=TIMEOUT, pool=pool)
        assert [t.outcome for t in v.tests].count("passed") == 0, [(t.outcome, t.message) for t in v.tests]
        honest_after(pool)


# A class whose metaclass decides isinstance itself (an ABC's __subclasshook__, a Protocol that is not
# runtime-checkable): the mirror asks the program's class, so the answer is plain Python's (a subclass
# that lacks a method the hook requires is no Shape; the Protocol check is a TypeError).
HOOKED = """
from abc import ABC
from typing import Protocol
class Shape(ABC):
    @classmethod
    def __subclasshook__(cls, C):
        if cls is Shape:
            return all(any(n in B.__dict__ for B in C.__mro__) for n in ("area", "perimeter"))
        return NotImplemented
class Square(Shape):
    def area(self):
        return 4
class Greeter(Protocol):
    def greet(self) -> str: ...
class English(Greeter):
    def greet(self):
        return "hi"
def make():
    return Square()
def hello():
    return English()
"""
HOOKED_TESTS = [
    "assert isinstance(make(), Shape)",
    "assert issubclass(type(make()), Shape)",
    "assert isinstance(hello(), Greeter)",
]


def test_a_metaclass_that_decides_isinstance_is_asked():
    for test in HOOKED_TESTS:
        assert _fails_in_plain_python(HOOKED, [test])
    with WorkerPool(1) as pool:
        v = judge(HOOKED, HOOKED_TESTS, timeout=TIMEOUT, pool=pool)
        assert [t.outcome for t in v.tests] == ["failed", "failed", "error"], [(t.outcome, t.message) for t in v.tests]
        honest_after(pool)


# Three global lists too large for the names message: each encoding handed out about 360k handles before it
# gave up, so the judge's million were gone and a later object arrived opaque (a right program failed), and
# a later exception class had no handle (a wrong one passed isinstance). A failed encoding gives them back.
SPENT_HANDLES = """
class Tok:
    __slots__ = ()
TABLE1 = [Tok() for _ in range(400_000)]
TABLE2 = [Tok() for _ in range(400_000)]
TABLE3 = [Tok() for _ in range(400_000)]
class Point:
    def __init__(self, x):
        self.x = x
def make(x):
    return Point(x)
def err():
    return ValueError("e")
"""


def test_handles_of_a_value_that_did_not_cross_are_given_back():
    v = judge(SPENT_HANDLES, ["assert make(1).x == 1", "assert isinstance(err(), ValueError)"], timeout=60)
    assert v.passed, [(t.outcome, t.message) for t in v.tests]


# The program's process answers a call itself with a handle whose description it forged: a class named as
# a builtin, bases it never described, a chain too long, a class handle that is not the chain's last. A
# stand-in is never a builtin's instance and never equals a test's value.
FORGED_HANDLES = {
    "named-int": {"p": [1, 1, [[2, "int", "int", [], []]]]},
    "unknown-bases": {"p": [1, 1, [[2, "int", "int", [7, 8], []]]]},
    "claims-eq-and-contains": {"p": [1, 1, [[2, "int", "int", [], ["__eq__", "__contains__", "__hash__"]]]]},
    "chain-too-long": {"p": [1, 1, [[i, "C", "C", [], []] for i in range(2, 40)]]},
    "class-not-last": {"p": [1, 2, [[2, "int", "int", [], []]]]},
    "bad-names": {"p": [1, 1, [[2, "__class__ x", "a..b", [], []]]]},
    "old-shape": {"p": [1, 1, [[2, "int", "int", []]]]},
    "passed-back-handle": {"P": 1},
}


@pytest.mark.parametrize("forge", sorted(FORGED_HANDLES))
def test_forged_handles_never_pass(forge):
    code = (
        FRAME
        + f"""
def add(a, b):
    _frame({{"value": {FORGED_HANDLES[forge]!r}}})
    while True:
        os.read(3, 1 << 16)
"""
    )
    tests = ["x = add(1, 2)\nassert isinstance(x, int) or x == 3 or type(x) is int or 3 in [x]"]
    with WorkerPool(1) as pool:
        v = judge(code, tests, timeout=TIMEOUT, pool=pool)
        assert not v.passed and not v.infrastructure_failure, (v.status, v.message)
        honest_after(pool)


def test_past_the_mirrored_classes_an_object_crosses_opaque_and_forges_no_class():
    """Session 20's review: past MAX_MIRRORS classes, the first version shared one fallback mirror built from
    the bases of the first class over the limit, so a later object of an unrelated class passed
    `isinstance` against that base."""
    code = (
        "class Shape:\n    pass\n"
        "_junk = [type('J%d' % i, (Shape,), {})() for i in range(300)]\n"
        "class NotAShape:\n    pass\n"
        "def warm():\n    return _junk\n"
        "def make():\n    return NotAShape()\n"
    )
    tests = ["warm()", "assert isinstance(make(), Shape)", "assert type(make()) is not type(warm()[299])"]
    with WorkerPool(1) as pool:
        v = judge(code, tests, timeout=TIMEOUT, pool=pool)
        assert [t.outcome for t in v.tests][:2] == ["passed", "failed"], v.message
        honest_after(pool)
