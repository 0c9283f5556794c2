"""The one interface every domain implements. `mine/`, `train/` and `evaluate/` talk to a domain only
through it (evaluation through the kit `Domain.eval_kit()` gives); `tasks.registry.get_domain(name)` is the
only place a domain is chosen by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass
class Grade:
    """One judged attempt: what the domain's judge says about a completion."""

    code: str  # what was judged: the program (code) or the extracted final answer (math)
    status: str
    passed: bool
    failure_class: str = ""  # one of the domain's failure classes; empty when passed
    failing_test: str = ""
    error: str = ""
    duration_s: float = 0.0


@dataclass
class SampleResult:
    """One benchmark sample, scored by its domain's kit (None in its place: the sandbox could not judge it)."""

    passed: bool  # base (and plus, for the plus variants of a code benchmark)
    base_passed: bool
    status: str
    message: str
    duration_s: float


class EvalKit(Protocol):
    """How a domain's benchmarks are loaded, prompted, cut and scored. `evaluate/` generates, hands the
    texts to the kit and summarises what it returns the same way for every domain."""

    selector: str  # how the best-of-n selector picks, in words (recorded in every best-of-n summary)

    def load(self, bench: str, data_dir) -> tuple[list, str]:
        """(tasks, sha256 of the file they came from)."""

    def prompts(self, engine, tasks: list, fmt: str) -> list[str]: ...

    def stop(self, tasks: list, fmt: str) -> list[str]: ...

    def from_rows(self, tasks: list, rows: list[list[dict]], fmt: str):
        """What is scored, from sample rows made elsewhere (None: the texts themselves)."""

    def from_texts(self, tasks: list, texts: list[list[str]], fmt: str):
        """What is scored, from generated texts (None: the texts themselves)."""

    def helpers(self, engine, tasks: list, n: int, count: int, seed: int, *, generate=None):
        """What the selector may use beside the samples (model-written tests), or None. `generate(prompts,
        params)`, when given, is how to generate them (the evaluation's checkpoint keeps them)."""

    def score(self, tasks: list, texts, programs, written) -> tuple[list, list | None, dict]:
        """(per task its samples' SampleResult or None, the selector's pick per task or None, time limits)."""

    def extra(self, results: list) -> dict:
        """Counts of this domain's own, added at the end of a benchmark's summary."""

    def sample_row(self, task, text: str, fmt: str) -> dict:
        """One sample in EvalPlus's format, without its task_id."""


class Domain(Protocol):
    name: str
    failure_priority: dict[str, int]  # failure classes that pair, most informative first
    benches: tuple[str, ...]  # the evaluation benchmarks of this domain

    def eval_kit(self) -> EvalKit:
        """How this domain's benchmarks are evaluated."""

    def contamination(self, cfg) -> tuple[object | None, dict]:
        """(n-gram index over the domain's benchmarks, {bench: sha256})."""

    def near_text(self, problem) -> str:
        """The text near-duplicate detection compares."""

    def propose_batch(self, engine, cfg, *, seed, round_id, start, slots, gates, own=None, round_no=1) -> list:
        """One proposal per slot (fresh or a curriculum variant), numbered from `start`, parsed, validated
        and admitted by `gates` (tasks.gates.Gates), which records every problem it admits."""

    def canonical_text(self, problem) -> str:
        """The proposer's own checked solution as an attempt (`mine.canonical_pairs`)."""

    def same(self, attempt) -> str:
        """The key under which two attempts count as one when pairs are mined."""

    import_keys: tuple[str, ...]  # the keys of a row of this domain's reference pair files

    def import_rows(self, path, rows: list[dict], run_dir, timeout: float = 5.0) -> dict:
        """Reference rows into the run's ledger, re-judged; returns counts."""

    def reference_row(self, view) -> dict:
        """One pair in the reference implementation's schema (`pairs export --format tinyforge`)."""

    def solve_stop(self, chat: bool) -> list[str]: ...

    def repair_texts(self, problems: list, broken: dict) -> list[str]:
        """The repair prompt for each problem, from its broken attempt."""

    def grade(self, cfg, items: list) -> list[Grade]:
        """Judge [(problem, completion)] in input order."""

    def train_prompts(self, view, fmt: str, broken: str, error: str) -> dict[str, str]:
        """{"repair": prompt, "solve": prompt} for one pair (fmt picks which are used)."""

    def train_target(self, view, fmt: str, broken: str, fixed: str) -> str:
        """The completion a repair (or solve) example trains on."""

    def keep_example(self, view, fmt: str) -> tuple[str, str]:
        """(prompt, completion) of a right-stays-right example from a passing attempt."""

    def corruptor(self, pairs: list, seed: int):
        """(corrupt(view) -> a failing version of its fixed side in the same format, counts): the
        corrupted-pairs control."""

    def format_stub(self, view) -> str:
        """The right output shape and nothing else: the format control."""
