"""`eval`: generate for each benchmark task, judge every sample in the sandbox, report pass@1 (greedy) or
unbiased pass@k, and, separately, test-time selection (best-of-n). Results keep every sample."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from pathlib import Path

from ..engine import Engine, SamplingParams
from ..provenance import stamp
from ..sandbox import Job, judge_many
from ..seeds import stream
from ..tasks.code import HOSTILE
from ..tasks.registry import bench_domain
from . import math_bench
from .data import EvalTask, load_tasks
from .programs import program, solution_field
from .score import SampleResult, score, time_limits
from .stats import mean_pass_at_k, wilson

CHAT_INSTRUCTION = "Complete the following Python code. Answer with the whole function in one ```python block.\n\n"


def _prompts(engine: Engine, tasks: list[EvalTask], fmt: str) -> list[str]:
    if fmt == "raw":
        return [t.prompt for t in tasks]
    from ..engine.chat import chat_prompt

    return [chat_prompt(engine, CHAT_INSTRUCTION + f"```python\n{t.prompt}```") for t in tasks]


def model_tests(engine: Engine, tasks: list[EvalTask], n_tests: int, seed: int) -> list[list[str]]:
    """CodeT-style: the model writes asserts for each task from its prompt alone (never the hidden tests)."""
    prompts = [
        f"{t.prompt.rstrip()}\n    pass\n\n\n# check the correctness of {t.entry_point}\nassert {t.entry_point}("
        for t in tasks
    ]
    params = SamplingParams(
        n=n_tests, temperature=0.8, top_p=0.95, max_tokens=64, stop=["\n"], seed=stream(seed, "eval_tests")
    )
    out = []
    for t, cs in zip(tasks, engine.generate(prompts, params)):
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


def summarise(tasks: list[EvalTask], results: list[list[SampleResult | None]], n: int, choice=None) -> dict:
    counts = [(sum(r is not None for r in rs), sum(bool(r and r.passed) for r in rs)) for rs in results]
    base = [(sum(r is not None for r in rs), sum(bool(r and r.base_passed) for r in rs)) for rs in results]
    greedy_like = [rs[0].passed for rs in results if rs and rs[0] is not None]
    out = {
        "tasks": len(tasks),
        "unscored_samples": sum(r is None for rs in results for r in rs),
        "pass@1": mean_pass_at_k(counts, 1),
        "base_pass@1": mean_pass_at_k(base, 1),
        "pass@k": {str(k): mean_pass_at_k(counts, k) for k in (1, 2, 5, 10, 20, 100) if k <= n},
        "pass@1_ci95": wilson(sum(greedy_like), len(greedy_like)) if n == 1 else None,
        "solved_first_sample": sum(greedy_like),
    }
    if n > 1:
        # the same rule as pass@k: what the sandbox could not judge is left out, never counted as a failure
        scored = [rs for rs in results if any(r is not None for r in rs)]
        oracle = sum(any(r and r.passed for r in rs) for rs in scored)
        picked = [results[i][c].passed for i, c in enumerate(choice) if c is not None and results[i][c] is not None]
        out["best_of_n"] = {
            "n": n,
            "oracle_pass@n": oracle / max(1, len(scored)),
            "selector_pass": sum(picked) / max(1, len(picked)),
            "tasks_left_out": {"oracle": len(tasks) - len(scored), "selector": len(tasks) - len(picked)},
            "selector": "visible prompt examples, then CodeT agreement on model-written tests, "
            "then the most common program",
        }
    return out


class CodeKit:
    """How a code benchmark is loaded, prompted, cut and scored: programs judged in the sandbox against
    the hidden tests; best-of-n by visible examples and model-written tests."""

    load = staticmethod(load_tasks)
    prompts = staticmethod(_prompts)

    def stop(self, tasks, fmt: str) -> list[str]:
        return tasks[0].stop if fmt == "raw" else []

    def from_rows(self, tasks, rows: list[list[dict]], fmt: str):
        return [[solution_field(t, s) for s in rs] for t, rs in zip(tasks, rows)]

    def from_texts(self, tasks, texts: list[list[str]], fmt: str):
        return [[program(t, x, fmt) for x in xs] for t, xs in zip(tasks, texts)]

    def helpers(self, engine, tasks, n: int, count: int, seed: int):
        return model_tests(engine, tasks, count, seed) if n > 1 and count else None

    def score(self, tasks, texts, programs, digest, limit, n, written) -> dict:
        limits = time_limits(tasks)
        results = score(tasks, programs, limits)
        choice = _select(tasks, programs, written) if max((len(p) for p in programs), default=1) > 1 else None
        return _summary(tasks, results, texts, choice, limits, digest, limit, n, written)


class MathKit:
    """How a math benchmark is loaded, prompted, cut and scored: final answers checked by math-verify;
    best-of-n by majority vote over equivalent answers."""

    load = staticmethod(math_bench.load_tasks)
    prompts = staticmethod(math_bench.prompts)

    def stop(self, tasks, fmt: str) -> list[str]:
        return math_bench.stop(fmt)

    def from_rows(self, tasks, rows, fmt):
        return None  # the text is what is scored

    def from_texts(self, tasks, texts, fmt):
        return None

    def helpers(self, engine, tasks, n, count, seed):
        return None

    def score(self, tasks, texts, programs, digest, limit, n, written) -> dict:
        results = math_bench.score(tasks, texts)
        choice = math_bench.select(texts) if max((len(x) for x in texts), default=1) > 1 else None
        summary = _summary(tasks, results, texts, choice, {}, digest, limit, n, None)
        summary["undecided_samples"] = sum(r is not None and r.status == "undecided" for rs in results for r in rs)
        if "best_of_n" in summary:
            summary["best_of_n"]["selector"] = "majority vote over math-verify-equivalent final answers"
        return summary


KITS = {"code": CodeKit(), "math": MathKit()}  # by the domain a benchmark measures (tasks.registry.bench_domain)


def _summary(tasks, results, texts, choice, limits, digest, limit, n, written) -> dict:
    summary = summarise(tasks, results, max((len(x) for x in texts), default=n), choice)
    summary.update(
        data_sha256=digest,
        subset=bool(limit),
        model_written_tests=sum(map(len, written or [])),
        per_task=[
            {
                "task_id": t.task_id,
                "time_limit_s": limits.get(t.task_id),
                "selected": choice[i] if choice else None,  # the best-of-n selector's pick (sample index)
                "samples": [
                    {"completion": x, **(r.__dict__ if r else {"status": "sandbox_error", "passed": None})}
                    for x, r in zip(xs, rs)
                ],
            }
            for i, (t, xs, rs) in enumerate(zip(tasks, texts, results))
        ],
    )
    return summary


def evaluate(
    engine: Engine | None,
    benches: list[str],
    *,
    fmt: str = "raw",
    n: int = 1,
    temperature: float = 0.0,
    top_p: float = 0.95,
    max_tokens: int = 512,
    seed: int = 0,
    limit: int | None = None,
    adapter: str | None = None,
    data_dir=None,
    progress: bool = True,
    samples: dict | None = None,
    model_written_tests: int = 8,
    echo: Callable[[str], None] = print,
) -> dict:
    """With `samples` ({bench: [EvalPlus sample rows]}), scores given completions and generates nothing."""
    if n > 1 and temperature == 0 and samples is None:
        raise ValueError("n > 1 needs --temperature > 0 (greedy samples are identical)")
    sampling = {"n": n, "temperature": temperature, "top_p": top_p, "max_tokens": max_tokens, "seed": seed}
    if samples is not None:  # made elsewhere: how they were sampled is not known here, and not made up
        sampling = {k: None for k in sampling} | {"n": n, "source": "samples file"}
    report = {
        "format": fmt,
        "engine": engine.info() if engine else {"backend": "samples"},
        "adapter": adapter,
        "sampling": sampling,
        "limit": limit,
        **stamp(),
        "benches": {},
    }
    cache: dict[str, list] = {}  # prompt -> completions: humaneval and humaneval+ share their prompts
    pending = []
    # Judging one benchmark (sandbox processes) overlaps with generating the next one.
    with ThreadPoolExecutor(max_workers=1) as judge_thread:
        for bench in benches:
            kit = KITS[bench_domain(bench)]
            tasks, digest = kit.load(bench, data_dir)
            tasks = tasks[:limit] if limit else tasks
            if samples is not None:
                tasks, texts, programs, written = _given(kit, tasks, samples[bench], fmt)
            else:
                params = SamplingParams(
                    n=n,
                    temperature=temperature,
                    top_p=top_p,
                    max_tokens=max_tokens,
                    stop=kit.stop(tasks, fmt),
                    seed=seed,
                )
                texts = _generated(engine, kit, tasks, fmt, params, cache, adapter=adapter, progress=progress)
                programs = kit.from_texts(tasks, texts, fmt)
                written = kit.helpers(engine, tasks, n, model_written_tests, seed)
            # in this thread's context: judging keeps the route of an enclosing `judging_via` (a cluster)
            job = judge_thread.submit(copy_context().run, kit.score, tasks, texts, programs, digest, limit, n, written)
            pending.append((bench, job))
        for bench, future in pending:
            report["benches"][bench] = summary = future.result()
            echo(_said(bench, fmt, limit, n, summary))
    return report


def _given(kit, tasks, rows: list[dict], fmt: str):
    """(tasks, texts, programs, no model-written tests) for samples made elsewhere: only their tasks."""
    by_id: dict[str, list[dict]] = {}
    for row in rows:
        by_id.setdefault(row["task_id"], []).append(row)
    tasks = [t for t in tasks if t.task_id in by_id]
    rows_of = [by_id[t.task_id] for t in tasks]
    texts = [[s.get("solution") or s.get("completion", "") for s in rs] for rs in rows_of]
    return tasks, texts, kit.from_rows(tasks, rows_of, fmt), None


def _generated(engine, kit, tasks, fmt, params, cache: dict, *, adapter, progress) -> list[list[str]]:
    """Each task's completion texts, generating only the prompts no earlier benchmark has generated."""
    prompts = kit.prompts(engine, tasks, fmt)
    todo = [p for p in dict.fromkeys(prompts) if p not in cache]
    if todo:
        for p, cs in zip(todo, engine.generate(todo, params, adapter=adapter, progress=progress)):
            cache[p] = cs
    return [[c.text for c in cache[p]] for p in prompts]


def _said(bench: str, fmt: str, limit, n: int, summary: dict) -> str:
    line = f"{bench} ({fmt}{', first ' + str(limit) if limit else ''}): pass@1 {summary['pass@1']:.1%} over {summary['tasks']} tasks"
    if n > 1:
        best = summary["best_of_n"]
        line += f", best-of-{n} oracle {best['oracle_pass@n']:.1%}, selector {best['selector_pass']:.1%}"
    return line


def markdown(report: dict) -> str:
    rows = [
        "| bench | format | tasks | pass@1 | 95% CI | base tests only | best-of-n oracle | best-of-n selector |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for bench, s in report["benches"].items():
        ci = s.get("pass@1_ci95")
        bon = s.get("best_of_n") or {}
        rows.append(
            f"| {bench}{' (subset)' if s.get('subset') else ''} | {report['format']} | {s['tasks']} | {s['pass@1']:.1%} | "
            + (f"{ci[0]:.1%} - {ci[1]:.1%}" if ci else "-")
            + f" | {s['base_pass@1']:.1%} | "
            + (f"{bon['oracle_pass@n']:.1%}" if bon else "-")
            + " | "
            + (f"{bon['selector_pass']:.1%}" if bon else "-")
            + " |"
        )
    who = report["engine"].get("model", "?") + (f" + adapter {report['adapter']}" if report.get("adapter") else "")
    return f"**{who}**, {report['format']} format, sampling {report['sampling']}\n\n" + "\n".join(rows) + "\n"


def write(report: dict, out: str | Path) -> None:
    out = Path(out)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(report, indent=1))
    tmp.replace(out)
    out.with_suffix(".md").write_text(markdown(report))
