"""Evaluation on HumanEval, HumanEval+, MBPP, MBPP+ (judged in the sandbox) and GSM8K, MATH-500 (answers
checked by math-verify): raw or chat format."""

from ..tasks.code_bench import BENCHES as CODE_BENCHES
from ..tasks.code_bench import load_tasks
from ..tasks.math_bench import MATH_BENCHES
from .compare import compare, interaction
from .run import evaluate, markdown, write

BENCHES = CODE_BENCHES + MATH_BENCHES

__all__ = ["BENCHES", "compare", "evaluate", "interaction", "load_tasks", "markdown", "write"]
