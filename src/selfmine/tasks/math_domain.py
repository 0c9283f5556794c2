"""The math domain behind the `Domain` interface.

A proposal is valid only when its program runs in the sandbox (twice, the same value both times: it is
deterministic), its value is a number or a short closed form, and math-verify finds the program's value
and the stated answer equivalent. An attempt passes when its final answer is equivalent to that checked
answer; a check that cannot decide is recorded as undecided and never pairs."""

from __future__ import annotations

from ..ledger import Problem
from . import math_text as mt
from .base import Grade
from .gates import index_for
from .math_bench import MATH_BENCHES, MathKit
from .math_import import import_math_rows
from .math_values import program_values, value_text
from .mathcheck import checker
from .propose import draft_problems, prompt_maker


class MathDomain:
    name = "math"
    failure_priority = mt.FAILURE_PRIORITY
    benches = MATH_BENCHES
    import_keys = ("problem", "solution", "answer")

    def eval_kit(self):
        return MathKit()

    def import_rows(self, path, rows: list[dict], run_dir, timeout: float = 5.0) -> dict:
        return import_math_rows(path, rows, run_dir, timeout)

    def contamination(self, cfg):
        return index_for(MATH_BENCHES, cfg)

    def near_text(self, problem) -> str:
        return problem.header

    def propose_batch(self, engine, cfg, *, seed, round_id, start, slots, gates, own=None, round_no=1) -> list[Problem]:
        m = cfg.mine
        make = prompt_maker(mt.propose_prompt, mt.variant_prompt, own=own, share=m.own_examples)
        meta = {"domain": "math", "tests": f"answer:{m.math_answers}"}
        problems = draft_problems(
            engine,
            cfg,
            slots,
            seed=seed,
            round_id=round_id,
            start=start,
            round_no=round_no,
            make_prompt=make,
            stop=mt.PROPOSE_STOP,
            meta=meta,
        )
        parsed = [mt.parse_proposal(p.raw) for p in problems]
        for prob, p in zip(problems, parsed):
            prob.reason, prob.detail, prob.entry_point = p.reason, p.detail, mt.PROGRAM_NAME
        self._validate(cfg, parsed, problems, gates)
        return problems

    def _validate(self, cfg, parsed, problems, gates) -> None:
        m = cfg.mine
        ok = [i for i, p in enumerate(parsed) if p.ok]
        # twice: the value must not depend on the run
        first, second = program_values([parsed[i].program for i in ok], m.judge_memory_mb, "validating problems", 2)
        agree = []
        for k, i in enumerate(ok):
            p, prob = parsed[i], problems[i]
            prob.code, prob.header, prob.tests = p.program, p.question, [p.answer]
            (v1, why1), (v2, _) = first[k], second[k]
            if v1 is None:
                prob.reason, prob.detail = "program_error", why1[:300]
            elif v1 != v2:
                prob.reason, prob.detail = "nondeterministic", f"{v1!r} then {v2!r}"[:300]
            elif not mt.closed_form(value_text(v1)):
                prob.reason, prob.detail = "not_closed_form", f"the program gives {value_text(v1)[:80]}"
            else:
                prob.meta["value"] = value_text(v1)
                agree.append(i)
        if m.math_answers == "program":  # the executor is the oracle: the program's value is the label
            for i in agree:
                problems[i].meta["stated"] = parsed[i].answer
                parsed[i].answer = problems[i].tests[0] = problems[i].meta["value"]
        checks = checker().check_many([(problems[i].meta["value"], parsed[i].answer) for i in agree])
        for i, c in zip(agree, checks):
            p, prob = parsed[i], problems[i]
            if m.math_answers == "program" and mt.trivial(p.question, p.answer):
                prob.reason, prob.detail = "trivial", f"the answer {p.answer} appears in the question"
                continue
            if not c.equal:
                prob.reason = "disagreement" if c.outcome in ("different", "no_answer") else "undecided"
                prob.detail = f"program gives {prob.meta['value']}, stated {p.answer} ({c.outcome} {c.detail})"[:300]
                continue
            fp = mt.fingerprint(p.question)
            if not gates.passes(prob, fp, near_text=p.question, contam_text=p.question):
                continue
            prob.status, prob.reason = "valid", ""
            prob.solve_prompt = mt.chat_text(p.question) if cfg.mine.chat else mt.solve_prompt(p.question)
            gates.admit(prob, p.question)

    def canonical_text(self, problem) -> str:
        return mt.program_solution(problem.code, problem.tests[0])

    @staticmethod
    def same(attempt) -> str:
        """Two solutions are one when their reasoning is the same text (RFT dedups reasoning paths)."""
        return " ".join(attempt.code.split())

    def reference_row(self, view) -> dict:
        """The reference implementation's math schema (problem, solution, answer)."""
        return {"problem": view.header, "solution": view.fixed, "answer": view.tests[0] if view.tests else ""}

    def solve_stop(self, chat: bool) -> list[str]:
        return [] if chat else mt.SOLVE_STOP

    def repair_texts(self, problems: list, broken: dict) -> list[str]:
        # the prompt ends where a repair example's target begins its corrected solution
        return [
            mt.train_repair(p.header, broken[p.id].completion) + mt.repair_target(broken[p.id].completion, "")
            for p in problems
        ]

    def grade(self, cfg, items: list) -> list[Grade]:
        answers = [mt.final_answer(c.text) for _, c in items]
        checks = checker().check_many([(p.tests[0], a) for (p, _), a in zip(items, answers)])
        out = []
        for (_, comp), a, c in zip(items, answers, checks):
            status = "passed" if c.equal else c.outcome
            cls = "" if c.equal else mt.classify_failure(c.outcome)
            error = f"final answer {a}: {c.outcome}" if a else "no final answer (#### or \\boxed{})"
            out.append(Grade(mt.judged_solution(comp.text), status, c.equal, cls, "", error))
        return out

    def train_prompts(self, view, fmt: str, broken: str, error: str) -> dict[str, str]:
        # an imported reference row has no wrong attempt: its repair example is a solve example
        repair = mt.train_repair(view.header, broken) if broken.strip() else mt.train_solve(view.header)
        return {"repair": repair, "solve": mt.train_solve(view.header)}

    def train_target(self, view, fmt: str, broken: str, fixed: str) -> str:
        if fmt == "solve" or not broken.strip():
            return " " + fixed.strip()
        return mt.repair_target(broken, fixed)

    def keep_example(self, view, fmt: str) -> tuple[str, str]:
        if fmt == "solve":
            return mt.train_solve(view.header), " " + view.fixed.strip()
        return mt.train_repair(view.header, view.fixed), mt.keep_target(view.fixed)

    def corruptor(self, pairs: list, seed: int):
        """Each fixed solution with its final answer changed (checked wrong by math-verify); a bare
        `#### 0` where that is impossible."""
        chosen = {p.id: mt.corrupt_answer(p.fixed, seed) for p in pairs}
        todo = [p for p in pairs if chosen[p.id]]
        checks = checker().check_many([(p.tests[0], mt.final_answer(chosen[p.id])) for p in todo])
        verified = {p.id for p, c in zip(todo, checks) if c.outcome == "different"}
        info = {"corrupted_verified_failing": len(verified), "corrupted_fallback_stub": len(pairs) - len(verified)}
        return (lambda p: chosen[p.id] if p.id in verified else self.format_stub(p)), info

    def format_stub(self, view) -> str:
        return "#### 0"
