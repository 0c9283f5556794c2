"""The code domain's proposer: the model writes problems; `ast` parses them; the interpreter grounds their
tests; gates keep the clean ones, recording why the others were dropped. Drafting (generic) is in
propose.py; CodeDomain.propose_batch calls this.

Two test modes (`mine.tests`): `grounded` (default) keeps the model's function and only the *inputs* of
its calls, mutated into more inputs, and takes every expected value from running the function itself;
`model` keeps the model's own asserts, as the reference recipe does."""

from __future__ import annotations

from .. import seeds
from ..engine import Engine, SamplingParams
from ..ledger import Problem
from ..sandbox import Job, check_sandbox, judge_many
from . import grounding
from .code_text import (
    PROPOSE_STOP,
    calls_prompt,
    constant_expectations,
    fingerprint,
    leaks,
    parse_calls,
    parse_function,
    parse_proposal,
    propose_prompt,
    solve_prompt,
    variant_prompt,
)
from .gates import Gates
from .propose import Slot, draft_problems, prompt_maker, prompts_for

CALLS_STOP = ["\n\n\n", "\ndef ", "\n###", "\nclass "]
GROUNDING_TIMEOUT_S = 20.0  # the whole grounding program; each call also has its own timer (grounding.CALL_SECONDS)


def propose_batch(
    engine: Engine,
    cfg,
    *,
    seed: int,
    round_id: int,
    start: int,
    slots: list[Slot],
    gates: Gates,
    own: list[Problem] | None = None,
    round_no: int = 1,
) -> list[Problem]:
    """One proposal per slot, numbered from `start`. Deterministic given (seed, round, start, slots, own)."""
    m = cfg.mine
    make = prompt_maker(propose_prompt, variant_prompt, own=own, share=m.own_examples)
    problems = draft_problems(
        engine,
        cfg,
        slots,
        seed=seed,
        round_id=round_id,
        start=start,
        round_no=round_no,
        make_prompt=make,
        stop=PROPOSE_STOP,
        meta={"tests": m.tests},
    )
    if m.tests == "grounded":
        parsed = [parse_function(p.raw) for p in problems]
        _ask_for_calls(engine, cfg, parsed, problems, seed=seed, round_no=round_no, start=start)
        ground_tests(cfg, seed, parsed, problems)
    else:
        parsed = [parse_proposal(p.raw, m.min_asserts) for p in problems]
    for prob, p in zip(problems, parsed):
        prob.reason, prob.detail, prob.entry_point = p.reason, p.detail, p.entry_point
    _validate(cfg, parsed, problems, gates)
    return problems


def _ask_for_calls(engine, cfg, parsed, problems, *, seed, round_no, start) -> None:
    """One short follow-up for functions written with too few calls: the model writes calls only."""
    m = cfg.mine
    need = [i for i, p in enumerate(parsed) if p.ok and len(p.calls) < m.min_asserts]
    if not need or not m.ask_for_calls:
        return
    params = SamplingParams(
        n=1,
        temperature=m.propose_temperature,
        top_p=m.propose_top_p,
        max_tokens=96,
        stop=[] if m.chat else CALLS_STOP,
        seed=seeds.stream(seed, "ask_calls", round_no, start),
    )
    outs = engine.generate(
        prompts_for(engine, cfg, [calls_prompt(parsed[i].code, parsed[i].entry_point) for i in need]), params
    )
    for i, o in zip(need, outs):
        known = {c.source("f") for c in parsed[i].calls}
        more = [c for c in parse_calls(o[0].text, parsed[i].entry_point, m.chat) if c.source("f") not in known]
        parsed[i].calls = parsed[i].calls + more
        problems[i].meta["asked_for_calls"] = len(more)


def ground_tests(cfg, seed, parsed, problems) -> None:
    """Run each function on its seed calls and their mutations (or on drawn inputs), twice, and rewrite
    its tests as `assert f(ARGS) == observed`."""
    m = cfg.mine
    jobs, plans = [], []
    for i, p in enumerate(parsed):
        if not p.ok:
            continue
        rng = seeds.rng(seed, "ground", problems[i].round_id, problems[i].idx)
        calls = grounding.candidate_calls(p.calls, p.fn, rng, m.generated_inputs)
        if not calls:
            p.ok, p.reason, p.detail = False, "no_inputs", "no literal call and no guessable parameter types"
            continue
        setup, tag = grounding.grounding_setup()
        jobs.append(
            Job(p.code, grounding.grounding_tests(p.entry_point, calls), GROUNDING_TIMEOUT_S, m.judge_memory_mb, setup)
        )
        plans.append((i, calls, tag))
    if not jobs:
        return
    runs = judge_many(jobs + jobs)  # twice: an expected value must not depend on the run
    check_sandbox(runs, "validating problems")
    for k, (i, calls, tag) in enumerate(plans):
        p, v1, v2 = parsed[i], runs[k], runs[k + len(jobs)]
        if v1.status.value == "error" and v1.error_type and not any(t.outcome != "not_run" for t in v1.tests):
            p.ok, p.reason, p.detail = False, "load_error", v1.message[:300]
            continue
        g = grounding.select(
            p.entry_point,
            calls,
            grounding.read_grounding(v1.output, tag),
            grounding.read_grounding(v2.output, tag),
            min_asserts=m.min_asserts,
            visible=m.visible_tests,
            hidden=m.hidden_tests,
        )
        problems[i].meta["grounding"] = {
            **g.stats,
            "seed_calls": len(p.calls),
            "non_literal_calls": p.non_literal_calls,
        }
        if not g.ok:
            p.ok, p.reason, p.detail = False, g.reason, g.detail
            continue
        p.tests, p.hidden = g.visible, g.hidden


def _validate(cfg, parsed, problems, gates: Gates) -> None:
    """The problem's own code must pass all its tests, twice; then dedup, decontamination, leak check."""
    m = cfg.mine
    ok = [i for i, p in enumerate(parsed) if p.ok]
    jobs = [Job(parsed[i].code, parsed[i].tests + parsed[i].hidden, m.judge_timeout, m.judge_memory_mb) for i in ok]
    runs = judge_many(jobs + jobs)  # twice: a problem must pass its own tests deterministically
    check_sandbox(runs, "validating problems")
    for k, i in enumerate(ok):
        p, prob = parsed[i], problems[i]
        v1, v2 = runs[k], runs[k + len(jobs)]
        prob.code, prob.tests, prob.header = p.code, p.tests, p.header
        prob.hidden_tests = list(p.hidden)
        if not v1.passed and m.tests == "model" and m.salvage_asserts and v1.status.value == "failed":
            kept = [t.source for t in v1.tests if t.outcome == "passed"]
            if len(kept) >= m.min_asserts and constant_expectations(kept, p.entry_point) is None:
                again = judge_many([Job(p.code, kept, m.judge_timeout, m.judge_memory_mb)] * 2)
                check_sandbox(again, "validating problems")
                if all(v.passed for v in again):
                    prob.detail = f"salvaged: kept {len(kept)} of {len(v1.tests)} asserts"
                    prob.tests, p.tests, v1, v2 = kept, kept, again[0], again[1]
        if not v1.passed:
            prob.reason, prob.detail = "self_test_failed", f"{v1.status.value}: {v1.message}"[:500]
            continue
        if not v2.passed:
            prob.reason, prob.detail = "nondeterministic", f"second run: {v2.status.value}: {v2.message}"[:500]
            continue
        fp = fingerprint(p.code)
        if not gates.passes(prob, fp, near_text=p.code, contam_text=p.header + "\n" + p.code):
            continue
        prompt = solve_prompt(p.header, p.tests)
        leaked = leaks(prompt, p.body)
        if leaked:
            prob.reason, prob.detail = "leak", f"solve prompt shows body line: {leaked}"
            continue
        prob.status, prob.reason, prob.solve_prompt = "valid", "", prompt
        gates.admit(prob, p.code)
