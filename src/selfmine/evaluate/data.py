"""Moved: the code benchmarks' tasks are the code domain's, in `tasks/code_bench.py`. These names stay
importable from here for code written against the old place."""

from ..tasks.code_bench import BENCHES, EvalTask, load_tasks

__all__ = ["BENCHES", "EvalTask", "load_tasks"]
