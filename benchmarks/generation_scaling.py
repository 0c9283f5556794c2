"""Generation through Ray engine actors against the same engine in this process, in the same run, on the
same prompts and seeds: what sharding across actors costs (or gains) on one node. Both sides are warmed
up, use fp32 and the node's cores (one actor gets all of them; two actors split them). Prints generated
tokens per second for each, the share of identical samples, and the ratio last.

    python benchmarks/generation_scaling.py [--model PATH_OR_ID] [--prompts 16] [--n 4] [--max-tokens 48]
"""

from __future__ import annotations

import argparse
import os
import time

from selfmine.engine import SamplingParams, get_engine
from selfmine.tasks.code_bench import load_tasks


def tokens(rows) -> int:
    return sum(c.completion_tokens for row in rows for c in row)


def same(a, b) -> float:
    pairs = [(x.text, y.text) for ra, rb in zip(a, b) for x, y in zip(ra, rb)]
    return sum(x == y for x, y in pairs) / len(pairs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="default: the embedded gemma-3-270m base")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--actors", default="1,2")
    args = ap.parse_args()
    import ray

    from selfmine.scale.ray_engine import RayEngine

    tasks = load_tasks("humaneval", None)[0][: args.prompts]
    prompts = [t.prompt for t in tasks]
    params = SamplingParams(n=args.n, temperature=0.8, top_p=0.95, max_tokens=args.max_tokens, stop=tasks[0].stop)
    kwargs = {"dtype": "float32", "batch_size": 32}
    local = get_engine("hf", args.model, **kwargs)
    local.generate(prompts[:2], params)  # warm-up
    t = time.perf_counter()
    want = local.generate(prompts, params)
    local_s = time.perf_counter() - t
    local.close()
    print(f"local engine ({os.cpu_count()} threads): {tokens(want) / local_s:.1f} tok/s ({local_s:.1f} s)")
    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    last = None
    for k in [int(x) for x in args.actors.split(",")]:
        engine = RayEngine("auto", "hf", args.model, kwargs, per_node=k)
        engine.generate(prompts[: 2 * k], params)  # warm-up: every actor loaded and run once
        t = time.perf_counter()
        got = engine.generate(prompts, params)
        ray_s = time.perf_counter() - t
        engine.close()
        last = (k, tokens(got) / ray_s, tokens(want) / local_s)
        print(f"ray, {k} actor(s): {last[1]:.1f} tok/s ({ray_s:.1f} s), identical samples {same(got, want):.0%}")
    ray.shutdown()
    k, rr, lr = last
    print(f"ratio (ray with {k} actor(s) / local): {rr / lr:.2f}x")


if __name__ == "__main__":
    main()
