"""Chat format, only where a config asks for it: base models get raw-completion prompts."""

from __future__ import annotations

from .base import Engine, EngineError


def chat_prompt(engine: Engine, user_text: str) -> str:
    tok = getattr(engine, "tokenizer", None)
    if tok is None or not getattr(tok, "chat_template", None):
        raise EngineError(f"model {engine.model_name!r} has no chat template; use raw-completion format")
    return tok.apply_chat_template([{"role": "user", "content": user_text}], tokenize=False, add_generation_prompt=True)
