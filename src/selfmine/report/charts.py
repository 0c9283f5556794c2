"""Charts as embedded PNGs (matplotlib, no display needed)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


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
