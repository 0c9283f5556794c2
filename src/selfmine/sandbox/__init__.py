"""The judge: untrusted model code runs here and nowhere else."""

from .isolation import best_launcher
from .judge import BadTests, Job, Route, SandboxFailed, check_sandbox, judge, judge_many, judging_via, split_tests
from .pool import WorkerPool
from .verdict import Status, TestResult, Verdict

__all__ = [
    "BadTests",
    "Job",
    "Route",
    "SandboxFailed",
    "Status",
    "TestResult",
    "Verdict",
    "WorkerPool",
    "best_launcher",
    "check_sandbox",
    "judge",
    "judge_many",
    "judging_via",
    "split_tests",
]
