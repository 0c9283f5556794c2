"""Batch-invariant decoding: what it costs and what it buys, in one run.

Both sides are the same `hf` engine, weights, dtype and threads; the baseline decodes as the engine did
before (`batch_invariant=False`: one left-padded prefill per chunk, stock SDPA over the padded cache,
single-row GEMMs allowed). For each side: aggregate generated tokens/s on HumanEval prompts (sampling, each
side warmed up, two timed runs alternating between the sides, the best kept), and how many of the first
prompts' samples come out identical when generated alone and inside the batch. Prints the ratio last.

    python benchmarks/batch_invariance.py [--model default] [--dtype auto] [--prompts 16] [--n 4]
"""

from __future__ import annotations

import argparse
import time

from selfmine.engine.hf import HFEngine
from selfmine.engine.invariant import MIN_ROWS
from selfmine.engine.records import SamplingParams, prompt_seeds
from selfmine.tasks.code_bench import load_tasks


def set_invariant(engine: HFEngine, on: bool) -> None:
    engine.batch_invariant, engine.min_rows = on, (MIN_ROWS if on else 1)


def rate(engine, prompts, params) -> float:
    start = time.perf_counter()
    out = engine.generate(prompts, params)
    return sum(c.completion_tokens for row in out for c in row) / (time.perf_counter() - start)


def identical_alone(engine, prompts, params, check: int) -> tuple[int, int]:
    seeds = prompt_seeds(params, len(prompts))
    whole = engine.generate(prompts, params)
    alone = [engine.generate([p], params, seeds=[s])[0] for p, s in zip(prompts[:check], seeds[:check])]
    same = sum(a.text == b.text for ra, rb in zip(alone, whole) for a, b in zip(ra, rb))
    return same, check * params.n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--check", type=int, default=6, help="prompts generated alone too")
    args = ap.parse_args()
    engine = HFEngine(args.model, dtype=args.dtype, batch_size=32)
    prompts = [t.prompt for t in load_tasks("humaneval")[0][: args.prompts]]
    params = SamplingParams(n=args.n, temperature=0.8, top_p=0.95, max_tokens=args.max_tokens, seed=3)
    info = engine.info()
    print(f"model {info['model']}, dtype {info['dtype']}, {args.prompts} prompts x {args.n}, {args.max_tokens} tokens")
    best = {False: 0.0, True: 0.0}
    for on in (False, True):  # warm-up
        set_invariant(engine, on)
        engine.generate(prompts[:4], params)
    for _ in range(2):
        for on in (False, True):
            set_invariant(engine, on)
            best[on] = max(best[on], rate(engine, prompts, params))
    for on in (False, True):
        set_invariant(engine, on)
        same, total = identical_alone(engine, prompts, params, args.check)
        name = "batch-invariant" if on else "previous decoding"
        print(f"{name:18s} {best[on]:7.1f} tok/s   identical alone and in the batch: {same}/{total}")
    print(f"ratio (batch-invariant / previous): {best[True] / best[False]:.2f}x")


if __name__ == "__main__":
    main()
