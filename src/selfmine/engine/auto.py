"""`engine.backend: auto`: the backend that measured fastest on this kind of machine for this kind of job.

A job is greedy (evaluation) or sampling (mining, best-of-n); the kind of machine is `numerics`' class
(`cpu:avx2`, `cpu:avx512_bf16`, `cpu:amx`, or a GPU). The rule, in order:
1. vLLM not installed: hf.
2. A GPU with vLLM: vLLM (paged batching on a GPU is what vLLM is for; the hf engine is built for a small CPU).
3. A CPU: vLLM only where a measurement of this class and mode says it is at least MARGIN times faster than
   the hf engine; with no measurement, hf. The hf engine is batch-invariant (a resumed run repeats an
   uninterrupted one token for token) and vLLM is not, so a win inside the machine's noise does not pay for it.

Measurements are `benchmarks/generation_throughput.py` results: the table below (committed figures), and
the user's own in `measured.json` under `$SELFMINE_HOME` (default ~/.cache/selfmine) (written by that script with `--record`), which take
precedence. The choice and its reason go into every result (`engine.describe()["auto"]`).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass

from ..hub import selfmine_home
from .numerics import numerics

MARGIN = 1.2
MODES = ("greedy", "sampling")

# aggregate tokens/s, qwen2.5-coder-0.5b-instruct, batch 32, a queue of 2 batches, 128 new tokens, each side
# warmed up, same threads (session 19, a 2-core AMD EPYC with AVX512-BF16 and nothing else running:
# greedy 1.52x, sampling 1.07x; session 11 measured 1.81x and 1.03x on the same kind of machine under load)
MEASURED: dict[str, dict[str, dict[str, float]]] = {
    "cpu:avx512_bf16": {"greedy": {"hf": 72.7, "vllm": 110.4}, "sampling": {"hf": 107.1, "vllm": 115.0}},
}


@dataclass(frozen=True)
class Choice:
    backend: str
    reason: str

    def info(self) -> dict:
        return {"chose": self.backend, "reason": self.reason}


def mode_of(*, n: int, temperature: float) -> str:
    return "greedy" if n == 1 and temperature == 0 else "sampling"


def measurements() -> dict:
    """The committed table, with the user's own measurements (per class and mode) on top."""
    table = {k: dict(v) for k, v in MEASURED.items()}
    try:
        own = json.loads((selfmine_home() / "measured.json").read_text())
    except (OSError, ValueError):
        own = {}
    for machine, modes in own.items() if isinstance(own, dict) else ():
        table.setdefault(machine, {}).update(modes)
    return table


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def choose(mode: str, *, dtype: str = "auto", table: dict | None = None, has_vllm: bool | None = None) -> Choice:
    """The backend for a job of `mode` ("greedy" or "sampling") on this machine, with the reason."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if not (vllm_installed() if has_vllm is None else has_vllm):
        return Choice("hf", "vLLM is not installed")
    machine = numerics("hf", dtype)["device"]
    if machine.startswith("cuda"):
        return Choice("vllm", f"a GPU ({machine}) with vLLM installed")
    rates = (measurements() if table is None else table).get(machine, {}).get(mode)
    if not rates or not rates.get("hf") or not rates.get("vllm"):
        return Choice("hf", f"no {mode} measurement of vLLM against hf on {machine}")
    ratio = rates["vllm"] / rates["hf"]
    if ratio >= MARGIN:
        return Choice("vllm", f"vLLM measured {ratio:.2f}x the hf engine, {mode}, on {machine}")
    return Choice("hf", f"vLLM measured {ratio:.2f}x the hf engine, {mode}, on {machine} (under {MARGIN}x)")


def record(machine: str, mode: str, rates: dict[str, float]) -> None:
    """Add a measurement (tokens/s per backend) to the user's own table."""
    path = selfmine_home() / "measured.json"
    try:
        own = json.loads(path.read_text())
    except (OSError, ValueError):
        own = {}
    own.setdefault(machine, {})[mode] = rates
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(own, indent=1, sort_keys=True))
