"""The code domain behind the `Domain` interface: proposing with grounded tests (code_propose.py),
judging programs against asserts in the sandbox, and the recipe's repair and solve formats."""

from __future__ import annotations

from ..sandbox import Job, check_sandbox, judge_many
from ..seeds import stream
from . import code_propose
from .base import Grade
from .code_bench import BENCHES
from .code_corrupt import corruptions, format_stub
from .code_import import import_code_rows
from .code_kit import CodeKit
from .code_text import SOLVE_STOP, attempt_program, classify_failure, repair_prompt, solve_prompt
from .gates import index_for

# what a proposal is checked against for contamination: the benchmarks, with the whole of MBPP (mbpp-full)
# in place of the sanitized subset that is evaluated
CONTAMINATION_BENCHES = ("humaneval", "humaneval+", "mbpp-full", "mbpp+")


class CodeDomain:
    name = "code"
    failure_priority = {"wrong_answer": 0, "runtime": 1, "timeout": 2, "syntax": 3, "format": 4}
    benches = BENCHES

    def eval_kit(self):
        return CodeKit()

    def contamination(self, cfg):
        return index_for(CONTAMINATION_BENCHES, cfg)

    def near_text(self, problem) -> str:
        return problem.code

    def propose_batch(self, engine, cfg, *, seed, round_id, start, slots, gates, own=None, round_no=1) -> list:
        return code_propose.propose_batch(
            engine, cfg, seed=seed, round_id=round_id, start=start, slots=slots, gates=gates, own=own, round_no=round_no
        )

    def canonical_text(self, problem) -> str:
        return problem.code  # its own function passed its tests twice at validation

    @staticmethod
    def same(attempt) -> str:
        return attempt.code.strip()

    import_keys = ("signature", "tests", "broken", "fixed")

    def import_rows(self, path, rows: list[dict], run_dir, timeout: float = 5.0) -> dict:
        return import_code_rows(path, rows, run_dir, timeout)

    def reference_row(self, view) -> dict:
        """The reference implementation's pair schema."""
        return {
            "signature": view.header,
            "tests": view.tests,
            "broken": view.broken,
            "error": view.error,
            "fixed": view.fixed,
        }

    def solve_stop(self, chat: bool) -> list[str]:
        # a chat answer opens with a fence and a `def`: the raw stop strings would cut it at once
        return [] if chat else SOLVE_STOP

    def repair_texts(self, problems: list, broken: dict) -> list[str]:
        return [repair_prompt(p.header, p.tests, broken[p.id].code, broken[p.id].error) for p in problems]

    def grade(self, cfg, items: list) -> list[Grade]:
        m = cfg.mine
        codes = [attempt_program(p.header, c.text, p.entry_point, m.chat) for p, c in items]
        verdicts = judge_many(
            [Job(code, p.judge_tests, m.judge_timeout, m.judge_memory_mb) for (p, _), code in zip(items, codes)]
        )
        check_sandbox(verdicts, "judging attempts")
        out = []
        for (p, c), code, v in zip(items, codes, verdicts):
            bad = v.first_failure
            cls = "" if v.passed else classify_failure(c.text, v.status.value, v.error_type, c.finish_reason, p.tests)
            out.append(
                Grade(code, v.status.value, v.passed, cls, bad.source if bad else "", v.message[:2000], v.duration_s)
            )
        return out

    def train_prompts(self, view, fmt: str, broken: str, error: str) -> dict[str, str]:
        return {
            "repair": repair_prompt(view.header, view.tests, broken, error, with_header=False),
            "solve": solve_prompt(view.header, view.tests, with_header=False),
        }

    def train_target(self, view, fmt: str, broken: str, fixed: str) -> str:
        return fixed

    def keep_example(self, view, fmt: str) -> tuple[str, str]:
        if fmt == "solve":
            return solve_prompt(view.header, view.tests, with_header=False), view.fixed
        return repair_prompt(
            view.header, view.tests, view.fixed, "none: all tests passed", with_header=False
        ), view.fixed

    def corruptor(self, pairs: list, seed: int):
        """For each pair, the first mechanical corruption of its fixed side that the judge shows failing
        (a stub where none fails). Returns (corrupt(view) -> str, counts)."""
        candidates = {p.id: corruptions(p.fixed, stream(seed, "corrupt", p.id)) for p in pairs}
        jobs, owners = [], []
        for p in pairs:
            for c in candidates[p.id]:
                jobs.append(Job(c, p.tests, 5.0))
                owners.append((p.id, c))
        chosen: dict[int, str] = {}
        for (pid, code), v in zip(owners, judge_many(jobs)):
            if pid not in chosen and not v.passed and not v.infrastructure_failure:
                chosen[pid] = code
        info = {"corrupted_verified_failing": len(chosen), "corrupted_fallback_stub": len(pairs) - len(chosen)}
        by_id = {p.id: p for p in pairs}
        return (lambda p: chosen.get(p.id) or format_stub(by_id[p.id].header)), info

    def format_stub(self, view) -> str:
        return format_stub(view.header)
