"""`selfmine study`: fine-tuning vs test-time sampling across pair counts, seeds and prompt formats."""

from .errors import StudyError
from .plan import Adapter, Arm, plan, subset
from .run import run_study

__all__ = ["Adapter", "Arm", "StudyError", "plan", "run_study", "subset"]
