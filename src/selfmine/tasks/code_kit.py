"""The code domain's evaluation kit: HumanEval, HumanEval+, MBPP, MBPP+ loaded (code_bench.py), prompted
raw or chat, cut into programs (code_programs.py), judged in the sandbox against the hidden tests
(code_score.py), and the best-of-n selector, which never sees hidden tests: visible examples, then CodeT's
dual agreement on model-written tests."""

from __future__ import annotations

import ast

from ..engine import Engine, SamplingParams
from ..engine.chat import chat_prompt
from ..sandbox import Job, judge_many
from ..seeds import stream
from .code_bench import EvalTask, load_tasks
from .code_programs import program, solution_field
from .code_score import score, time_limits
from .code_text import HOSTILE

CHAT_INSTRUCTION = "Complete the following Python code. Answer with the whole function in one ```python block.\n\n"


def _prompts(engine: Engine, tasks: list[EvalTask], fmt: str) -> list[str]:
    if fmt == "raw":
        return [t.prompt for t in tasks]
    return [chat_prompt(engine, CHAT_INSTRUCTION + f"```python\n{t.prompt}```") for t in tasks]


def model_tests(engine: Engine, tasks: list[EvalTask], n_tests: int, seed: int, *, generate=None) -> list[list[str]]:
    """CodeT-style: the model writes asserts for each task from its prompt alone (never the hidden tests).
    `generate(prompts, params)`: the caller's way to generate them (kept across a resume), else the engine's."""
    prompts = [
        f"{t.prompt.rstrip()}\n    pass\n\n\n# check the correctness of {t.entry_point}\nassert {t.entry_point}("
        for t in tasks
    ]
    params = SamplingParams(
        n=n_tests, temperature=0.8, top_p=0.95, max_tokens=64, stop=["\n"], seed=stream(seed, "eval_tests")
    )
    out = []
    for t, cs in zip(tasks, (generate or engine.generate)(prompts, params)):
        tests = []
        for c in cs:
            src = f"assert {t.entry_point}(" + c.text.strip()
            try:
                node = ast.parse(src).body[0]
            except (*HOSTILE, IndexError):
                continue
            if isinstance(node, ast.Assert) and src not in tests:
                tests.append(src)
        out.append(tests)
    return out


def rank_samples(programs: list[str], examples_passed: list[int | None], model_passed: list[frozenset]) -> int | None:
    """Visible examples first; then CodeT's dual agreement (samples that pass the same model-written tests
    form a group scored by group size x tests passed); then the most common program; then the first.
    A sample the sandbox could not judge (None) is not ranked: it never counts as "0 examples passed"."""
    ranked = [j for j in range(len(programs)) if examples_passed[j] is not None]
    if not ranked:
        return None
    groups: dict[frozenset, int] = {}
    for j in ranked:
        groups[model_passed[j]] = groups.get(model_passed[j], 0) + 1
    common = {p: programs.count(p) for p in programs}
    return max(
        ranked,
        key=lambda j: (examples_passed[j], groups[model_passed[j]] * len(model_passed[j]), common[programs[j]], -j),
    )


def _select(
    tasks: list[EvalTask], programs: list[list[str]], written: list[list[str]] | None = None
) -> list[int | None]:
    """A deployable best-of-n selector that never sees hidden tests (see rank_samples)."""
    written = written or [[] for _ in tasks]
    jobs, owners = [], []
    for i, (t, ps) in enumerate(zip(tasks, programs)):
        if len(ps) > 1:
            setup = t.base_setup if t.bench.startswith("mbpp") else ""
            for j, p in enumerate(ps):
                jobs.append(Job(p, t.examples + written[i], 5.0, setup=setup, shadow=(t.entry_point,)))
                owners.append((i, j))
    examples: dict[int, list[int | None]] = {i: [0] * len(ps) for i, ps in enumerate(programs)}
    agreed = {i: [frozenset()] * len(ps) for i, ps in enumerate(programs)}
    for (i, j), v in zip(owners, judge_many(jobs)):  # judge_many retries a sandbox error once
        if v.infrastructure_failure:
            examples[i][j] = None
            continue
        n_ex = len(tasks[i].examples)
        examples[i][j] = sum(r.outcome == "passed" for r in v.tests[:n_ex])
        agreed[i][j] = frozenset(r.index for r in v.tests[n_ex:] if r.outcome == "passed")
    return [rank_samples(ps, examples[i], agreed[i]) if ps else None for i, ps in enumerate(programs)]


class CodeKit:
    """How a code benchmark is loaded, prompted, cut and scored: programs judged in the sandbox against
    the hidden tests; best-of-n by visible examples and model-written tests."""

    selector = "visible prompt examples, then CodeT agreement on model-written tests, then the most common program"
    load = staticmethod(load_tasks)
    prompts = staticmethod(_prompts)

    def stop(self, tasks, fmt: str) -> list[str]:
        return tasks[0].stop if fmt == "raw" else []

    def from_rows(self, tasks, rows: list[list[dict]], fmt: str):
        return [[solution_field(t, s) for s in rs] for t, rs in zip(tasks, rows)]

    def from_texts(self, tasks, texts: list[list[str]], fmt: str):
        return [[program(t, x, fmt) for x in xs] for t, xs in zip(tasks, texts)]

    def helpers(self, engine, tasks, n: int, count: int, seed: int, *, generate=None):
        return model_tests(engine, tasks, count, seed, generate=generate) if n > 1 and count else None

    def score(self, tasks, texts, programs, written):
        limits = time_limits(tasks)
        results = score(tasks, programs, limits)
        choice = _select(tasks, programs, written) if max((len(p) for p in programs), default=1) > 1 else None
        return results, choice, limits

    def extra(self, results) -> dict:
        return {}

    def sample_row(self, task, text: str, fmt: str) -> dict:
        return {"solution": program(task, text, fmt)}  # the full program that was judged
