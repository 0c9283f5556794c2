"""Training settings: the recipe's defaults (RESEARCH.md), every one a CLI option and a config key."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from ..schema import Section

CONTROLS = ("none", "corrupted", "shuffled", "rft", "format")


class TrainConfig(Section):
    method: Literal["sft", "dpo"] = "sft"
    format: Literal["repair", "solve", "mixed"] = "repair"
    control: Literal["none", "corrupted", "shuffled", "rft", "format"] = "none"
    keep_correct: float = Field(0.0, ge=0, description="keep-correct examples per pair (0.5 = one per two pairs)")
    classes: Optional[list[str]] = None  # keep only pairs whose broken side is of these classes
    drop_classes: list[str] = Field(default_factory=list)  # e.g. ["format"]
    first_n: Optional[int] = Field(None, ge=1, description="use the first N pairs (sweeps)")
    rank: int = Field(16, ge=1)
    alpha: Optional[int] = Field(None, ge=1, description="default: 2 x rank")
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    lr: float = Field(1e-4, gt=0)
    epochs: float = Field(2.0, gt=0)
    batch_size: int = Field(1, ge=1)
    grad_accum: int = Field(4, ge=1)
    max_tokens: int = Field(1024, ge=32)
    dpo_beta: float = Field(0.1, gt=0)
    gradient_checkpointing: bool = False  # on for big models on small GPUs
    dtype: str = "auto"  # auto: bf16 on GPUs and on CPUs with native bf16, else fp32
    chat: bool = False
    seed: int = 0
