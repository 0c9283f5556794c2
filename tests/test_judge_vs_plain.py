"""`scripts/judge_vs_plain.py`: the judge against plain Python on the programs of a real ledger."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from selfmine.ledger import Attempt, Ledger, Problem
from selfmine.sandbox.isolation import best_launcher

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "judge_vs_plain.py"
TESTS = ["assert dedupe([]) == []", "assert dedupe(['pear', 'fig', 'pear']) == ['pear', 'fig']"]
PROPOSER = "def dedupe(xs):\n    return list(dict.fromkeys(xs))\n"
ATTEMPTS = [
    PROPOSER,
    "def dedupe(xs):\n    return list(set(xs))\n",  # a set's order: the same verdict on both sides (hash seed 0)
    "def dedupe(xs):\n    return xs\n",
    "def dedupe(xs)\n    return xs\n",  # does not load
    "def dedupe(xs):\n    while True:\n        pass\n",  # runs out of time
]


def _ledger(path: Path) -> None:
    ledger = Ledger(path)
    round_id = ledger.open_round(seed=0)
    ledger.add_problems([Problem(round_id, 0, "raw", "valid", entry_point="dedupe", code=PROPOSER, tests=TESTS)])
    ledger.add_problems([Problem(round_id, 1, "raw", "rejected", reason="bad", code="def dedupe(:\n")])
    (problem,) = ledger.problems(status="valid")
    attempts = [Attempt(problem.id, "solve", i, code, code, "unknown", False) for i, code in enumerate(ATTEMPTS)]
    ledger.add_attempts(attempts)
    ledger.close()


@pytest.mark.skipif(best_launcher().mode == "rlimits", reason="the plain side runs in an isolating sandbox")
def test_every_program_of_a_ledger_is_compared_assert_by_assert(tmp_path):
    _ledger(tmp_path / "ledger.sqlite")
    packed = tmp_path / "run" / "ledger.sqlite.gz"  # as results/ commits them
    packed.parent.mkdir()
    packed.write_bytes(gzip.compress((tmp_path / "ledger.sqlite").read_bytes()))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(packed), "--json", "--timeout", "2", "--plain-timeout", "4"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    # the valid problem's own program and its 5 attempts; the rejected proposal is not judged
    assert summary["programs"] == 6 and summary.get("agree") == 6 and summary["differ"] == []


@pytest.mark.parametrize("content", [None, b"not gzip", gzip.compress(b"not sqlite")])
def test_a_missing_or_unreadable_ledger_is_one_line_and_a_nonzero_exit(tmp_path, content):
    path = tmp_path / "ledger.sqlite.gz"
    if content is not None:
        path.write_bytes(content)
    done = subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and len(done.stderr.strip().splitlines()) == 1, done.stderr
