"""Judging samples against a benchmark's tests in the sandbox, with time limits scaled from the canonical
solution's own runtime, sandbox failures retried and never scored."""

from __future__ import annotations

from ..sandbox import Job, Verdict, judge_many
from .base import SampleResult
from .code_bench import EvalTask
from .code_programs import plus_harness

MIN_TIMEOUT_S = 4.0
TIME_FACTOR = 4.0
MAX_TIMEOUT_S = 120.0
PLUS_TEST = "assert _sm_plus()"


def _job(task: EvalTask, program: str, timeout: float) -> Job:
    setup = f"{task.base_setup}\n"  # test code: it runs in the judge's tests process, not with the program
    tests = list(task.base_tests)
    if task.plus_inputs:
        setup += plus_harness(task)
        tests.append(PLUS_TEST)
    return Job(
        program, tests, timeout, 4096, setup, (task.entry_point,)
    )  # EvalPlus allows 4 GiB; Mbpp/255 needs more than 2


def _result(v: Verdict, has_plus: bool) -> SampleResult:
    base = [t for t in v.tests if t.source != PLUS_TEST]
    base_ok = bool(base) and all(t.outcome == "passed" for t in base)
    return SampleResult(v.passed, base_ok if has_plus else v.passed, v.status.value, v.message[:500], v.duration_s)


def time_limits(tasks: list[EvalTask]) -> dict[str, float]:
    """Per task: max(MIN, FACTOR x the canonical solution's time) - a slow machine slows both."""
    verdicts = _judge_all([_job(t, t.canonical, MAX_TIMEOUT_S) for t in tasks])
    return {
        t.task_id: min(MAX_TIMEOUT_S, max(MIN_TIMEOUT_S, TIME_FACTOR * v.duration_s + 1.0))
        for t, v in zip(tasks, verdicts)
    }


def _judge_all(jobs: list[Job], rounds: int = 3) -> list[Verdict]:
    verdicts = judge_many(jobs)  # retries a sandbox error once per job
    for _ in range(rounds - 1):
        again = [i for i, v in enumerate(verdicts) if v.infrastructure_failure]
        if not again:
            break
        for i, v in zip(again, judge_many([jobs[i] for i in again])):
            verdicts[i] = v
    return verdicts


def score(
    tasks: list[EvalTask], programs: list[list[str]], limits: dict[str, float]
) -> list[list[SampleResult | None]]:
    """`programs[i]`: the samples for tasks[i]. None where the sandbox failed three times (not scored)."""
    flat = [(i, _job(t, p, limits[t.task_id])) for i, (t, ps) in enumerate(zip(tasks, programs)) for p in ps]
    verdicts = _judge_all([j for _, j in flat])
    out: list[list[SampleResult | None]] = [[] for _ in tasks]
    for (i, _), v in zip(flat, verdicts):
        out[i].append(None if v.infrastructure_failure else _result(v, bool(tasks[i].plus_inputs)))
    return out


def canonical_check(tasks: list[EvalTask], *, timeout: float = MAX_TIMEOUT_S) -> list[tuple[str, str]]:
    """(task_id, message) for every canonical solution that fails its own benchmark."""
    verdicts = _judge_all([_job(t, t.canonical, timeout) for t in tasks])
    return [(t.task_id, v.message) for t, v in zip(tasks, verdicts) if not v.passed]
