"""What decides a run's floating-point results besides its settings: the kind of processor and the dtype it
computes in. Greedy decoding and training give different numbers on an AVX2 machine in float32 and on an
AMX machine in bfloat16, so a run records this class with every stage and is not resumed on another one
(one stage from each would mix two machines in one paired comparison). The CPU's vendor is part of the
class: an Intel and an AMD CPU with the same AVX512-BF16 instructions gave the same model's greedy base
different completions on 15% of HumanEval (results/cpu-qwen2.5-coder-0.5b/README.md)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as f:
            line = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return frozenset()
    return frozenset(line.partition(":")[2].split())


@lru_cache(maxsize=1)
def cpu_vendor() -> str:
    """ "intel", "amd", or the raw vendor_id of /proc/cpuinfo ("unknown" without one)."""
    try:
        with open("/proc/cpuinfo") as f:
            line = next((line for line in f if line.startswith("vendor_id")), "")
    except OSError:
        return "unknown"
    raw = line.partition(":")[2].strip()
    return {"GenuineIntel": "intel", "AuthenticAMD": "amd"}.get(raw, raw or "unknown")


def cpu_has_native_bf16() -> bool:
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def cpu_isa() -> str:
    """The widest matrix instructions this CPU has, as the class that decides which kernels run."""
    flags = cpu_flags()
    for name, flag in (("amx", "amx_bf16"), ("avx512_bf16", "avx512_bf16"), ("avx512", "avx512f"), ("avx2", "avx2")):
        if flag in flags:
            return name
    return "other"


def numerics(backend: str, dtype: str | None) -> dict:
    """{"device": ..., "dtype": ...} for an engine config, without loading a model. A remote (openai) engine's
    numbers are the server's business: its class is "remote"."""
    if backend == "openai":
        return {"device": "remote"}
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    if cuda:
        device, native_bf16, extra = f"cuda:{torch.cuda.get_device_name(0)}", True, {}
    else:
        device, native_bf16, extra = f"cpu:{cpu_isa()}", cpu_has_native_bf16(), {"vendor": cpu_vendor()}
    if dtype in (None, "auto"):
        dtype = "bfloat16" if native_bf16 else "float32"
    return {"device": device, **extra, "dtype": dtype}
