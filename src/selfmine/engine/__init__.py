"""Generation backends behind one call: prompts + sampling settings -> n completions per prompt."""

from __future__ import annotations

from .base import Engine, EngineError, release_for_training
from .models import DEFAULT_MODEL, LICENCE, ModelError, ensure_default_model, resolve_model, selfmine_home
from .records import Completion, SamplingParams, cut_at_stop

BACKENDS = ("hf", "vllm", "openai")


def get_engine(backend: str = "hf", model: str | None = None, **kwargs) -> Engine:
    """Build a backend. Heavy imports (torch, vllm) happen only for the backend chosen."""
    if backend == "hf":
        from .hf import HFEngine

        return HFEngine(model, **kwargs)
    if backend == "vllm":
        from .vllm import VLLMEngine

        return VLLMEngine(model, **kwargs)
    if backend == "openai":
        from .openai import OpenAIEngine

        return OpenAIEngine(model, **kwargs)
    raise EngineError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")


__all__ = [
    "release_for_training",
    "BACKENDS",
    "DEFAULT_MODEL",
    "LICENCE",
    "Completion",
    "Engine",
    "EngineError",
    "ModelError",
    "SamplingParams",
    "cut_at_stop",
    "ensure_default_model",
    "get_engine",
    "resolve_model",
    "selfmine_home",
]
