"""`judge` and `judge_many`: run untrusted code against assert tests in the sandbox."""

from __future__ import annotations

import ast
import atexit
import os
import secrets
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from .pool import WorkerDied, WorkerPool
from .verdict import Status, TestResult, Verdict

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MEMORY_MB = 1024
OUTPUT_LIMIT = 1 << 20  # a program may print this much before it is stopped (output_limit)
OUTPUT_KEEP = 64 * 1024  # of which the verdict keeps this much
EXTRA_PROCESSES = 32


class BadTests(ValueError):
    """The tests themselves are not valid Python."""


@dataclass
class Job:
    code: str
    tests: str | Sequence[str]
    timeout: float = DEFAULT_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB


def split_tests(tests: str | Sequence[str]) -> tuple[str, list[str]]:
    """(setup, asserts). A source block is cut with `ast` into one test per top-level assert; other
    top-level statements (imports, helpers, assignments) become setup that runs before the tests."""
    if not isinstance(tests, str):
        return "", [t for t in tests if t.strip()]
    try:
        tree = ast.parse(tests)
    except SyntaxError as e:
        raise BadTests(f"tests are not valid Python: {e.msg} (line {e.lineno})") from None
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
    pool: WorkerPool | None = None,
) -> Verdict:
    """Run `code`, then each assert of `tests` separately, in the sandbox. Never raises for anything
    the program does; raises BadTests when the tests themselves do not parse."""
    if timeout <= 0 or memory_mb <= 0:
        raise ValueError("timeout and memory_mb must be positive")
    setup, asserts = split_tests(tests)
    program = code if not setup else f"{code}\n\n{setup}\n"
    pool = pool or default_pool()
    request = {
        "code": program,
        "tests": asserts,
        "timeout": float(timeout),
        "memory_mb": int(memory_mb),
        "output_limit": OUTPUT_LIMIT,
        "output_keep": OUTPUT_KEEP,
        "nproc": EXTRA_PROCESSES,
    }
    deaths = 0
    for attempt in range(4):
        request["nonce"] = secrets.token_hex(16)
        request["id"] = secrets.token_hex(8)
        try:
            worker = pool.acquire()
        except Exception as e:
            return Verdict(Status.SANDBOX_ERROR, f"could not start the sandbox: {e}", isolation=pool.launcher.mode)
        try:
            reply = worker.run(request)
        except WorkerDied as e:
            if e.protocol:
                if attempt < 3:
                    continue  # the worker was killed; the pool starts a fresh one
                return Verdict(Status.SANDBOX_ERROR, str(e), isolation=pool.launcher.mode)
            if e.hung:
                return _verdict_without_reply(asserts, Status.TIMEOUT, "the program hung its sandbox", pool, timeout)
            deaths += 1
            if deaths == 1:
                continue  # a worker can die of its own accord once; twice is the program
            return _verdict_without_reply(
                asserts, Status.ERROR, "the program killed the judge's worker process", pool, timeout
            )
        finally:
            pool.release(worker)
        return interpret(reply, asserts, pool.launcher.mode)
    return Verdict(Status.SANDBOX_ERROR, "the sandbox failed on every try", isolation=pool.launcher.mode)


def _verdict_without_reply(asserts, status, message, pool, timeout) -> Verdict:
    tests = [TestResult(i, src, "not_run") for i, src in enumerate(asserts)]
    return Verdict(status, message, duration_s=float(timeout), isolation=pool.launcher.mode, tests=tests)


def interpret(reply: dict, asserts: list[str], isolation: str) -> Verdict:
    """Turn the worker's raw observations into a Verdict. A pass needs a nonce-stamped report of
    every test followed by the final report: anything that ends the program early cannot pass."""
    if "worker_error" in reply:
        return Verdict(Status.SANDBOX_ERROR, reply["worker_error"], isolation=isolation)
    events = reply["events"]
    by_index = {e["index"]: e for e in events if e.get("event") == "test"}
    tests = []
    for i, src in enumerate(asserts):
        e = by_index.get(i)
        if e is None:
            tests.append(TestResult(i, src, "not_run"))
        else:
            tests.append(TestResult(i, src, e["outcome"], e.get("type", ""), e.get("message", "")))
    load_error = next((e for e in events if e.get("event") == "load_error"), None)
    started = any(e.get("event") == "start" for e in events)
    done = any(e.get("event") == "done" and e.get("count") == len(asserts) for e in events)
    sig, code = reply["signal"], reply["exit_code"]
    base = dict(
        duration_s=round(reply["duration_s"], 6),
        isolation=isolation,
        tests=tests,
        output=reply["output"],
        output_truncated=reply["output_bytes"] > len(reply["output"].encode()),
    )
    error_types = [e.get("type") for e in events if e.get("type")]
    first_bad = next((t for t in tests if t.outcome in ("failed", "error")), None)

    if reply["timed_out"] or sig == signal.SIGXCPU:
        return Verdict(Status.TIMEOUT, f"time limit exceeded after {len(by_index)} of {len(asserts)} tests", **base)
    if sig == signal.SIGXFSZ or reply["output_bytes"] >= OUTPUT_LIMIT:
        return Verdict(Status.OUTPUT_LIMIT, f"output or file size over {OUTPUT_LIMIT} bytes", **base)
    if "MemoryError" in error_types:
        return Verdict(Status.MEMORY, "memory limit exceeded", error_type="MemoryError", **base)
    if not started and code == 70:
        return Verdict(Status.SANDBOX_ERROR, "the sandbox could not set up the program's process", **base)
    if load_error is not None:
        msg = f"{load_error['type']}: {load_error['message']}"
        return Verdict(Status.ERROR, msg, error_type=load_error["type"], traceback=load_error["traceback"], **base)
    if done and sig is None and code == 0:
        if first_bad is None:
            return Verdict(Status.PASSED, f"all {len(asserts)} tests passed", **base)
        e = by_index[first_bad.index]
        status = Status.FAILED if first_bad.outcome == "failed" else Status.ERROR
        detail = f": {first_bad.message}" if first_bad.message else ""
        msg = f"test {first_bad.index} {first_bad.outcome} ({first_bad.error_type}{detail}): {first_bad.source}"
        return Verdict(status, msg, error_type=first_bad.error_type, traceback=e.get("traceback", ""), **base)
    how = f"signal {signal.Signals(sig).name}" if sig else f"exit code {code}"
    msg = f"the program stopped before its tests finished ({how}) after {len(by_index)} of {len(asserts)} tests"
    return Verdict(Status.ERROR, msg, error_type="EarlyExit", **base)


def judge_many(
    jobs: Iterable[Job],
    *,
    workers: int | None = None,
    pool: WorkerPool | None = None,
    on_result: Callable[[int, Verdict], None] | None = None,
) -> list[Verdict]:
    """Judge many programs in parallel (one warm sandbox per core). Results keep the input order;
    sandbox errors are retried once here before they are returned."""
    jobs = list(jobs)
    own = pool is None and workers is not None
    pool = WorkerPool(workers) if own else (pool or default_pool())
    results: list[Verdict | None] = [None] * len(jobs)

    def one(i: int) -> None:
        j = jobs[i]
        v = judge(j.code, j.tests, j.timeout, j.memory_mb, pool=pool)
        if v.infrastructure_failure:
            v = judge(j.code, j.tests, j.timeout, j.memory_mb, pool=pool)
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
