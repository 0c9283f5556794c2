"""Solve and judge: k attempts per problem from its solve prompt (never its body), each judged and
classified; optionally one repair round for problems where every attempt failed."""

from __future__ import annotations

from ..engine import Engine, SamplingParams
from ..ledger import Attempt, Problem
from ..seeds import stream
from ..tasks.base import Domain, Grade
from ..tasks.propose import prompts_for


def _attempt(p: Problem, kind: str, idx: int, completion, g: Grade, parent: int | None = None) -> Attempt:
    return Attempt(
        problem_id=p.id,
        kind=kind,
        idx=idx,
        completion=completion.text,
        code=g.code,
        status=g.status,
        passed=g.passed,
        failure_class=g.failure_class,
        failing_test=g.failing_test,
        error=g.error[:2000],
        finish_reason=completion.finish_reason,
        duration_s=g.duration_s,
        parent_id=parent,
    )


def _attempts(
    engine: Engine,
    domain: Domain,
    cfg,
    problems: list[Problem],
    texts: list[str],
    *,
    n: int,
    seed: int,
    kind: str,
    parents: dict[int, int] | None = None,
    temperature: float | None = None,
) -> dict[int, list[Attempt]]:
    """n sampled attempts per problem from its prompt, each judged and recorded as an attempt of `kind`.
    Each problem samples from its own seed (run seed, kind, problem id), whatever else shares the call."""
    m = cfg.mine
    t = m.solve_temperature if temperature is None else temperature
    params = SamplingParams(
        n=n,
        temperature=t,
        top_p=m.solve_top_p if t else 1.0,
        max_tokens=m.solve_max_tokens,
        stop=domain.solve_stop(m.chat),
        seed=seed,
    )
    seeds = [stream(seed, kind, p.id) for p in problems]
    outs = engine.generate(prompts_for(engine, cfg, texts), params, seeds=seeds)
    flat = [(p, c) for p, cs in zip(problems, outs) for c in cs]
    grades = domain.grade(cfg, flat)
    result: dict[int, list[Attempt]] = {p.id: [] for p in problems}
    for (p, c), g in zip(flat, grades):
        parent = parents.get(p.id) if parents else None
        result[p.id].append(_attempt(p, kind, len(result[p.id]), c, g, parent=parent))
    return result


def solve_batch(engine: Engine, domain: Domain, cfg, seed: int, problems: list[Problem]) -> dict[int, list[Attempt]]:
    texts = [p.solve_prompt for p in problems]
    return _attempts(engine, domain, cfg, problems, texts, n=cfg.mine.attempts, seed=seed, kind="solve")


def greedy_batch(engine: Engine, domain: Domain, cfg, seed: int, problems: list[Problem]) -> dict[int, list[Attempt]]:
    texts = [p.solve_prompt for p in problems]
    return _attempts(engine, domain, cfg, problems, texts, n=1, seed=seed, kind="greedy", temperature=0.0)


def pick_broken(attempts: list[Attempt], priority: dict[str, int]) -> Attempt | None:
    """The most informative failure to repair: a real bug before format garbage. Attempts whose class
    does not pair (math's undecided checks) are never picked."""
    failing = [a for a in attempts if not a.passed and a.failure_class in priority]
    return min(failing, key=lambda a: (priority[a.failure_class], a.idx), default=None)


def repair_batch(
    engine: Engine, domain: Domain, cfg, problems: list[Problem], *, seed: int, broken: dict[int, Attempt]
) -> dict[int, list[Attempt]]:
    texts = domain.repair_texts(problems, broken)
    parents = {p.id: broken[p.id].id for p in problems}
    return _attempts(
        engine, domain, cfg, problems, texts, n=cfg.mine.repair_attempts, seed=seed, kind="repair", parents=parents
    )
