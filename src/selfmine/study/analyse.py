"""From the arms' results to the study's numbers: gains over the base per pair count and decoding, the
interaction with its interval and per-seed values, the threshold, diversity, and the boundary diagnostics.
Unscored samples follow the rule used everywhere: a task with nothing scored in some arm leaves the
comparison for that pair count, and the number left out is reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..evaluate.compare import IncomparableResults, check_comparable
from ..funnel import total_stats
from ..ledger.rundir import RunDir
from ..tasks.registry import bench_domain
from .diversity import diversity
from .plan import Arm
from .stats import bootstrap_tasks, gain, interaction_table, threshold


def _outcomes(result: dict, bench: str) -> dict[str, dict]:
    """{task: {"greedy": 0/1/None (first sample), "oracle": 0/1/None, "selector": 0/1/None, "samples": [...]}}."""
    out = {}
    for t in result["benches"][bench]["per_task"]:
        passed = [s.get("passed") for s in t["samples"]]
        scored = [p for p in passed if p is not None]
        sel = t.get("selected")
        out[t["task_id"]] = {
            "greedy": None if not passed or passed[0] is None else float(passed[0]),
            "oracle": float(any(scored)) if scored else None,
            "selector": None if sel is None or passed[sel] is None else float(passed[sel]),
            "samples": [s.get("completion", "") for s in t["samples"]],
        }
    return out


def _check(arms: list[Arm], results: dict) -> None:
    """The arms of one format and decoding were evaluated alike (they are compared with each other; a raw
    and a chat arm never are, so a study with both formats is checked per format)."""
    for fmt, decoding in sorted({(a.fmt, a.decoding) for a in arms}):
        group = [results[a.key] for a in arms if (a.fmt, a.decoding) == (fmt, decoding)]
        for other in group[1:]:
            try:
                check_comparable(group[0], other)
            except IncomparableResults as e:
                raise IncomparableResults(f"study arms evaluated differently ({fmt}, {decoding}): {e}") from None


def _boundary(run_dir: Path) -> dict:
    with RunDir(run_dir).ledger() as ledger:
        rounds = [r["stats"] for r in ledger.mining_rounds() if r["stats"]]
    if not rounds:
        return {"note": "no mining in this study (pairs from a file): the boundary was not measured"}
    t = total_stats(rounds)
    b = t["boundary"]
    return {
        "valid_rate": b["valid_rate"],
        "valid_ci": b["valid_ci"],
        "mixed_rate": b["mixed_rate"],
        "mixed_ci": b["mixed_ci"],
        "pairs_per_proposal": b["pairs_per_proposal"],
        "pairs_per_proposal_ci": b["pairs_per_proposal_ci"],
        "position": b["position"],
        "verdict": b["verdict"],
        "proposed": t["proposed"],
        "pairs": t["pairs"],
    }


def _fields(k: int) -> tuple:
    """(decoding, pair count, outcome) each comparison of pair count `k` needs: A greedy base, B sampled
    base (oracle and selector), C greedy tuned, D sampled tuned."""
    return (
        ("greedy", 0, "greedy"),
        ("sample", 0, "oracle"),
        ("sample", 0, "selector"),
        ("greedy", k, "greedy"),
        ("sample", k, "oracle"),
        ("sample", k, "selector"),
    )


def _kept(cache: dict, fmt: str, seeds: list, k: int) -> tuple[list[str], int]:
    """The tasks every arm of pair count `k` (and the base) scored in every field, and how many of the
    tasks they share were left out for an unscored one."""
    keys = [
        (fmt, sd, dec, p) for sd in seeds for dec, p in (("greedy", 0), ("sample", 0), ("greedy", k), ("sample", k))
    ]
    tasks = sorted(set.intersection(*(set(cache[key]) for key in keys)))
    keep = [
        t
        for t in tasks
        if all(cache[(fmt, sd, dec, pairs)][t][field] is not None for sd in seeds for dec, pairs, field in _fields(k))
    ]
    return keep, len(tasks) - len(keep)


def _row(cache: dict, fmt: str, seeds: list, k: int, *, keep: list[str], left_out: int, resamples: int) -> dict:
    """Pair count `k`'s gains over the base and its interaction (D-C)-(B-A), for the oracle and the selector."""

    def table(dec: str, pairs: int, field: str) -> np.ndarray:
        return np.array([[cache[(fmt, sd, dec, pairs)][t][field] for sd in seeds] for t in keep])

    A, C = table("greedy", 0, "greedy"), table("greedy", k, "greedy")
    row = {"pairs": k, "tasks": len(keep), "tasks_left_out": left_out}
    for label, field in (("oracle", "oracle"), ("selector", "selector")):
        B, D = table("sample", 0, field), table("sample", k, field)
        inter = interaction_table(A, B, C, D)
        mean, lo, hi = bootstrap_tasks(inter, resamples)
        row[f"interaction_{label}"] = {
            "mean": mean,
            "ci95": [lo, hi],
            "per_seed": {str(sd): float(inter[:, j].mean()) for j, sd in enumerate(seeds)},
        }
        row[label] = {"base": float(B.mean()), "tuned": float(D.mean()), "gain": gain(B, D, resamples)}
    row["pass@1"] = {"base": float(A.mean()), "tuned": float(C.mean()), "gain": gain(A, C, resamples)}
    row["interaction"] = row["interaction_oracle"]
    return row


def _diversity(cache: dict, fmt: str, seeds: list, counts: list[int]) -> dict:
    """The sampled arms' diversity per pair count (the base as "base"), averaged over seeds."""
    div = {}
    for pairs in [0] + counts:
        per_seed = [diversity([o["samples"] for o in cache[(fmt, sd, "sample", pairs)].values()]) for sd in seeds]
        div["base" if pairs == 0 else str(pairs)] = {
            metric: float(np.mean([d[metric] for d in per_seed]))
            for metric in ("distinct", "edit_distance", "first_token_entropy")
        }
    return div


def _bench(cfg, by: dict, fmt: str, bench: str, *, seeds: list, counts: list[int]) -> dict:
    """One benchmark in one format: a row per pair count, the thresholds, the diversity, the domain."""
    cache = {key: _outcomes(r, bench) for key, r in by.items() if key[0] == fmt}
    rows = []
    for k in counts:
        keep, left_out = _kept(cache, fmt, seeds, k)
        if keep:
            rows.append(_row(cache, fmt, seeds, k, keep=keep, left_out=left_out, resamples=cfg.study.resamples))
    measured = bench_domain(bench)
    return {
        "bench": bench,
        "format": fmt,
        "domain": measured,
        "transfer": measured != cfg.domain,  # pairs of one domain, benchmark of the other
        "rows": rows,
        "threshold_oracle": threshold(rows),
        "threshold_selector": threshold([{**r, "interaction": r["interaction_selector"]} for r in rows]),
        "diversity": _diversity(cache, fmt, seeds, counts),
    }


def analyse(cfg, arms: list[Arm], results: dict, run_dir: Path) -> dict:
    s = cfg.study
    _check(arms, results)
    seeds, counts = list(s.seeds), sorted({k for k in s.pair_counts if k > 0})
    by = {(a.fmt, a.seed, a.decoding, a.adapter.pairs if a.adapter else 0): results[a.key] for a in arms}
    out = {"config": cfg.model_dump(mode="json"), "benches": {}, "boundary": _boundary(run_dir)}
    for fmt in s.formats:
        for bench in cfg.eval.benches:
            out["benches"][f"{bench} ({fmt})"] = _bench(cfg, by, fmt, bench, seeds=seeds, counts=counts)
    return out
