"""The domains, by name: the one registry (tasks.base holds the interface alone, so a domain module can
import it without a cycle)."""

from __future__ import annotations

from .base import Domain, EvalKit
from .code_domain import CodeDomain
from .math_domain import MathDomain

DOMAINS = ("code", "math")


def get_domain(name: str) -> Domain:
    if name == "code":
        return CodeDomain()
    if name == "math":
        return MathDomain()
    raise ValueError(f"unknown domain {name!r}: choose from {', '.join(DOMAINS)}")


def bench_domain(bench: str) -> str:
    """The domain a benchmark measures (a study's transfer axis: pairs of one domain, benchmark of another)."""
    for name in DOMAINS:
        if bench in get_domain(name).benches:
            return name
    raise ValueError(f"unknown benchmark {bench!r}")


def bench_kit(bench: str) -> EvalKit:
    """The evaluation kit of the domain a benchmark measures."""
    return get_domain(bench_domain(bench)).eval_kit()
