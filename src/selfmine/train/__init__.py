"""LoRA training on mined pairs (PEFT through TRL), with the control experiments built in."""

from ..config import CONTROLS, TrainConfig
from .run import TrainError, losses_of, train

__all__ = ["CONTROLS", "TrainConfig", "TrainError", "losses_of", "train"]
