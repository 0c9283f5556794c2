"""What travels with every result: library versions, machine, and time."""

from __future__ import annotations

import os
import platform
import sys
import time
from importlib import metadata

from .engine.models import DEFAULT_MODEL, PRESETS, conversion_meta
from .hub import selfmine_home
from .sandbox import cgroup
from .sandbox.isolation import best_launcher

PACKAGES = (
    "selfmine",
    "torch",
    "transformers",
    "tokenizers",
    "peft",
    "trl",
    "accelerate",
    "vllm",
    "ray",
    "math-verify",
    "datasketch",
    "numpy",
)


def versions() -> dict:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def stamp() -> dict:
    return {"versions": versions(), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def environment() -> dict:
    """What this machine offers selfmine, for `selfmine env` and bug reports: the judge's isolation, the
    accelerator and precision the hf engine would pick, the packages, and the state of each converted
    model. Starts no sandbox and loads no model."""
    out: dict = {"packages": versions(), "judge isolation": best_launcher().describe(cgroup.label())}
    try:
        import torch  # optional (the ml extra), and slow to import: only here

        from .engine.hf import cpu_has_native_bf16, resolve_dtype

        cuda = torch.cuda.is_available()
        out["accelerator"] = torch.cuda.get_device_name(0) if cuda else "none (CPU)"
        out["cpu"] = f"{os.cpu_count()} cores, native bf16: {'yes' if cpu_has_native_bf16() else 'no'}"
        auto = resolve_dtype("auto", "cuda" if cuda else "cpu")
        out["hf engine dtype auto"] = str(auto).replace("torch.", "")
    except ImportError:
        out["accelerator"] = "torch is not installed (pip install -e '.[ml]')"
    models = {}
    for name in (DEFAULT_MODEL, *PRESETS):
        meta = conversion_meta(selfmine_home() / "models" / name)
        if meta is None:
            models[name] = "not converted yet (the first use converts it)"
        else:
            made = meta.get("converted_with", {}).get("transformers", "an older selfmine")
            models[name] = f"converted (conversion {meta.get('conversion', 1)}, transformers {made})"
    out["models"] = models
    return out
