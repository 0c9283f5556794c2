"""Pairs in and out: the reference implementation's schema (`signature`, `tests`, `broken`, `error`,
`fixed`), a TRL-ready SFT dataset (prompt / completion), and a preference dataset (prompt / chosen /
rejected) for DPO."""

from __future__ import annotations

import json
from pathlib import Path

from .datasets import reference_pairs
from .ledger import MINED_KINDS, PairView
from .ledger.rundir import RunDir
from .tasks.registry import DOMAINS, get_domain

FORMATS = ("tinyforge", "sft", "dpo")


def export_record(p: PairView, fmt: str, domain=None) -> dict:
    d = domain or get_domain("code")
    if fmt == "tinyforge":
        return d.reference_row(p)
    if fmt == "sft":
        return {
            "prompt": d.train_prompts(p, "repair", p.broken, p.error)["repair"],
            "completion": d.train_target(p, "repair", p.broken, p.fixed),
            "pair_id": p.id,
            "kind": p.kind,
            "failure_class": p.failure_class,
        }
    if fmt == "dpo":
        prompt = d.train_prompts(p, "solve", p.broken, p.error)["solve"]
        return {
            "prompt": prompt,
            "chosen": d.train_target(p, "solve", p.broken, p.fixed),
            "rejected": d.train_target(p, "solve", p.broken, p.broken),
            "pair_id": p.id,
        }
    raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")


def export_pairs(
    run_dir: str | Path,
    fmt: str,
    out: str | Path,
    classes: tuple[str, ...] | None = None,
    kinds: tuple[str, ...] = (*MINED_KINDS, "imported"),
) -> int:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    with RunDir(run_dir).ledger() as ledger:
        pairs = ledger.pairs(kinds, classes)
        domain = get_domain(ledger.domain())
    tmp = Path(str(out) + ".tmp")
    with open(tmp, "w") as f:
        for p in pairs:
            f.write(json.dumps(export_record(p, fmt, domain)) + "\n")
    tmp.replace(out)
    return len(pairs)


def import_pairs_file(spec: str, run_dir: str | Path, data_dir: str | None) -> dict:
    """import_pairs from a path, or from a shipped reference file named by `spec` when no such path exists
    (`pipeline.supplement_pairs`, `study.pairs_file`)."""
    path = Path(spec).expanduser()
    return import_pairs(path if path.exists() else reference_pairs(path.name, data_dir), run_dir)


def import_pairs(path: str | Path, run_dir: str | Path, timeout: float = 5.0) -> dict:
    """Reads reference-schema pairs; judges both sides (so the mix of failure classes, and fixed sides
    that do not actually pass, are visible). Records whose broken side is empty are kept (class: format)."""
    rows = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not JSON ({e.msg})") from None
    for name in DOMAINS:  # each domain knows its reference schema and how to re-judge its rows
        domain = get_domain(name)
        if not rows or set(domain.import_keys) <= set(rows[0]):
            return domain.import_rows(path, rows, run_dir, timeout)
    wanted = "; ".join(f"{n}: {', '.join(get_domain(n).import_keys)}" for n in DOMAINS)
    raise ValueError(f"{path}: not a reference pair schema (the keys of a row are, for {wanted})")
