"""The run report: one self-contained HTML file (no scripts, charts inlined) and a markdown summary."""

from __future__ import annotations

import difflib
import html
import json
from pathlib import Path

from ..evaluate.compare import compare
from ..funnel import format_stats, total_stats
from ..ledger import MINED_KINDS, Ledger
from . import charts

CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1.5em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;font-size:14px}
th{background:#f3f3f3}.note{color:#555;font-size:13px}details{margin:.4em 0;border:1px solid #ddd;padding:.3em .6em}
summary{cursor:pointer}pre{background:#f7f7f7;padding:.5em;overflow-x:auto;font-size:12px}
table.diff{font-family:monospace;font-size:12px}.diff_add{background:#cfc}.diff_chg{background:#ffc}.diff_sub{background:#fcc}"""


def _load(run_dir: Path) -> dict:
    files = sorted((run_dir / "eval").glob("*.json"), key=lambda f: (f.stem != "base", f.stem != "adapter", f.stem))
    return {f.stem: json.loads(f.read_text()) for f in files}


def _fmt_ci(ci) -> str:
    return f"{ci[0]:.1%} - {ci[1]:.1%}" if ci else "-"


def build_report(run_dir: str | Path) -> dict:
    run_dir = Path(run_dir)
    evals = _load(run_dir)
    ledger = Ledger.in_run_dir(run_dir)
    try:
        rounds = [r["stats"] for r in ledger.mining_rounds() if r["stats"]]  # stored by mining when each round closed
        stats = total_stats(rounds) if rounds else None
        pairs = ledger.pairs((*MINED_KINDS, "imported"))
        config = ledger.get_meta("config") or {}
        prov = ledger.get_meta("provenance") or {}
        stages = ledger.stages()
    finally:
        ledger.close()
    trainings = {p.parent.name: json.loads(p.read_text()) for p in (run_dir / "adapters").glob("*/training.json")}

    # -- results table --------------------------------------------------------------------------------
    md = [f"# selfmine run report: {run_dir.name}", ""]
    base = evals.get("base")
    rows, cmp_rows = [], []
    arms = {name: {b: s["pass@1"] for b, s in r["benches"].items()} for name, r in evals.items()}
    for name, r in evals.items():
        for bench, s in r["benches"].items():
            label = f"{bench}{' (first ' + str(r['limit']) + ' tasks)' if r.get('limit') else ''}"
            rows.append((name, label, r["format"], s["pass@1"], s.get("pass@1_ci95"), s["base_pass@1"], s["tasks"]))
    if base:
        for name, r in evals.items():
            if name == "base":
                continue
            for bench, c in compare(base, r).items():
                cmp_rows.append((name, bench, c))
    md += [
        "## Results (pass@1, greedy unless stated; format as run)",
        "",
        "| arm | benchmark | format | tasks | pass@1 | 95% CI | base tests only |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, label, fmt, p, ci, bp, n in rows:
        md.append(f"| {name} | {label} | {fmt} | {n} | {p:.1%} | {_fmt_ci(ci)} | {bp:.1%} |")
    if cmp_rows:
        md += [
            "",
            "## Against the base model (paired over tasks)",
            "",
            "| arm | benchmark | base | arm | difference (95% CI) | p | fixed | broken |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, bench, c in cmp_rows:
            md.append(
                f"| {name} | {bench} | {c['a']:.1%} | {c['b']:.1%} | {c['diff']:+.1%} ({c['ci95'][0]:+.1%} .. "
                f"{c['ci95'][1]:+.1%}, {c['interval']}) | {c['p']:.3g} ({c['test']}) | {len(c['fixed'])} | {len(c['broken'])} |"
            )
    skipped = {k: v[1].get("reason") for k, v in stages.items() if v[0] == "skipped"}
    for k, why in skipped.items():
        md.append(f"\n*{k} skipped: {why}*")
    # -- mining ---------------------------------------------------------------------------------------
    md += ["", "## Mining", ""]
    mining_text = "\n".join(format_stats(r) for r in rounds) if stats else ""
    if stats:
        md += ["```", mining_text, "```", "", f"All rounds: {stats['range']}"]
    imported = sum(p.kind == "imported" for p in pairs)
    trained_imported = {name: t.get("sources", {}).get("imported", 0) for name, t in trainings.items()}
    warning = ""
    if imported:
        used = max(trained_imported.values(), default=0)
        warning = f"{imported} reference pairs imported from a file (not self-mined) are in this run's ledger" + (
            f"; {used} of them were trained on." if used else "."
        )
        md.append(f"\n**{warning}**")
    for name, t in trainings.items():
        md.append(
            f"\n- adapter `{name}`: {t['pairs']} pairs, {t['examples']} examples, control {t['control']}, "
            f"loss {t['loss_curve'][0]['loss']:.3f} -> {t['loss_curve'][-1]['loss']:.3f}, {t['wall_time_s']} s"
        )
    md += [
        "",
        "## Reproducibility",
        "",
        f"- versions: `{json.dumps(prov.get('versions', {}))}`",
        f"- engine: `{json.dumps(prov.get('engine', {}))}`",
        f"- data checksums: `{json.dumps(prov.get('data_checksums', {}))}`",
        f"- config: `{json.dumps(config)}`",
        "",
    ]
    md_text = "\n".join(md)

    # -- html -----------------------------------------------------------------------------------------
    imgs = []
    if arms:
        imgs.append(("pass@1 per arm", charts.pass_at_1(arms)))
    if stats:
        steps = [
            ("proposed", stats["proposed"]),
            ("valid", stats["valid"]),
            ("mixed", stats["mixed"]),
            ("pairs", stats["pairs"]),
        ]
        imgs.append(("mining funnel (all rounds)", charts.funnel(steps, stats["rejections"])))
        imgs.append(("curriculum: valid problems by difficulty, per round", charts.curriculum(rounds)))
    body = [_md_tables_to_html(md_text.split("\n## Mining")[0])]
    for title, b64 in imgs:
        body.append(f'<h3>{html.escape(title)}</h3><img alt="{html.escape(title)}" src="data:image/png;base64,{b64}">')
    body.append(
        "<h2>Mining</h2>"
        + (
            f"<pre>{html.escape(mining_text)}</pre><p>All rounds: {html.escape(stats['range'])}</p>"
            if stats
            else "<p>no mining round</p>"
        )
    )
    if warning:
        body.append(f"<p><strong>{html.escape(warning)}</strong></p>")
    body.append(
        f"<h2>Pairs ({len(pairs)})</h2><p class='note'>broken attempt (left) vs fixed (right), with the error</p>"
    )
    differ = difflib.HtmlDiff(wrapcolumn=70)
    for p in pairs[:200]:
        table = differ.make_table(p.broken.splitlines() or ["(empty)"], p.fixed.splitlines(), "broken", "fixed")
        body.append(
            f"<details><summary>#{p.id} {html.escape(p.entry_point)} - {html.escape(p.kind)} / "
            f"{html.escape(p.failure_class or '?')}</summary>{table}<pre>{html.escape(p.error[:1500])}</pre></details>"
        )
    tail = md_text.split("## Reproducibility")[-1]
    body.append(f"<h2>Reproducibility</h2><pre>{html.escape(tail)}</pre>")
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>selfmine report {html.escape(run_dir.name)}</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>"
    )
    (run_dir / "report.md").write_text(md_text)
    (run_dir / "report.html").write_text(page)
    return {"html": str(run_dir / "report.html"), "md": str(run_dir / "report.md")}


def _md_tables_to_html(text: str) -> str:
    """The small markdown subset the summary uses: headings, tables, paragraphs."""
    out, table = [], []

    def flush():
        if table:
            cells = [[c.strip() for c in r.strip("|").split("|")] for r in table if not set(r) <= set("|-: ")]
            head, *rest = cells
            out.append(
                "<table><tr>"
                + "".join(f"<th>{html.escape(c)}</th>" for c in head)
                + "</tr>"
                + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rest)
                + "</table>"
            )
            table.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{html.escape(line.lstrip('# '))}</h{level}>")
        elif line.strip():
            out.append(f"<p>{html.escape(line.strip('*'))}</p>")
    flush()
    return "\n".join(out)
