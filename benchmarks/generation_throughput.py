"""Generation throughput on this machine: plain `model.generate`, selfmine's previous decoding loop (fixed
chunks, `decoding="chunks"`), its continuous batching (`decoding="slots"`, the default) and, where vLLM is
installed (`make setup-vllm`, then run this with .venv-vllm/bin/python), the vllm backend, all in one run,
same model, same dtype, same threads, same prompts and stop strings, each side warmed up first. vLLM's
engine is built once per model with room for the largest batch (`max_num_seqs`), and it schedules its own
batches up to that.

Aggregate generated tokens per second over a queue of prompts `--queue` times deeper than the batch (what
evaluation and mining do: 164 to 378 prompts, 32 rows at a time), greedy and sampling (T 0.8, top-p 0.95,
n 4). Plain generate gets its best case: prompts sorted by length, left-padded batches of the same rows,
its own stop strings. The machine's roofline (bf16/fp32 GEMM FLOP/s, memory bandwidth) and the weight bytes
one decode step must read are printed first, so each figure can be read against what the hardware allows.

    python benchmarks/generation_throughput.py [--models default,qwen2.5-coder-0.5b-instruct]
        [--batch-sizes 32] [--queue 3] [--max-tokens 128] [--modes greedy,sampling] [--dtype auto]
        [--sides "plain generate,chunks (previous),slots,vllm"]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import time

import torch

from selfmine.engine.hf import HFEngine
from selfmine.engine.records import SamplingParams

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


def roofline() -> str:
    """Measured, not quoted: a large bf16 and fp32 GEMM, and a streaming read of 1 GiB."""

    def best(f, reps=3):
        f()
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            f()
            times.append(time.perf_counter() - t)
        return min(times)

    out = []
    for dt in (torch.bfloat16, torch.float32):
        a, b = torch.randn(2048, 2048).to(dt), torch.randn(2048, 2048).to(dt)
        out.append(f"{str(dt)[6:]} GEMM {2 * 2048**3 / best(lambda a=a, b=b: a @ b) / 1e12:.2f} TFLOP/s")
    big = torch.ones(256 * 1024 * 1024)
    out.append(f"read {big.numel() * 4 / best(lambda: big.sum()) / 1e9:.1f} GB/s")
    return ", ".join(out)


def plain_generate(engine: HFEngine, batch: list[str], p: SamplingParams) -> int:
    tok, model = engine.tokenizer, engine.model
    tok.padding_side = "left"
    per_call = max(1, engine.batch_size // p.n)
    ordered = sorted(batch, key=lambda s: len(tok(s)["input_ids"]))
    kw = dict(do_sample=False) if p.greedy else dict(do_sample=True, temperature=p.temperature, top_p=p.top_p, top_k=0)
    torch.manual_seed(p.seed)
    total = 0
    for i in range(0, len(ordered), per_call):
        enc = tok(ordered[i : i + per_call], return_tensors="pt", padding=True)
        with torch.inference_mode():
            out = model.generate(
                **enc,
                max_new_tokens=p.max_tokens,
                stop_strings=STOPS,
                tokenizer=tok,
                pad_token_id=engine.pad_id,
                num_return_sequences=p.n,
                **kw,
            )
        new = out[:, enc["input_ids"].shape[1] :]
        # Each row's tokens up to its end (HF pads finished rows; those pads are not output).
        total += int(sum((row != engine.pad_id).sum().item() for row in new))
    return total


def selfmine(decoding: str):
    def run(engine: HFEngine, batch: list[str], p: SamplingParams) -> int:
        engine.decoding = decoding
        return sum(c.completion_tokens for cs in engine.generate(batch, p) for c in cs)

    return run


_VLLM: dict = {}  # the vllm engine of the model being measured


def vllm_side(engine: HFEngine, batch: list[str], p: SamplingParams) -> int:
    return sum(c.completion_tokens for cs in _VLLM["engine"].generate(batch, p) for c in cs)


SIDES = {
    "plain generate": plain_generate,
    "chunks (previous)": selfmine("chunks"),
    "slots": selfmine("slots"),
    "vllm": vllm_side,
}


def default_sides() -> str:
    try:
        import vllm  # noqa: F401

        return ",".join(SIDES)
    except ImportError:
        return ",".join(k for k in SIDES if k != "vllm")


def rate(fn, engine, batch, p) -> float:
    start = time.perf_counter()
    tokens = fn(engine, batch, p)
    return tokens / (time.perf_counter() - start)


def weight_bytes(model) -> int:
    """Bytes a decode step streams: every weight but the input embedding (a lookup), plus the LM head even
    where it is tied to that embedding."""
    head = model.get_output_embeddings().weight
    rest = sum(p.numel() * p.element_size() for n, p in model.named_parameters() if "embed_tokens" not in n)
    tied = not any(p is head for p in model.parameters() if p is not model.get_input_embeddings().weight)
    return rest + (head.numel() * head.element_size() if tied else 0)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.machine()
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    isa = [x for x in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if x in flags]
    return f"{name} ({', '.join(isa)}; {os.cpu_count()} cores)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="default,qwen2.5-coder-0.5b-instruct")
    ap.add_argument("--batch-sizes", default="32")
    ap.add_argument("--queue", type=int, default=3, help="prompts (sequences) per batch row in the queue")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--modes", default="greedy,sampling")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--sides", default=default_sides(), help="which of: " + ", ".join(SIDES))
    ap.add_argument(
        "--record",
        action="store_true",
        help="write the hf (slots) and vllm rates of the last model and largest batch, per mode, into this "
        "machine's own table for `engine.backend: auto` (measured.json under $SELFMINE_HOME)",
    )
    args = ap.parse_args()
    modes = {
        "greedy": SamplingParams(max_tokens=args.max_tokens, stop=STOPS),
        "sampling": SamplingParams(n=4, max_tokens=args.max_tokens, stop=STOPS, temperature=0.8, top_p=0.95, seed=1),
    }
    sides = {k: SIDES[k] for k in args.sides.split(",")}
    print(f"CPU: {cpu_name()}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"roofline: {roofline()}")
    summary = []
    for name in args.models.split(","):
        engine = HFEngine(None if name == "default" else name, dtype=args.dtype)
        info = engine.info()
        if "vllm" in sides:
            from selfmine.engine.vllm import VLLMEngine

            start = time.perf_counter()
            most = max(int(x) for x in args.batch_sizes.split(","))
            _VLLM["engine"] = VLLMEngine(None if name == "default" else name, dtype=args.dtype, batch_size=most)
            print(f"{name}: vllm engine started in {time.perf_counter() - start:.0f} s")
        print(
            f"\n{name}: {info['dtype']}, linears {info['linear_kernel']}; one decode step reads "
            f"{weight_bytes(engine.model) / 1e9:.2f} GB of weights"
        )
        for mode in args.modes.split(","):
            p = modes[mode]
            for side in sides.values():  # warm-up: every side, this mode
                engine.batch_size = 4
                side(engine, prompts(2), SamplingParams(**{**p.__dict__, "max_tokens": 4}))
            for b in (int(x) for x in args.batch_sizes.split(",")):
                engine.batch_size = b
                batch = prompts(max(1, b * args.queue // p.n))
                got = {k: rate(fn, engine, batch, p) for k, fn in sides.items()}
                line = " | ".join(f"{k} {v:6.1f}" for k, v in got.items())
                ratios = [
                    f"{a} / {base} {got[a] / got[base]:.2f}x"
                    for a, base in (("slots", "chunks (previous)"), ("vllm", "slots"))
                    if {a, base} <= got.keys()
                ]
                print(
                    f"  {mode:8} batch {b:3}, {len(batch)} prompts x n {p.n}: {line} tok/s | " + ", ".join(ratios),
                    flush=True,
                )
                summary.append((name, mode, b, got))
        engine.close()
        if _VLLM:
            _VLLM.pop("engine").close()
    print("\nsummary (tok/s):")
    for name, mode, b, got in summary:
        print(f"  {name} {mode} batch {b}: " + ", ".join(f"{k} {v:.1f}" for k, v in got.items()))
    if args.record:
        record(summary, dtype=args.dtype)


def record(summary: list, *, dtype: str) -> None:
    """The rates `engine.backend: auto` decides by: hf (the slots side) against vllm, per model and mode."""
    from selfmine.engine import auto
    from selfmine.engine.numerics import numerics

    machine = numerics("hf", dtype)["device"]
    for name, mode, b, got in summary:  # later rows (larger batches) win
        if {"slots", "vllm"} <= got.keys():
            rates = {"hf": round(got["slots"], 2), "vllm": round(got["vllm"], 2)}
            auto.record(machine, mode, rates, model=name)
            print(f"recorded for auto on {machine}, {name}, {mode}, batch {b}: hf {rates['hf']}, vllm {rates['vllm']}")


if __name__ == "__main__":
    main()
