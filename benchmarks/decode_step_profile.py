"""Where one decode step of the `hf` engine spends its time: the model's forward pass against everything
around it (sampling, stop strings, cache bookkeeping), then the top operators of a few steps under
torch.profiler (CUDA kernels too, on a GPU). Written for the GPU check: on an H100 the engine decoded
a 270M model at about 0.1 s per step, and this says where that goes.

    python benchmarks/decode_step_profile.py [--model default] [--batch 20] [--max-tokens 128] [--sample]
"""

from __future__ import annotations

import argparse
import time

import torch

from selfmine.engine import SamplingParams
from selfmine.engine.hf import HFEngine
from selfmine.tasks.code_bench import load_tasks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="a model directory or preset (default: the embedded model)")
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--sample", action="store_true", help="T=0.8, top_p=0.95 instead of greedy")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()

    engine = HFEngine(args.model, batch_size=args.batch)
    print("engine:", engine.info())
    prompts = [t.prompt for t in load_tasks("humaneval")[0][: args.batch]]
    temp = 0.8 if args.sample else 0.0
    params = SamplingParams(n=1, temperature=temp, top_p=0.95, max_tokens=args.max_tokens, seed=0, stop=["\ndef "])
    sync = torch.cuda.synchronize if engine.device == "cuda" else (lambda: None)

    forward = {"s": 0.0, "calls": 0, "prefill_s": 0.0, "prefills": 0, "rows": 0}
    plain = type(engine.model).forward

    def timed(self, *a, **k):
        ids = k.get("input_ids")
        sync()
        t = time.perf_counter()
        out = plain(self, *a, **k)
        sync()
        forward["s"] += time.perf_counter() - t
        forward["calls"] += 1
        if ids is not None and ids.shape[1] > 1:  # a prompt's prefill, not a decode step
            forward["prefill_s"] += time.perf_counter() - t
            forward["prefills"] += 1
        elif ids is not None:
            forward["rows"] += ids.shape[0]
        return out

    engine.generate(prompts[:2], params)  # warm-up: kernels, allocator, oneDNN primitives
    type(engine.model).forward = timed
    try:
        t = time.perf_counter()
        rows = engine.generate(prompts, params)
        sync()
        total = time.perf_counter() - t
    finally:
        type(engine.model).forward = plain
    tokens = sum(c.completion_tokens for r in rows for c in r)
    steps = forward["calls"]
    print(
        f"{len(prompts)} prompts, {tokens} tokens, {steps} forward calls in {total:.2f} s: "
        f"{total / steps * 1000:.1f} ms per step, of which forward {forward['s'] / steps * 1000:.1f} ms "
        f"({forward['s'] / total:.0%}); {tokens / total:.0f} tokens/s"
    )
    decode = steps - forward["prefills"]
    print(
        f"  prefill: {forward['prefills']} calls, {forward['prefill_s']:.2f} s "
        f"({forward['prefill_s'] / max(1, forward['prefills']) * 1000:.0f} ms each); decode: {decode} steps, "
        f"{(forward['s'] - forward['prefill_s']) / max(1, decode) * 1000:.1f} ms forward each, "
        f"{forward['rows'] / max(1, decode):.1f} rows per step on average; outside the forward: "
        f"{total - forward['s']:.2f} s"
    )

    activities = [torch.profiler.ProfilerActivity.CPU]
    if engine.device == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    short = SamplingParams(n=1, temperature=temp, top_p=0.95, max_tokens=8, seed=0)
    with torch.profiler.profile(activities=activities) as prof:
        engine.generate(prompts, short)
    key = "self_cuda_time_total" if engine.device == "cuda" else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=key, row_limit=args.top))


if __name__ == "__main__":
    main()
