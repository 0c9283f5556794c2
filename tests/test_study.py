"""The study: the grid planner, the interaction and its interval on constructed results, the threshold
rule, the diversity measures, and the whole study end to end (with a resume) on the tiny model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml

from selfmine.study import plan, subset
from selfmine.study.diversity import distinct, diversity, first_token_entropy, mean_edit_distance
from selfmine.study.stats import bootstrap_tasks, interaction_table, threshold


def test_the_planner_shares_base_arms_across_pair_counts():
    adapters, arms = plan([0, 8, 16], seeds=[0, 1], formats=["raw"])
    assert [(a.pairs, a.seed) for a in adapters] == [(8, 0), (16, 0), (8, 1), (16, 1)]
    base = [a for a in arms if a.adapter is None]
    assert len(base) == 2 * 2  # one per (seed, decoding), whatever the number of pair counts
    assert len(arms) == 2 * 2 * 3 and len({a.key for a in arms}) == len(arms)
    _, arms2 = plan([0, 8, 16, 32], seeds=[0, 1], formats=["raw", "chat"])
    assert len([a for a in arms2 if a.adapter is None]) == 2 * 2 * 2


def test_arms_are_checked_alike_within_a_format_and_decoding_not_across_formats():
    """A study with raw and chat arms (every GPU recipe) reaches its analysis: a raw arm is never compared
    with a chat one, so their formats differing is no reason to refuse; a raw arm evaluated with another
    token limit than its siblings is."""
    from selfmine.evaluate.compare import IncomparableResults
    from selfmine.study.analyse import _check

    _, arms = plan([0, 2], seeds=[0], formats=["raw", "chat"])

    def result(arm, max_tokens=64):
        n = 1 if arm.decoding == "greedy" else 4
        return {
            "format": arm.fmt,
            "limit": 2,
            "sampling": {"n": n, "temperature": 0.8 * (n > 1), "top_p": 0.95, "max_tokens": max_tokens},
        }

    results = {a.key: result(a) for a in arms}
    _check(arms, results)
    odd = next(a for a in arms if a.fmt == "raw" and a.decoding == "greedy" and a.adapter)
    results[odd.key] = result(odd, max_tokens=32)
    with pytest.raises(IncomparableResults, match=r"\(raw, greedy\).*max_tokens"):
        _check(arms, results)


def test_subsets_are_nested_and_seeded():
    ids = list(range(100, 140))
    s8, s16 = subset(ids, 8, 0), subset(ids, 16, 0)
    assert s16[:8] == s8 and len(set(s16)) == 16
    assert subset(ids, 8, 1) != s8 and subset(ids, 8, 0) == s8
    with pytest.raises(ValueError):
        subset(ids, 41, 0)


def test_interaction_and_its_interval_on_a_known_answer():
    tasks, seeds = 40, 3
    A = np.zeros((tasks, seeds))
    B = np.zeros((tasks, seeds))
    B[:10] = 1  # base best-of-n solves 10 more tasks than base greedy
    C = np.zeros((tasks, seeds))
    C[:4] = 1  # tuning helps greedy on 4 tasks
    D = np.zeros((tasks, seeds))
    D[:30] = 1  # tuned best-of-n solves 30
    inter = interaction_table(A, B, C, D)
    mean, lo, hi = bootstrap_tasks(inter, 4000)
    assert mean == pytest.approx((30 - 4) / 40 - 10 / 40)  # (D-C)-(B-A) = 0.65 - 0.25 = 0.4
    assert 0 < lo < mean < hi
    flat = interaction_table(A, B, A, B)
    m0, lo0, hi0 = bootstrap_tasks(flat, 1000)
    assert m0 == 0 and lo0 == 0 and hi0 == 0


def test_threshold_is_the_smallest_count_with_the_interval_above_zero():
    def row(k, lo):
        return {"pairs": k, "interaction": {"ci95": [lo, lo + 0.2]}}

    assert threshold([row(8, -0.1), row(16, 0.01), row(32, 0.2)]) == 16
    assert threshold([row(8, -0.1), row(16, -0.01)]) == "not reached"
    assert threshold([row(32, 0.2), row(8, 0.05)]) == 8


def test_diversity_measures_on_hand_made_samples():
    same = ["return 1", "return 1\n", "  return 1  "]
    assert distinct(same) == 1 and mean_edit_distance(["abc", "abc"]) == 0.0
    assert first_token_entropy(["return a", "return b"]) == 0.0
    assert first_token_entropy(["return a", "if x:"]) == pytest.approx(1.0)
    assert mean_edit_distance(["aaaa", "bbbb"]) == pytest.approx(1.0)
    d = diversity([["return 1", "return 2"], ["x", "x"]])
    assert d["distinct"] == pytest.approx(1.5) and d["tasks"] == 2


def _study_config(tmp_path, tiny_model, data_dir):
    cfg = {
        "data_dir": str(data_dir),
        "engine": {"model": str(tiny_model), "batch_size": 8},
        "train": {"epochs": 1, "grad_accum": 1, "max_tokens": 256, "rank": 4, "dtype": "float32"},
        "eval": {"benches": ["humaneval", "gsm8k"], "limit": 2, "max_tokens": 16},
        "study": {
            "pair_counts": [0, 2, 4],
            "seeds": [0, 1],
            "n": 2,
            "formats": ["raw"],
            "pairs_file": "tinyforge-zero/pairs_7b_40.jsonl",
            "resamples": 200,
        },
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_the_study_end_to_end_on_the_tiny_model_and_a_resume(tmp_path, tiny_model, data_dir, monkeypatch):
    from selfmine.config import load_config
    from selfmine.engine.hf import HFEngine
    from selfmine.evaluate import checkpoint
    from selfmine.ledger import Ledger
    from selfmine.study import run_study

    cfg_path = _study_config(tmp_path, tiny_model, data_dir)
    run = tmp_path / "study"
    cli = [sys.executable, "-m", "selfmine.cli", "study", "-c", str(cfg_path), "--run-dir", str(run), "--no-progress"]
    r = subprocess.run(cli, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    study = json.loads((run / "study.json").read_text())
    rows = study["benches"]["humaneval (raw)"]["rows"]
    assert [row["pairs"] for row in rows] == [2, 4]
    for row in rows:
        assert set(row["interaction"]["per_seed"]) == {"0", "1"}
        assert row["interaction"]["ci95"][0] <= row["interaction"]["mean"] <= row["interaction"]["ci95"][1]
    assert "not measured" in study["boundary"]["note"]
    # the transfer axis: code pairs measured on a math benchmark beside the code one
    assert study["benches"]["gsm8k (raw)"]["transfer"] and not study["benches"]["humaneval (raw)"]["transfer"]
    assert [row["pairs"] for row in study["benches"]["gsm8k (raw)"]["rows"]] == [2, 4]
    assert "Transfer: code pairs, a math benchmark." in (run / "study.md").read_text()
    assert (run / "study.html").exists() and "threshold" in (run / "study.md").read_text().lower()
    training = json.loads((run / "study" / "adapters" / "pairs4-seed0" / "training.json").read_text())
    small = json.loads((run / "study" / "adapters" / "pairs2-seed0" / "training.json").read_text())
    assert small["pair_ids"] == training["pair_ids"][:2]  # nested subsets, really used
    # one greedy base evaluation serves both seeds; the sampled base arms are each seed's own
    shared = json.loads((run / "study" / "eval" / "raw-greedy-base-seed1.json").read_text())
    assert shared["shared_from"] == "raw-greedy-base-seed0" and "numerics" in shared
    sampled = json.loads((run / "study" / "eval" / "raw-sample-base-seed1.json").read_text())
    assert "shared_from" not in sampled and sampled["sampling"]["seed"] == 1

    # A half-finished study: forget two arms, rerun; only they are redone, and the numbers are the same.
    ledger = Ledger.in_run_dir(run)
    stages = [name for name in ledger.stages() if name.startswith("study:eval:") and "pairs4-seed1" in name]
    for name in stages:
        ledger.set_stage(name, "started")
    ledger.close()
    # ... and the rerun is killed in the middle of its first evaluation: the prompts it finished are kept
    monkeypatch.setattr(checkpoint, "CHUNK", 1)  # one prompt per checkpointed chunk
    real, generated = HFEngine.generate, []  # prompts of the checkpointed calls (those that pass seeds=)

    def killed_at_the_second_chunk(self, prompts, *args, **kwargs):
        if "seeds" in kwargs and len(generated) == 1:
            raise KeyboardInterrupt
        generated.extend([len(prompts)] if "seeds" in kwargs else [])
        return real(self, prompts, *args, **kwargs)

    def counted(self, prompts, *args, **kwargs):
        generated.extend([len(prompts)] if "seeds" in kwargs else [])
        return real(self, prompts, *args, **kwargs)

    monkeypatch.setattr(HFEngine, "generate", killed_at_the_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        run_study(run, load_config(cfg_path, []), progress=False, echo=lambda _: None)
    assert [len(p.read_text().splitlines()) for p in (run / "study" / "eval").glob("*.partial.jsonl")] == [2]
    monkeypatch.setattr(HFEngine, "generate", counted)
    generated.clear()
    lines = []
    out = run_study(run, load_config(cfg_path, []), progress=False, echo=lines.append)
    assert sum("evaluating" in line for line in lines) == len(stages) == 2
    # two arms of 2 + 2 tasks, less the prompt kept, and the sampled arm's model-written tests (a prompt per
    # task: the kill came before they were written, so none was kept)
    assert sum(generated) == 2 * 4 - 1 + 2
    assert "evaluation resumed: 1 prompts' completions were kept from before" in lines
    assert not any("training" in line for line in lines)
    assert out["study"]["benches"] == study["benches"]  # resumed = uninterrupted
    assert not list((run / "study" / "eval").glob("*.partial.jsonl"))

    # Carried to another session without its adapters' weights (they are not committed): an adapter that an
    # evaluation still needs trains again, from the same pairs and seed (the same loss curve, the same
    # scores); one whose evaluations are all done does not.
    for key in ("pairs4-seed1", "pairs2-seed1"):
        shutil.rmtree(run / "study" / "adapters" / key)
    ledger = Ledger.in_run_dir(run)
    for name in stages:
        ledger.set_stage(name, "started")
    ledger.close()
    lines = []
    out = run_study(run, load_config(cfg_path, []), progress=False, echo=lines.append)
    assert [line for line in lines if line.startswith("[study] training")] == [
        "[study] training pairs4-seed1 on 4 pairs"
    ]
    assert "[study] pairs4-seed1 trained again: same loss curve as before: True" in lines
    assert out["study"]["benches"] == study["benches"]

    # study.reuse_base: another run's greedy base result, checked; a sampled one is refused by name
    from selfmine.evaluate.reuse import ReuseError
    from selfmine.study.plan import Arm
    from selfmine.study.run import Study

    greedy, sample = (run / "study" / "eval" / f"raw-{d}-base-seed0.json" for d in ("greedy", "sample"))
    elsewhere = tmp_path / "another-study"  # no sibling arm made there: the file is what serves
    taken = Study(
        elsewhere, load_config(cfg_path, [f"study.reuse_base.raw={greedy}"]), progress=False, echo=lines.append
    )
    report = taken._shared_base(Arm("raw", 1, "greedy", None))
    assert report["reused_from"]["path"] == str(greedy) and set(report["benches"]) == {"humaneval", "gsm8k"}
    refused = Study(
        elsewhere, load_config(cfg_path, [f"study.reuse_base.raw={sample}"]), progress=False, echo=lines.append
    )
    with pytest.raises(ReuseError, match="study.reuse_base.raw: .* not a greedy evaluation"):
        refused._shared_base(Arm("raw", 1, "greedy", None))
    # in a study that made its own, that one serves, whatever reuse_base says (one per format)
    mine = Study(run, load_config(cfg_path, [f"study.reuse_base.raw={sample}"]), progress=False, echo=lines.append)
    assert mine._shared_base(Arm("raw", 1, "greedy", None))["shared_from"] == "raw-greedy-base-seed0"

    # a changed setting is refused by name
    bad = subprocess.run(cli + ["--set", "study.n=3"], capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "study.n" in bad.stderr and "Traceback" not in bad.stderr
