"""Evaluation on HumanEval, HumanEval+, MBPP, MBPP+ (judged in the sandbox) and GSM8K, MATH-500 (answers
checked by math-verify): raw or chat format."""

from ..tasks.registry import DOMAINS, get_domain
from .compare import compare, interaction
from .run import evaluate, markdown, write

BENCHES = tuple(bench for name in DOMAINS for bench in get_domain(name).benches)  # each domain names its own

__all__ = ["BENCHES", "compare", "evaluate", "interaction", "markdown", "write"]
