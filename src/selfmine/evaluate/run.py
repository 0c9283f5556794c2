"""`eval`: generate for each benchmark task, judge every sample in the sandbox, report pass@1 (greedy) or
unbiased pass@k, and, separately, test-time selection (best-of-n). Results keep every sample."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from functools import partial
from pathlib import Path

from ..engine import Engine, SamplingParams
from ..provenance import stamp
from ..tasks.base import EvalKit, SampleResult
from ..tasks.registry import bench_kit
from .checkpoint import Checkpoint, tests_path
from .checkpoint import generate as checkpointed
from .checkpoint import key as checkpoint_key
from .stats import mean_pass_at_k, wilson


def summarise(
    tasks: list, results: list[list[SampleResult | None]], n: int, choice=None, *, selector: str = ""
) -> dict:
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
            "selector": selector,
        }
    return out


def _scored(kit: EvalKit, tasks, texts, programs, *, digest, limit, n, written) -> dict:
    """One benchmark's summary: the domain's kit judges the samples and picks one per task; the summary
    is the same for every domain, the kit's own counts last."""
    results, choice, limits = kit.score(tasks, texts, programs, written)
    summary = summarise(tasks, results, max((len(x) for x in texts), default=n), choice, selector=kit.selector)
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
    summary.update(kit.extra(results))
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
    checkpoint: str | Path | None = None,
) -> dict:
    """With `samples` ({bench: [EvalPlus sample rows]}), scores given completions and generates nothing.
    With `checkpoint` (a file), completions are kept there as they are made and a rerun resumes from them
    (`checkpoint.py`); the caller removes it once the result is written."""
    if n > 1 and temperature == 0 and samples is None:
        raise ValueError("n > 1 needs --temperature > 0 (greedy samples are identical)")
    sampling = {"n": n, "temperature": temperature, "top_p": top_p, "max_tokens": max_tokens, "seed": seed}
    if samples is not None:  # made elsewhere: how they were sampled is not known here, and not made up
        sampling = {k: None for k in sampling} | {"n": n, "source": "samples file"}
    report = _header(engine, fmt=fmt, adapter=adapter, sampling=sampling, limit=limit)
    cache: dict[str, list] = {}  # prompt -> completions: humaneval and humaneval+ share their prompts
    pending = []
    # Judging one benchmark (sandbox processes) overlaps with generating the next one.
    with ThreadPoolExecutor(max_workers=1) as judge_thread:
        for bench in benches:
            kit = bench_kit(bench)
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
                store = None
                if checkpoint is not None:
                    store = Checkpoint(checkpoint, checkpoint_key(engine, params, fmt=fmt, adapter=adapter), echo)
                texts = _generated(
                    engine, kit, tasks, fmt, params, cache, adapter=adapter, progress=progress, store=store
                )
                programs = kit.from_texts(tasks, texts, fmt)
                written = kit.helpers(
                    engine, tasks, n, model_written_tests, seed, generate=_tests_generator(engine, checkpoint, echo)
                )
            # in this thread's context: judging keeps the route of an enclosing `judging_via` (a cluster)
            scored = partial(_scored, kit, tasks, texts, programs, digest=digest, limit=limit, n=n, written=written)
            pending.append((bench, judge_thread.submit(copy_context().run, scored)))
        for bench, future in pending:
            report["benches"][bench] = summary = future.result()
            echo(_said(bench, fmt, limit, n, summary))
    return report


def _tests_generator(engine, checkpoint, echo):
    """`generate(prompts, params)` for the model-written tests (written by the base model), kept beside the
    completions' checkpoint so that a resumed arm does not write them again; None without a checkpoint."""
    if checkpoint is None:
        return None

    def generate(prompts, params):
        store = Checkpoint(tests_path(checkpoint), checkpoint_key(engine, params, fmt="tests", adapter=None), echo)
        return checkpointed(engine, prompts, params, adapter=None, progress=False, store=store)

    return generate


def _header(engine, *, fmt: str, adapter, sampling: dict, limit) -> dict:
    """A result's settings and provenance, before any benchmark's summary."""
    return {
        "format": fmt,
        "engine": engine.describe() if engine else {"backend": "samples"},
        "adapter": adapter,
        "sampling": sampling,
        "limit": limit,
        **stamp(),
        "benches": {},
    }


def _given(kit, tasks, rows: list[dict], fmt: str):
    """(tasks, texts, programs, no model-written tests) for samples made elsewhere: only their tasks."""
    by_id: dict[str, list[dict]] = {}
    for row in rows:
        by_id.setdefault(row["task_id"], []).append(row)
    tasks = [t for t in tasks if t.task_id in by_id]
    rows_of = [by_id[t.task_id] for t in tasks]
    texts = [[s.get("solution") or s.get("completion", "") for s in rs] for rs in rows_of]
    return tasks, texts, kit.from_rows(tasks, rows_of, fmt), None


def _generated(engine, kit, tasks, fmt, params, cache: dict, *, adapter, progress, store=None) -> list[list[str]]:
    """Each task's completion texts, generating only the prompts no earlier benchmark has generated."""
    prompts = kit.prompts(engine, tasks, fmt)
    todo = [p for p in dict.fromkeys(prompts) if p not in cache]
    if todo:
        made = checkpointed(engine, todo, params, adapter=adapter, progress=progress, store=store)
        for p, cs in zip(todo, made):
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
