"""What a math problem's `solution()` program computes, run in the sandbox: shared by the math domain's
proposal checks and by importing reference math pairs."""

from __future__ import annotations

import ast

from ..sandbox import Job, check_sandbox, judge_many
from . import grounding
from . import math_text as mt

PROGRAM_TIMEOUT_S = 10.0


def _value(values: dict, tag_index: int = 0):
    """The program's value from the grounding program's output, or (None, why)."""
    kind, text = values.get(tag_index, ("N", "no value"))
    if kind != "V":
        return None, text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None, "unreadable value"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None, f"{type(value).__name__} is not a number or a closed form"
    return value, text


def program_values(programs: list[str], memory_mb: int, doing: str, runs: int = 1) -> list[list[tuple]]:
    """Each `solution()` program run in the sandbox `runs` times (all runs in one batch): per run, per
    program, (value, text) or (None, why). Sandbox failures raise (`check_sandbox`): never a verdict."""
    setup, tag = grounding.grounding_setup()
    tests = grounding.grounding_tests(mt.PROGRAM_NAME, [grounding.Call(())])
    jobs = [Job(code, tests, PROGRAM_TIMEOUT_S, memory_mb, setup) for code in programs]
    verdicts = check_sandbox(judge_many(jobs * runs), doing)
    out = []
    for r in range(runs):
        got = []
        for v in verdicts[r * len(jobs) : (r + 1) * len(jobs)]:
            value, why = _value(grounding.read_grounding(v.output, tag))
            got.append((value, why if value is not None else (v.message or why)))
        out.append(got)
    return out


def value_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
