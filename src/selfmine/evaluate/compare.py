"""Comparing two evaluation results task by task: flips, a paired bootstrap CI of the difference, and an
exact McNemar p-value. Also the interaction of two factors (e.g. fine-tuning x best-of-n)."""

from __future__ import annotations

from .stats import mcnemar_exact, paired_bootstrap


def _per_task(bench: dict) -> dict[str, float]:
    out = {}
    for t in bench["per_task"]:
        scored = [s for s in t["samples"] if s.get("passed") is not None]
        out[t["task_id"]] = sum(bool(s["passed"]) for s in scored) / len(scored) if scored else 0.0
    return out


def compare(a: dict, b: dict) -> dict:
    out = {}
    for bench in a["benches"]:
        if bench not in b["benches"]:
            continue
        pa, pb = _per_task(a["benches"][bench]), _per_task(b["benches"][bench])
        ids = sorted(set(pa) & set(pb))
        if not ids:
            continue
        xa, xb = [pa[i] for i in ids], [pb[i] for i in ids]
        fixed = [i for i in ids if pa[i] < 0.5 <= pb[i]]
        broke = [i for i in ids if pb[i] < 0.5 <= pa[i]]
        diff, lo, hi = paired_bootstrap(xa, xb)
        out[bench] = {"tasks": len(ids), "a": sum(xa) / len(ids), "b": sum(xb) / len(ids), "diff": diff,
                      "ci95": [lo, hi], "mcnemar_p": mcnemar_exact(len(broke), len(fixed)),
                      "fixed": fixed, "broken": broke}  # fmt: skip
    return out


def interaction(a: float, b: float, c: float, d: float) -> float:
    """(D - C) - (B - A): how much more factor 2 helps with factor 1 on. A: neither, B: factor 1 only,
    C: factor 2 only, D: both. The reference reported D - B, which is not an interaction."""
    return (d - c) - (b - a)


def markdown(cmp: dict, name_a: str = "A", name_b: str = "B") -> str:
    rows = [f"| bench | tasks | {name_a} | {name_b} | difference (95% CI) | McNemar p | fixed | broken |", "|---|---|---|---|---|---|---|---|"]
    for bench, c in cmp.items():
        rows.append(f"| {bench} | {c['tasks']} | {c['a']:.1%} | {c['b']:.1%} | {c['diff']:+.1%} ({c['ci95'][0]:+.1%} .. "
                    f"{c['ci95'][1]:+.1%}) | {c['mcnemar_p']:.3g} | {len(c['fixed'])} | {len(c['broken'])} |")  # fmt: skip
    return "\n".join(rows) + "\n"
