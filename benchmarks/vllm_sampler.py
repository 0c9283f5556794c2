"""The vllm backend's nucleus mask on a CPU against vLLM's own (`apply_top_k_top_p_pytorch`, which sorts the
whole vocabulary of every row at every step), in one process, on the same logits, both warmed up.

Logits: 32 rows over a vocabulary of Qwen2.5's (151,936) and Gemma 3's (262,144) size, either peaked (a few
tokens hold the top-p mass, as in a language model's decode step) or flat (the 256 candidates miss the
nucleus, so ours falls back to vLLM's full sort: the price of that case). Run it in .venv-vllm:

    .venv-vllm/bin/python benchmarks/vllm_sampler.py [--rows 32] [--reps 5]
"""

from __future__ import annotations

import argparse
import time

import torch

from selfmine.engine import vllm as ours


def logits(rows: int, vocab: int, peaked: bool) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows, vocab, generator=g) * 2
    if peaked:
        spikes = torch.randint(0, vocab, (rows, 8), generator=g)
        x.scatter_(1, spikes, 25 + torch.randn(rows, 8, generator=g))
    return x


def ms(fn, x, p, reps: int) -> float:
    fn(x.clone(), None, p, True)  # warm-up
    best = float("inf")
    for _ in range(reps):
        y = x.clone()
        start = time.perf_counter()
        fn(y, None, p, True)
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    ours.patch_sampler()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; top-p 0.95, {args.rows} rows; best of {args.reps}"
    )
    p = torch.full((args.rows,), 0.95)
    for vocab in (151936, 262144):
        for peaked in (True, False):
            x = logits(args.rows, vocab, peaked)
            theirs, mine = ms(ours._ORIGINAL, x, p, args.reps), ms(ours.fast_top_k_top_p, x, p, args.reps)
            kind = "peaked" if peaked else "flat (fallback)"
            print(
                f"vocab {vocab:7}, {kind:16}: vLLM {theirs:7.1f} ms/step, ours {mine:7.1f} ms/step, {theirs / mine:5.2f}x"
            )


if __name__ == "__main__":
    main()
