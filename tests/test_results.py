"""Committed results re-score to their committed verdicts: every results JSON under results/ has its
samples beside it in EvalPlus's format (samples/<arm>.<bench>.jsonl), and scoring those files again gives
the same pass or fail for every sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfmine.evaluate import evaluate

ROOT = Path(__file__).resolve().parent.parent / "results"
FILES = sorted(p for p in ROOT.glob("*/s*/*.json"))


def test_results_are_committed_with_their_samples():
    assert FILES, "no committed results under results/"
    for f in FILES:
        for bench in json.loads(f.read_text())["benches"]:
            assert (f.parent / "samples" / f"{f.stem}.{bench}.jsonl").exists(), (f, bench)


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_committed_samples_rescore_to_the_committed_verdicts(path):
    committed = json.loads(path.read_text())
    benches = list(committed["benches"])
    samples = {
        b: [json.loads(line) for line in (path.parent / "samples" / f"{path.stem}.{b}.jsonl").open()] for b in benches
    }
    again = evaluate(None, benches, fmt=committed["format"], samples=samples, progress=False, echo=lambda _: None)
    for b in benches:
        want = {t["task_id"]: [s["passed"] for s in t["samples"]] for t in committed["benches"][b]["per_task"]}
        got = {t["task_id"]: [s["passed"] for s in t["samples"]] for t in again["benches"][b]["per_task"]}
        assert got == want, b
        assert again["benches"][b]["pass@1"] == pytest.approx(committed["benches"][b]["pass@1"])
