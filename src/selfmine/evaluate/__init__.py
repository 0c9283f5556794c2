"""Evaluation on HumanEval, HumanEval+, MBPP, MBPP+: raw or chat format, judged in the sandbox."""

from .compare import compare, interaction
from .data import BENCHES, load_tasks
from .run import evaluate, markdown, write

__all__ = ["BENCHES", "compare", "evaluate", "interaction", "load_tasks", "markdown", "write"]
