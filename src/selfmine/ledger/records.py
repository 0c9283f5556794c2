"""The typed records stages exchange through the ledger."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Problem:
    round_id: int
    idx: int  # position among the round's proposals
    raw: str  # what the model wrote
    status: str  # valid | rejected
    reason: str = ""  # rejection reason (empty when valid)
    detail: str = ""
    entry_point: str = ""
    code: str = ""  # the model's own function (its canonical solution)
    tests: list[str] = field(default_factory=list)
    solve_prompt: str = ""
    header: str = ""  # signature + docstring: what an attempt completes
    fingerprint: str = ""  # normalised-AST hash
    hidden_tests: list[str] = field(default_factory=list)  # judged but never shown in a prompt
    parent_id: int | None = None  # curriculum: the problem this one is a variant of
    variant: str = ""  # curriculum: "" (fresh) | harder | easier
    difficulty: int = 0  # curriculum level: fresh problems are 0, harder +1, easier -1
    meta: dict = field(default_factory=dict)  # how it was made: test mode, grounding stats, few-shot sources
    id: int | None = None

    @property
    def judge_tests(self) -> list[str]:
        return self.tests + self.hidden_tests


@dataclass
class Attempt:
    problem_id: int
    kind: str  # solve | repair
    idx: int
    completion: str  # raw model output
    code: str  # the program judged
    status: str  # verdict status
    passed: bool
    failure_class: str = ""  # syntax | runtime | wrong_answer | timeout | format (empty when passed)
    failing_test: str = ""
    error: str = ""
    finish_reason: str = ""
    duration_s: float = 0.0
    parent_id: int | None = None  # for repairs: the broken attempt it repairs
    id: int | None = None


# Pair kinds that are (broken, fixed) pairs the model mined itself: a passing and a failing attempt at one
# problem (mixed), a successful repair (repair), or a failing attempt against the proposer's own function
# (canonical, opt-in: mine.canonical_pairs). keep_correct rows and imported pairs are neither.
MINED_KINDS = ("mixed", "repair", "canonical")


@dataclass
class Pair:
    problem_id: int
    kind: str  # mixed | repair | canonical | keep_correct | imported
    broken_id: int | None  # None for keep_correct
    fixed_id: int
    failure_class: str = ""
    id: int | None = None


@dataclass
class PairView:
    """A pair joined with its problem and attempts: what training and export read."""

    id: int
    kind: str
    failure_class: str
    entry_point: str
    header: str
    tests: list[str]
    broken: str
    error: str
    fixed: str
    problem_id: int
    source: str = "mined"
