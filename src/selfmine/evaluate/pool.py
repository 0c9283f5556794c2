"""Pooling one experiment over seeds: each arm against the base, and the adapter against its best control,
over tasks x seeds.

Why a module of its own: a lift measured on one seed says little about a small model (a few flipped tasks),
and averaging p-values over seeds is not a test. Here the unit is the task: for every task, the arm's and
the base's pass rates are averaged over the seeds (each seed is a run: its own mining, training and
evaluation), and the interval is a percentile bootstrap over tasks of those per-task differences, so the
seeds' shared tasks are not counted as independent. McNemar's exact test is given per seed beside it.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..errors import UserError
from .compare import _kinds, _per_task, check_comparable, counts
from .stats import mcnemar_exact, sign_flip_p

BASE = "base"
MAIN = "adapter"
CHAT = "@chat"  # an arm evaluated again through the chat template: `<arm>@chat` (eval.chat_arms)


def format_suffix(arm: str) -> str:
    """ "@chat" for `adapter@chat`, "" for a raw-format arm: arms compare only within one suffix."""
    return arm[arm.index("@") :] if "@" in arm else ""


class PoolError(UserError, ValueError):
    pass


BASE_TESTS = " base tests"  # `mbpp+ base tests`: an EvalPlus bench scored on its original tests only


def _rates(run: dict, arm: str, bench: str) -> dict[str, float]:
    name, key = (bench[: -len(BASE_TESTS)], "base_passed") if bench.endswith(BASE_TESTS) else (bench, "passed")
    if name not in run[arm]["benches"]:
        return {}
    return _per_task(run[arm]["benches"][name], key=key)[0]


def _scores(result: dict) -> list[str]:
    """The benches of a result, and `<bench> base tests` for an EvalPlus bench whose original benchmark was
    not generated separately (MBPP+ scored on MBPP's tests is the MBPP score; HumanEval+ has HumanEval)."""
    benches = result["benches"]
    out = list(benches)
    for bench, r in benches.items():
        plain = bench.rstrip("+")
        has_base = any("base_passed" in s for t in r["per_task"][:1] for s in t["samples"])
        if bench.endswith("+") and plain not in benches and has_base:
            out.append(bench + BASE_TESTS)
    return out


def _interval(diffs: np.ndarray, resamples: int = 10000, seed: int = 0) -> tuple[float, float]:
    idx = np.random.default_rng(seed).integers(0, len(diffs), size=(resamples, len(diffs)))
    lo, hi = np.quantile(diffs[idx].mean(axis=1), [0.025, 0.975])
    return float(lo), float(hi)


def pooled_difference(runs: list[dict], a: str, b: str, bench: str, *, names: list[str] | None = None) -> dict | None:
    """b - a on `bench` over the runs (seeds) that hold both arms and the tasks scored in each of them for
    both, or None where there are none."""
    names = names or [str(i) for i in range(len(runs))]
    held = [(n, r) for n, r in zip(names, runs) if a in r and b in r]
    per_seed = [(_rates(r, a, bench), _rates(r, b, bench)) for _, r in held]
    tasks = sorted(set.intersection(*(set(x) & set(y) for x, y in per_seed))) if per_seed else []
    if not tasks:
        return None
    xa = np.array([[x[t] for t in tasks] for x, _ in per_seed])  # seeds x tasks
    xb = np.array([[y[t] for t in tasks] for _, y in per_seed])
    diffs = (xb - xa).mean(axis=0)
    lo, hi = _interval(diffs)
    binary = [np.isin(np.concatenate([x, y]), (0.0, 1.0)).all() for x, y in zip(xa, xb)]
    mcnemar = [
        mcnemar_exact(int(((x == 1) & (y == 0)).sum()), int(((x == 0) & (y == 1)).sum())) if ok else None
        for x, y, ok in zip(xa, xb, binary)  # n > 1 per task: the pooled sign-flip test covers it
    ]
    flips = _flips([r for _, r in held], a, b, bench, tasks, xa, xb) if all(binary) else {}
    return {
        "tasks": len(tasks),
        "seeds": len(held),
        "seed_names": [n for n, _ in held],
        "a": float(xa.mean()),
        "b": float(xb.mean()),
        "diff": float(diffs.mean()),
        "ci95": [lo, hi],
        "interval": "bootstrap over tasks of the per-task difference averaged over seeds",
        "p": sign_flip_p(list(xa.mean(axis=0)), list(xb.mean(axis=0))),
        "test": "sign-flip permutation over tasks",
        "mcnemar_p_per_seed": mcnemar,
        "per_seed": [float((y - x).mean()) for x, y in zip(xa, xb)],  # each seed's own b - a on these tasks
        **flips,
    }


def _flips(runs, a, b, bench, tasks, xa, xb) -> dict:
    """Greedy: the tasks fixed and broken over the seeds, with how they failed on the failing side
    (compare.failure_kind), summed over seeds. Not for `<bench> base tests`, whose samples' verdicts are
    the plus tests'."""
    if bench.endswith(BASE_TESTS):
        return {}
    fixed_from, broken_to, fixed, broken = Counter(), Counter(), 0, 0
    for r, x, y in zip(runs, xa, xb):
        up = [t for t, p, q in zip(tasks, x, y) if p == 0 and q == 1]
        down = [t for t, p, q in zip(tasks, x, y) if p == 1 and q == 0]
        fixed_from.update(_kinds(r[a]["benches"][bench], up))
        broken_to.update(_kinds(r[b]["benches"][bench], down))
        fixed, broken = fixed + len(up), broken + len(down)
    return {
        "fixed": fixed,
        "broken": broken,
        "fixed_from": dict(fixed_from.most_common()),
        "broken_to": dict(broken_to.most_common()),
    }


def pool(runs: list[dict[str, dict]], *, main: str = MAIN, base: str = BASE, names: list[str] | None = None) -> dict:
    """{bench: {"vs_base": {arm: difference}, "vs_best_control": difference | None, "best_control": arm}}
    for runs given as {arm: results JSON} (one per seed, named by `names`). Arms evaluated through the chat
    template (`<arm>@chat`) are compared with `base@chat`, under `<bench>@chat`. Seeds may be at different
    stages: each comparison pools the seeds that hold both of its arms, and says which (`seed_names`). An arm
    must have been evaluated the same way (format, limit, sampling) on every seed and as its base."""
    if not runs:
        raise PoolError("no runs to pool")
    names = names or [f"run {i}" for i in range(len(runs))]
    for n, r in zip(names, runs):
        if base not in r:
            raise PoolError(f"{n} has no {base!r} arm to compare with (arms: {', '.join(sorted(r)) or 'none'})")
    models = {n: r[base].get("engine", {}).get("model") for n, r in zip(names, runs)}
    if len(set(models.values())) > 1:
        raise PoolError(
            "the runs evaluate different models: " + ", ".join(f"{n}: {model}" for n, model in models.items())
        )
    arms = set().union(*runs)
    for arm in arms:  # every seed evaluated an arm like the first seed that has it did
        held = [r[arm] for r in runs if arm in r]
        for result in held[1:]:
            check_comparable(held[0], result)
    out = {}
    for suffix in sorted({format_suffix(a) for a in arms}):  # "" (raw), "@chat"
        group = {a for a in arms if format_suffix(a) == suffix}
        if base + suffix not in group:
            continue
        for r in runs:
            if base + suffix not in r:
                continue  # e.g. a seed whose chat base is not evaluated yet: its chat arms pool nowhere
            for a in group & set(r):
                check_comparable(r[base + suffix], r[a])
        first = next(r for r in runs if base + suffix in r)
        for bench in _scores(first[base + suffix]):
            out[bench + suffix] = _bench(runs, bench, group, base=base + suffix, main=main + suffix, names=names)
    return out


def _bench(runs, bench, group, *, base, main, names) -> dict:
    vs_base = {arm: pooled_difference(runs, base, arm, bench, names=names) for arm in sorted(group - {base})}
    vs_base = {k: v for k, v in vs_base.items() if v is not None}
    controls = [k for k in vs_base if k.startswith("control-")]
    best = _best_control(runs, bench, controls, base=base, main=main)
    return {
        "vs_base": vs_base,
        "controls": controls,  # the controls the best was chosen from: one alone is no choice, and says so
        "best_control": best,
        "vs_best_control": pooled_difference(runs, best, main, bench, names=names) if best and main in group else None,
    }


def _best_control(runs, bench, controls, *, base, main) -> str | None:
    """The control with the highest pass rate, compared on the seeds that hold every control (and the main
    arm), so that seeds at different stages do not decide it. Where no seed holds them all, the one with the
    largest gain over the base on its own seeds (raw rates of different seeds would compare their bases)."""
    if not controls:
        return None
    common = [r for r in runs if all(a in r for a in (*controls, main))]
    if common:
        rates = {c: pooled_difference(common, base, c, bench) for c in controls}
        if all(rates.values()):
            return max(controls, key=lambda c: rates[c]["b"])
    gains = {c: pooled_difference(runs, base, c, bench) for c in controls}
    return max(controls, key=lambda c: gains[c]["diff"])


def markdown(pooled: dict, *, main: str = MAIN) -> str:
    rows = [
        "| bench | comparison | tasks x seeds | A | B | B - A (95% CI) | p | McNemar p per seed |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def line(bench, name, d):
        seeds = ", ".join("-" if p is None else f"{p:.3g}" for p in d["mcnemar_p_per_seed"])
        which = f" ({', '.join(d['seed_names'])})" if d.get("seed_names") else ""
        rows.append(
            f"| {bench} | {name} | {d['tasks']} x {d['seeds']}{which} | {d['a']:.1%} | {d['b']:.1%} | {d['diff']:+.1%} "
            f"({d['ci95'][0]:+.1%} .. {d['ci95'][1]:+.1%}) | {d['p']:.3g} | {seeds} |"
        )

    notes = []
    for bench, b in pooled.items():
        for arm, d in b["vs_base"].items():
            line(bench, f"{arm} vs base", d)
            if arm == main + format_suffix(bench) and "fixed_from" in d:
                notes.append(_flip_note(bench, arm, d))
        if b["vs_best_control"]:
            which = "best control" if len(b.get("controls", ())) > 1 else "its only control"
            line(bench, f"**{main}{format_suffix(bench)} vs {which} ({b['best_control']})**", b["vs_best_control"])
    return "\n".join(rows) + "\n" + ("\n" + "\n".join(notes) + "\n" if notes else "")


def _flip_note(bench: str, arm: str, d: dict) -> str:
    return (
        f"- {bench}, {arm} vs base{format_suffix(arm)}, over the seeds: {d['fixed']} fixed (in the base: {counts(d['fixed_from'])}), "
        f"{d['broken']} broken (in {arm}: {counts(d['broken_to'])})"
    )
