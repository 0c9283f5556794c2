"""The vllm backend for real: a vLLM engine (the CPU build here, `make setup-vllm`; `make test-vllm` runs this
file in .venv-vllm) on the tiny random model. In the main environment, where vLLM is not installed, the
file is skipped; with SELFMINE_REQUIRE_VLLM=1 a missing vLLM fails instead."""

from __future__ import annotations

import os

import pytest

if os.environ.get("SELFMINE_REQUIRE_VLLM") != "1":
    pytest.importorskip("vllm")

import torch  # noqa: E402

from selfmine.engine import SamplingParams, get_engine, release_for_training  # noqa: E402

PROMPTS = ["def add(a, b):\n", "import os\n", "class Stack:\n", "# sort a list\n"]


@pytest.fixture(scope="module")
def engine(tiny_model):
    eng = get_engine("vllm", str(tiny_model), batch_size=8, max_model_len=1024, enforce_eager=True)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def adapter(tiny_model, tmp_path_factory):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    out = tmp_path_factory.mktemp("adapter") / "a"
    get_peft_model(base, cfg).save_pretrained(out)
    return str(out)


def test_greedy_generation_gives_n_completions_and_repeats(engine):
    p = SamplingParams(max_tokens=16)
    first = engine.generate(PROMPTS, p)
    assert [len(r) for r in first] == [1] * len(PROMPTS)
    assert all(c.completion_tokens <= 16 and c.prompt_tokens > 0 for r in first for c in r)
    assert engine.generate(PROMPTS, p) == first
    assert engine.info()["backend"] == "vllm" and engine.info()["dtype"] in ("bfloat16", "float32")


def test_stop_strings_cut_the_text(engine):
    free = engine.generate(PROMPTS, SamplingParams(max_tokens=24))
    # a stop string taken from inside each free completion must end the text before it
    checked = 0
    for prompt, row in zip(PROMPTS, free):
        text = row[0].text
        if len(text) < 6:
            continue
        checked += 1
        stop = text[3:6]
        cut = engine.generate([prompt], SamplingParams(max_tokens=24, stop=[stop]))[0][0]
        assert stop not in cut.text and text.startswith(cut.text)
        assert cut.finish_reason == "stop"
    assert checked


def test_a_prompts_samples_follow_its_seed(engine):
    p = SamplingParams(n=3, temperature=1.0, top_p=0.95, max_tokens=12)
    a = engine.generate(PROMPTS, p, seeds=[1, 2, 3, 4])
    b = engine.generate(PROMPTS, p, seeds=[1, 2, 3, 4])
    c = engine.generate(PROMPTS, p, seeds=[5, 6, 7, 8])
    assert [len(r) for r in a] == [3] * len(PROMPTS)
    assert [[x.text for x in r] for r in a] == [[x.text for x in r] for r in b]
    assert [[x.text for x in r] for r in a] != [[x.text for x in r] for r in c]


def test_an_adapter_changes_the_output_and_the_base_comes_back(engine, adapter):
    p = SamplingParams(max_tokens=16)
    before = engine.generate(PROMPTS, p)
    tuned = engine.generate(PROMPTS, p, adapter=adapter)
    after = engine.generate(PROMPTS, p)
    assert after == before
    assert tuned != before


def test_the_fast_nucleus_mask_equals_vllms_own():
    from vllm.v1.sample.ops import topk_topp_sampler as ops

    from selfmine.engine import vllm as ours

    ours.patch_sampler()
    g = torch.Generator().manual_seed(0)
    # peaked rows (the candidates hold the nucleus) and flat rows (they do not: the full sort is taken)
    logits = torch.cat([torch.randn(6, 5000, generator=g) * 8, torch.randn(2, 5000, generator=g) * 0.01])
    for k in (None, torch.full((8,), 40)):
        for top_p in (0.5, 0.95):
            p = torch.full((8,), top_p)
            want = ours._ORIGINAL(logits.clone(), k, p, True)
            got = ops.apply_top_k_top_p_pytorch(logits.clone(), k, p, True)
            assert torch.equal(torch.isinf(got), torch.isinf(want))
            assert torch.equal(got[~torch.isinf(got)], want[~torch.isinf(want)])


def test_release_for_training_frees_it_and_a_new_engine_starts(tiny_model):
    eng = get_engine("vllm", str(tiny_model), batch_size=4, max_model_len=512, enforce_eager=True)
    want = eng.generate(PROMPTS[:2], SamplingParams(max_tokens=8))
    assert release_for_training(eng) is None and eng.llm is None
    again = get_engine("vllm", str(tiny_model), batch_size=4, max_model_len=512, enforce_eager=True)
    try:
        assert again.generate(PROMPTS[:2], SamplingParams(max_tokens=8)) == want
    finally:
        again.close()


def test_selfmine_run_on_the_vllm_backend_end_to_end(tmp_path, tiny_model, data_dir):
    """`selfmine run` with engine.backend=vllm: base, mining, the engine released for training (PEFT in this
    environment's transformers), a new engine for the adapter's evaluation through a LoRA request."""
    import json
    import subprocess
    import sys

    import yaml

    cfg = {
        "data_dir": str(data_dir),
        "engine": {"backend": "vllm", "model": str(tiny_model), "batch_size": 8},
        "mine": {"problems": 2, "propose_batch": 2, "propose_max_tokens": 24, "attempts": 2},
        "train": {"first_n": 3, "epochs": 1, "grad_accum": 1, "max_tokens": 256, "rank": 4, "dtype": "float32"},
        "eval": {"benches": ["humaneval"], "limit": 2, "max_tokens": 16},
        "pipeline": {"controls": [], "min_pairs": 2, "supplement_pairs": "tinyforge-zero/pairs_7b_40.jsonl"},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "selfmine.cli",
            "run",
            "-c",
            str(tmp_path / "c.yaml"),
            "--run-dir",
            str(run),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    base, tuned = (json.loads((run / "eval" / f"{a}.json").read_text()) for a in ("base", "adapter"))
    assert base["engine"]["backend"] == tuned["engine"]["backend"] == "vllm"
    assert tuned["adapter"] and (run / "adapters" / "selfmine" / "adapter_model.safetensors").exists()
    samples = [
        [s["completion"] for t in rep["benches"]["humaneval"]["per_task"] for s in t["samples"]]
        for rep in (base, tuned)
    ]
    assert len(samples[0]) == len(samples[1]) == 2


def test_auto_takes_vllm_where_this_machine_measured_it_faster_and_hf_where_not(tmp_path, monkeypatch):
    """`engine.backend: auto` with vLLM really installed: this machine's own measurement decides, per mode."""
    from selfmine.config import EngineConfig
    from selfmine.engine import auto
    from selfmine.engine.numerics import numerics
    from selfmine.scale import resolve

    monkeypatch.setenv("SELFMINE_HOME", str(tmp_path))
    here = numerics("hf", "auto")["device"]
    if here.startswith("cuda"):
        pytest.skip("on a GPU auto takes vLLM without a measurement")
    assert auto.vllm_installed()
    auto.record(here, "greedy", {"hf": 10.0, "vllm": 20.0})  # the default model, which EngineConfig() names
    auto.record(here, "sampling", {"hf": 10.0, "vllm": 10.5})
    cfg, choice = resolve(EngineConfig(), "greedy")
    assert cfg.backend == "vllm" and "2.00x" in choice.reason
    assert resolve(EngineConfig(), "sampling")[0].backend == "hf"
