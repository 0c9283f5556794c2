"""`eval`: generate for each benchmark task, judge every sample in the sandbox, report pass@1 (greedy) or
unbiased pass@k, and, separately, test-time selection (best-of-n). Results keep every sample."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from ..engine import Engine, SamplingParams
from ..provenance import stamp
from ..sandbox import Job, judge_many
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


def _select(tasks: list[EvalTask], programs: list[list[str]]) -> list[int | None]:
    """A deployable best-of-n selector that never sees hidden tests: the sample passing most of the examples
    visible in the prompt (docstring examples / the shown assert); ties go to the most common program."""
    jobs, owners = [], []
    for i, (t, ps) in enumerate(zip(tasks, programs)):
        if len(ps) > 1 and t.examples:
            for j, p in enumerate(ps):
                jobs.append(Job(f"{p}\n{t.base_setup if t.bench.startswith('mbpp') else ''}", t.examples, 5.0))
                owners.append((i, j))
    scores: dict[int, list[int]] = {}
    for (i, j), v in zip(owners, judge_many(jobs)):
        scores.setdefault(i, [0] * len(programs[i]))[j] = sum(r.outcome == "passed" for r in v.tests)
    choice: list[int | None] = []
    for i, ps in enumerate(programs):
        if i not in scores:
            choice.append(0 if ps else None)
            continue
        common = {p: ps.count(p) for p in ps}
        choice.append(max(range(len(ps)), key=lambda j: (scores[i][j], common[ps[j]], -j)))
    return choice


def summarise(tasks: list[EvalTask], results: list[list[SampleResult | None]], n: int, choice=None) -> dict:
    counts = [(sum(r is not None for r in rs), sum(bool(r and r.passed) for r in rs)) for rs in results]
    base = [(sum(r is not None for r in rs), sum(bool(r and r.base_passed) for r in rs)) for rs in results]
    greedy_like = [rs[0].passed for rs in results if rs and rs[0] is not None]
    out = {
        "tasks": len(tasks), "unscored_samples": sum(r is None for rs in results for r in rs),
        "pass@1": mean_pass_at_k(counts, 1), "base_pass@1": mean_pass_at_k(base, 1),
        "pass@k": {str(k): mean_pass_at_k(counts, k) for k in (1, 2, 5, 10, 20, 100) if k <= n},
        "pass@1_ci95": wilson(sum(greedy_like), len(greedy_like)) if n == 1 else None,
        "solved_first_sample": sum(greedy_like),
    }  # fmt: skip
    if n > 1:
        oracle = sum(any(r and r.passed for r in rs) for rs in results)
        picked = [results[i][c].passed if c is not None and results[i][c] is not None else False for i, c in enumerate(choice)]
        out["best_of_n"] = {"n": n, "oracle_pass@n": oracle / len(tasks), "selector_pass": sum(picked) / len(tasks),
                            "selector": "visible prompt examples, ties to the most common program"}  # fmt: skip
    return out


def evaluate(engine: Engine | None, benches: list[str], fmt: str = "raw", n: int = 1, temperature: float = 0.0,
             top_p: float = 0.95, max_tokens: int = 512, seed: int = 0, limit: int | None = None,
             adapter: str | None = None, data_dir=None, progress: bool = True, samples: dict | None = None,
             echo: Callable[[str], None] = print) -> dict:  # fmt: skip
    """With `samples` ({bench: [EvalPlus sample rows]}), scores given completions and generates nothing."""
    if n > 1 and temperature == 0:
        raise ValueError("n > 1 needs --temperature > 0 (greedy samples are identical)")
    report = {
        "format": fmt, "engine": engine.info() if engine else {"backend": "samples"}, "adapter": adapter,
        "sampling": {"n": n, "temperature": temperature, "top_p": top_p, "max_tokens": max_tokens, "seed": seed},
        "limit": limit, **stamp(), "benches": {},
    }  # fmt: skip
    cache: dict[str, list] = {}
    for bench in benches:
        tasks, digest = load_tasks(bench, data_dir)
        if limit:
            tasks = tasks[:limit]
        if samples is not None:
            by_id: dict[str, list[dict]] = {}
            for row in samples[bench]:
                by_id.setdefault(row["task_id"], []).append(row)
            tasks = [t for t in tasks if t.task_id in by_id]
            programs = [[solution_field(t, s) for s in by_id[t.task_id]] for t in tasks]
            texts = [[s.get("solution") or s.get("completion", "") for s in by_id[t.task_id]] for t in tasks]
        else:
            prompts = _prompts(engine, tasks, fmt)
            todo = [p for p in dict.fromkeys(prompts) if p not in cache]  # humaneval and humaneval+ share prompts
            if todo:
                params = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens,
                                        stop=tasks[0].stop if fmt == "raw" else [], seed=seed)  # fmt: skip
                for p, cs in zip(todo, engine.generate(todo, params, adapter=adapter, progress=progress)):
                    cache[p] = cs
            texts = [[c.text for c in cache[p]] for p in prompts]
            programs = [[program(t, x, fmt) for x in xs] for t, xs in zip(tasks, texts)]
        limits = time_limits(tasks)
        results = score(tasks, programs, limits)
        choice = _select(tasks, programs) if n > 1 else None
        summary = summarise(tasks, results, max(len(p) for p in programs) if programs else n, choice)
        summary.update(data_sha256=digest, subset=bool(limit), per_task=[
            {"task_id": t.task_id, "time_limit_s": limits[t.task_id], "samples": [
                {"completion": x, **(r.__dict__ if r else {"status": "sandbox_error", "passed": None})}
                for x, r in zip(xs, rs)]}
            for t, xs, rs in zip(tasks, texts, results)])  # fmt: skip
        report["benches"][bench] = summary
        echo(f"{bench} ({fmt}{', first ' + str(limit) if limit else ''}): pass@1 {summary['pass@1']:.1%} "
             f"over {len(tasks)} tasks" + (f", best-of-{n} oracle {summary['best_of_n']['oracle_pass@n']:.1%}, "
                                           f"selector {summary['best_of_n']['selector_pass']:.1%}" if n > 1 else ""))  # fmt: skip
    return report


def markdown(report: dict) -> str:
    rows = ["| bench | format | tasks | pass@1 | 95% CI | base tests only | best-of-n oracle | best-of-n selector |",
            "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for bench, s in report["benches"].items():
        ci = s.get("pass@1_ci95")
        bon = s.get("best_of_n") or {}
        rows.append(
            f"| {bench}{' (subset)' if s.get('subset') else ''} | {report['format']} | {s['tasks']} | {s['pass@1']:.1%} | "
            + (f"{ci[0]:.1%} - {ci[1]:.1%}" if ci else "-") + f" | {s['base_pass@1']:.1%} | "
            + (f"{bon['oracle_pass@n']:.1%}" if bon else "-") + " | " + (f"{bon['selector_pass']:.1%}" if bon else "-") + " |"
        )
    who = report["engine"].get("model", "?") + (f" + adapter {report['adapter']}" if report.get("adapter") else "")
    return f"**{who}**, {report['format']} format, sampling {report['sampling']}\n\n" + "\n".join(rows) + "\n"


def write(report: dict, out: str | Path) -> None:
    out = Path(out)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(report, indent=1))
    tmp.replace(out)
    out.with_suffix(".md").write_text(markdown(report))
