"""What travels with every result: library versions, machine, and time."""

from __future__ import annotations

import platform
import sys
import time
from importlib import metadata

PACKAGES = ("selfmine", "torch", "transformers", "peft", "trl", "accelerate", "vllm", "datasketch", "numpy")


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
