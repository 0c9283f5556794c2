"""`judge` and `judge_many`: run untrusted code against assert tests in the sandbox."""

from __future__ import annotations

import ast
import atexit
import json
import os
import secrets
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from ..errors import UserError
from .pool import WorkerDied, WorkerPool
from .verdict import Status, TestResult, Verdict

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MEMORY_MB = 1024
OUTPUT_LIMIT = 1 << 20  # a program may print this much before it is stopped (output_limit)
OUTPUT_KEEP = 64 * 1024  # of which the verdict keeps this much
EXTRA_PROCESSES = 32
CODE_LIMIT = 4 * 1024 * 1024  # the worker's buffer for one program


class BadTests(UserError, ValueError):
    """The tests themselves are not valid Python."""


@dataclass
class Job:
    code: str
    tests: str | Sequence[str]
    timeout: float = DEFAULT_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB
    setup: str = ""  # runs before the tests, in the tests' process
    shadow: tuple[str, ...] = ()  # program names the tests may use even where they shadow a builtin


def split_tests(tests: str | Sequence[str]) -> tuple[str, list[str]]:
    """(setup, asserts). A source block is cut with `ast` into one test per top-level assert; other
    top-level statements (imports, helpers, assignments) become setup that runs before the tests."""
    if not isinstance(tests, str):
        return "", [t for t in tests if t.strip()]
    try:
        tree = ast.parse(tests)
    except SyntaxError as e:
        raise BadTests(f"tests are not valid Python: {e.msg} (line {e.lineno})") from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise BadTests(f"tests cannot be parsed: {type(e).__name__}") from None
    setup, asserts = [], []
    for node in tree.body:
        segment = ast.get_source_segment(tests, node) or ast.unparse(node)
        (asserts if isinstance(node, ast.Assert) else setup).append(segment)
    return "\n".join(setup), asserts


_POOL: WorkerPool | None = None
_POOL_PID = 0
_POOL_LOCK = threading.Lock()


def default_pool() -> WorkerPool:
    """One pool per process: a forked child must not share its parent's worker pipes."""
    global _POOL, _POOL_PID
    with _POOL_LOCK:
        if _POOL is None or _POOL_PID != os.getpid():
            _POOL, _POOL_PID = WorkerPool(), os.getpid()
            atexit.register(_POOL.close)
        return _POOL


def judge(
    code: str,
    tests: str | Sequence[str],
    timeout: float = DEFAULT_TIMEOUT_S,
    memory_mb: int = DEFAULT_MEMORY_MB,
    *,
    setup: str = "",
    shadow: Sequence[str] = (),
    pool: WorkerPool | None = None,
    blame: bool = True,
) -> Verdict:
    """Run `code` in one process and `tests` (each assert separately, after `setup` and the tests' own
    non-assert statements) in another, which calls the program's functions across a socket. Never
    raises for anything the program does; raises BadTests when the tests themselves do not parse.

    A sandbox failure is retried on fresh workers (4 tries). If every try fails, an honest program is
    judged: if it is judged normally, the failure follows the program (it made itself unscoreable, e.g. by
    removing its own directory) and is its `error`; only when the honest program fails too is the verdict
    `sandbox_error`. So nothing a program does can take it out of a denominator."""
    if timeout <= 0 or memory_mb <= 0:
        raise ValueError("timeout and memory_mb must be positive")
    own_setup, asserts = split_tests(tests)
    if len(code.encode("utf-8", "surrogatepass")) > CODE_LIMIT:
        return Verdict(Status.ERROR, f"the program is larger than {CODE_LIMIT} bytes", error_type="TooLarge")
    setup = "\n".join(s for s in (setup, own_setup) if s)
    pool = pool or default_pool()
    request = {
        "timeout": float(timeout),
        "memory_mb": int(memory_mb),
        "output_limit": OUTPUT_LIMIT,
        "output_keep": OUTPUT_KEEP,
        "nproc": EXTRA_PROCESSES,
    }
    payload = {"setup": setup, "tests": asserts, "shadow": list(shadow)}
    deaths = 0
    last = Verdict(Status.SANDBOX_ERROR, "the sandbox failed on every try", isolation=pool.isolation)
    for _ in range(4):
        outcome, verdict = _once(pool, request, code, payload, asserts)
        if outcome == "no sandbox":
            return verdict
        if outcome in DEATHS:
            deaths += 1
            if deaths == 1:
                continue  # a worker or tests process can die of its own accord once; twice is the program
            return _verdict_without_reply(asserts, Status.ERROR, DEATHS[outcome], pool, timeout)
        if not verdict.infrastructure_failure:
            return verdict
        last = verdict
    return _blame(last, pool, blame)


DEATHS = {
    "worker died": "the program killed the judge's worker process",
    "tests died": "the program killed the judge's tests process",
}


def _once(pool: WorkerPool, request: dict, code: str, payload: dict, asserts: list[str]) -> tuple[str, Verdict | None]:
    """One try on one worker: ("verdict", its verdict), ("no sandbox", why), or one of DEATHS."""
    nonce = secrets.token_hex(16)
    request["id"] = secrets.token_hex(8)
    try:
        worker = pool.acquire()
    except Exception as e:
        return "no sandbox", Verdict(
            Status.SANDBOX_ERROR, f"could not start the sandbox: {e}", isolation=pool.isolation
        )
    try:
        reply = worker.run(request, code, {"nonce": nonce, **payload})
    except WorkerDied as e:
        if e.protocol or e.hung:
            # The worker enforces the program's deadline itself; a worker that misses it by GRACE_S is the
            # machine's failure (overload), like a reply out of protocol: never the program's. (The honest
            # program of `_blame` runs after the `finally` below has released the worker.)
            return "verdict", Verdict(Status.SANDBOX_ERROR, str(e), isolation=pool.isolation)
        return "worker died", None  # the pool starts a fresh one
    finally:
        pool.release(worker)
    verdict = interpret(reply, nonce, asserts, pool.isolation)
    return ("tests died", None) if verdict is _TESTS_KILLED else ("verdict", verdict)


HONEST = ("def honest():\n    return 1\n", ["assert honest() == 1"])


def _blame(verdict: Verdict, pool: WorkerPool, blame: bool) -> Verdict:
    """A sandbox failure on every try: the program's own `error` when an honest program is judged normally
    right after (the failure is reproducible and follows the program), else the sandbox's."""
    if not blame or not judge(*HONEST, timeout=10, pool=pool, blame=False).passed:
        return verdict
    return Verdict(
        Status.ERROR,
        f"the program left the sandbox unable to judge it, on every try ({verdict.message})",
        error_type="Unscoreable",
        isolation=verdict.isolation,
        tests=verdict.tests,
    )


TEST_OUTCOMES = ("passed", "failed", "error")
_TESTS_KILLED = Verdict(Status.SANDBOX_ERROR, "the tests process was killed")


def _verdict_without_reply(asserts, status, message, pool, timeout) -> Verdict:
    tests = [TestResult(i, src, "not_run") for i, src in enumerate(asserts)]
    return Verdict(status, message, duration_s=float(timeout), isolation=pool.isolation, tests=tests)


def _events(raw: str, nonce: str) -> list[dict]:
    """The tests process's reports: length-prefixed records stamped with this request's nonce, which the
    program's process never sees. Parsing stops at the first record that is not whole and well formed:
    nothing after a broken record counts, so a damaged stream can only lose reports, never make one."""
    events, at = [], 0
    while at + 8 <= len(raw):
        head = raw[at : at + 8]
        if not head.isdigit():
            break
        end = at + 8 + int(head)
        if end > len(raw):
            break
        try:
            event = json.loads(raw[at + 8 : end])
        except ValueError:
            break
        if not isinstance(event, dict) or event.pop("nonce", None) != nonce:
            break
        events.append(event)
        at = end
    return events


def interpret(reply: dict, nonce: str, asserts: list[str], isolation: str) -> Verdict:
    """Turn the worker's raw observations into a Verdict. A pass needs a report of every test from the
    tests process followed by its final report: anything that ends it early cannot pass."""
    if "worker_error" in reply:
        return Verdict(Status.SANDBOX_ERROR, reply["worker_error"], isolation=isolation)
    if reply.get("tests") is None:
        return Verdict(Status.SANDBOX_ERROR, "the sandbox could not start the program's process", isolation=isolation)
    events = _events(reply["events"], nonce)
    by_index = {
        e["index"]: e
        for e in events
        if e.get("event") == "test" and isinstance(e.get("index"), int) and e.get("outcome") in TEST_OUTCOMES
    }
    tests = [
        TestResult(i, src, "not_run")
        if i not in by_index
        else TestResult(i, src, by_index[i]["outcome"], by_index[i].get("type", ""), by_index[i].get("message", ""))
        for i, src in enumerate(asserts)
    ]
    base = dict(
        duration_s=round(reply["duration_s"], 6),
        isolation=isolation,
        tests=tests,
        output=reply["output"],
        output_truncated=reply["output_bytes"] > len(reply["output"].encode()),
    )
    stopped = _stopped(reply, events, f"after {len(by_index)} of {len(asserts)} tests", base)
    if stopped is not None:
        return stopped
    # every test needs its own report, then the final one: a pass needs proof of each
    done = all(i in by_index for i in range(len(asserts))) and any(
        e.get("event") == "done" and e.get("count") == len(asserts) for e in events
    )
    if done:  # stamped by the tests process after its last test: how it then ended is irrelevant
        return _finished(tests, by_index, asserts, base)
    if not any(e.get("event") == "program_gone" for e in events):
        return _TESTS_KILLED  # only the program (or the machine) kills the tests process: judged again once
    sig, code = reply["program"]["signal"], reply["program"]["exit_code"]
    how = f"signal {signal.Signals(sig).name}" if sig else f"exit code {code}"
    msg = f"the program stopped before its tests finished ({how}) after {len(by_index)} of {len(asserts)} tests"
    return Verdict(Status.ERROR, msg, error_type="EarlyExit", **base)


def _stopped(reply: dict, events: list[dict], progress: str, base: dict) -> Verdict | None:
    """The verdict of a judgement ended by a limit, a sandbox that could not set up, or a program that did
    not load; None when the tests ran their course (or the program ended them)."""
    signals = {reply["program"]["signal"], reply["tests"]["signal"]} - {None}
    kinds = {e.get("event") for e in events}
    if reply["timed_out"] or signal.SIGXCPU in signals:
        return Verdict(Status.TIMEOUT, f"time limit exceeded {progress}", **base)
    if signal.SIGXFSZ in signals or reply["output_bytes"] >= OUTPUT_LIMIT:
        return Verdict(Status.OUTPUT_LIMIT, f"output or file size over {OUTPUT_LIMIT} bytes", **base)
    if "MemoryError" in (e.get("type") for e in events):
        return Verdict(Status.MEMORY, "memory limit exceeded", error_type="MemoryError", **base)
    if "start" not in kinds and reply["tests"]["exit_code"] == 70 or "no_program" in kinds:
        return Verdict(Status.SANDBOX_ERROR, "the sandbox could not set up the program's process", **base)
    load_error = next((e for e in events if e.get("event") == "load_error"), None)
    if load_error is None:
        return None
    kind = str(load_error.get("type"))
    msg = f"{load_error.get('type')}: {load_error.get('message')}"
    return Verdict(Status.ERROR, msg, error_type=kind, traceback=str(load_error.get("traceback", "")), **base)


def _finished(tests: list[TestResult], by_index: dict, asserts: list[str], base: dict) -> Verdict:
    """Every test reported, then the final report: passed, or the first test that did not pass."""
    first_bad = next((t for t in tests if t.outcome in ("failed", "error")), None)
    if first_bad is None:
        return Verdict(Status.PASSED, f"all {len(asserts)} tests passed", **base)
    status = Status.FAILED if first_bad.outcome == "failed" else Status.ERROR
    detail = f": {first_bad.message}" if first_bad.message else ""
    msg = f"test {first_bad.index} {first_bad.outcome} ({first_bad.error_type}{detail}): {first_bad.source}"
    traceback = by_index[first_bad.index].get("traceback", "")
    return Verdict(status, msg, error_type=first_bad.error_type, traceback=traceback, **base)


class Route(Protocol):
    """Somewhere else to judge (`selfmine.scale.ray_judge.RayJudge`: a cluster's sandbox pools): the same
    verdicts, in input order, an infrastructure failure returned as `sandbox_error`."""

    def judge_many(self, jobs: list[Job], on_result: Callable[[int, Verdict], None] | None = None) -> list[Verdict]: ...


_ROUTE: ContextVar[Route | None] = ContextVar("selfmine_judge_route", default=None)


@contextmanager
def judging_via(route: Route | None) -> Iterator[Route | None]:
    """Inside this block, every `judge_many` that names no pool, `workers` or `route` of its own judges
    through `route` (None: on this machine); on leaving it, the route before it is back. The scope is this
    thread's context (a ContextVar): a thread started inside sees it only where the context is handed over
    (`contextvars.copy_context().run`), never another thread's, and nothing outside a block is routed."""
    token = _ROUTE.set(route)
    try:
        yield route
    finally:
        _ROUTE.reset(token)


def judge_many(
    jobs: Iterable[Job],
    *,
    workers: int | None = None,
    pool: WorkerPool | None = None,
    route: Route | None = None,
    on_result: Callable[[int, Verdict], None] | None = None,
) -> list[Verdict]:
    """Judge many programs in parallel (one warm sandbox per core). Results keep the input order;
    sandbox errors are retried once here before they are returned. `route` judges them elsewhere (a
    cluster); with none of `route`, `pool` and `workers` named, the route of the enclosing `judging_via`
    block is taken, if any (`selfmine.scale.connected` opens one for a stage run with a Ray address)."""
    jobs = list(jobs)
    if route is not None and (pool is not None or workers is not None):
        raise ValueError("judge_many takes a route or a pool (workers), not both")
    if route is None and pool is None and workers is None:
        route = _ROUTE.get()
    if route is not None:
        return route.judge_many(jobs, on_result=on_result)
    own = pool is None and workers is not None
    pool = WorkerPool(workers) if own else (pool or default_pool())
    results: list[Verdict | None] = [None] * len(jobs)

    def one(i: int) -> None:
        j = jobs[i]
        v = judge(j.code, j.tests, j.timeout, j.memory_mb, setup=j.setup, shadow=j.shadow, pool=pool)
        if v.infrastructure_failure:
            v = judge(j.code, j.tests, j.timeout, j.memory_mb, setup=j.setup, shadow=j.shadow, pool=pool)
        results[i] = v
        if on_result:
            on_result(i, v)

    try:
        with ThreadPoolExecutor(max_workers=pool.size) as ex:
            list(ex.map(one, range(len(jobs))))
    finally:
        if own:
            pool.close()
    return results  # type: ignore[return-value]


class SandboxFailed(RuntimeError):
    """The judge failed (not the program): nothing of the batch is stored, a rerun redoes it."""


def check_sandbox(verdicts: list[Verdict], doing: str) -> list[Verdict]:
    """The verdicts, or SandboxFailed when any is the sandbox's own failure: never scored as the program's
    fault, the caller stops and a rerun redoes the batch."""
    bad = next((v for v in verdicts if v.infrastructure_failure), None)
    if bad is not None:
        raise SandboxFailed(f"the sandbox failed while {doing} ({bad.message}); rerun to resume")
    return verdicts
