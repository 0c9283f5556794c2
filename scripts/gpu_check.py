"""A short check of the GPU path on a tiny random model built here (no download): the hf engine on CUDA
with per-prompt seeds, the release of the GPU before training, LoRA training through TRL on the shipped
reference pairs, and generation with the adapter, unmerged. Prints what it measured; exits non-zero on a
failed check.

    python scripts/gpu_check.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from selfmine.config import TrainConfig
from selfmine.datasets import reference_pairs
from selfmine.engine import SamplingParams, get_engine, release_for_training
from selfmine.engine.records import prompt_seeds
from selfmine.engine.tiny import build_tiny_model
from selfmine.train import train


def same(a, b) -> float:
    pairs = [(x.text, y.text) for ra, rb in zip(a, b) for x, y in zip(ra, rb)]
    return sum(x == y for x, y in pairs) / len(pairs)


def main() -> None:
    assert torch.cuda.is_available(), "no CUDA device"
    print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
    work = Path(tempfile.mkdtemp())
    model = str(build_tiny_model(work / "model"))
    engine = get_engine("hf", model, batch_size=32)
    print("engine:", engine.info())
    assert engine.device == "cuda" and engine.holds_accelerator
    prompts = [f"def f{i}(x):\n    return x" + " +" * (i % 5) for i in range(64)]
    params = SamplingParams(n=4, temperature=0.8, top_p=0.95, max_tokens=64, seed=1)
    engine.generate(prompts[:8], params)  # warm-up
    torch.cuda.synchronize()
    t = time.perf_counter()
    rows = engine.generate(prompts, params)
    dt = time.perf_counter() - t
    toks = sum(c.completion_tokens for r in rows for c in r)
    print(f"generate: {len(prompts)} prompts x {params.n}: {toks} tokens in {dt:.2f} s = {toks / dt:.0f} tok/s")
    seeds = prompt_seeds(params, len(prompts))
    alone = [engine.generate([q], params, seeds=[s])[0] for q, s in zip(prompts[:16], seeds[:16])]
    share = same(alone, rows[:16])
    print(f"per-prompt seeds: alone vs in the batch of 64, {share:.0%} of samples identical")
    assert share >= 0.9
    before = torch.cuda.memory_allocated()
    assert release_for_training(engine) is None
    after = torch.cuda.memory_allocated()
    print(f"release before training: {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB allocated")
    assert after < before
    cfg = TrainConfig(epochs=1, grad_accum=1, max_tokens=256, rank=4)
    t = time.perf_counter()
    record = train(cfg, work / "adapter", pairs_file=reference_pairs("pairs_7b_40.jsonl", None), model=model,
                   progress=False)  # fmt: skip
    losses = [x["loss"] for x in record["loss_curve"]]
    print(f"train: {record['pairs']} pairs, {record['examples']} examples, {time.perf_counter() - t:.1f} s, "
          f"precision {record['precision']}, loss {losses[0]:.3f} -> {losses[-1]:.3f}")  # fmt: skip
    engine = get_engine("hf", model, batch_size=32)
    base = engine.generate(prompts[:16], params)
    tuned = engine.generate(prompts[:16], params, adapter=str(work / "adapter"))
    again = engine.generate(prompts[:16], params)
    print(f"adapter: {same(tuned, base):.0%} of samples equal to the base's; base unchanged after: "
          f"{same(again, base):.0%}")  # fmt: skip
    assert same(again, base) >= 0.9 and same(tuned, base) < 0.5
    print("gpu check: all passed")


if __name__ == "__main__":
    main()
