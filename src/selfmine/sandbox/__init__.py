"""The judge: untrusted model code runs here and nowhere else."""

from .isolation import best_launcher
from .judge import BadTests, Job, judge, judge_many, split_tests
from .pool import WorkerPool
from .verdict import Status, TestResult, Verdict

__all__ = ["BadTests", "Job", "Status", "TestResult", "Verdict", "WorkerPool", "best_launcher", "judge",
           "judge_many", "split_tests"]
