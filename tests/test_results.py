"""Committed results re-score to their committed verdicts: every results JSON under results/ has its
samples beside it in EvalPlus's format (samples/<arm>.<bench>.jsonl), the files hold exactly the judged
programs, and scoring them again gives the same pass or fail.

Re-scoring every committed sample takes minutes per arm (HumanEval+ and MBPP+ run hundreds of inputs per
task), and the results grow with every seed; CI re-scores a fixed sample of tasks from every file and bench,
passing and failing alike, chosen by a hash of the task id (not by hand). `make check-results` (or
SELFMINE_ALL_RESULTS=1) re-scores all of them."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from selfmine.evaluate import evaluate

ROOT = Path(__file__).resolve().parent.parent / "results"
FILES = sorted(p for pattern in ("*/s*/*.json", "*/*/s*/*.json", "*/s*/machines/*.json") for p in ROOT.glob(pattern))
PER_OUTCOME = 4  # tasks per bench and outcome (passed / failed) re-scored in CI
ALL = os.environ.get("SELFMINE_ALL_RESULTS") == "1"


def _load(path: Path) -> tuple[dict, dict]:
    committed = json.loads(path.read_text())
    samples = {
        b: [json.loads(line) for line in (path.parent / "samples" / f"{path.stem}.{b}.jsonl").open()]
        for b in committed["benches"]
    }
    return committed, samples


def _chosen(per_task: list[dict]) -> set[str]:
    """PER_OUTCOME passing and PER_OUTCOME failing tasks, the first by sha256 of the task id."""
    out: set[str] = set()
    for outcome in (True, False):
        ids = [t["task_id"] for t in per_task if t["samples"][0]["passed"] is outcome]
        out |= set(sorted(ids, key=lambda i: hashlib.sha256(i.encode()).hexdigest())[:PER_OUTCOME])
    return out


def test_results_are_committed_with_their_samples():
    assert FILES, "no committed results under results/"
    for f in FILES:
        for bench in json.loads(f.read_text())["benches"]:
            assert (f.parent / "samples" / f"{f.stem}.{bench}.jsonl").exists(), (f, bench)


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_the_samples_files_hold_every_judged_sample(path):
    committed, samples = _load(path)
    for b, rows in samples.items():
        per_task = committed["benches"][b]["per_task"]
        assert [r["task_id"] for r in rows] == [t["task_id"] for t in per_task for _ in t["samples"]], b
        assert all((r.get("solution") or r.get("completion")) for r in rows), b


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_committed_samples_rescore_to_the_committed_verdicts(path):
    committed, samples = _load(path)
    benches = list(committed["benches"])
    keep = {b: None if ALL else _chosen(committed["benches"][b]["per_task"]) for b in benches}
    samples = {b: [r for r in rows if keep[b] is None or r["task_id"] in keep[b]] for b, rows in samples.items()}
    again = evaluate(None, benches, fmt=committed["format"], samples=samples, progress=False, echo=lambda _: None)
    for b in benches:
        want = {
            t["task_id"]: [s["passed"] for s in t["samples"]]
            for t in committed["benches"][b]["per_task"]
            if keep[b] is None or t["task_id"] in keep[b]
        }
        got = {t["task_id"]: [s["passed"] for s in t["samples"]] for t in again["benches"][b]["per_task"]}
        assert got == want, b
        assert len(want) == (len(committed["benches"][b]["per_task"]) if ALL else len(keep[b])) > 0, b
        if ALL:
            assert again["benches"][b]["pass@1"] == pytest.approx(committed["benches"][b]["pass@1"])


SEEDS = sorted({p.parent for p in FILES if p.parent.parent.parent == ROOT and (p.parent / "base.json").exists()})
EXPERIMENTS = sorted({s.parent for s in SEEDS if (s / "adapter.json").exists()})  # one model's seeds each


@pytest.mark.skipif(not EXPERIMENTS, reason="no committed seed has both a base and an adapter yet")
@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda p: p.name)
def test_the_pooled_table_is_printed_from_committed_results_and_agrees_with_their_verdicts(
    monkeypatch, capfd, experiment
):
    """`selfmine eval pool` reads the committed results folders of every seed of one experiment, at whatever
    stage each is; each comparison pools the seeds that hold both its arms, and the adapter-vs-base
    difference is the mean of the per-task differences of the committed verdicts, averaged over those seeds."""
    import sys

    from selfmine import cli

    seeds = [s for s in SEEDS if s.parent == experiment]
    with_adapter = [s for s in seeds if (s / "adapter.json").exists()]

    monkeypatch.setattr(sys, "argv", ["selfmine", "eval", "pool", *map(str, seeds), "--json"])
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == 0
    pooled = json.loads(capfd.readouterr().out)
    assert any(b.endswith(" base tests") for b in pooled)  # MBPP is MBPP+'s base tests
    for score, got in pooled.items():
        if "@" in score:
            continue
        for arm, d in got["vs_base"].items():
            assert d["seed_names"] == [s.name for s in seeds if (s / f"{arm}.json").exists()], (score, arm)
        bench, key = (score.split()[0], "base_passed") if score.endswith(" base tests") else (score, "passed")
        per_seed = []
        for seed in with_adapter:
            arms = {a: json.loads((seed / f"{a}.json").read_text())["benches"][bench] for a in ("base", "adapter")}
            verdicts = {a: {t["task_id"]: t["samples"][0][key] for t in r["per_task"]} for a, r in arms.items()}
            per_seed.append(verdicts)
        tasks = set.intersection(*(set(v["base"]) & set(v["adapter"]) for v in per_seed))
        diffs = [sum(v["adapter"][t] - v["base"][t] for v in per_seed) / len(per_seed) for t in tasks]
        assert got["vs_base"]["adapter"]["tasks"] == len(tasks)
        assert got["vs_base"]["adapter"]["diff"] == pytest.approx(sum(diffs) / len(diffs))


def test_a_committed_base_from_before_grouped_attention_is_not_reused(tiny_engine):
    """The evidence's greedy bases were decoded with SDPA's own grouped-query option; the engine now stacks
    query heads per key head (`engine.attention: grouped`), which changes last bits, so such a base cannot
    stand for a run made now: `reuse_base` names the difference (before the slower checksum checks)."""
    from selfmine.evaluate.reuse import ENGINE_KEYS, ReuseError, reused

    path = ROOT / "cpu-qwen2.5-coder-0.5b" / "iteration2" / "s0" / "base.json"
    report = json.loads(path.read_text())
    assert "attention" not in report["engine"]
    now = {k: report["engine"].get(k) for k in ENGINE_KEYS} | {"attention": tiny_engine.info()["attention"]}
    with pytest.raises(ReuseError, match="engine attention is None, this run's is 'grouped'"):
        reused(
            path,
            benches=list(report["benches"]),
            fmt=report["format"],
            max_tokens=report["sampling"]["max_tokens"],
            limit=report["limit"],
            engine=now,
            numerics=report["numerics"],
            data_dir=None,
            setting="study.reuse_base.raw",
        )
