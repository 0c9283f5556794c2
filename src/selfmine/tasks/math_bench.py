"""GSM8K and MATH-500: prompts (raw few-shot with the `#### N` convention, or chat with `\\boxed{}`),
answers checked by math-verify under a hard deadline, and the majority-vote (self-consistency) selector."""

from __future__ import annotations

from dataclasses import dataclass

from ..datasets import bench_file, load
from ..engine.chat import chat_prompt
from . import math_text as mt
from .base import SampleResult
from .mathcheck import checker

MATH_BENCHES = ("gsm8k", "math500")


@dataclass
class MathTask:
    task_id: str  # GSM8K/<0-based line of test.jsonl> | MATH-500/<unique_id>
    bench: str
    question: str
    answer: str  # the reference final answer
    solution: str  # the reference solution (its own final answer at the end)

    def reference_completion(self) -> str:
        """The reference solution in the format a sample is scored in (GSM8K's already ends `#### N`)."""
        if "####" in self.solution or mt.final_answer(self.solution):
            return self.solution
        return self.solution + f"\n#### {self.answer}"


def load_tasks(bench: str, data_dir=None) -> tuple[list[MathTask], str]:
    _, digest = bench_file(bench, data_dir)
    rows = load(bench, data_dir)
    return [MathTask(t.task_id, bench, t.prompt, str(t.extra["answer"]), t.canonical_solution) for t in rows], digest


def prompts(engine, tasks: list[MathTask], fmt: str) -> list[str]:
    if fmt == "raw":
        return [mt.solve_prompt(t.question) for t in tasks]
    return [chat_prompt(engine, mt.chat_text(t.question)) for t in tasks]


def stop(fmt: str) -> list[str]:
    return mt.SOLVE_STOP if fmt == "raw" else []


def score(tasks: list[MathTask], texts: list[list[str]]) -> list[list[SampleResult | None]]:
    """Every sample's final answer against the reference. A check that cannot decide stays a failure
    of the sample, recorded with status "undecided" (counted apart in the summary)."""
    flat = [(i, t.answer, mt.final_answer(x)) for i, (t, xs) in enumerate(zip(tasks, texts)) for x in xs]
    checks = checker().check_many([(gold, pred) for _, gold, pred in flat])
    out: list[list[SampleResult | None]] = [[] for _ in tasks]
    for (i, _, pred), c in zip(flat, checks):
        status = "passed" if c.equal else c.outcome
        out[i].append(SampleResult(c.equal, c.equal, status, (c.detail or pred or "")[:500], 0.0))
    return out


def majority(answers: list[str | None]) -> int | None:
    """Self-consistency: the sample whose final answer is equivalent to the most others (math-verify,
    not string equality); ties go to the earliest. Samples without an answer get no vote; when none has
    one, the first sample is the pick (a selector always picks; None means nothing was there to pick)."""
    reps: list[tuple[int, str]] = []  # (first sample index, answer) per cluster
    votes: list[int] = []
    ck = checker()
    for j, a in enumerate(answers):
        if a is None:
            continue
        for k, (_, rep) in enumerate(reps):
            if rep == a or ck.check(rep, a).equal:
                votes[k] += 1
                break
        else:
            reps.append((j, a))
            votes.append(1)
    if not reps:
        return 0 if answers else None
    best = max(range(len(reps)), key=lambda k: (votes[k], -reps[k][0]))
    return reps[best][0]


def select(texts: list[list[str]]) -> list[int | None]:
    return [majority([mt.final_answer(x) for x in xs]) if len(xs) > 1 else None for xs in texts]


class MathKit:
    """How a math benchmark is loaded, prompted, cut and scored: final answers checked by math-verify;
    best-of-n by majority vote over equivalent answers."""

    selector = "majority vote over math-verify-equivalent final answers"
    load = staticmethod(load_tasks)
    prompts = staticmethod(prompts)

    def stop(self, tasks, fmt: str) -> list[str]:
        return stop(fmt)

    def from_rows(self, tasks, rows, fmt):
        return None  # the text is what is scored

    def from_texts(self, tasks, texts, fmt):
        return None

    def helpers(self, engine, tasks, n, count, seed, *, generate=None):
        return None

    def score(self, tasks, texts, programs, written):
        results = score(tasks, texts)
        return results, select(texts) if max((len(x) for x in texts), default=1) > 1 else None, {}

    def extra(self, results) -> dict:
        return {"undecided_samples": sum(r is not None and r.status == "undecided" for rs in results for r in rs)}

    def sample_row(self, task, text: str, fmt: str) -> dict:
        return {"completion": text}  # the text whose final answer was checked
