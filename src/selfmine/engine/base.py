"""The one interface every generation backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

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
