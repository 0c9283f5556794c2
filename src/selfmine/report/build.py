"""The run report: one self-contained HTML file (no scripts, charts inlined) and a markdown summary, both
rendered from one context by the Jinja2 templates in templates/."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import jinja2

from ..evaluate.compare import compare
from ..evaluate.pool import format_suffix
from ..funnel import format_stats, total_stats
from ..ledger import MINED_KINDS
from ..ledger.rundir import RunDir
from . import charts

MAX_PAIRS_SHOWN = 200


def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("selfmine.report", "templates"),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["pct"] = lambda x: f"{x:.1%}"
    env.filters["spct"] = lambda x: f"{x:+.1%}"
    env.filters["ci"] = lambda c: f"{c[0]:.1%} - {c[1]:.1%}" if c else "-"
    return env


def _load(run_dir: Path) -> dict:
    files = sorted((run_dir / "eval").glob("*.json"), key=lambda f: (f.stem != "base", f.stem != "adapter", f.stem))
    return {f.stem: json.loads(f.read_text()) for f in files}


def _base_of(evals: dict, arm: str) -> dict | None:
    return evals.get("base" + format_suffix(arm))


def context(run_dir: Path) -> dict:
    """Everything the report shows, read from the ledger, the evaluation results and the adapters."""
    evals = _load(run_dir)
    mined = _mined(run_dir)
    rounds, stats, pairs, prov = mined["rounds"], mined["stats"], mined["pairs"], mined["prov"]
    trainings = {p.parent.name: json.loads(p.read_text()) for p in (run_dir / "adapters").glob("*/training.json")}
    return {
        "name": run_dir.name,
        "rows": _result_rows(evals),
        "cmp_rows": _comparisons(evals),
        "skipped": {k: v[1].get("reason") for k, v in mined["stages"].items() if v[0] == "skipped"},
        "stats": stats,
        "mining_text": "\n".join(format_stats(r) for r in rounds) if stats else "",
        "warning": _import_warning(pairs, trainings),
        "trainings": trainings,
        "pairs": pairs,
        "shown_pairs": _shown_pairs(pairs),
        "images": _images(evals, stats, rounds),
        "prov": {
            "versions": prov.get("versions", {}),
            "engine": prov.get("engine", {}),
            "data_checksums": prov.get("data_checksums", {}),
        },
        "config": mined["config"],
    }


def _mined(run_dir: Path) -> dict:
    """What the ledger holds: the rounds' statistics (stored by mining as each round closed) and their
    totals, the pairs, the config, the provenance and the stages."""
    with RunDir(run_dir).ledger() as ledger:
        rounds = [r["stats"] for r in ledger.mining_rounds() if r["stats"]]
        return {
            "rounds": rounds,
            "stats": total_stats(rounds) if rounds else None,
            "pairs": ledger.pairs((*MINED_KINDS, "imported")),
            "config": ledger.get_meta("config") or {},
            "prov": ledger.get_meta("provenance") or {},
            "stages": ledger.stages(),
        }


def _result_rows(evals: dict) -> list[dict]:
    """One row per arm and benchmark."""
    return [
        {
            "arm": name,
            "label": f"{bench}{' (first ' + str(r['limit']) + ' tasks)' if r.get('limit') else ''}",
            "format": r["format"],
            "pass1": s["pass@1"],
            "ci": s.get("pass@1_ci95"),
            "base_pass1": s["base_pass@1"],
            "tasks": s["tasks"],
        }
        for name, r in evals.items()
        for bench, s in r["benches"].items()
    ]


def _comparisons(evals: dict) -> list[tuple]:
    """Each arm against the base evaluated the same way (an arm@chat against base@chat)."""
    return [
        (name, bench, c)
        for name, r in evals.items()
        if name.split("@")[0] != "base" and _base_of(evals, name)
        for bench, c in compare(_base_of(evals, name), r).items()
    ]


def _import_warning(pairs: list, trainings: dict) -> str:
    """Said when reference pairs (not self-mined) are in the ledger, with how many were trained on."""
    imported = sum(p.kind == "imported" for p in pairs)
    used = max((t.get("sources", {}).get("imported", 0) for t in trainings.values()), default=0)
    if not imported:
        return ""
    return (
        f"{imported} pairs imported from a file (reference pairs, or an earlier iteration's carried by pipeline.carry_pairs; not mined in this run) are in this run's ledger"
        + (f"; {used} of them were trained on." if used else ".")
    )


def _images(evals: dict, stats: dict | None, rounds: list[dict]) -> list[tuple[str, str]]:
    """(title, inlined chart) for pass@1 per arm, the mining funnel and the curriculum."""
    images = []
    arms = {name: {b: s["pass@1"] for b, s in r["benches"].items()} for name, r in evals.items()}
    if arms:
        images.append(("pass@1 per arm", charts.pass_at_1(arms)))
    if stats:
        steps = [
            ("proposed", stats["proposed"]),
            ("valid", stats["valid"]),
            ("mixed", stats["mixed"]),
            ("pairs", stats["pairs"]),
        ]
        images.append(("mining funnel (all rounds)", charts.funnel(steps, stats["rejections"])))
        images.append(("curriculum: valid problems by difficulty, per round", charts.curriculum(rounds)))
    return images


def _shown_pairs(pairs: list) -> list[dict]:
    """The first MAX_PAIRS_SHOWN pairs with their broken -> fixed diff as an HTML table."""
    differ = difflib.HtmlDiff(wrapcolumn=70)
    return [
        {
            "id": p.id,
            "entry_point": p.entry_point,
            "kind": p.kind,
            "failure_class": p.failure_class,
            "error": p.error[:1500],
            "diff": differ.make_table(p.broken.splitlines() or ["(empty)"], p.fixed.splitlines(), "broken", "fixed"),
        }
        for p in pairs[:MAX_PAIRS_SHOWN]
    ]


def build_report(run_dir: str | Path) -> dict:
    run_dir = Path(run_dir)
    ctx = context(run_dir)
    (run_dir / "report.md").write_text(_env(False).get_template("report.md.j2").render(ctx))
    (run_dir / "report.html").write_text(_env(True).get_template("report.html.j2").render(ctx))
    return {"html": str(run_dir / "report.html"), "md": str(run_dir / "report.md"), "summary": summary(ctx)}


def summary(ctx: dict) -> str:
    """The results tables alone (what `run` prints at its end), from the same template the report includes."""
    return _env(False).get_template("summary.md.j2").render(ctx)
