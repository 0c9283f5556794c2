"""The typed result of judging: one Verdict per program, one TestResult per test."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum


class Status(str, Enum):
    PASSED = "passed"
    FAILED = "failed"  # an assert failed
    ERROR = "error"  # the program raised, or exited / was killed before its tests finished
    TIMEOUT = "timeout"
    MEMORY = "memory"
    OUTPUT_LIMIT = "output_limit"
    SANDBOX_ERROR = "sandbox_error"  # the judge failed, not the program: retry, never score


@dataclass
class TestResult:
    index: int
    source: str
    outcome: str  # passed | failed | error | not_run
    error_type: str = ""
    message: str = ""


@dataclass
class Verdict:
    status: Status
    message: str = ""
    duration_s: float = 0.0
    isolation: str = ""
    tests: list[TestResult] = field(default_factory=list)
    error_type: str = ""
    traceback: str = ""
    output: str = ""
    output_truncated: bool = False

    @property
    def passed(self) -> bool:
        return self.status == Status.PASSED

    @property
    def infrastructure_failure(self) -> bool:
        return self.status == Status.SANDBOX_ERROR

    @property
    def first_failure(self) -> TestResult | None:
        return next((t for t in self.tests if t.outcome != "passed"), None)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["status"] = self.status.value
        d["passed"] = self.passed
        return d
