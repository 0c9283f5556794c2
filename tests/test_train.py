"""Training on the tiny model: real PEFT + TRL, real sandbox for the controls."""

from __future__ import annotations

import json

import pytest

from selfmine.ledger import PairView
from selfmine.sandbox import judge
from selfmine.tasks.code_corrupt import corruptions
from selfmine.train import TrainConfig, train
from selfmine.train.data import build_examples, select_pairs


def pairs(n=4):
    out = []
    for i in range(n):
        out.append(
            PairView(
                i + 1,
                "mixed",
                "wrong_answer" if i % 2 else "format",
                f"f{i}",
                f'def f{i}(x):\n    """Add {i}."""',
                [f"assert f{i}(1) == {1 + i}", f"assert f{i}(0) == {i}"],
                f"def f{i}(x):\n    return x - {i}\n" if i % 2 else "",
                f"AssertionError {i}",
                f"def f{i}(x):\n    return x + {i}\n",
                i + 1,
            )
        )
    return out


def test_formats_and_keep_correct():
    ps = pairs()
    assert len(build_examples(ps, [], TrainConfig(format="repair"))) == 4
    assert len(build_examples(ps, [], TrainConfig(format="mixed"))) == 8
    ex = build_examples(ps, ps, TrainConfig(format="repair", keep_correct=0.5))
    assert sum(e.kind == "keep_correct" for e in ex) == 2
    rep = [e for e in ex if e.kind == "pair"][0]
    assert "# Broken attempt:" in rep.prompt and "# Error:" in rep.prompt and rep.completion.startswith("def f")


def test_filters():
    ps = pairs()
    assert [p.failure_class for p in select_pairs(ps, TrainConfig(drop_classes=["format"]))] == ["wrong_answer"] * 2
    assert len(select_pairs(ps, TrainConfig(first_n=3))) == 3


def test_shuffled_control_moves_every_broken_input():
    ps = pairs()
    ex = build_examples(ps, [], TrainConfig(control="shuffled"))
    for e in ex:
        p = ps[e.pair_id - 1]
        assert f"AssertionError {e.pair_id - 1}" not in e.prompt  # not its own error
        assert e.completion == p.fixed


def test_rft_control_has_no_broken_input():
    ex = build_examples(pairs(), [], TrainConfig(control="rft"))
    assert len(ex) == 4 and all("Broken" not in e.prompt for e in ex)


def test_corruptions_really_fail_their_tests():
    p = pairs()[1]
    failing = [c for c in corruptions(p.fixed) if not judge(c, p.tests).passed]
    assert failing and judge(p.fixed, p.tests).passed


def test_format_control_targets_are_stubs():
    ex = build_examples(pairs(), [], TrainConfig(control="format"))
    assert all(e.completion.strip().endswith("return None") for e in ex)


@pytest.fixture(scope="module")
def trained(tiny_model, data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("adapter")
    cfg = TrainConfig(rank=4, epochs=3, lr=5e-3, grad_accum=1, max_tokens=256, first_n=6, seed=1, dtype="float32")
    rec = train(
        cfg,
        out,
        pairs_file=data_dir / "tinyforge-zero" / "pairs_7b_40.jsonl",
        model=str(tiny_model),
        progress=False,
        echo=lambda s: None,
    )
    return out, rec


def test_reference_pairs_train_loss_goes_down_and_adapter_saves(trained, tiny_model):
    out, rec = trained
    losses = [x["loss"] for x in rec["loss_curve"]]
    assert len(losses) >= 6 and sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    assert (out / "adapter_config.json").exists() and (out / "adapter_model.safetensors").exists()
    saved = json.loads((out / "training.json").read_text())
    assert saved["pairs"] == 6 and saved["versions"]["peft"]
    assert saved["config"]["seed"] == rec["config"]["seed"] and len(saved["pair_ids"]) == 6
    import torch

    want = ("cuda" if torch.cuda.is_available() else "cpu", "float32")  # the fixture asks for float32
    assert (saved["precision"]["device"], saved["precision"]["weights"]) == want


def test_adapter_reloads_and_changes_output(trained, tiny_model):
    from selfmine.engine import SamplingParams
    from selfmine.engine.hf import HFEngine

    out, _ = trained
    e = HFEngine(str(tiny_model), dtype="float32")
    p = SamplingParams(max_tokens=16)
    assert e.generate(["def f(x):\n"], p)[0][0].text != e.generate(["def f(x):\n"], p, adapter=str(out))[0][0].text


def test_same_seed_same_adapter(tiny_model, data_dir, tmp_path):
    from safetensors.torch import load_file

    cfg = TrainConfig(rank=4, epochs=1, grad_accum=1, max_tokens=128, first_n=2, seed=7, dtype="float32")
    src = data_dir / "tinyforge-zero" / "pairs_7b_40.jsonl"
    for name in ("a", "b"):
        train(cfg, tmp_path / name, pairs_file=src, model=str(tiny_model), progress=False, echo=lambda s: None)
    a = load_file(tmp_path / "a" / "adapter_model.safetensors")
    b = load_file(tmp_path / "b" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


def test_corrupted_control_and_dpo_run(tiny_model, data_dir, tmp_path):
    src = data_dir / "tinyforge-zero" / "pairs_7b_40.jsonl"
    base = dict(rank=4, epochs=1, grad_accum=1, max_tokens=128, first_n=3, dtype="float32")
    rec = train(
        TrainConfig(control="corrupted", **base),
        tmp_path / "c",
        pairs_file=src,
        model=str(tiny_model),
        progress=False,
        echo=lambda s: None,
    )
    assert rec["control_info"]["corrupted_verified_failing"] + rec["control_info"]["corrupted_fallback_stub"] == 3
    rows = [json.loads(x) for x in (tmp_path / "c" / "examples.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    rec = train(
        TrainConfig(method="dpo", **base),
        tmp_path / "d",
        pairs_file=src,
        model=str(tiny_model),
        progress=False,
        echo=lambda s: None,
    )
    assert (tmp_path / "d" / "adapter_config.json").exists() and rec["loss_curve"]


def test_completion_only_loss_equals_full_logits_loss(tiny_model):
    """The trainer's loss projects only completion positions through the LM head; it must equal the loss
    computed from full logits with the prompt masked."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from selfmine.train.trainers import _completion_only_trainer

    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32),
        LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
    )
    torch.manual_seed(0)
    ids = torch.randint(5, 500, (2, 40))
    labels = ids.clone()
    labels[0, :30] = -100
    labels[1, :25] = -100
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    trainer_cls = _completion_only_trainer()
    ours = trainer_cls.compute_loss(None, model, dict(inputs))
    full = model(**inputs).loss  # HF: shift, mean over non-masked tokens
    assert torch.allclose(ours, full, atol=1e-5)


def test_train_cli_takes_a_config_then_set_then_options(tiny_model, data_dir, tmp_path):
    import subprocess
    import sys

    import yaml

    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "engine": {"model": str(tiny_model)},
                "train": {"rank": 8, "first_n": 4, "epochs": 1, "grad_accum": 1, "max_tokens": 256},
            }
        )
    )
    out = tmp_path / "adapter"
    cmd = [
        sys.executable,
        "-m",
        "selfmine.cli",
        "train",
        "--pairs",
        str(data_dir / "tinyforge-zero" / "pairs_7b_40.jsonl"),
        "--out",
        str(out),
        "-c",
        str(cfg),
        "--set",
        "train.rank=4",
        "--first-n",
        "2",
        "--no-progress",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rec = json.loads((out / "training.json").read_text())
    assert (
        rec["config"]["rank"] == 4 and rec["config"]["first_n"] == 2 and rec["config"]["epochs"] == 1
    )  # set, option, file
    assert rec["model"] == str(tiny_model) and rec["pairs"] == 2
    bad = subprocess.run(cmd[:-1] + ["--set", "train.rank=0"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "train.rank" in bad.stderr and "Traceback" not in bad.stderr
