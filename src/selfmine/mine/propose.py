"""Propose: the model writes problems; `ast` parses them; gates keep the clean ones, recording why the
others were dropped."""

from __future__ import annotations

import random

from ..engine import Engine, SamplingParams
from ..ledger import Problem
from ..sandbox import Job, judge_many
from ..tasks.code import PROPOSE_STOP, constant_expectations, fingerprint, leaks, parse_proposal, propose_prompt, solve_prompt
from .gates import ContaminationIndex, NearDuplicates


def propose_batch(engine: Engine, cfg, seed: int, round_id: int, start: int, count: int,
                  fingerprints: set[str], near: NearDuplicates, contamination: ContaminationIndex | None) -> list[Problem]:  # fmt: skip
    """`count` proposals numbered from `start`. Deterministic given (seed, round, start)."""
    m = cfg.mine
    rng = random.Random(f"{seed}:{round_id}:{start}")
    prompts = [propose_prompt(rng) for _ in range(count)]
    params = SamplingParams(n=1, temperature=m.propose_temperature, top_p=m.propose_top_p,
                            max_tokens=m.propose_max_tokens, stop=PROPOSE_STOP, seed=seed * 7919 + start)  # fmt: skip
    outs = engine.generate(prompts, params)
    parsed = [parse_proposal(o[0].text, m.min_asserts) for o in outs]
    jobs = [Job(p.code, p.tests, m.judge_timeout, m.judge_memory_mb) for p in parsed if p.ok]
    runs = judge_many(jobs + jobs)  # twice: a problem must pass its own tests deterministically
    first, second = runs[: len(jobs)], runs[len(jobs) :]
    problems, j = [], 0
    for i, (o, p) in enumerate(zip(outs, parsed)):
        raw = o[0].text
        prob = Problem(round_id, start + i, raw, "rejected", p.reason, p.detail, p.entry_point)
        problems.append(prob)
        if not p.ok:
            continue
        v1, v2 = first[j], second[j]
        j += 1
        prob.code, prob.tests, prob.header = p.code, p.tests, p.header
        if v1.infrastructure_failure or v2.infrastructure_failure:
            raise RuntimeError(f"the sandbox failed while validating a problem ({v1.message}); rerun to resume")
        if not v1.passed and m.salvage_asserts and v1.status.value == "failed":
            kept = [t.source for t in v1.tests if t.outcome == "passed"]
            if len(kept) >= m.min_asserts and constant_expectations(kept, p.entry_point) is None:
                again = judge_many([Job(p.code, kept, m.judge_timeout, m.judge_memory_mb)] * 2)
                if all(v.passed for v in again):
                    prob.tests, p.tests, v1, v2 = kept, kept, again[0], again[1]
                    prob.detail = f"salvaged: kept {len(kept)} of {len(first[j - 1].tests)} asserts"
        if not v1.passed:
            prob.reason, prob.detail = "self_test_failed", f"{v1.status.value}: {v1.message}"[:500]
            continue
        if not v2.passed:
            prob.reason, prob.detail = "nondeterministic", f"second run: {v2.status.value}: {v2.message}"[:500]
            continue
        fp = fingerprint(p.code)
        prob.fingerprint = fp
        if fp in fingerprints:
            prob.reason = "duplicate"
            continue
        similar = near.seen(p.code)
        if similar:
            prob.reason, prob.detail = "near_duplicate", f"similar to problem {similar[0]}"
            continue
        if contamination is not None:
            hit = contamination.check(p.header + "\n" + p.code)
            if hit:
                prob.reason, prob.detail = "contaminated", f"{hit[0]:.0%} of {contamination.n}-grams from {hit[1]}"
                continue
        prompt = solve_prompt(p.header, p.tests)
        leaked = leaks(prompt, p.body)
        if leaked:
            prob.reason, prob.detail = "leak", f"solve prompt shows body line: {leaked}"
            continue
        prob.status, prob.reason, prob.solve_prompt = "valid", "", prompt
        if p.tests != [t.source for t in first[j - 1].tests] and not prob.detail:
            prob.detail = "salvaged"
        fingerprints.add(fp)
        near.add(f"r{round_id}p{start + i}", p.code)
    return problems
