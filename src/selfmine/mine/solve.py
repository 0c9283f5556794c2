"""Solve and judge: k attempts per problem from its solve prompt (never its body), each judged and
classified; optionally one repair round for problems where every attempt failed."""

from __future__ import annotations

from ..engine import Engine, SamplingParams
from ..engine.chat import chat_prompt
from ..ledger import Attempt, Problem
from ..sandbox import Job, Verdict, check_sandbox, judge_many
from ..tasks.code import SOLVE_STOP, attempt_program, classify_failure, repair_prompt

CLASS_PRIORITY = {"wrong_answer": 0, "runtime": 1, "timeout": 2, "syntax": 3, "format": 4}


def _judge(problems_codes: list[tuple[Problem, str]], cfg) -> list[Verdict]:
    m = cfg.mine
    verdicts = judge_many([Job(code, p.judge_tests, m.judge_timeout, m.judge_memory_mb) for p, code in problems_codes])
    return check_sandbox(verdicts, "judging attempts")


def _attempt(p: Problem, kind: str, idx: int, completion, code: str, v: Verdict, parent: int | None = None) -> Attempt:
    bad = v.first_failure
    return Attempt(
        problem_id=p.id,
        kind=kind,
        idx=idx,
        completion=completion.text,
        code=code,
        status=v.status.value,
        passed=v.passed,
        failure_class=""
        if v.passed
        else classify_failure(completion.text, v.status.value, v.error_type, completion.finish_reason, p.tests),
        failing_test=bad.source if bad else "",
        error=v.message[:2000],
        finish_reason=completion.finish_reason,
        duration_s=v.duration_s,
        parent_id=parent,
    )


def prompts_for(engine: Engine, cfg, texts: list[str]) -> list[str]:
    """`mine.chat` (instruct models): every prompt goes through the model's chat template."""
    return [chat_prompt(engine, t) for t in texts] if cfg.mine.chat else texts


def stops(cfg) -> list[str]:
    # a chat answer opens with a fence and a `def`: the raw stop strings would cut it at once
    return [] if cfg.mine.chat else SOLVE_STOP


def _attempts(engine: Engine, cfg, problems: list[Problem], texts: list[str], n: int, seed: int, kind: str,
              parents: dict[int, int] | None = None) -> dict[int, list[Attempt]]:  # fmt: skip
    """n sampled programs per problem from its prompt, each judged and recorded as an attempt of `kind`."""
    m = cfg.mine
    params = SamplingParams(n=n, temperature=m.solve_temperature, top_p=m.solve_top_p, max_tokens=m.solve_max_tokens,
                            stop=stops(cfg), seed=seed)  # fmt: skip
    outs = engine.generate(prompts_for(engine, cfg, texts), params)
    flat = [
        (p, c, attempt_program(p.header, c.text, p.entry_point, m.chat)) for p, cs in zip(problems, outs) for c in cs
    ]
    verdicts = _judge([(p, code) for p, _, code in flat], cfg)
    result: dict[int, list[Attempt]] = {p.id: [] for p in problems}
    for (p, c, code), v in zip(flat, verdicts):
        parent = parents.get(p.id) if parents else None
        result[p.id].append(_attempt(p, kind, len(result[p.id]), c, code, v, parent=parent))
    return result


def solve_batch(engine: Engine, cfg, seed: int, problems: list[Problem]) -> dict[int, list[Attempt]]:
    texts = [p.solve_prompt for p in problems]
    return _attempts(engine, cfg, problems, texts, cfg.mine.attempts, seed * 7919 + problems[0].id, "solve")


def pick_broken(attempts: list[Attempt]) -> Attempt:
    """The most informative failure to repair: a real bug before format garbage."""
    return min((a for a in attempts if not a.passed), key=lambda a: (CLASS_PRIORITY[a.failure_class], a.idx))


def repair_batch(
    engine: Engine, cfg, seed: int, problems: list[Problem], broken: dict[int, Attempt]
) -> dict[int, list[Attempt]]:
    texts = [repair_prompt(p.header, p.tests, broken[p.id].code, broken[p.id].error) for p in problems]
    parents = {p.id: broken[p.id].id for p in problems}
    return _attempts(
        engine, cfg, problems, texts, cfg.mine.repair_attempts, seed * 104729 + problems[0].id, "repair", parents
    )
