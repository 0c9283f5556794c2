"""LoRA training on mined pairs (PEFT through TRL), with the control experiments built in."""

from ..config import CONTROLS, TrainConfig
from .run import TrainError, has_weights, losses_of, retrained, train

__all__ = ["CONTROLS", "TrainConfig", "TrainError", "has_weights", "losses_of", "retrained", "train"]
