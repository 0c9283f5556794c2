"""Evaluation on HumanEval, HumanEval+, MBPP, MBPP+ (judged in the sandbox) and GSM8K, MATH-500 (answers
checked by math-verify): raw or chat format."""

from .compare import compare, interaction
from .data import BENCHES as CODE_BENCHES
from .data import load_tasks
from .math_bench import MATH_BENCHES
from .run import evaluate, markdown, write

BENCHES = CODE_BENCHES + MATH_BENCHES

__all__ = ["BENCHES", "compare", "evaluate", "interaction", "load_tasks", "markdown", "write"]
