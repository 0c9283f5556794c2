"""Decode-step attention with grouped query heads: what it saves, in one run.

The baseline is the call the `hf` engine made before (`slots.slot_attention` up to session 16):
`scaled_dot_product_attention(..., enable_gqa=True)` over the slot cache with its boolean key mask, what a
user of torch >= 2.5 would write. The other side is `slots.grouped_attention`: the query heads that share a
key head stacked as that head's queries, so no key is copied. Same tensors, dtype and threads; each side
warmed up; timed runs alternate and the best is kept. Prints, per shape: ms per call for each side, the
ratio, and the largest difference between the two outputs.

With --model it also runs the whole engine (sampling, HumanEval prompts) with each attention in turn and
prints aggregate tokens/s and how many texts came out the same.

    python benchmarks/decode_attention.py [--rows 32] [--width 512] [--threads 2] [--model qwen2.5-coder-0.5b-instruct]
"""

from __future__ import annotations

import argparse
import functools
import time

import torch

from selfmine.engine import slots

# (name, query heads, key heads, head dim, layers): the two presets' attention shapes (config.json)
SHAPES = [("qwen2.5-coder-0.5b", 14, 2, 64, 24), ("gemma-3-270m", 4, 1, 256, 18)]


def expanded(query, key, value, mask, *, scale):
    """The baseline: SDPA's own grouped-query option."""
    return torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=mask, scale=scale, enable_gqa=query.shape[1] != key.shape[1]
    )


def best_ms(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        best = min(best, (time.perf_counter() - start) / repeats * 1e3)
    return best


def op_level(rows: int, width: int, dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(0)
    for name, heads, kv_heads, dim, layers in SHAPES:
        q = torch.randn(rows, heads, 1, dim, generator=gen).to(dtype)
        k, v = (torch.randn(rows, kv_heads, width, dim, generator=gen).to(dtype) for _ in range(2))
        lengths = torch.randint(width // 4, width, (rows,), generator=gen)
        mask = (torch.arange(width)[None, :] <= lengths[:, None])[:, None, None, :]
        args = (q, k, v, mask)
        base = best_ms(functools.partial(expanded, *args, scale=None), 20)
        new = best_ms(functools.partial(slots.grouped_attention, *args, scale=None), 20)
        diff = (expanded(*args, scale=None) - slots.grouped_attention(*args, scale=None)).abs()
        print(
            f"{name:20s} {str(dtype):15s} rows {rows} width {width}: enable_gqa {base:.2f} ms, grouped {new:.2f} ms"
            f" per layer (x{layers} layers per step: {(base - new) * layers:.0f} ms saved); ratio {base / new:.2f}x;"
            f" max |diff| {diff.max().item():.2e}"
        )


def engine_level(model: str, prompts: int, n: int, max_tokens: int) -> None:
    from selfmine.engine.hf import HFEngine
    from selfmine.engine.records import SamplingParams
    from selfmine.tasks.code_bench import load_tasks

    engine = HFEngine(model, batch_size=32)
    texts = [t.prompt for t in load_tasks("humaneval")[0][:prompts]]
    params = SamplingParams(
        n=n, temperature=0.8, top_p=0.95, max_tokens=max_tokens, seed=0, stop=["\ndef ", "\nclass "]
    )
    sides = {"enable_gqa": expanded, "grouped": slots.grouped_attention}
    rates: dict[str, float] = {}
    outputs = {}
    for _ in range(2):  # the first round warms up both sides; the best of two is kept
        for side, fn in sides.items():
            slots.grouped_attention = fn
            start = time.perf_counter()
            outputs[side] = engine.generate(texts, params)
            tokens = sum(c.completion_tokens for row in outputs[side] for c in row)
            rates[side] = max(rates.get(side, 0.0), tokens / (time.perf_counter() - start))
    slots.grouped_attention = sides["grouped"]
    same = sum(a.text == b.text for ra, rb in zip(*outputs.values()) for a, b in zip(ra, rb))
    print(f"engine {model} ({engine.info().get('dtype')}), {prompts} prompts x {n}, {max_tokens} tokens:")
    print(f"  enable_gqa {rates['enable_gqa']:.1f} tok/s, grouped {rates['grouped']:.1f} tok/s")
    print(f"  same texts {same}/{prompts * n}; ratio {rates['grouped'] / rates['enable_gqa']:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--width", type=int, default=512, help="cache columns (a multiple of 512, as the engine keeps)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default=None, help="also time the whole engine on this model or preset")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for dtype in (torch.bfloat16, torch.float32):
        op_level(args.rows, args.width, dtype)
    if args.model:
        engine_level(args.model, args.prompts, args.n, args.max_tokens)


if __name__ == "__main__":
    main()
