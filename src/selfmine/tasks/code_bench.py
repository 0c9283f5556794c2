"""Benchmark tasks in one shape: the prompt a model sees, how a program is judged (base tests, and the
extra inputs of the "plus" variants), and the docstring examples a test-time selector may use."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..datasets import bench_file, load

BENCHES = ("humaneval", "humaneval+", "mbpp", "mbpp+")
HUMANEVAL_STOP = ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert", "\nimport ", "\nfrom "]
MBPP_STOP = ['\n"""', "\nassert", "\nif __name__", "\nprint(", "\n#", "\n```"]


@dataclass
class EvalTask:
    task_id: str
    bench: str
    prompt: str  # raw-completion prompt, as the benchmark gives it
    entry_point: str
    canonical: str  # full canonical program
    base_setup: str  # test code that runs before the base tests (in the tests' process)
    base_tests: list[str]
    plus_inputs: list = field(default_factory=list)  # base_input + plus_input (plus variants only)
    atol: float = 0.0
    examples: list[str] = field(default_factory=list)  # asserts a selector may use (visible in the prompt)

    @property
    def stop(self) -> list[str]:
        return HUMANEVAL_STOP if self.bench.startswith("humaneval") else MBPP_STOP


def _doctest_examples(prompt: str, entry: str) -> list[str]:
    """`>>> f(x)` followed by an expected line, as asserts (what the prompt shows, nothing hidden)."""
    out, lines = [], prompt.splitlines()
    for i, line in enumerate(lines[:-1]):
        match = re.match(r"\s*>>>\s*(.+)$", line)
        nxt = lines[i + 1].strip()
        if match and entry in match.group(1) and nxt and not nxt.startswith(">>>") and not nxt.startswith('"""'):
            out.append(f"assert {match.group(1).strip()} == {nxt}")
    return out


def _mbpp_prompt(text: str, first_test: str) -> str:
    return f'"""\n{text.strip()}\n{first_test.strip()}\n"""\n'


def load_tasks(bench: str, data_dir=None) -> tuple[list[EvalTask], str]:
    """(tasks, sha256 of the file they came from)."""
    if bench not in BENCHES:
        raise ValueError(f"unknown benchmark {bench!r}: choose from {', '.join(BENCHES)}")
    _, digest = bench_file(bench, data_dir)
    if bench in ("humaneval", "humaneval+"):
        task = _humaneval_task
    elif bench == "mbpp+":
        task = _mbpp_plus_task
    else:  # mbpp (sanitized test split)
        task = _mbpp_task
    return [task(t, bench) for t in load(bench, data_dir)], digest


def _humaneval_task(t, bench: str) -> EvalTask:
    inputs = (t.extra.get("base_input") or []) + (t.extra.get("plus_input") or []) if bench == "humaneval+" else []
    return EvalTask(
        t.task_id,
        bench,
        t.prompt,
        t.entry_point,
        t.prompt + t.canonical_solution,
        t.test,
        [f"check({t.entry_point})"],
        inputs,
        float(t.extra.get("atol") or 0),
        _doctest_examples(t.prompt, t.entry_point),
    )


def _mbpp_plus_task(t, bench: str) -> EvalTask:
    asserts = [a for a in t.extra.get("assertion", "").splitlines() if a.strip().startswith("assert")]
    inputs = (t.extra.get("base_input") or []) + (t.extra.get("plus_input") or [])
    visible = [ln.strip() for ln in t.prompt.splitlines() if ln.strip().startswith("assert")]
    return EvalTask(
        t.task_id,
        bench,
        t.prompt.rstrip() + "\n",
        t.entry_point,
        t.canonical_solution,
        "import math\nimport sys",  # modules MBPP's asserts name without importing them (Mbpp/596: sys)
        asserts,
        inputs,
        float(t.extra.get("atol") or 0),
        visible,
    )


def _mbpp_task(t, bench: str) -> EvalTask:
    tests = t.test.splitlines()
    entry = re.match(r"\s*assert\s+(?:not\s+)?\(?\s*(?:set\()?\s*(?:math\.isclose\()?\s*([A-Za-z_]\w*)", tests[0])
    return EvalTask(
        t.task_id,
        bench,
        _mbpp_prompt(t.prompt, tests[0]),
        entry.group(1) if entry else "",
        t.canonical_solution,
        "\n".join(t.extra.get("test_imports", [])),
        tests,
        examples=[tests[0]],
    )
