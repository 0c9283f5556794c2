"""The judge against honest programs and an adversarial corpus. Each case must end with the right status,
quickly, with the host unharmed and nothing left running."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from selfmine.sandbox import BadTests, Job, Status, WorkerPool, judge, judge_many, split_tests
from selfmine.sandbox.isolation import best_launcher, interpreter

ADD = "def add(a, b):\n    return a + b\n"
ADD_TESTS = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]
ISOLATED = best_launcher().mode in ("bwrap", "unshare")


def leftovers(marker: str) -> list[int]:
    """Host processes whose command line carries `marker`."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(name))
            except OSError:
                pass
    return found


def test_pass_and_per_test_results():
    v = judge(ADD, ADD_TESTS)
    assert v.status == Status.PASSED and v.passed
    assert [t.outcome for t in v.tests] == ["passed", "passed"]
    assert v.isolation.startswith(best_launcher().mode) and v.isolation == WorkerPool(1).isolation


def test_failed_assert_reports_which_and_message():
    v = judge(ADD, ["assert add(1, 2) == 3", "assert add(2, 2) == 5, 'two and two'", "assert add(0, 0) == 0"])
    assert v.status == Status.FAILED
    assert [t.outcome for t in v.tests] == ["passed", "failed", "passed"]
    assert v.tests[1].message == "two and two"
    assert "add(2, 2) == 5" in v.message


def test_source_block_is_split_with_ast_and_setup_runs_first():
    setup, asserts = split_tests("import math\nx = 2\nassert add(x, 1) == 3\nassert math.isclose(add(0.1, 0.2), 0.3)\n")
    assert asserts == ["assert add(x, 1) == 3", "assert math.isclose(add(0.1, 0.2), 0.3)"]
    assert "import math" in setup
    v = judge(ADD, "import math\nx = 2\nassert add(x, 1) == 3\nassert math.isclose(add(0.1, 0.2), 0.3)\n")
    assert v.passed and len(v.tests) == 2


def test_bad_tests_raise():
    with pytest.raises(BadTests):
        judge(ADD, "assert add(1,")


def test_runtime_error_keeps_type_and_tail():
    v = judge("def f(x):\n    return 1 / x\n", ["assert f(1) == 1", "assert f(0) == 0"])
    assert v.status == Status.ERROR
    assert v.error_type == "ZeroDivisionError"
    assert "ZeroDivisionError" in v.traceback and "_child" not in v.traceback


def test_syntax_error_is_error():
    v = judge("def f(:\n  pass", ["assert f() is None"])
    assert v.status == Status.ERROR and v.error_type == "SyntaxError"
    assert v.tests[0].outcome == "not_run"


def test_output_is_captured_and_capped():
    v = judge("print('hello from the program')", [])
    assert v.passed and "hello from the program" in v.output


@pytest.mark.parametrize(
    "code",
    [
        "import sys\nsys.exit(0)",
        "exit()",
        "quit()",
        "raise SystemExit(0)",
        "import os\nos._exit(0)",
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
        "import atexit, os\natexit.register(lambda: os._exit(0))\nimport sys\nsys.exit(0)",
        # forge a report without the nonce, then leave
        'import os\nos.write(3, b\'{"event": "done", "count": 1}\\n\')\nos._exit(0)',
    ],
    ids=["sys.exit", "exit", "quit", "SystemExit", "os._exit", "self-SIGKILL", "atexit", "forged-report"],
)
def test_fake_exits_never_pass(code):
    v = judge(ADD + code, ["assert add(1, 2) == 4"])
    assert not v.passed
    assert v.status == Status.ERROR


def test_exit_inside_a_test_fails_that_test():
    v = judge("import sys\ndef f():\n    sys.exit(0)\n", ["assert f() is None"])
    assert v.status == Status.ERROR and v.tests[0].outcome == "error" and v.tests[0].error_type == "SystemExit"


def test_killing_the_harness_does_not_pass():
    # Under `unshare` the worker is the namespace's init, which the kernel shields from the kill: then the
    # tests really run (and fail here). Under bubblewrap the worker dies: no proof of a pass, so no pass.
    code = "def add(a, b):\n    return a - b\nimport os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
    v = judge(code, ["assert add(1, 2) == 3"], timeout=5)
    assert not v.passed and v.status in (Status.ERROR, Status.FAILED)
    assert judge(ADD, ADD_TESTS).passed  # the pool recovers


def test_infinite_loop_times_out_fast():
    v = judge("while True:\n    pass\n", ["assert True"], timeout=1)
    assert v.status == Status.TIMEOUT and v.duration_s < 4


def test_ignoring_sigterm_is_no_escape():
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.01)\n"
    v = judge(code, ["assert True"], timeout=1)
    assert v.status == Status.TIMEOUT


def test_sleep_timeout_reports_tests_done_so_far():
    code = "import time\ndef f(x):\n    if x:\n        time.sleep(100)\n    return x\n"
    v = judge(code, ["assert f(0) == 0", "assert f(1) == 1"], timeout=1)
    assert v.status == Status.TIMEOUT
    assert [t.outcome for t in v.tests] == ["passed", "not_run"]


def test_memory_bomb():
    v = judge("x = bytearray(8 * 1024 ** 3)", ["assert True"], memory_mb=256)
    assert v.status == Status.MEMORY
    v = judge("x = []\nwhile True:\n    x.append(' ' * 10 ** 6)", ["assert True"], memory_mb=256, timeout=10)
    assert v.status == Status.MEMORY


def test_huge_output():
    v = judge("while True:\n    print('x' * 1000)", ["assert True"], timeout=10)
    assert v.status == Status.OUTPUT_LIMIT
    assert len(v.output) <= 64 * 1024 and v.output_truncated


def test_deep_recursion():
    v = judge("def f(n):\n    return f(n + 1)\nf(0)", ["assert True"])
    assert v.status == Status.ERROR and v.error_type == "RecursionError"
    code = "import sys\nsys.setrecursionlimit(10 ** 7)\ndef f(n):\n    return f(n + 1)\nf(0)"
    v = judge(code, ["assert True"], timeout=3, memory_mb=256)
    assert v.status in (Status.ERROR, Status.MEMORY, Status.TIMEOUT) and v.duration_s < 6


def test_fork_bomb_is_contained_and_cleaned_up():
    marker = uuid.uuid4().hex
    code = f"import os\n# {marker}\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    v = judge(code, ["assert True"], timeout=2)
    assert v.status == Status.TIMEOUT and v.duration_s < 8
    assert judge(ADD, ADD_TESTS).passed
    assert not leftovers(marker)  # nothing of the bomb is left running on the host


def test_child_that_outlives_the_program_is_killed():
    marker = uuid.uuid4().hex
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)  # {marker}'], start_new_session=True)\n"
        "def f():\n    return 1\n"
    )
    v = judge(code, ["assert f() == 1"])
    assert v.passed
    assert leftovers(marker) == []


def test_environment_is_scrubbed(monkeypatch):
    monkeypatch.setenv("SELFMINE_TEST_SECRET", "hunter2-" + uuid.uuid4().hex)
    with WorkerPool(1) as pool:  # started after the secret is set: a leak would show
        v = judge("import os\nprint(dict(os.environ))", [], pool=pool)
        assert "hunter2" not in v.output and v.output.startswith("{")  # it ran and printed its environment
        v = judge(
            "import os\nfor p in os.listdir('/proc'):\n    try:\n        print(open(f'/proc/{p}/environ','rb').read())\n"
            "    except Exception:\n        pass\n",
            [],
            pool=pool,
        )
        assert "hunter2" not in v.output


def _plain_seed_zero(expr: str) -> str:
    """repr(expr) in a plain interpreter with string hashes seeded 0."""
    done = subprocess.run(
        [interpreter(), "-c", f"print(repr({expr}))"], env={"PYTHONHASHSEED": "0"}, capture_output=True, text=True
    )
    return done.stdout.strip()


WORDS = "['pear', 'fig', 'plum', 'kiwi', 'lime', 'date', 'sloe', 'yuzu']"


def test_string_hashes_are_seeded_alike_in_every_worker_as_in_plain_python():
    # a program whose answer is a set's order passes or fails alike wherever it is judged (every worker drew
    # its own seed before: `python -I` ignored PYTHONHASHSEED)
    expected = _plain_seed_zero(f"list(set({WORDS}))")
    code = f"def order():\n    return list(set({WORDS}))\n"
    for _ in range(2):
        with WorkerPool(1) as pool:  # a new worker each time: a new interpreter, a new seed were it random
            assert judge(code, [f"assert order() == {expected}"], pool=pool).passed


def test_the_hosts_python_variables_do_not_reach_the_worker(monkeypatch, tmp_path):
    # the sandbox's interpreter reads its environment (for PYTHONHASHSEED): it must be the judge's alone
    (tmp_path / "sitecustomize.py").write_text("PLANTED = True\n")
    os.chmod(tmp_path, 0o755)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("PYTHONHASHSEED", "123")
    monkeypatch.setenv("PYTHONSTARTUP", str(tmp_path / "sitecustomize.py"))
    code = (
        "import sys\ndef seen():\n"
        f"    return [p for p in sys.path if {str(tmp_path)!r} in p], 'sitecustomize' in sys.modules, hash('selfmine')\n"
    )
    expected = _plain_seed_zero("hash('selfmine')")
    with WorkerPool(1) as pool:  # started with the variables set: a leak would show
        v = judge(code, [f"assert seen() == ([], False, {expected})"], pool=pool)
    assert v.passed, v.message


@pytest.mark.skipif(not ISOLATED, reason="needs bubblewrap or user namespaces")
def test_files_outside_the_workdir_are_safe(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    os.chmod(tmp_path, 0o777)
    created = tmp_path / "created.txt"
    code = (
        f"import os\ntry:\n    os.remove({str(victim)!r})\nexcept OSError:\n    pass\n"
        f"try:\n    open({str(created)!r}, 'w').write('x')\nexcept OSError:\n    pass\n"
        "open('scratch.txt', 'w').write('fine')\nassert open('scratch.txt').read() == 'fine'\n"
    )
    v = judge(code, ["assert True"])
    assert v.passed
    assert victim.read_text() == "keep me" and not created.exists()


@pytest.mark.skipif(not ISOLATED, reason="needs bubblewrap or user namespaces")
def test_no_network():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
    v = judge(code, ["assert True"], timeout=5)
    assert v.status == Status.ERROR and not v.passed
    with pytest.raises(socket.timeout):
        server.accept()
    server.close()


def test_workdir_is_fresh_each_time():
    code = "import os\nleft = os.listdir('.')\nopen('mark.txt', 'w').write('1')\n"
    assert judge(code, ["assert left == []"]).passed
    assert judge(code, ["assert left == []"]).passed


def test_judge_many_keeps_order_and_parallelises():
    jobs = [Job(f"def f():\n    return {i}\n", [f"assert f() == {i if i % 3 else -1}"]) for i in range(30)]
    seen = []
    results = judge_many(jobs, on_result=lambda i, v: seen.append(i))
    assert [v.passed for v in results] == [i % 3 != 0 for i in range(30)]
    assert sorted(seen) == list(range(30))


def test_judge_from_threads_with_timeouts():
    with ThreadPoolExecutor(4) as ex:
        loops = list(ex.map(lambda _: judge("while True: pass", ["assert True"], timeout=1), range(4)))
    assert all(v.status == Status.TIMEOUT for v in loops)


def _judge_in_subprocess(timeout: float) -> str:
    from selfmine.sandbox import judge as j

    return j("while True: pass", ["assert True"], timeout=timeout).status.value


def test_judge_from_a_worker_process():
    import multiprocessing as mp

    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as ex:
        assert ex.submit(_judge_in_subprocess, 1.0).result(timeout=60) == "timeout"


def available_modes() -> list[str]:
    """Every mode that works on this machine (CI runs the attack tests under each of them)."""
    out = []
    for mode in ("bwrap", "unshare", "rlimits"):
        try:
            best_launcher(mode)
            out.append(mode)
        except RuntimeError:
            pass
    return out


ISOLATED_MODES = [m for m in available_modes() if m != "rlimits"]


def test_pool_isolation_modes_all_work():
    print("isolation modes available here:", available_modes())
    for mode in available_modes():
        with WorkerPool(1, isolation=mode) as pool:
            v = judge(ADD, ADD_TESTS, pool=pool)
            assert v.passed and v.isolation.split()[0].split("+")[0] == mode
            assert judge("import sys\nsys.exit(0)", ["assert True"], pool=pool).status == Status.ERROR


POISON = [
    "import sys\nsys.stdout.close()\n",
    "import sys\nsys.stdout.close()\nsys.stderr.close()\n",
    "class E(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\nraise E()\n",
    "class E(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\n",  # raised by the test below
]


@pytest.mark.parametrize("code", POISON)
def test_a_program_cannot_disable_its_worker(code):
    """Regression: an exception escaping the forked child used to run the worker's cleanup and delete its
    base directory, so every later program on that worker came back sandbox_error."""
    tests = ["raise E()"] if code.endswith("'no')\n") else ["assert True"]
    with WorkerPool(1) as pool:
        first = judge(code, tests, timeout=5, pool=pool)
        assert not first.infrastructure_failure, first.message
        for _ in range(3):
            good = judge("def f(x):\n    return x + 1\n", ["assert f(1) == 2"], timeout=5, pool=pool)
            bad = judge("def f(x):\n    return x\n", ["assert f(1) == 2"], timeout=5, pool=pool)
            assert good.status == Status.PASSED, good.message
            assert bad.status == Status.FAILED, bad.message


def test_a_reply_line_not_for_this_request_is_never_taken():
    """A forged line on the protocol pipe (as a program could write through /proc where the worker is
    dumpable) must not be read as the verdict: the worker is replaced and the program judged again."""
    forged = '{"events": [], "timed_out": false, "signal": null, "exit_code": 0, "duration_s": 0, "output": "", "output_bytes": 0}\n'
    with WorkerPool(1) as pool:
        worker = pool.acquire()
        worker._buf += forged.encode()  # sits in front of the next real reply
        pool.release(worker)
        bad = judge("def f(x):\n    return x\n", ["assert f(1) == 2"], timeout=5, pool=pool)
        assert bad.status == Status.FAILED, bad.message
        good = judge("def f(x):\n    return x + 1\n", ["assert f(1) == 2"], timeout=5, pool=pool)
        assert good.status == Status.PASSED, good.message


# -- attacks on the verdict itself. Each runs in every isolated mode this machine has, and is followed on
# the same pool by an honest right program (must pass) and an honest wrong one (must fail).

SECRET = "zq-expected-7f3a91"

ATTACKS = {
    # walk the stack for the reporting closure and its nonce, write a full set of forged reports on
    # every descriptor, then leave before anything can contradict them
    "frame-walk-forge": """
import sys, os, gc, json
found = set()
f = sys._getframe()
while f is not None:
    for v in list(f.f_locals.values()) + list(f.f_globals.values()):
        if isinstance(v, str) and len(v) == 32:
            found.add(v)
        if callable(v) and getattr(v, '__closure__', None):
            for c in v.__closure__:
                try:
                    if isinstance(c.cell_contents, str):
                        found.add(c.cell_contents)
                except ValueError:
                    pass
    f = f.f_back
for o in gc.get_objects():
    if isinstance(o, dict) and 'nonce' in o:
        found.add(str(o['nonce']))
lines = b''
for n in found or {'x'}:
    for i in range(3):
        lines += json.dumps({'event': 'test', 'index': i, 'outcome': 'passed', 'nonce': n}).encode() + b'\\n'
    lines += json.dumps({'event': 'start', 'nonce': n}).encode() + b'\\n'
    lines += json.dumps({'event': 'done', 'count': 1, 'nonce': n}).encode() + b'\\n'
for fd in range(0, 64):
    try:
        os.write(fd, lines)
    except OSError:
        pass
os._exit(0)
""",
    # an object equal to everything, and an int subclass that claims to be equal
    "always-equal": """
class A:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__
def f(x):
    return A()
""",
    "int-subclass-eq": """
class I(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__
def f(x):
    return I(0)
""",
    # redefine the builtins a tolerance check uses
    "shadow-builtins": """
abs = lambda *a, **k: 0
isinstance = lambda *a: True
def f(x):
    return 0
""",
    # look for the expected value in this process's memory and return it
    "memory-scan": """
import gc, re, sys
def f(x):
    seen = []
    for o in gc.get_objects():
        if isinstance(o, dict):
            seen += [v for v in o.values() if isinstance(v, (str, list, tuple))]
        elif isinstance(o, (list, tuple)):
            seen.append(o)
    for v in seen:
        for s in (v if isinstance(v, (list, tuple)) else [v]):
            m = re.search('zq-expected-[0-9a-f]+', s) if isinstance(s, str) else None
            if m:
                return m.group(0)
    return 'not found'
""",
    # reach the worker or the tests process through /proc: forge a reply on their pipes, read their memory
    "proc-reach": """
import os, json
def f(x):
    found = 'not found'
    for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
        if int(pid) == os.getpid():
            continue
        try:
            for fd in os.listdir('/proc/%s/fd' % pid):
                try:
                    w = os.open('/proc/%s/fd/%s' % (pid, fd), os.O_WRONLY | os.O_NONBLOCK)
                    os.write(w, b'00000020{"event": "done"}\\n')
                    os.close(w)
                except OSError:
                    pass
        except OSError:
            pass
        try:
            with open('/proc/%s/mem' % pid, 'rb') as m:
                m.read(1)
            found = 'read memory of %s' % pid
        except OSError:
            pass
    return found
""",
}


ATTACKS["worker-buffer"] = """
import sys
def f(x):
    buf = getattr(sys.modules.get('__main__'), 'BUF', None)  # the worker's report buffer, inherited by fork
    if x == 2 and buf is not None:
        data = bytes(buf[: 1 << 20])
        at = data.find(b'"outcome": "failed"')
        while at >= 0:  # turn the first test's report into a pass, in place
            buf[at : at + 19] = b'"outcome": "passed"'
            at = data.find(b'"outcome": "failed"', at + 1)
    return 0
"""

ATTACK_TESTS = {
    "worker-buffer": [f"assert f(1) == {SECRET!r}", "assert f(2) == 0"],
    "shadow-builtins": ["assert abs(f(1) - 2.5) < 1e-6 and isinstance(f(1), float)"],
}


@pytest.mark.parametrize("mode", ISOLATED_MODES)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_on_the_verdict_never_passes(attack, mode):
    """Five of these attacks (all but proc-reach and worker-buffer) forged a pass on the judge of session 2,
    which ran the tests in the program's process; worker-buffer forges one wherever the worker's report
    buffer is shared with the program's process."""
    tests = ATTACK_TESTS.get(attack, [f"assert f(1) == {SECRET!r}"])
    with WorkerPool(1, isolation=mode) as pool:
        v = judge(ATTACKS[attack], tests, timeout=10, pool=pool)
        assert not v.passed and not v.infrastructure_failure, (v.status, v.message)
        for _ in range(2):
            good = judge(f"def f(x):\n    return {SECRET!r}\n", [f"assert f(1) == {SECRET!r}"], timeout=10, pool=pool)
            bad = judge("def f(x):\n    return 'nope'\n", [f"assert f(1) == {SECRET!r}"], timeout=10, pool=pool)
            assert good.status == Status.PASSED, good.message
            assert bad.status == Status.FAILED, bad.message


def test_the_canonical_solution_is_not_in_the_programs_process(data_dir):
    """The plus harness holds the canonical solution; a wrong program that searches its process for
    another function of the same name (the reference) and calls it must still fail."""
    from selfmine.tasks.code_bench import load_tasks
    from selfmine.tasks.code_score import _job

    tasks, _ = load_tasks("humaneval+", data_dir)
    task = next(t for t in tasks if t.task_id == "HumanEval/0")
    thief = (
        task.prompt
        + f"""    import gc
    for o in gc.get_objects():
        if callable(o) and getattr(o, '__name__', '') == {task.entry_point!r} and o.__code__ is not {task.entry_point}.__code__:
            return o(numbers, threshold)
    return False
"""
    )
    job = _job(task, thief, 30)
    v = judge(job.code, job.tests, job.timeout, job.memory_mb, setup=job.setup, shadow=job.shadow)
    assert v.status == Status.FAILED, v.message
    honest = _job(task, task.canonical, 30)
    assert judge(
        honest.code, honest.tests, honest.timeout, honest.memory_mb, setup=honest.setup, shadow=honest.shadow
    ).passed


def test_values_cross_as_plain_data_of_the_same_type():
    code = (
        "import collections\n"
        "def f():\n"
        "    return [1, 2.5, float('inf'), 10**5000, (1, 'a'), {1, 2}, frozenset({3}), {'k': [None, True]},\n"
        "            collections.Counter('aab'), collections.OrderedDict(a=1), collections.deque([1]), 3+4j, b'x']\n"
    )
    tests = [
        "v = f()",
        "assert [type(x).__name__ for x in f()] == ['int', 'float', 'float', 'int', 'tuple', 'set', 'frozenset', 'dict', 'Counter', 'OrderedDict', 'deque', 'complex', 'bytes']",
        "assert f()[3] == 10**5000 and f()[8] == {'a': 2, 'b': 1}",
    ]
    v = judge(code, tests)
    assert v.passed, v.message


def test_an_object_that_is_not_data_is_opaque_but_keeps_its_truth():
    code = "import re\ndef f(s):\n    return re.match('a', s)\n"
    v = judge(code, ["assert f('abc')", "assert not f('xbc')", "assert f('abc') is not None"])
    assert v.passed, v.message
    assert judge(code, ["assert f('abc') == f('abc')"]).status == Status.FAILED


@pytest.mark.parametrize("mode", ISOLATED_MODES)
def test_the_host_is_out_of_view(mode, tmp_path):
    """Only the system's programs and libraries and the interpreter are visible, read-only; /tmp, /var,
    /run, /home and /root are private and empty; a host unix socket cannot be reached."""
    from pathlib import Path

    here = str(Path(__file__).resolve())
    socks = []
    for where in (tmp_path, Path("/var/tmp")):
        path = where / f"selfmine-{uuid.uuid4().hex[:8]}.sock"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.listen(1)
        socks.append((server, path))
    marker = f"/tmp/selfmine-marker-{uuid.uuid4().hex}"
    code = f"""
import os, socket
def f():
    seen = [p for p in [{here!r}, {str(socks[0][1])!r}, {str(socks[1][1])!r}, '/etc/passwd', '/var/lib', '/root/.cache'] if os.path.exists(p)]
    for p in [{str(socks[0][1])!r}, {str(socks[1][1])!r}]:
        try:
            s = socket.socket(socket.AF_UNIX); s.connect(p); seen.append('connected ' + p)
        except OSError:
            pass
    open({marker!r}, 'w').write('x')
    try:
        open('/usr/selfmine-x', 'w')
        seen.append('wrote /usr')
    except OSError:
        pass
    return seen + sorted(n for n in os.listdir('/tmp') if not n.startswith('selfmine-judge-')) + sorted(os.listdir('/var'))
"""
    try:
        with WorkerPool(1, isolation=mode) as pool:
            v = judge(code, ["assert f() == [os.path.basename(" + repr(marker) + ")]"], setup="import os", pool=pool)
        assert v.passed, v.message
        assert not os.path.exists(marker)
    finally:
        for server, path in socks:
            server.close()
            path.unlink()


def test_a_worker_that_misses_its_deadline_is_the_machines_failure_not_the_programs():
    """A stalled worker (here: stopped with SIGSTOP, as an overloaded machine would delay it) is killed and
    the program judged again on a fresh one; the stall is never reported as the program's timeout."""
    import signal

    with WorkerPool(1) as pool:
        worker = pool.acquire()
        os.killpg(worker.proc.pid, signal.SIGSTOP)
        pool.release(worker)
        v = judge(ADD, ADD_TESTS, timeout=1, pool=pool)
        assert v.status == Status.PASSED, v.message
        bad = judge("def add(a, b):\n    return a - b\n", ADD_TESTS, timeout=1, pool=pool)
        assert bad.status == Status.FAILED


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the seccomp filter is written for x86_64")
def test_the_program_cannot_ptrace_or_read_other_processes_memory():
    code = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def f():
    out = []
    # both succeed for any unprivileged process: only the filter refuses them
    for name, nr, args in [("ptrace(PTRACE_TRACEME)", 101, (0, 0, 0, 0)), ("kcmp", 312, (os.getpid(), os.getpid(), 0, 0, 0))]:
        r = libc.syscall(nr, *args)
        out.append((name, r, ctypes.get_errno()))
    return out
"""
    v = judge(code, ["assert all(r == -1 and e == 1 for _, r, e in f()), f()"])
    assert v.passed, v.message
    assert "+seccomp" in v.isolation


def test_the_whole_sandbox_sits_in_one_cgroup_with_aggregate_limits():
    """Where the machine offers cgroups (v2 delegated, or v1's pids and memory hierarchies as here), every
    process of a sandbox is in its cgroup, and memory is capped across them: three children of one
    program, each inside its own address-space limit, together pass the cap and one is killed."""
    import time

    from selfmine.sandbox import cgroup

    children = """
import os, time
def f():
    pids = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            block = b"x" * (400 * 1024 * 1024)  # written, so resident, unlike a zeroed bytearray
            time.sleep(2)
            os._exit(0)
        pids.append(pid)
    return [os.waitpid(p, 0)[1] for p in pids]
"""
    with WorkerPool(1) as pool:
        assert judge(ADD, ADD_TESTS, pool=pool).passed
        worker = pool._all[0]
        if cgroup.label() == cgroup.NONE:
            assert worker.cgroup is None and pool.isolation.endswith("(no cgroup)")
            return
        assert pool.isolation.split()[0].endswith("+cgroup" + str(worker.cgroup.version))

        def alive(pid):  # an exited child stays a zombie until reaped, and zombies have left their cgroup
            try:
                return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
            except OSError:
                return False

        sandbox = {p for p in [worker.proc.pid, *cgroup.descendants(worker.proc.pid)] if alive(p)}
        assert sandbox <= set(worker.cgroup.processes())
        assert (worker.cgroup.dirs[0] / "pids.max").read_text().strip() == str(cgroup.PIDS_MAX)
        limit = 512 * 1024 * 1024 + cgroup.OVERHEAD
        with ThreadPoolExecutor(1) as ex:
            running = ex.submit(judge, children, ["assert 9 not in [s & 0x7F for s in f()]"], 20, 512, pool=pool)
            peak = 0
            while not running.done():
                peak = max(peak, len(worker.cgroup.processes()))
                time.sleep(0.05)
            v = running.result()
        assert peak > len(sandbox)  # the program's processes joined the sandbox's cgroup
        assert v.status == Status.FAILED, v.message  # a child was SIGKILLed by the cgroup's memory cap
        assert 3 * 400 * 1024 * 1024 > limit  # what the cap had to stop
        assert judge(ADD, ADD_TESTS, pool=pool).passed  # the pool is sound afterwards
        dirs = worker.cgroup.dirs
    assert not any(d.exists() for d in dirs)  # closing the pool removes its cgroups


def test_a_fallback_from_bubblewrap_says_why(monkeypatch, capsys):
    from selfmine.sandbox import isolation

    monkeypatch.delenv("SELFMINE_ISOLATION", raising=False)  # the fall-back is what is tested, not a forced mode
    python = isolation.interpreter()
    fails = ("/bin/sh", "-c", 'echo "bwrap: setting up uid map: Permission denied" >&2; exit 1', "sh")
    ok = isolation.Launcher("unshare", ("/bin/sh", "-c", 'exec "$@"', "sh"), False, python)
    monkeypatch.setattr(isolation, "candidates", lambda: [isolation.Launcher("bwrap", fails, False, python), ok])
    isolation.best_launcher.cache_clear()
    try:
        assert isolation.best_launcher() == ok
    finally:
        isolation.best_launcher.cache_clear()
    assert "bubblewrap does not work here (bwrap: setting up uid map: Permission denied)" in capsys.readouterr().err


def test_judging_without_isolation_is_never_a_silent_fallback(monkeypatch):
    """Under rlimits a program shares this process's user and can write its memory (/proc/<pid>/mem): a
    machine with neither bubblewrap nor unshare gets one line naming the choice, and only an explicit
    SELFMINE_ISOLATION=rlimits judges there."""
    from selfmine.errors import UserError
    from selfmine.sandbox import isolation

    monkeypatch.delenv("SELFMINE_ISOLATION", raising=False)
    python = isolation.interpreter()
    fails = ("/bin/sh", "-c", "echo no >&2; exit 1", "sh")
    weak = isolation.Launcher("rlimits", (), False, python)
    broken = [isolation.Launcher("bwrap", fails, False, python), isolation.Launcher("unshare", fails, False, python)]
    monkeypatch.setattr(isolation, "candidates", lambda: [*broken, weak])
    isolation.best_launcher.cache_clear()
    try:
        with pytest.raises(UserError, match="SELFMINE_ISOLATION=rlimits") as e:
            isolation.best_launcher()
        assert "\n" not in str(e.value)
        monkeypatch.setenv("SELFMINE_ISOLATION", "rlimits")
        isolation.best_launcher.cache_clear()
        assert isolation.best_launcher() == weak
    finally:
        isolation.best_launcher.cache_clear()


def test_an_rlimits_worker_leaves_no_scratch_directory_on_the_host():
    """Under rlimits the worker's scratch directory is in the host's /tmp; the pool kills its workers
    (SIGKILL) on close, so the host removes the directory."""
    with WorkerPool(1, isolation="rlimits") as pool:
        assert judge(ADD, ADD_TESTS, pool=pool).passed
        scratch = pool._all[0]._scratch
        assert scratch and os.path.isdir(scratch)
    assert not os.path.exists(scratch)


def test_a_program_unscoreable_on_every_try_is_its_error_and_the_honest_check_cannot_deadlock(monkeypatch):
    """Every try of one program hangs its worker: an honest program is judged next, on the same one-worker
    pool (the hung worker released first), and the verdict is the program's error; when the honest program
    fails too, it is the sandbox's."""
    import threading

    from selfmine.sandbox import pool as pool_mod

    real = pool_mod.Worker.run

    def run(self, request, code, tests):
        if "UNSCOREABLE" in code or broken_machine:
            self.kill()
            raise pool_mod.WorkerDied("the worker missed its deadline", hung=True)
        return real(self, request, code, tests)

    monkeypatch.setattr(pool_mod.Worker, "run", run)
    out = {}
    broken_machine = False
    with WorkerPool(1) as pool:
        t = threading.Thread(target=lambda: out.update(v=judge("# UNSCOREABLE\n" + ADD, ADD_TESTS, pool=pool)))
        t.daemon = True
        t.start()
        t.join(60)
        assert not t.is_alive(), "the honest check waited for the worker the program still held"
        assert out["v"].status == Status.ERROR and out["v"].error_type == "Unscoreable"
        assert judge(ADD, ADD_TESTS, pool=pool).passed
        broken_machine = True
        assert judge(ADD, ADD_TESTS, pool=pool).status == Status.SANDBOX_ERROR


def test_workers_outlive_the_threads_that_started_them():
    """Regression: a sandbox dies with its parent (bubblewrap's --die-with-parent, the worker's own
    PDEATHSIG), and the kernel's parent is the *thread* that forked it. Workers started by one
    `judge_many`'s executor threads were SIGKILLed when that call ended while the pool kept them: the next
    call, or a concurrent one (a Ray node judges two batches at once on one pool), lost them, mid-program
    too, and two such deaths in one `judge` were scored as the program's error (its tests `not_run`)."""
    import threading
    import time

    jobs = [Job(ADD, ADD_TESTS) for _ in range(4)]
    with WorkerPool(2) as pool:
        started = []
        t = threading.Thread(target=lambda: started.extend([pool.acquire(), pool.acquire()]))
        t.start()
        t.join()
        for w in started:
            pool.release(w)
        until = time.monotonic() + 0.5
        while time.monotonic() < until:
            assert all(w.alive for w in started), "a worker died with the thread that started it"
            time.sleep(0.02)
    with WorkerPool(2) as pool:
        assert all(v.passed for v in judge_many(jobs, pool=pool))  # its workers start in its threads
        first = list(pool._all)
        time.sleep(0.3)
        assert all(w.alive for w in first), "a worker died with the judge_many call that started it"
        assert all(v.passed for v in judge_many(jobs, pool=pool))
        assert pool._all == first


def test_an_idle_worker_killed_from_outside_is_replaced_not_handed_out():
    """A worker that died between programs (no program ran in it) is dropped when next taken from the
    pool, so its death never counts against the program judged next."""
    import signal

    with WorkerPool(1) as pool:
        dead = pool.acquire()
        pool.release(dead)
        os.killpg(dead.proc.pid, signal.SIGKILL)
        dead.proc.wait(10)
        fresh = pool.acquire()
        assert fresh is not dead and fresh.alive and pool._all == [fresh]
        pool.release(fresh)
        assert judge(ADD, ADD_TESTS, pool=pool).passed and pool._all == [fresh]


def test_the_worker_ships_as_one_argument_the_kernel_takes():
    """The worker reaches the sandbox as one `python -c` argument, and Linux refuses a single argument over
    32 pages (MAX_ARG_STRLEN, 128 KiB) with E2BIG: every judgement would then fail to start. Its sources
    together came within 20 KiB of that, so they travel compressed; this says when even that stops being
    enough."""
    from selfmine.sandbox.pool import WORKER_SOURCE

    assert len(WORKER_SOURCE.encode()) < 32 * 4096


def test_each_worker_module_imports_only_those_loaded_before_it():
    """Inside the sandbox the worker's modules run one after another in `MODULES` order, so an import of a
    later one would fail there (on the host, Python's importer would hide it)."""
    import ast
    from pathlib import Path

    from selfmine.sandbox.worker import MODULES

    folder = Path(__file__).parents[1] / "src" / "selfmine" / "sandbox" / "worker"
    assert sorted(p.stem for p in folder.glob("*.py")) == sorted(("__init__", *MODULES))
    for at, name in enumerate(MODULES):
        tree = ast.parse((folder / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1 and node.module in MODULES[:at], (name, node.module)
            if isinstance(node, ast.Import):
                assert all(not a.name.startswith(("selfmine", ".")) for a in node.names), name


def test_an_answer_already_waiting_past_the_deadline_is_read_not_called_hung(monkeypatch):
    """A host suspended (SIGSTOP, a laptop's sleep) or starved until after a request's deadline finds the
    worker's answer waiting in the pipe: that is the verdict, not a hung worker (a sandbox error, then a
    retry: before, the judge killed a worker that had answered)."""
    import select
    import time

    from selfmine.sandbox import pool as pool_module

    class SuspendedClock:  # the host sleeps from the request until the answer is there, then wakes 1 h later
        def __init__(self, fd):
            self.fd, self.calls = fd, 0

        def monotonic(self):
            self.calls += 1
            if self.calls == 2:
                select.select([self.fd], [], [], 30)
            return time.monotonic() + (3600 if self.calls >= 2 else 0)

    with WorkerPool(1) as pool:
        assert judge("def f():\n    return 1\n", ["assert f() == 1"], timeout=5, pool=pool).passed  # warm
        worker = pool._idle.queue[0]
        clock = SuspendedClock(worker.proc.stdout.fileno())
        monkeypatch.setattr(pool_module, "time", clock)
        v = judge("def f():\n    return 2\n", ["assert f() == 2", "assert f() == 3"], timeout=5, pool=pool)
        assert [t.outcome for t in v.tests] == ["passed", "failed"], v.message
        assert clock.calls >= 2 and worker.proc.poll() is None  # the same worker answered, and lives on
