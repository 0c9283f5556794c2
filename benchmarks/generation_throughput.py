"""Generation throughput of selfmine's HF engine vs plain `model.generate`, same model, same prompts,
same stop strings, measured in the same run. Aggregate generated tokens per second; ratio printed last.

    python benchmarks/generation_throughput.py [--model default] [--batch-sizes 1,8,16,32] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time

import torch

from selfmine.engine.hf import HFEngine
from selfmine.engine.types import SamplingParams

STOPS = ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#"]
FALLBACK = [
    'def add(a, b):\n    """Return a + b."""\n',
    'def is_palindrome(s):\n    """True if s reads the same backwards."""\n',
]


def prompts(n: int) -> list[str]:
    from selfmine.datasets import bench_file

    path = bench_file("humaneval")[0]
    if path.exists():
        with gzip.open(path, "rt") as f:
            base = [json.loads(line)["prompt"] for line in f]
    else:
        base = FALLBACK
    return [base[i % len(base)] for i in range(n)]


def plain_generate(engine: HFEngine, batch: list[str], p: SamplingParams) -> int:
    tok, model = engine.tokenizer, engine.model
    tok.padding_side = "left"
    enc = tok(batch, return_tensors="pt", padding=True)
    kw = dict(do_sample=False) if p.greedy else dict(do_sample=True, temperature=p.temperature, top_p=p.top_p, top_k=0)
    torch.manual_seed(p.seed)
    with torch.inference_mode():
        out = model.generate(
            **enc, max_new_tokens=p.max_tokens, stop_strings=STOPS, tokenizer=tok, pad_token_id=engine.pad_id, **kw
        )
    new = out[:, enc["input_ids"].shape[1] :]
    # Count each row's tokens up to its end (HF pads finished rows; those pads are not output).
    return int(sum((row != engine.pad_id).sum().item() for row in new))


def ours(engine: HFEngine, batch: list[str], p: SamplingParams) -> int:
    return sum(c.completion_tokens for cs in engine.generate(batch, p) for c in cs)


def rate(fn, engine, batch, p) -> float:
    start = time.perf_counter()
    tokens = fn(engine, batch, p)
    return tokens / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--batch-sizes", default="1,8,16,32")
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()
    sizes = [int(x) for x in args.batch_sizes.split(",")]
    fp32 = HFEngine(args.model, batch_size=max(sizes), dtype="float32")
    auto = HFEngine(args.model, batch_size=max(sizes), dtype="auto")
    print(
        f"model {fp32.path}; torch threads {torch.get_num_threads()}; max_tokens {args.max_tokens}; "
        f"selfmine default dtype here: {auto.info()['dtype']}"
    )
    for e in (fp32, auto):
        ours(e, prompts(2), SamplingParams(max_tokens=4))  # warm-up
    plain_all, auto_all = [], []
    for mode, sp in [
        ("greedy", SamplingParams(max_tokens=args.max_tokens, stop=STOPS)),
        (
            "sample T=0.8 top_p=0.95",
            SamplingParams(max_tokens=args.max_tokens, stop=STOPS, temperature=0.8, top_p=0.95, seed=1),
        ),
    ]:
        for b in sizes:
            batch = prompts(b)
            fp32.batch_size = auto.batch_size = b
            base = rate(plain_generate, fp32, batch, sp)
            mine32 = rate(ours, fp32, batch, sp)
            mine = rate(ours, auto, batch, sp)
            plain_all.append(base)
            auto_all.append(mine)
            print(
                f"{mode:24} batch {b:3}: plain generate fp32 {base:6.1f} tok/s | selfmine fp32 {mine32:6.1f} "
                f"({mine32 / base:4.2f}x) | selfmine default {mine:6.1f} ({mine / base:4.2f}x)"
            )
    if auto.info()["dtype"] != "float32":
        b = max(sizes)
        g = SamplingParams(max_tokens=args.max_tokens, stop=STOPS)
        a = [c[0].text for c in auto.generate(prompts(b), g)]
        f = [c[0].text for c in fp32.generate(prompts(b), g)]
        prefix = sum(len(os.path.commonprefix([x, y])) / max(1, len(y)) for x, y in zip(a, f)) / b
        print(
            f"greedy {auto.info()['dtype']} vs float32 on {b} prompts: {sum(x == y for x, y in zip(a, f))} identical, "
            f"mean shared prefix {prefix:.2f} of the float32 text"
        )
    gm = lambda xs: float(torch.tensor(xs).log().mean().exp())  # noqa: E731
    print(f"best aggregate: selfmine default {max(auto_all):.1f} tok/s, plain generate {max(plain_all):.1f} tok/s")
    print(
        f"ratio (selfmine default / plain generate, geometric mean over configs): {gm(auto_all) / gm(plain_all):.2f}x"
    )


if __name__ == "__main__":
    main()
