"""`engine.backend: auto`: the backend that measured fastest on this kind of machine for this kind of job.

A job is greedy (evaluation) or sampling (mining, best-of-n); the kind of machine is `numerics`' class
(`cpu:avx2`, `cpu:avx512_bf16`, `cpu:amx`, or a GPU). The rule, in order:
1. vLLM not installed: hf.
2. A GPU with vLLM: vLLM (paged batching on a GPU is what vLLM is for; the hf engine is built for a small CPU).
3. A CPU: vLLM only where a measurement of this class, model and mode says it is at least MARGIN times faster
   than the hf engine; with no measurement, hf. Per model, because the ratio is: on the same machine vLLM
   sampled gemma-3-270m 1.27x faster than the hf engine and qwen2.5-coder-0.5b 1.07x (the hf engine caps
   nucleus sampling at 256 candidates; vLLM sorts the vocabulary, and the cost of that depends on the model). The hf engine is batch-invariant (a resumed run repeats an
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
from .models import DEFAULT_ALIASES, DEFAULT_MODEL
from .numerics import numerics

MARGIN = 1.2
MODES = ("greedy", "sampling")

ANY_MODEL = "*"  # a measurement that names no model (measured.json written before tables were per model)

# machine class -> model (`model_key`) -> mode -> aggregate tokens/s per backend; batch 32, a queue of 2
# batches, 128 new tokens, each side warmed up, same threads, a 2-core AMD EPYC with AVX512-BF16:
# - qwen2.5-coder-0.5b-instruct, session 19, nothing else running: greedy 1.52x, sampling 1.07x (session 11
#   measured 1.81x and 1.03x on the same kind of machine under load);
# - gemma-3-270m, session 20, light judge runs beside it: greedy 1.68x, sampling 1.27x.
MEASURED: dict[str, dict[str, dict[str, dict[str, float]]]] = {
    "cpu:avx512_bf16": {
        "qwen2.5-coder-0.5b-instruct": {
            "greedy": {"hf": 72.7, "vllm": 110.4},
            "sampling": {"hf": 107.1, "vllm": 115.0},
        },
        DEFAULT_MODEL: {"greedy": {"hf": 141.5, "vllm": 237.8}, "sampling": {"hf": 124.7, "vllm": 158.1}},
    },
}


@dataclass(frozen=True)
class Choice:
    backend: str
    reason: str

    def info(self) -> dict:
        return {"chose": self.backend, "reason": self.reason}


def mode_of(*, n: int, temperature: float) -> str:
    return "greedy" if n == 1 and temperature == 0 else "sampling"


def model_key(model: str | None) -> str:
    """The name a measurement is filed under: the default model's aliases as one, a preset or path as given."""
    return DEFAULT_MODEL if model in DEFAULT_ALIASES else str(model)


def _own() -> dict:
    """The user's measured.json as machine -> model -> mode -> rates; a file from before tables were per model
    (machine -> mode -> rates) counts for any model. A broken file is ignored, never fatal."""
    try:
        own = json.loads((selfmine_home() / "measured.json").read_text())
    except (OSError, ValueError):
        return {}
    table: dict = {}
    for machine, entries in own.items() if isinstance(own, dict) else ():
        if not isinstance(entries, dict):
            continue
        for key, value in entries.items():
            if key in MODES:
                table.setdefault(machine, {}).setdefault(ANY_MODEL, {})[key] = value
            elif isinstance(value, dict):
                table.setdefault(machine, {}).setdefault(key, {}).update(value)
    return table


def measurements() -> dict:
    """The committed table, with the user's own measurements (per class, model and mode) on top."""
    table = {machine: {model: dict(modes) for model, modes in models.items()} for machine, models in MEASURED.items()}
    for machine, models in _own().items():
        for model, modes in models.items():
            table.setdefault(machine, {}).setdefault(model, {}).update(modes)
    return table


def _rates(table: dict, machine: str, model: str, mode: str) -> dict | None:
    """This model's measurement, else one that names no model (the user's older file)."""
    models = table.get(machine, {})
    return models.get(model, {}).get(mode) or models.get(ANY_MODEL, {}).get(mode)


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def choose(
    mode: str,
    *,
    model: str | None = None,
    dtype: str = "auto",
    table: dict | None = None,
    has_vllm: bool | None = None,
) -> Choice:
    """The backend for a job of `mode` ("greedy" or "sampling") with `model` on this machine, with the reason."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if not (vllm_installed() if has_vllm is None else has_vllm):
        return Choice("hf", "vLLM is not installed")
    machine = numerics("hf", dtype)["device"]
    if machine.startswith("cuda"):
        return Choice("vllm", f"a GPU ({machine}) with vLLM installed")
    name = model_key(model)
    rates = _rates(measurements() if table is None else table, machine, name, mode)
    if not rates or not rates.get("hf") or not rates.get("vllm"):
        return Choice("hf", f"no {mode} measurement of vLLM against hf for {name} on {machine}")
    ratio = rates["vllm"] / rates["hf"]
    said = f"vLLM measured {ratio:.2f}x the hf engine, {mode}, {name}, on {machine}"
    return Choice("vllm", said) if ratio >= MARGIN else Choice("hf", f"{said} (under {MARGIN}x)")


def record(machine: str, mode: str, rates: dict[str, float], *, model: str | None = None) -> None:
    """Add a measurement (tokens/s per backend) of `model` to the user's own table."""
    path = selfmine_home() / "measured.json"
    own = _own()
    own.setdefault(machine, {}).setdefault(model_key(model), {})[mode] = rates
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(own, indent=1, sort_keys=True))
