"""Execution-grounded tests, the curriculum and the boundary verdict: hand-written proposals through the
real sandbox, and the multi-round loop with a scripted model (ledger, sandbox and gates are real)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from selfmine.config import load_config
from selfmine.funnel import boundary
from selfmine.ledger import Ledger, Problem
from selfmine.mine import mine
from selfmine.sandbox import judge
from selfmine.tasks.code_propose import ground_tests
from selfmine.tasks.code_text import parse_function

from .scripted import ScriptedEngine
from .test_mine import TESTS_DIR, snapshot


def ground(text: str, **mine_keys):
    cfg = load_config(
        None, [f"mine.{k}={v}" for k, v in {"min_asserts": 2, "ask_for_calls": False, **mine_keys}.items()]
    )
    parsed = [parse_function(text)]
    problems = [Problem(1, 0, text, "rejected")]
    ground_tests(cfg, 0, parsed, problems)
    return parsed[0], problems[0]


def test_expected_values_come_from_the_function_not_the_model():
    p, prob = ground(
        'def add(a, b):\n    """Add two numbers."""\n    return a + b\n\nassert add(1, 2) == 4\nassert add(3, 4) == 0\n'
    )
    assert p.ok, p.detail
    assert "assert add(1, 2) == 3" in p.tests and "assert add(3, 4) == 7" in p.tests
    assert len(p.tests + p.hidden) > 2  # mutated inputs add tests beyond the model's two calls
    assert prob.meta["grounding"]["origins"]["mutated"] > 0
    assert judge(p.code, p.tests + p.hidden).passed
    assert not judge("def add(a, b):\n    return a - b\n", p.tests + p.hidden).passed


def test_float_results_get_a_tolerance():
    p, _ = ground(
        'def half(x: float) -> float:\n    """Half of x."""\n    return x / 2\n\nprint(half(3.0))\nprint(half(5.0))\n'
    )
    assert p.ok and any(t.startswith("assert abs(half(3.0) - 1.5) <=") for t in p.tests)
    assert judge("def half(x):\n    return x * 0.5 + 1e-12\n", p.tests + p.hidden).passed


def test_calls_that_raise_are_dropped():
    p, prob = ground(
        'def inv(x):\n    """One over x."""\n    return 1 / x\n\nassert inv(0) == 0\nassert inv(2) == 0.5\nassert inv(4) == 0.25\n'
    )
    assert p.ok and not any("inv(0)" in t for t in p.tests + p.hidden)
    assert prob.meta["grounding"]["dropped"]["raised"] >= 1


def test_nondeterministic_calls_are_dropped():
    p, prob = ground(
        'def roll(n):\n    """A random number."""\n    import random\n    return random.random() * n\n\n'
        "print(roll(2))\nprint(roll(3))\nprint(roll(5))\n",
        generated_inputs=0,
    )
    assert not p.ok and p.reason == "too_few_grounded"
    assert prob.meta["grounding"]["dropped"]["nondeterministic"] == 3


@pytest.mark.parametrize(
    "text,reason",
    [
        ('def same(x):\n    """Return x."""\n    return x\n\nassert same(1) == 1\nassert same(5) == 5\n', "identity"),
        (
            'def zero(x):\n    """Zero."""\n    return 0\n\nassert zero(1) == 0\nassert zero(5) == 0\n',
            "constant_outputs",
        ),
        (
            'def big(n):\n    """A long list."""\n    return list(range(1000 + n))\n\nprint(big(1))\nprint(big(2))\n',
            "huge_output",
        ),
        (
            'def obj(n):\n    """An object."""\n    return object()\n\nprint(obj(1))\nprint(obj(2))\n',
            "too_few_grounded",
        ),
        ('def boom(n):\n    """Always raises."""\n    raise ValueError(n)\n\nboom(1)\nboom(2)\n', "too_few_grounded"),
        (
            'def loop(n):\n    """Never returns."""\n    while True:\n        pass\n\nloop(1)\nloop(2)\n',
            "too_few_grounded",
        ),
    ],
)
def test_degenerate_functions_are_rejected_with_a_reason(text, reason):
    p, _ = ground(text)
    assert not p.ok and p.reason == reason, (p.reason, p.detail)


def test_inputs_are_drawn_from_the_signature_when_the_model_wrote_no_call():
    p, prob = ground('def double(n: int) -> int:\n    """Twice n."""\n    return 2 * n\n')
    assert p.ok and prob.meta["grounding"]["origins"]["drawn"] >= 2
    assert judge(p.code, p.tests + p.hidden).passed


def test_a_follow_up_prompt_asks_for_calls():
    from selfmine.tasks.code_propose import _ask_for_calls

    cfg = load_config(None, ["mine.min_asserts=3"])
    text = 'def few_asserts(x):\n    """Identity."""\n    return x\n\nassert few_asserts(1) == 1\n'
    parsed, problems = [parse_function(text)], [Problem(1, 0, text, "rejected")]
    _ask_for_calls(ScriptedEngine(), cfg, parsed, problems, seed=0, round_no=1, start=0)
    assert [c.args for c in parsed[0].calls] == [(1,), (2,), (5,)] and problems[0].meta["asked_for_calls"] == 2


# -- the loop with grounded tests and the curriculum -----------------------------------------------
def cfg(data_dir, **mine):
    keys = {"tests": "grounded", "propose_batch": 3, "problems": 7, "attempts": 4, **mine}
    return load_config(None, [f"data_dir={data_dir}", *[f"mine.{k}={v}" for k, v in keys.items()]])


def test_grounded_loop_end_to_end(tmp_path, data_dir):
    stats = mine(tmp_path, cfg(data_dir), engine=ScriptedEngine(), progress=False, echo=lambda s: None)
    # "wrong" (asserts that disagree with its own body) is valid once grounded; "few" is the identity
    assert stats["valid"] == 4 and stats["rejections"] == {"identity": 1, "contaminated": 1, "duplicate": 1}
    assert stats["tests"] == ["grounded"] and stats["pairs"] >= 2
    ledger = Ledger.in_run_dir(tmp_path)
    valid = ledger.problems("valid")
    assert all(p.hidden_tests for p in valid) and all(p.meta["tests"] == "grounded" for p in valid)
    for p in valid:  # hidden tests are judged, never shown
        assert not any(t in p.solve_prompt for t in p.hidden_tests)
        assert all(len(a.code) and a.status for a in ledger.attempts(p.id, "solve"))
    ledger.close()


def test_curriculum_proposes_variants_by_outcome(tmp_path, data_dir):
    lines = []
    stats = mine(tmp_path, cfg(data_dir, rounds=2), engine=ScriptedEngine(), progress=False, echo=lines.append)
    ledger = Ledger.in_run_dir(tmp_path)
    rounds = ledger.mining_rounds()
    assert [r["number"] for r in rounds] == [1, 2] and all(r["stats"] for r in rounds)
    first = {p.id: p for p in ledger.problems("valid", rounds[0]["id"])}
    outcome = {pid: [a.passed for a in ledger.attempts(pid, "solve")] for pid in first}
    second = ledger.problems(round_id=rounds[1]["id"])
    variants = [p for p in second if p.variant]
    assert variants and len(variants) <= 7 * 0.5
    for v in variants:  # harder after all-pass, easier after all-fail, one level away from the parent
        parent = first[v.parent_id]
        assert (
            v.variant == ("harder" if all(outcome[parent.id]) else "easier")
            and not any(outcome[parent.id])
            or all(outcome[parent.id])
        )
        assert v.difficulty == parent.difficulty + (1 if v.variant == "harder" else -1)
    assert any(p.variant == "harder" and p.status == "valid" and p.entry_point == "sum_three" for p in second)
    assert stats["number"] == 2 and stats["total"]["rounds"] == 2 and "valid by difficulty" in lines[1]
    assert any(s.startswith("own:") for p in second if not p.variant for s in p.meta["shots"])  # self-bootstrapped
    ledger.close()


def test_pair_budget_stops_mining(tmp_path, data_dir):
    stats = mine(
        tmp_path, cfg(data_dir, rounds=3, target_pairs=1), engine=ScriptedEngine(), progress=False, echo=lambda s: None
    )
    assert stats["total"]["rounds"] == 1 and stats["total"]["pairs"] >= 1


KILL_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from scripted import ScriptedEngine
from selfmine.config import load_config
from selfmine.mine import mine
cfg = load_config(None, ["data_dir={data}", "mine.propose_batch=3", "mine.problems=7", "mine.attempts=4", "mine.rounds=2"])
engine = ScriptedEngine()
mine({run!r}, cfg, engine=engine, progress=False)
print("calls", engine.calls)
"""


def test_resume_inside_a_later_round_equals_an_uninterrupted_run(tmp_path, data_dir):
    script = lambda run: KILL_SCRIPT.format(tests=str(TESTS_DIR), data=str(data_dir), run=str(run))  # noqa: E731
    r = subprocess.run([sys.executable, "-c", script(tmp_path / "clean")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    total = int(r.stdout.split("calls")[-1])
    ledger = Ledger.in_run_dir(tmp_path / "clean")
    first_round_calls = 6  # propose x3, the calls follow-up, solve, repair (checked: round 2 has problems below)
    assert ledger.problems(round_id=ledger.mining_rounds()[1]["id"])
    ledger.close()
    for kill_after in sorted({first_round_calls + 1, (first_round_calls + total) // 2, total}):
        run = tmp_path / f"killed{kill_after}"
        env = {**os.environ, "SCRIPTED_KILL_AFTER": str(kill_after)}
        r = subprocess.run([sys.executable, "-c", script(run)], env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == -9, r.stderr[-2000:]
        env.pop("SCRIPTED_KILL_AFTER")
        r = subprocess.run([sys.executable, "-c", script(run)], env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        assert snapshot(run) == snapshot(tmp_path / "clean"), kill_after


# -- the boundary verdict ---------------------------------------------------------------------------
def test_boundary_verdicts():
    assert boundary(40, 1, 1, 1, 0, 0, [])["position"] == "unknown"  # 1 of 1 mixed is no evidence of the range
    assert (
        boundary(64, 1, 1, 1, 0, 0, [])["position"] == "below"
    )  # 1 valid of 64: too few problems, whatever mixed says
    assert boundary(48, 20, 3, 3, 0, 0, [])["position"] == "unknown"  # 3 solved: too small to tell
    assert boundary(48, 30, 30, 15, 5, 10, [])["position"] == "inside"
    assert boundary(48, 30, 30, 1, 2, 27, [])["position"] == "below"
    assert boundary(48, 30, 30, 1, 27, 2, [])["position"] == "above"
    b = boundary(48, 20, 12, 3, 4, 5, [])
    assert b["position"] == "unknown" and "straddles" in b["verdict"]
    assert 0 <= b["mixed_ci"][0] < 0.25 < b["mixed_ci"][1] <= 1


def test_calls_with_the_wrong_number_of_arguments_are_fitted_to_the_signature():
    p, prob = ground(
        'def count_long(words: list) -> int:\n    """Count the words longer than 3 letters."""\n'
        "    return sum(1 for w in words if len(w) > 3)\n\n"
        'assert count_long(["hello", "a"], 3) == 1\nassert count_long() == 0\n'
    )
    assert p.ok, p.detail
    assert "assert count_long(['hello', 'a']) == 1" in p.tests + p.hidden  # the extra argument was dropped
    assert prob.meta["grounding"]["grounded"] >= 3  # drawn lists of ints raise here (len of an int); the rest count


@pytest.mark.parametrize("canonical", [False, True])
def test_canonical_pairs_are_opt_in_and_pair_with_the_proposers_code(tmp_path, data_dir, canonical):
    stats = mine(
        tmp_path,
        cfg(data_dir, repair="false", canonical_pairs=str(canonical).lower()),
        engine=ScriptedEngine(),
        progress=False,
        echo=lambda s: None,
    )
    ledger = Ledger.in_run_dir(tmp_path)
    pairs = ledger.pairs(("canonical",))
    assert bool(pairs) == canonical and stats["pairs_by_kind"].get("canonical", 0) == len(pairs)
    for p in pairs:  # the fixed side is the problem's own function, which passes every test; the broken side fails
        prob = ledger.problem(p.problem_id)
        assert (
            p.fixed == prob.code
            and judge(p.fixed, prob.judge_tests).passed
            and not judge(p.broken, prob.judge_tests).passed
        )
        assert not any(a.passed for a in ledger.attempts(p.problem_id, "solve"))
    ledger.close()


def test_probe_command_prints_the_numbers_and_a_verdict(tiny_model, tmp_path):
    command = [sys.executable, "-m", "selfmine.cli", "probe", "--model", str(tiny_model), "--problems", "2"]
    command += ["--attempts", "1", "--no-progress", "--set", "mine.propose_max_tokens=32", "--run-dir", str(tmp_path)]
    r = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    for needle in ("valid rate", "mixed-outcome rate", "pairs per proposal", "verdict: "):
        assert needle in r.stdout
    assert "too small to tell" in r.stdout or "below" in r.stdout  # 2 proposals of a random model decide nothing
    assert (tmp_path / "ledger.sqlite").exists()
    again = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=300)  # resumes: all done
    stats = json.loads(again.stdout)  # the numbers alone on stdout
    assert again.returncode == 0 and stats["total"]["proposed"] == 2
    assert stats["total"]["boundary"]["verdict"] in r.stdout


HOSTILE_OUTPUTS = [
    "def f(x):\n    return " + "1+" * 200000 + "1\n",  # RecursionError while building the AST
    "def f(x):\n    return " + "-" * 100000 + "1\n",  # MemoryError in the parser
    "def f(x):\n    return x\x00\n",  # ValueError: null bytes
]


@pytest.mark.parametrize("text", HOSTILE_OUTPUTS, ids=["recursion", "memory", "null-bytes"])
def test_hostile_model_output_is_rejected_with_a_reason_not_a_crash(text):
    from selfmine.tasks.code_corrupt import corruptions
    from selfmine.tasks.code_text import fingerprint, parse_function, parse_proposal

    for parsed in (parse_function(text), parse_proposal(text + "assert f(1) == 1\nassert f(2) == 2\n", 2)):
        assert not parsed.ok and parsed.reason
    assert isinstance(fingerprint(text), str)
    assert corruptions(text) == []
