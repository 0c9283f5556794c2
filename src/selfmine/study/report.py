"""study.json, study.md and study.html (with plots): the numbers, whatever they show."""

from __future__ import annotations

import html
import json
from pathlib import Path


def _pct(x: float) -> str:
    return f"{x:+.1%}"


def _ci(c: list[float]) -> str:
    return f"{c[0]:+.1%} .. {c[1]:+.1%}"


def _bench_md(study: dict, name: str, r: dict) -> list[str]:
    """One benchmark's section: in-domain or transfer, the thresholds, a row per pair count, the diversity."""
    where = (
        f"Transfer: {study['config'].get('domain', 'code')} pairs, a {r['domain']} benchmark."
        if r.get("transfer")
        else f"In-domain: {r.get('domain', 'code')} pairs, a {r.get('domain', 'code')} benchmark."
    )
    md = [
        f"## {name}",
        "",
        where,
        "",
        f"Threshold (oracle best-of-n): **{r['threshold_oracle']}**; (selector): **{r['threshold_selector']}**",
        "",
        "| pairs | tasks | pass@1 gain (CI) | oracle gain (CI) | selector gain (CI) | interaction, oracle (CI) | "
        "per seed | interaction, selector (CI) | left out |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        io, isel = row["interaction_oracle"], row["interaction_selector"]
        md.append(
            f"| {row['pairs']} | {row['tasks']} | {_pct(row['pass@1']['gain']['mean'])} ({_ci(row['pass@1']['gain']['ci95'])}) | "
            f"{_pct(row['oracle']['gain']['mean'])} ({_ci(row['oracle']['gain']['ci95'])}) | "
            f"{_pct(row['selector']['gain']['mean'])} ({_ci(row['selector']['gain']['ci95'])}) | "
            f"{_pct(io['mean'])} ({_ci(io['ci95'])}) | {', '.join(f'{v:+.2f}' for v in io['per_seed'].values())} | "
            f"{_pct(isel['mean'])} ({_ci(isel['ci95'])}) | {row['tasks_left_out']} |"
        )
    md += [
        "",
        "Diversity of the n samples (mean over tasks and seeds):",
        "",
        "| model | distinct programs | pairwise edit distance | first-token entropy (bits) |",
        "|---|---|---|---|",
    ]
    for who, d in r["diversity"].items():
        label = who if who == "base" else f"tuned on {who} pairs"
        md.append(f"| {label} | {d['distinct']:.2f} | {d['edit_distance']:.3f} | {d['first_token_entropy']:.2f} |")
    md.append("")
    return md


def markdown(study: dict) -> str:
    cfg = study["config"]["study"]
    md = [
        "# Study: fine-tuning vs best-of-n sampling",
        "",
        f"Pair counts {cfg['pair_counts']}, seeds {cfg['seeds']}, n = {cfg['n']} at T = {cfg['temperature']}, "
        f"formats {cfg['formats']}, pairs from {cfg['pairs_file'] or 'self-mining'}.",
        "A = base greedy, B = base best-of-n, C = tuned greedy, D = tuned best-of-n; interaction = (D-C)-(B-A), "
        "95% bootstrap interval over tasks (each task keeps its seeds).",
        "",
    ]
    b = study["boundary"]
    md += [
        "## Boundary diagnostics",
        "",
        b.get("note")
        or (
            f"valid rate {b['valid_rate']:.0%} (95% CI {b['valid_ci'][0]:.0%}-{b['valid_ci'][1]:.0%}), mixed-outcome rate "
            f"{b['mixed_rate']:.0%} ({b['mixed_ci'][0]:.0%}-{b['mixed_ci'][1]:.0%}), pairs per proposal "
            f"{b['pairs_per_proposal']:.2f}: {b['verdict']}"
        ),
        "",
    ]
    for name, r in study["benches"].items():
        md += _bench_md(study, name, r)
    return "\n".join(md) + "\n"


def _plots(study: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files, benches = [], {}
    for r in study["benches"].values():
        benches.setdefault(r["bench"], []).append(r)
    for bench, per_format in benches.items():
        fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
        for r in per_format:
            xs = [row["pairs"] for row in r["rows"]]
            for ax, key, title in zip(
                axes,
                ("pass@1", "oracle", "selector"),
                ("gain: pass@1", "gain: best-of-n oracle", "gain: best-of-n selector"),
            ):
                ys = [row[key]["gain"]["mean"] for row in r["rows"]]
                lo = [row[key]["gain"]["ci95"][0] for row in r["rows"]]
                hi = [row[key]["gain"]["ci95"][1] for row in r["rows"]]
                ax.plot(xs, ys, marker="o", label=r["format"])
                ax.fill_between(xs, lo, hi, alpha=0.2)
                ax.set_title(title)
            ys = [row["interaction"]["mean"] for row in r["rows"]]
            axes[3].plot(xs, ys, marker="o", label=r["format"])
            axes[3].fill_between(
                xs,
                [row["interaction"]["ci95"][0] for row in r["rows"]],
                [row["interaction"]["ci95"][1] for row in r["rows"]],
                alpha=0.2,
            )
            axes[3].set_title("interaction (D-C)-(B-A)")
        for ax in axes:
            ax.axhline(0, color="grey", lw=0.8)
            ax.set_xlabel("training pairs")
            ax.legend()
        fig.tight_layout()
        path = out / f"study-{bench.replace('+', 'plus')}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        files.append(path.name)
    return files


def write_report(study: dict, run_dir: Path) -> dict:
    run_dir = Path(run_dir)
    (run_dir / "study.json").write_text(json.dumps(study, indent=2))
    md = markdown(study)
    (run_dir / "study.md").write_text(md)
    plots = _plots(study, run_dir)
    body = "".join(f'<img src="{p}" style="max-width:100%">' for p in plots)
    (run_dir / "study.html").write_text(
        "<!doctype html><meta charset=utf-8><title>selfmine study</title>"
        f"<body style='font-family:sans-serif;max-width:1200px;margin:auto'>{body}<pre>{html.escape(md)}</pre></body>"
    )
    return {"json": str(run_dir / "study.json"), "md": str(run_dir / "study.md"), "html": str(run_dir / "study.html")}
