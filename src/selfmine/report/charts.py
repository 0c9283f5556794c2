"""Charts as embedded PNGs (matplotlib, no display needed)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..evaluate.pool import format_suffix  # noqa: E402


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def pass_at_1(arms: dict[str, dict[str, float]]) -> str:
    """arms: {arm: {bench: pass@1}} -> grouped bars."""
    benches = sorted({b for v in arms.values() for b in v})
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / max(1, len(arms))
    for i, (arm, vals) in enumerate(arms.items()):
        xs = [j + i * width for j in range(len(benches))]
        ax.bar(xs, [100 * vals.get(b, 0) for b in benches], width, label=arm)
    ax.set_xticks([j + width * (len(arms) - 1) / 2 for j in range(len(benches))], benches)
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(
        bottom=0, top=max(5.0, max((100 * v for vals in arms.values() for v in vals.values()), default=0) * 1.2)
    )
    ax.set_title("pass@1 per arm")
    ax.legend(fontsize=8)
    return _png(fig)


def funnel(steps: list[tuple[str, int]], rejections: dict[str, int]) -> str:
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.bar([s for s, _ in steps], [n for _, n in steps], color="#4c72b0")
    a.set_title("mining funnel")
    for i, (_, n) in enumerate(steps):
        a.text(i, n, str(n), ha="center", va="bottom", fontsize=8)
    items = sorted(rejections.items(), key=lambda kv: -kv[1]) or [("none", 0)]
    b.barh([k for k, _ in items], [v for _, v in items], color="#dd8452")
    b.set_title("rejections by reason")
    b.invert_yaxis()
    return _png(fig)


def curriculum(rounds: list[dict]) -> str:
    """Valid problems per difficulty level (fresh = 0, harder +1, easier -1), one group of bars per round."""
    levels = sorted({int(k) for r in rounds for k in r.get("difficulty", {})} or {0})
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / max(1, len(levels))
    for i, lvl in enumerate(levels):
        xs = [j + i * width for j in range(len(rounds))]
        ax.bar(
            xs,
            [r.get("difficulty", {}).get(str(lvl), 0) for r in rounds],
            width,
            label=f"difficulty {lvl:+d}" if lvl else "difficulty 0 (fresh)",
        )
    ax.set_xticks(
        [j + width * (len(levels) - 1) / 2 for j in range(len(rounds))],
        [f"round {r.get('number', i + 1)}" for i, r in enumerate(rounds)],
    )
    ax.set_ylabel("valid problems")
    ax.set_title("curriculum: difficulty per round")
    ax.legend(fontsize=8)
    return _png(fig)


def pooled_lifts(pooled: dict, *, main: str = "adapter") -> bytes:
    """`selfmine eval pool`'s differences as a forest plot, one panel per score: each comparison's pooled
    difference with its 95% interval (bar), each seed's own difference (dots), zero marked. PNG bytes."""
    benches = [b for b, v in pooled.items() if v["vs_base"]]
    rows = sum(len(_comparisons(pooled[b], main)) for b in benches)
    fig, axes = plt.subplots(len(benches), 1, figsize=(7.5, 0.5 + 1.15 * rows / 3))
    for ax, bench in zip([axes] if len(benches) == 1 else axes, benches):
        items = _comparisons(pooled[bench], main)
        for y, (_, d) in enumerate(items):
            _interval_row(ax, y, d)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(items)), [f"{name} ({_seeds(d['seeds'])})" for name, d in items], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(bench, fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=8)
    fig.supxlabel("difference in pass@1 (points): pooled, 95% CI over tasks; grey dots: each seed", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _comparisons(bench: dict, main: str) -> list[tuple[str, dict]]:
    items = [(f"{arm} - base", d) for arm, d in bench["vs_base"].items()]
    if bench["vs_best_control"]:
        best = bench["best_control"]
        items.append((f"{main}{format_suffix(best)} - {best}", bench["vs_best_control"]))
    return items


def _interval_row(ax, y: int, d: dict) -> None:
    lo, hi = 100 * d["ci95"][0], 100 * d["ci95"][1]
    color = "#c44e52" if lo > 0 or hi < 0 else "#4c72b0"  # red: the interval excludes zero
    ax.plot([lo, hi], [y, y], color=color, lw=2)
    ax.plot([100 * d["diff"]], [y], "o", color=color, ms=6)
    seeds = [100 * x for x in d.get("per_seed", [])]
    ax.plot(seeds, [y + 0.22] * len(seeds), ".", color="grey", ms=5)


def _seeds(n: int) -> str:
    return f"{n} seed" + ("" if n == 1 else "s")
