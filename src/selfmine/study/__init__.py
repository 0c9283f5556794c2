"""`selfmine study`: fine-tuning vs test-time sampling across pair counts, seeds and prompt formats."""

from .plan import Adapter, Arm, plan, subset
from .run import StudyError, run_study

__all__ = ["Adapter", "Arm", "StudyError", "plan", "run_study", "subset"]
