"""The one interface every generation backend implements."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from pathlib import Path

from ..errors import UserError
from .records import Completion, SamplingParams


class EngineError(UserError):
    """A backend that cannot serve the request. The message is meant for the user."""


class Engine(ABC):
    name: str = "engine"
    model_name: str = ""
    holds_accelerator: bool = False  # True: close() before training, which needs the same GPU memory
    chosen: dict | None = None  # engine.backend auto: which backend it chose and why (engine/auto.py)

    @abstractmethod
    def generate(
        self,
        prompts: list[str],
        params: SamplingParams,
        adapter: str | None = None,
        progress: bool = False,
        seeds: list[int] | None = None,
    ) -> list[list[Completion]]:
        """For each prompt, `params.n` completions, cut at the first stop string. `seeds`: one sampling
        seed per prompt (default: drawn from params.seed and the prompt's index, `types.prompt_seeds`)."""

    def info(self) -> dict:
        """What a result needs to say about how it was generated."""
        return {"backend": self.name, "model": self.model_name}

    def describe(self) -> dict:
        """`info()`, with the `auto` choice that picked this backend: what a result records."""
        return {**self.info(), **({"auto": self.chosen} if self.chosen else {})}

    def close(self) -> None:
        pass


def release_for_training(engine: Engine | None) -> Engine | None:
    """Close an engine that holds the GPU (training needs the memory; vLLM keeps most of it) and return
    None, so the next evaluation loads it again; a CPU engine is kept, since reloading would only cost time."""
    if engine is not None and engine.holds_accelerator:
        engine.close()
        return None
    return engine


def adapter_weights(adapter: str | Path) -> list[Path]:
    """A PEFT adapter directory's weight files, or [] where it has none (or no adapter_config.json)."""
    path = Path(adapter).expanduser()
    if not (path / "adapter_config.json").is_file():
        return []
    return sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))


def adapter_sha256(adapter: str | Path | None) -> str | None:
    """The checksum of a PEFT adapter's weight files and its adapter_config.json (rank and alpha change what
    the same weights do), names and bytes; None for no adapter, or one named by a server (no local files)."""
    files = adapter_weights(adapter) if adapter is not None else []
    if not files:
        return None
    h = hashlib.sha256()
    for f in files + [Path(adapter).expanduser() / "adapter_config.json"] * bool(files):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


SERVED_ADAPTERS = ("openai",)  # backends that address an adapter by the name a server loaded it under


def require_adapter(adapter: str | Path, backend: str | None = None) -> None:
    """mine.adapter must be a PEFT adapter with its weights (checked before a run's baseline and again when
    mining wraps its engine), except on a server, where it is the adapter's served name."""
    if backend not in SERVED_ADAPTERS and not adapter_weights(adapter):
        raise EngineError(f"mine.adapter: no PEFT adapter weights at {adapter} (adapter_config.json and *.safetensors)")


class WithAdapter(Engine):
    """An engine whose every request goes through one LoRA adapter (per request, never merged): expert
    iteration mines with the previous iteration's adapter through the same propose and solve code."""

    def __init__(self, inner: Engine, adapter: str):
        require_adapter(adapter, inner.name)
        self.inner, self.adapter = inner, str(adapter)
        self.name, self.model_name, self.holds_accelerator = inner.name, inner.model_name, inner.holds_accelerator
        self.chosen, self.sha256 = inner.chosen, adapter_sha256(adapter)

    def generate(self, prompts, params, adapter=None, progress=False, seeds=None):
        return self.inner.generate(prompts, params, adapter=adapter or self.adapter, progress=progress, seeds=seeds)

    def info(self) -> dict:
        return {**self.inner.info(), "adapter": self.adapter, "adapter_sha256": self.sha256}

    def __getattr__(self, name):  # what a backend has beyond the interface (its tokenizer for chat prompts)
        inner = self.__dict__.get("inner")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)

    def close(self) -> None:
        self.inner.close()
