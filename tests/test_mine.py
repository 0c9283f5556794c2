"""Self-mining: the code-domain gates, the loop end to end, resume after SIGKILL, pairs in and out."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from selfmine.config import load_config
from selfmine.ledger import Ledger
from selfmine.mine import mine
from selfmine.tasks.code_text import classify_failure, fingerprint, leaks, parse_proposal, solve_prompt
from selfmine.tasks.gates import ContaminationIndex, Gates, NearDuplicates
from selfmine.transfer import export_pairs, import_pairs

from .scripted import PROBLEMS, ScriptedEngine

TESTS_DIR = Path(__file__).parent


def cfg(data_dir, **mine):
    """Reference-recipe tests (`mine.tests=model`) unless a test asks for grounded ones."""
    mine = {"tests": "model", **mine}
    return load_config(
        None, [f"data_dir={data_dir}", "mine.propose_batch=3", *[f"mine.{k}={v}" for k, v in mine.items()]]
    )


# -- parsing and gates ------------------------------------------------------------------------------
def test_parse_keeps_function_and_calling_asserts():
    p = parse_proposal("def " + PROBLEMS["mid"][0] + "assert True\nassert 1 == 1\nprint('x')\n")
    assert p.ok and p.entry_point == "mid_rev" and len(p.tests) == 3
    assert "return s[::-1]" in p.code and "return s[::-1]" not in p.header
    assert '"""Return s reversed."""' in p.header


@pytest.mark.parametrize(
    "text,reason",
    [
        ("f(:\n", "syntax"),
        ("f(x):\n    return x\n\nassert f(1) == 1\nassert f(2) == 2\nassert f(3) == 3\n", "no_docstring"),
        (
            'f(x):\n    """Doc."""\n    pass\n\nassert f(1) is None\nassert f(2) is None\nassert f(3) is None\n',
            "stub_body",
        ),
        (
            'f(x):\n    """Doc."""\n    return 0\n\nassert f(1) == 0\nassert f(2) == 0\nassert f(3) == 0\n',
            "constant_expectations",
        ),
        ('f(x):\n    """Doc."""\n    return x\n\nassert f(1) == 1\nassert True\nassert 2 == 2\n', "too_few_asserts"),
    ],
)
def test_parse_rejections(text, reason):
    assert parse_proposal("def " + text).reason == reason


def test_truncated_tail_is_dropped_not_fatal():
    p = parse_proposal("def " + PROBLEMS["easy"][0] + "assert easy_sum(2, 2) ==")
    assert p.ok and len(p.tests) == 3


def test_solve_prompt_never_contains_the_body():
    p = parse_proposal("def " + PROBLEMS["hard"][0])
    prompt = solve_prompt(p.header, p.tests)
    assert "for i in range(n)" not in prompt and leaks(prompt, p.body) is None
    assert all(t in prompt for t in p.tests)
    assert leaks(prompt + "\n    return [i * i for i in range(n)]\n", p.body) is not None


def test_fingerprint_ignores_names_and_docstrings():
    a = 'def f(x):\n    """A."""\n    return x + 1\n'
    b = 'def g(y: int) -> int:\n    """Something else."""\n    return y + 1\n'
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint("def f(x):\n    return x - 1\n")


def test_near_duplicates():
    near = NearDuplicates(0.8)
    code = "def total(xs):\n    s = 0\n    for x in xs:\n        if x > 0:\n            s += x * 2\n    return s\n"
    near.add("a", code)
    assert near.seen(code.replace("total", "tot"))
    assert not near.seen("def other(s):\n    return ''.join(reversed(s.split()))\n")


def test_contamination_rejects_a_humaneval_copy(data_dir):
    from selfmine.datasets import contamination_texts, load

    index = ContaminationIndex(contamination_texts(data_dir), 10, 0.5)
    he = load("humaneval", data_dir)[0]
    hit = index.check(he.prompt + he.canonical_solution)
    assert hit is not None and "HumanEval/0" in hit[1]
    assert index.check(PROBLEMS["hard"][0]) is None


def test_gates_admit_once_and_name_what_stopped_a_problem(data_dir):
    from selfmine.datasets import contamination_texts, load
    from selfmine.ledger import Problem

    code = "def total(xs):\n    s = 0\n    for x in xs:\n        if x > 0:\n            s += x * 2\n    return s\n"
    gates = Gates(ContaminationIndex(contamination_texts(data_dir), 10, 0.5), fingerprints=set(), near_threshold=0.8)
    first, again, near, copy = (Problem(1, i, "", "rejected") for i in range(4))
    assert gates.passes(first, fingerprint(code), near_text=code, contam_text=code)
    gates.admit(first, code)
    assert not gates.passes(again, fingerprint(code), near_text=code, contam_text=code) and again.reason == "duplicate"
    assert not gates.passes(near, "other", near_text=code.replace("total", "tot"), contam_text="")
    assert (near.reason, near.detail) == ("near_duplicate", "similar to problem r1p0")
    he = load("humaneval", data_dir)[0]
    assert not gates.passes(copy, "x", near_text="def f():\n    pass\n", contam_text=he.prompt + he.canonical_solution)
    assert copy.reason == "contaminated" and "HumanEval/0" in copy.detail and copy.fingerprint == "x"


@pytest.mark.parametrize(
    "completion,status,etype,finish,expected",
    [
        ("", "error", "NameError", "stop", "format"),
        ("    pass", "failed", "AssertionError", "stop", "format"),
        ("    return (", "error", "SyntaxError", "length", "format"),
        ("    return (", "error", "SyntaxError", "stop", "syntax"),
        ("    return x +* 1", "error", "SyntaxError", "stop", "syntax"),
        ("    return x[5]", "error", "IndexError", "stop", "runtime"),
        ("    return x - 1", "failed", "AssertionError", "stop", "wrong_answer"),
        ("    while True:\n        pass", "timeout", "", "stop", "timeout"),
        ("    return x\nassert f(1) == 2", "failed", "AssertionError", "stop", "format"),
    ],
)
def test_failure_classes(completion, status, etype, finish, expected):
    assert classify_failure(completion, status, etype, finish, ["assert f(1) == 2"]) == expected


# -- the loop ---------------------------------------------------------------------------------------
def snapshot(run_dir: Path) -> dict:
    db = sqlite3.connect(run_dir / "ledger.sqlite")
    return {
        "problems": sorted(db.execute("SELECT round_id, idx, status, reason, fingerprint FROM problems").fetchall()),
        "attempts": sorted(
            db.execute(
                "SELECT p.idx, a.kind, a.idx, a.code, a.status, a.failure_class FROM attempts a "
                "JOIN problems p ON p.id = a.problem_id"
            ).fetchall()
        ),
        "pairs": sorted(
            db.execute(
                "SELECT p.idx, pr.kind, b.idx, b.kind, f.idx, f.kind FROM pairs pr JOIN problems p ON "
                "p.id = pr.problem_id JOIN attempts b ON b.id = pr.broken_id JOIN attempts f ON f.id = pr.fixed_id"
            ).fetchall()
        ),
    }


def test_loop_end_to_end_with_scripted_model(tmp_path, data_dir):
    stats = mine(
        tmp_path, cfg(data_dir, problems=7, attempts=4), engine=ScriptedEngine(), progress=False, echo=lambda s: None
    )
    assert stats["proposed"] == 7 and stats["valid"] == 3
    assert stats["rejections"] == {"too_few_asserts": 1, "self_test_failed": 1, "contaminated": 1, "duplicate": 1}
    assert (stats["all_pass"], stats["mixed"], stats["all_fail"], stats["repaired"]) == (1, 1, 1, 1)
    assert stats["pairs_by_kind"]["repair"] >= 1 and stats["pairs_by_kind"]["mixed"] >= 1
    ledger = Ledger.in_run_dir(tmp_path)
    for p in ledger.pairs():
        assert p.broken != p.fixed and p.failure_class
    assert ledger.get_meta("provenance")["versions"]["python"]
    assert ledger.get_meta("config")["mine"]["attempts"] == 4
    rejected = {p.reason: p.detail for p in ledger.problems("rejected")}
    assert "HumanEval/0" in rejected["contaminated"]
    # every judged attempt is stored with its verdict
    assert ledger.attempt_count("solve") == 3 * 4
    ledger.close()
    before = snapshot(tmp_path)
    mine(tmp_path, cfg(data_dir, problems=7, attempts=4), engine=ScriptedEngine(), progress=False, echo=lambda s: None)
    assert snapshot(tmp_path) == before  # a finished run reruns as a no-op


def test_config_change_on_resume_is_refused(tmp_path, data_dir):
    """The run dir's one rule: what decided the mined problems stays, but more problems may extend them."""
    from selfmine.ledger.rundir import RunDirError

    mine(tmp_path, cfg(data_dir, problems=2, attempts=2), engine=ScriptedEngine(), progress=False, echo=lambda s: None)
    mine(tmp_path, cfg(data_dir, problems=3, attempts=2), engine=ScriptedEngine(), progress=False, echo=lambda s: None)
    with pytest.raises(RunDirError, match="mine.attempts=2, this run asks for 3"):
        mine(
            tmp_path,
            cfg(data_dir, problems=2, attempts=3),
            engine=ScriptedEngine(),
            progress=False,
            echo=lambda s: None,
        )


KILL_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from scripted import ScriptedEngine
from selfmine.config import load_config
from selfmine.mine import mine
cfg = load_config(None, ["data_dir={data}", "mine.propose_batch=3", "mine.problems=7", "mine.attempts=4", "mine.tests=model"])
mine({run!r}, cfg, engine=ScriptedEngine(), progress=False)
"""


@pytest.mark.parametrize("kill_after", [1, 2, 3, 4, 5])
def test_resume_after_sigkill_loses_and_duplicates_nothing(tmp_path, data_dir, kill_after):
    """Killed on the Nth model call (proposing, solving, repairing); the rerun must end exactly where an
    uninterrupted run ends."""
    clean = tmp_path / "clean"
    mine(clean, cfg(data_dir, problems=7, attempts=4), engine=ScriptedEngine(), progress=False, echo=lambda s: None)
    run = tmp_path / "killed"
    kill_then_resume(KILL_SCRIPT.format(tests=str(TESTS_DIR), data=str(data_dir), run=str(run)), kill_after)
    assert snapshot(run) == snapshot(clean)


def kill_then_resume(script: str, kill_after: int) -> None:
    """Run `script` until the scripted model SIGKILLs it on its Nth call, then run it again to the end."""
    env = {**os.environ, "SCRIPTED_KILL_AFTER": str(kill_after)}
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == -9, r.stderr[-2000:]
    env.pop("SCRIPTED_KILL_AFTER")
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


def test_export_formats(tmp_path, data_dir):
    mine(tmp_path, cfg(data_dir, problems=7, attempts=4), engine=ScriptedEngine(), progress=False, echo=lambda s: None)
    for fmt, keys in (
        ("tinyforge", {"signature", "tests", "broken", "error", "fixed"}),
        ("sft", {"prompt", "completion"}),
        ("dpo", {"prompt", "chosen", "rejected"}),
    ):
        out = tmp_path / f"{fmt}.jsonl"
        n = export_pairs(tmp_path, fmt, out)
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert n == len(rows) > 0 and all(keys <= set(r) for r in rows)
    only = export_pairs(tmp_path, "tinyforge", tmp_path / "wa.jsonl", classes=("format",))
    assert only < n


def test_import_reference_pairs(tmp_path, data_dir):
    src = data_dir / "tinyforge-zero" / "pairs_7b_40.jsonl"
    info = import_pairs(src, tmp_path)
    assert info["imported"] + info["skipped"] == 40 and info["imported"] >= 38
    assert import_pairs(src, tmp_path)["imported"] == 0  # idempotent
    ledger = Ledger.in_run_dir(tmp_path)
    pairs = ledger.pairs(("imported",))
    classes = {p.failure_class for p in pairs}
    assert "format" in classes  # the reference data is mostly format garbage, and it shows
    assert any(p.broken == "" for p in pairs)  # empty broken sides are kept
    for p in pairs:
        assert p.header.startswith("def ") and "return" not in p.header.split('"""')[-1]  # cut with ast, no body
    ledger.close()


def test_mine_with_tiny_model_records_rejections(tmp_path, data_dir, tiny_model):
    """The real HF engine on a random model: nothing valid comes out, and the run says why."""
    c = load_config(
        None,
        [
            f"data_dir={data_dir}",
            f"engine.model={tiny_model}",
            "mine.problems=3",
            "mine.propose_max_tokens=48",
            "mine.attempts=2",
        ],
    )
    lines = []
    stats = mine(tmp_path, c, progress=False, echo=lines.append)
    assert stats["proposed"] == 3 and sum(stats["rejections"].values()) == 3 - stats["valid"]
    assert all(isinstance(reason, str) and reason for reason in stats["rejections"])  # every rejection says why
    assert any("mixed-outcome rate" in line for line in lines)


def test_mine_cli_bad_input(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "selfmine.cli", "mine", "--run-dir", str(tmp_path), "--set", "mine.attempts=0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "mine.attempts" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "selfmine.cli", "mine", "--run-dir", str(tmp_path), "--set", "mine.bogus=1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "mine.bogus" in r.stderr


def test_mine_with_the_real_default_model(tmp_path, data_dir):
    """gemma-3-270m on a handful of problems: converted from the embedded GGUF (once per machine), it really
    writes problems, and every proposal ends valid or rejected with a reason."""
    c = load_config(
        None,
        [
            f"data_dir={data_dir}",
            "mine.problems=4",
            "mine.propose_batch=4",
            "mine.attempts=2",
            "mine.propose_max_tokens=160",
            "mine.solve_max_tokens=96",
            "mine.salvage_asserts=true",
        ],
    )
    stats = mine(tmp_path, c, progress=False, echo=lambda s: None)
    ledger = Ledger.in_run_dir(tmp_path)
    problems = ledger.problems()
    assert len(problems) == 4 and all(p.raw.strip() for p in problems)
    assert all(p.status == "valid" or p.reason for p in problems)
    assert ledger.attempt_count("solve") == 2 * stats["valid"]
    assert ledger.get_meta("provenance")["engine"]["model"] == "default"
    ledger.close()


def _mined(run_dir: Path) -> list[tuple]:
    ledger = Ledger.in_run_dir(run_dir)
    try:
        return [
            (r["number"], p.idx, p.raw, p.status, p.reason)
            for r in ledger.mining_rounds()
            for p in ledger.problems(round_id=r["id"])
        ]
    finally:
        ledger.close()


def test_sigkill_in_a_later_round_with_a_real_sampling_engine_resumes_to_the_same_run(tmp_path, tiny_model, data_dir):
    """The real HF engine samples at temperature 0.9: a kill inside round 2 and a rerun must give exactly
    what an uninterrupted run gives (chunks are fixed slices, each seeded from its own problems)."""
    import signal
    import time

    args = [
        "mine",
        "--model",
        str(tiny_model),
        "--data-dir",
        str(data_dir),
        "--problems",
        "8",
        "--rounds",
        "2",
        "--attempts",
        "2",
        "--set",
        "mine.propose_batch=2",
        "--set",
        "mine.propose_max_tokens=48",
        "--no-progress",
    ]
    cli = [sys.executable, "-m", "selfmine.cli"]
    whole = subprocess.run(
        cli + args + ["--run-dir", str(tmp_path / "whole")], capture_output=True, text=True, timeout=600
    )
    assert whole.returncode == 0, whole.stderr[-2000:]
    killed = tmp_path / "killed"
    p = subprocess.Popen(cli + args + ["--run-dir", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and p.poll() is None:
        if (killed / "ledger.sqlite").exists() and any(n == 2 for n, *_ in _mined(killed)):
            break
        time.sleep(0.05)
    assert p.poll() is None, "the run finished before it could be killed inside round 2"
    p.send_signal(signal.SIGKILL)
    p.wait()
    partial = _mined(killed)
    assert any(n == 2 for n, *_ in partial) and len(partial) < 16  # really killed inside round 2
    again = subprocess.run(cli + args + ["--run-dir", str(killed)], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert _mined(killed) == _mined(tmp_path / "whole") and len(_mined(killed)) == 16
