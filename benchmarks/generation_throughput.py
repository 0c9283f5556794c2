"""Generation throughput of selfmine's HF engine vs plain `model.generate`: same model, same dtype (each
dtype in --dtypes is compared with itself), same prompts, same stop strings, both sides warmed up, measured
in the same run. Aggregate generated tokens per second; the ratios, per dtype and separately for greedy and
for sampling (what mining uses), are printed last. A third column runs selfmine's loop with the plain
aten linears (`onednn_linears=False`), so the gain splits into the decoding loop and the kernel choice.

    python benchmarks/generation_throughput.py [--model default] [--batch-sizes 1,8,16,32] [--max-tokens 64]
        [--dtypes float32,bfloat16]
"""

from __future__ import annotations

import argparse
import gzip
import json
import time

import torch

from selfmine.engine.hf import HFEngine, cpu_has_native_bf16
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


def ours_aten(engine: HFEngine, batch: list[str], p: SamplingParams) -> int:
    engine.onednn_linears = False
    try:
        return ours(engine, batch, p)
    finally:
        engine.onednn_linears = True


def rate(fn, engine, batch, p) -> float:
    start = time.perf_counter()
    tokens = fn(engine, batch, p)
    return tokens / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--batch-sizes", default="1,8,16,32")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--dtypes", default="float32,bfloat16")
    args = ap.parse_args()
    sizes = [int(x) for x in args.batch_sizes.split(",")]
    modes = [
        ("greedy", SamplingParams(max_tokens=args.max_tokens, stop=STOPS)),
        ("sampling", SamplingParams(max_tokens=args.max_tokens, stop=STOPS, temperature=0.8, top_p=0.95, seed=1)),
    ]
    engines = {d: HFEngine(args.model, batch_size=max(sizes), dtype=d) for d in args.dtypes.split(",")}
    first = next(iter(engines.values()))
    print(
        f"model {first.path}; torch threads {torch.get_num_threads()}; max_tokens {args.max_tokens}; "
        f"native bf16 on this CPU: {cpu_has_native_bf16()}"
    )
    gm = lambda xs: float(torch.tensor(xs).log().mean().exp())  # noqa: E731
    ratios = {}
    for dtype, e in engines.items():
        for _, sp in modes:  # warm both sides up, in this dtype and decoding
            plain_generate(e, prompts(2), SamplingParams(**{**sp.__dict__, "max_tokens": 4}))
            ours(e, prompts(2), SamplingParams(**{**sp.__dict__, "max_tokens": 4}))
            ours_aten(e, prompts(2), SamplingParams(**{**sp.__dict__, "max_tokens": 4}))
        for mode, sp in modes:
            per = []
            for b in sizes:
                batch = prompts(b)
                e.batch_size = b
                base, loop, mine = (rate(fn, e, batch, sp) for fn in (plain_generate, ours_aten, ours))
                per.append((mine / base, loop / base))
                print(
                    f"{dtype:9} {mode:9} batch {b:3}: plain generate {base:6.1f} tok/s | selfmine, aten linears "
                    f"{loop:6.1f} ({loop / base:4.2f}x) | selfmine {mine:6.1f} tok/s ({mine / base:4.2f}x)"
                )
            ratios[(dtype, mode)] = (gm([r for r, _ in per]), gm([r for _, r in per]))
    print(f"linear kernel while selfmine decodes: {first.info()['linear_kernel']}")
    print("ratio selfmine / plain generate, same dtype, geometric mean over batch sizes (loop alone in brackets):")
    for (dtype, mode), (r, loop) in ratios.items():
        print(f"  {dtype} {mode}: {r:.2f}x ({loop:.2f}x)")


if __name__ == "__main__":
    main()
