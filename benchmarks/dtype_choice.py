"""bfloat16 or float32 for the `hf` engine on this CPU: which generates faster, in one run.

`dtype: auto` takes bfloat16 wherever the CPU has native bf16 instructions (AVX512-BF16 or AMX). Native
bf16 does not make bf16 GEMMs fast everywhere: without AMX, oneDNN's bf16 kernels can run below its fp32
ones on the same cores, and then bf16 only saves memory traffic, which a 2-core decode step at 32 rows does
not wait for (it is compute-bound). This prints the GEMM rate of each dtype at the row counts the engine
runs (a decode step: 32 rows; a prompt's prefill: about 130), then the engine itself in each dtype: the
same model, prompts, stop strings and threads, each side warmed up, two timed runs alternating between the
sides with the best kept, greedy and sampling (T 0.8, top-p 0.95, n 4). Prints each ratio fp32 / bf16.

    python benchmarks/dtype_choice.py [--model qwen2.5-coder-0.5b-instruct] [--prompts 16] [--max-tokens 128]
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from selfmine.engine.hf import HFEngine
from selfmine.engine.numerics import cpu_isa, cpu_vendor
from selfmine.engine.records import SamplingParams
from selfmine.tasks.code_bench import load_tasks

STOPS = ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#"]
DTYPES = ("bfloat16", "float32")


def gemm_rate(rows: int, dtype: torch.dtype) -> float:
    """GFLOP/s of oneDNN's linear (what the engine runs) for `rows` rows against a qwen MLP weight."""
    op = torch.ops.mkldnn._linear_pointwise
    w = torch.randn(4864, 896).to(dtype)
    x = torch.randn(rows, 896).to(dtype)
    with torch.inference_mode():
        for _ in range(3):
            op(x, w, None, "none", [], "")
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(20):
                op(x, w, None, "none", [], "")
            best = min(best, (time.perf_counter() - start) / 20)
    return 2 * rows * w.numel() / best / 1e9


def rate(engine: HFEngine, texts: list[str], params: SamplingParams) -> float:
    start = time.perf_counter()
    out = engine.generate(texts, params)
    return sum(c.completion_tokens for row in out for c in row) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    ap.add_argument("--prompts", type=int, default=16, help="greedy: this many prompts; sampling: a quarter, n 4")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"CPU: {platform.processor() or platform.machine()}, class {cpu_isa()} ({cpu_vendor()}), {args.threads} threads"
    )
    for rows in (1, 32, 64, 130):
        bf, fp = gemm_rate(rows, torch.bfloat16), gemm_rate(rows, torch.float32)
        print(f"  linear, {rows:3d} rows: bf16 {bf:5.0f} GFLOP/s, fp32 {fp:5.0f} GFLOP/s")
    engines = {d: HFEngine(args.model, dtype=d, batch_size=32) for d in DTYPES}
    texts = [t.prompt for t in load_tasks("humaneval")[0][: args.prompts]]
    modes = {
        "greedy": (texts, SamplingParams(n=1, temperature=0.0, max_tokens=args.max_tokens, stop=STOPS)),
        "sampling": (
            texts[: max(1, args.prompts // 4)],
            SamplingParams(n=4, temperature=0.8, top_p=0.95, max_tokens=args.max_tokens, seed=0, stop=STOPS),
        ),
    }
    for mode, (batch, params) in modes.items():
        for d in DTYPES:  # warm-up
            engines[d].generate(batch[:2], params)
        best = {d: 0.0 for d in DTYPES}
        for _ in range(2):
            for d in DTYPES:
                best[d] = max(best[d], rate(engines[d], batch, params))
        print(
            f"{args.model} {mode}: bf16 {best['bfloat16']:.1f} tok/s, fp32 {best['float32']:.1f} tok/s;"
            f" ratio fp32/bf16 {best['float32'] / best['bfloat16']:.2f}x"
        )


if __name__ == "__main__":
    main()
