"""The math domain: the verified answer check, proposing with program-checked labels, the curriculum,
the training formats (keep-correct and the over-correction control), GSM8K / MATH-500 scoring, resume."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from selfmine.config import load_config
from selfmine.evaluate import evaluate
from selfmine.ledger import Ledger
from selfmine.mine import mine
from selfmine.tasks import math_text as mt
from selfmine.tasks.math_bench import load_tasks, majority
from selfmine.tasks.mathcheck import MathChecker

from .scripted_math import ScriptedMathEngine
from .test_mine import kill_then_resume, snapshot

TESTS_DIR = Path(__file__).parent


def cfg(data_dir, *sets):
    base = [f"data_dir={data_dir}", "domain=math", "mine.problems=8", "mine.propose_batch=8", "mine.attempts=4"]
    return load_config(None, base + list(sets))


# -- the answer check ----------------------------------------------------------------------------------
def test_final_answer_extraction():
    assert mt.final_answer("so 3 + 4 = 7.\n#### 7") == "7"
    assert mt.final_answer("#### 3\nWait, no.\n#### $1,234.") == "$1,234"
    assert mt.final_answer("The answer is $\\boxed{\\frac{1}{2}}$.") == "\\frac{1}{2}"
    assert mt.final_answer("x = \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}") == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert mt.final_answer("no answer here") is None


def test_pathological_answers_are_undecided_within_the_deadline_off_the_main_thread():
    """math-verify's own timeouts need the main thread; ours hold from any thread, and the helper that
    overran is replaced (the next check still works)."""
    ck = MathChecker(workers=1, deadline=2.0)
    got = {}

    def work():
        for pred in ("10**10**10", "(10**7)!", "1,234"):
            t = time.monotonic()
            got[pred] = (ck.check("1234", pred), time.monotonic() - t)

    th = threading.Thread(target=work)
    th.start()
    th.join(60)
    ck.close()
    assert not th.is_alive()
    for pred in ("10**10**10", "(10**7)!"):
        check, took = got[pred]
        assert check.outcome in ("undecided", "different") and took < 2.0 + 3.0  # never equal, never stuck
    assert got["10**10**10"][0].outcome == "undecided"
    assert got["1,234"][0].outcome == "equal"


def _samples(tasks, answer_of):
    return [{"task_id": t.task_id, "completion": f"Some steps.\n#### {answer_of(t)}"} for t in tasks]


def _score(bench, rows, data_dir):
    r = evaluate(None, [bench], n=1, data_dir=data_dir, samples={bench: rows}, echo=lambda s: None)
    return r["benches"][bench]


@pytest.mark.parametrize("bench", ["gsm8k", "math500"])
def test_reference_solutions_all_pass(bench, data_dir):
    tasks, _ = load_tasks(bench, data_dir)
    rows = [{"task_id": t.task_id, "completion": t.reference_completion()} for t in tasks]
    s = _score(bench, rows, data_dir)
    assert s["tasks"] == len(tasks) == {"gsm8k": 1319, "math500": 500}[bench]
    assert s["solved_first_sample"] == len(tasks) and s["undecided_samples"] == 0


def test_restated_answers_pass_and_off_by_one_or_swapped_fail(data_dir):
    tasks, _ = load_tasks("gsm8k", data_dir)
    number = {t.task_id: int(t.answer.replace(",", "")) for t in tasks}
    restated = _score("gsm8k", _samples(tasks, lambda t: f"{number[t.task_id]:,}.0"), data_dir)
    assert restated["solved_first_sample"] == len(tasks)
    off = _score("gsm8k", _samples(tasks, lambda t: number[t.task_id] + 1), data_dir)
    assert off["solved_first_sample"] == 0
    nxt = {t.task_id: tasks[(i + 1) % len(tasks)].task_id for i, t in enumerate(tasks)}
    differ = [t for t in tasks if number[nxt[t.task_id]] != number[t.task_id]]
    swapped = _score("gsm8k", _samples(differ, lambda t: number[nxt[t.task_id]]), data_dir)
    assert swapped["tasks"] == len(differ) and swapped["solved_first_sample"] == 0


def test_majority_vote_uses_equivalence_not_strings():
    assert majority(["7", "1/2", "0.5", "\\frac{1}{2}", "7.0", None]) == 1  # 1/2 x3 beats 7 x2
    assert majority([None, None]) == 0 and majority([]) is None


# -- proposing ----------------------------------------------------------------------------------------
def test_parse_proposal_rejections():
    ok = mt.parse_proposal(
        " A tank holds 40 litres and loses 3 litres a day. How many litres after 5 days?\n"
        "Program:\ndef solution():\n    return 40 - 3 * 5\nAnswer: 25\n"
    )
    assert ok.ok and ok.answer == "25" and ok.program.startswith("def solution")
    assert mt.parse_proposal(" A question that is long enough?\nAnswer: 3").reason == "no_program"
    assert mt.parse_proposal(" A question that is long enough?\nProgram:\nx = 1\nAnswer: 3").reason == "no_program"
    long_answer = (
        " A question that is long enough?\nProgram:\ndef solution():\n    return 1\nAnswer: one apple and a pear"
    )
    assert mt.parse_proposal(long_answer).reason == "not_closed_form"
    trivial = " There are 12 eggs in a box of 12. How many?\nProgram:\ndef solution():\n    return 12\nAnswer: 12"
    assert mt.parse_proposal(trivial).reason == "trivial"


def test_mining_verifies_labels_and_runs_the_curriculum(tmp_path, data_dir):
    """Wrong labels, crashing and runaway programs and trivial problems are rejected with reasons; a
    greedy-solved problem gets a harder variant and an all-fail one an easier variant next round; mixed
    outcomes and repairs give pairs; the difficulty level is stored per problem."""
    c = cfg(data_dir, "mine.rounds=2", "mine.greedy_probe=true", "mine.variant_share=0.5")
    stats = mine(tmp_path, c, engine=ScriptedMathEngine(), progress=False, echo=lambda s: None)
    ledger = Ledger.in_run_dir(tmp_path)
    try:
        first = ledger.problems(round_id=ledger.open_round(0, 1))
        reasons = {p.raw.split("?")[0][:30]: p.reason for p in first}
        assert sorted(p.reason for p in first) == sorted(
            ["", "", "", "disagreement", "program_error", "program_error", "trivial", "duplicate"]
        ), reasons
        second = ledger.problems(round_id=ledger.open_round(0, 2))
        variants = sorted((p.variant, p.difficulty, p.status) for p in second if p.variant)
        # easy and mid are greedy-solved (harder; the script writes one harder variant, so the second is a
        # duplicate), hard fails every sample (easier)
        assert [(v, d) for v, d, _ in variants] == [("easier", -1), ("harder", 1), ("harder", 1)]
        assert sorted(s for _, _, s in variants) == ["rejected", "valid", "valid"]
        valid = {p.header: p for p in first if p.status == "valid"}
        mid = next(p for q, p in valid.items() if q.startswith("Sam has"))
        pairs = ledger.pairs(("mixed", "repair", "keep_correct"))
        kinds = {(pr.kind, pr.problem_id) for pr in pairs}
        assert ("mixed", mid.id) in kinds
        hard = next(p for q, p in valid.items() if q.startswith("A car uses 8 litres") and "350" in q)
        assert ("repair", hard.id) in kinds
        assert all(ledger.attempts(p.id, "greedy") for p in valid.values())
        for pr in pairs:
            if pr.kind == "mixed":
                assert mt.final_answer(pr.fixed) and pr.failure_class in ("wrong_answer", "format")
    finally:
        ledger.close()
    assert stats["total"]["pairs"] >= 2


def test_overcorrect_control_has_no_keep_correct_and_the_main_arm_does(tmp_path, data_dir):
    from selfmine.tasks.registry import get_domain
    from selfmine.train.data import build_examples

    mine(tmp_path, cfg(data_dir), engine=ScriptedMathEngine(), progress=False, echo=lambda s: None)
    ledger = Ledger.in_run_dir(tmp_path)
    pairs, keep = ledger.pairs(("mixed", "repair")), ledger.pairs(("keep_correct",))
    ledger.close()
    assert pairs and keep
    domain = get_domain("math")
    train = load_config(None, ["train.format=repair", "train.keep_correct=1.0"]).train
    main = build_examples(pairs, keep, train, domain=domain)
    over = build_examples(pairs, keep, train.model_copy(update={"control": "overcorrect"}), domain=domain)
    assert any(e.kind == "keep_correct" for e in main) and not any(e.kind == "keep_correct" for e in over)
    for e in over:
        assert e.prompt.startswith("Question:") and e.completion.startswith("Wait, that is wrong")
        assert mt.final_answer(e.completion) is not None
    for e in main:
        if e.kind == "keep_correct":
            assert "That is right" in e.completion and mt.final_answer(e.completion) == mt.final_answer(e.prompt)
    solve = build_examples(pairs, keep, train.model_copy(update={"format": "solve"}), domain=domain)
    assert all(e.prompt.rstrip().endswith("Answer:") for e in solve)
    corrupt, info = domain.corruptor(pairs, 0)
    assert info["corrupted_verified_failing"] == len(pairs)
    for p in pairs:
        assert mt.final_answer(corrupt(p)) != mt.final_answer(p.fixed)
    from selfmine.transfer import export_pairs

    for fmt, keys in (("tinyforge", {"problem", "solution", "answer"}), ("sft", {"prompt", "completion"})):
        n = export_pairs(tmp_path, fmt, tmp_path / f"{fmt}.jsonl")
        rows = [json.loads(x) for x in (tmp_path / f"{fmt}.jsonl").read_text().splitlines()]
        assert n == len(rows) == len(pairs) and all(keys <= set(r) for r in rows)
    assert all(r["prompt"].startswith("Question:") for r in rows)


KILL_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from tests.scripted_math import ScriptedMathEngine
from selfmine.config import load_config
from selfmine.mine import mine
cfg = load_config(None, ["data_dir={data}", "domain=math", "mine.problems=8", "mine.propose_batch=4",
                         "mine.attempts=4", "mine.rounds=2", "mine.greedy_probe=true"])
mine({run!r}, cfg, engine=ScriptedMathEngine(), progress=False)
"""


@pytest.mark.parametrize("kill_after", [2, 5])
def test_resume_after_sigkill(tmp_path, data_dir, kill_after):
    def script(name):
        return KILL_SCRIPT.format(root=str(TESTS_DIR.parent), data=str(data_dir), run=str(tmp_path / name))

    r = subprocess.run([sys.executable, "-c", script("clean")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    kill_then_resume(script("killed"), kill_after)
    assert snapshot(tmp_path / "killed") == snapshot(tmp_path / "clean")


def test_cli_eval_score_and_bad_input(tmp_path, data_dir):
    tasks, _ = load_tasks("math500", data_dir)
    f = tmp_path / "s.jsonl"
    f.write_text(
        "".join(json.dumps({"task_id": t.task_id, "completion": t.reference_completion()}) + "\n" for t in tasks[:20])
    )
    cli = [sys.executable, "-m", "selfmine.cli"]
    r = subprocess.run(
        cli + ["eval", "score", "--bench", "math500", "--samples", str(f), "--out", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "r.json").read_text())["benches"]["math500"]["solved_first_sample"] == 20
    r = subprocess.run(
        cli + ["mine", "--run-dir", str(tmp_path / "x"), "--domain", "poetry"], capture_output=True, text=True
    )
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "domain" in r.stderr


def test_import_reference_math_pairs_rejudges_every_label(tmp_path, data_dir):
    """The 13 released math rows: each label is checked against an independent program run in the
    sandbox; the wrong one and the two ill-posed ones are flagged and left out of training by default."""
    from selfmine.train.data import select_pairs
    from selfmine.transfer import import_pairs

    src = data_dir / "tinyforge-zero" / "pairs_math_13.jsonl"
    info = import_pairs(src, tmp_path)
    assert info["imported"] == 13 and info["label_checks"]["verified"] == 10
    assert info["label_checks"]["label_wrong"] == 1 and info["label_checks"]["ill_posed"] == 2
    ledger = Ledger.in_run_dir(tmp_path)
    pairs = ledger.pairs(("imported",))
    ledger.close()
    wrong = next(p for p in pairs if p.failure_class == "label_wrong")
    assert "consecutive integers" in wrong.header and wrong.tests == ["21"]  # the right answer is 20
    kept = select_pairs(pairs, load_config(None, []).train)
    assert len(kept) == 10 and all(p.failure_class == "verified" for p in kept)
    # without the shipped checks a label is only compared with its own solution
    bare = tmp_path / "copy" / "math.jsonl"
    bare.parent.mkdir()
    bare.write_text(src.read_text())
    flags = import_pairs(bare, tmp_path / "bare")["label_checks"]
    assert flags == {"solution_disagrees": 1, "unverified": 12}


def test_program_answers_mode_takes_the_label_from_the_program_and_canonical_pairs_use_it(tmp_path, data_dir):
    """`mine.math_answers=program`: the sandboxed program's value is the label (the stated one is kept in
    meta), so the wrong-label problem becomes valid with the program's answer; `canonical_pairs` pairs the
    failing attempts of an unsolved problem with the proposer's own program as a worked solution."""
    c = cfg(data_dir, "mine.math_answers=program", "mine.canonical_pairs=true", "mine.repair=false")
    mine(tmp_path, c, engine=ScriptedMathEngine(), progress=False, echo=lambda s: None)
    ledger = Ledger.in_run_dir(tmp_path)
    try:
        problems = ledger.problems()
        pencils = next(p for p in problems if p.header.startswith("A pack has 12 pencils"))
        assert pencils.status == "valid" and pencils.tests == ["60"] and pencils.meta["stated"] == "65"
        canonical = [p for p in ledger.pairs(("canonical",))]
        assert canonical and all("def solution" in p.fixed and mt.final_answer(p.fixed) for p in canonical)
    finally:
        ledger.close()


def test_a_gsm8k_question_is_caught_as_contaminated(data_dir):
    from selfmine.tasks.registry import get_domain

    index, sums = get_domain("math").contamination(cfg(data_dir))
    assert set(sums) == {"gsm8k", "math500"}
    question = load_tasks("gsm8k", data_dir)[0][5].question
    hit = index.check(question)
    assert hit and hit[1].startswith("gsm8k:GSM8K/5")
    assert (
        index.check("A farmer plants 7 rows of 9 trees and 4 of them die over the winter. How many are left?") is None
    )


def test_the_answer_checker_runs_in_the_sandbox_view(tmp_path):
    """The model's text reaches sympy's parsers, so the helpers run in the judge's isolation: their own
    namespaces, an empty private /tmp, none of the host's files but the system, the interpreter and
    math-verify's packages (read-only)."""
    import os

    from selfmine.sandbox.isolation import best_launcher
    from selfmine.tasks.mathcheck import MathChecker

    if best_launcher().mode == "rlimits":
        pytest.skip("this machine offers no namespaces: the checker runs under a memory limit only (announced)")
    (tmp_path / "secret").write_text("host file")

    def leaves(pid):
        kids = open(f"/proc/{pid}/task/{pid}/children").read().split()
        return [leaf for k in kids for leaf in leaves(int(k))] or [pid]

    c = MathChecker(workers=1)
    try:
        assert [x.outcome for x in c.check_many([("1/2", "0.5"), ("3", "4")])] == ["equal", "different"]
        helper = c._free[0]
        assert helper.isolation.startswith(best_launcher().mode)
        (pid,) = leaves(helper.proc.pid)
        root = f"/proc/{pid}/root"
        assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
        assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
        (site,) = helper.paths  # the venv's site-packages, or a copy the sandbox's user can read
        shown = set(os.listdir(root + site))
        assert "math_verify" in shown and "sympy" in shown and "torch" not in shown
        assert not os.path.exists(root + str(tmp_path / "secret"))
        # /tmp is private: empty but for the way down to the packages when they live under /tmp (a venv there)
        on_the_way = {site.split("/")[2]} if site.startswith("/tmp/") else set()
        assert set(os.listdir(root + "/tmp")) == on_the_way
    finally:
        c.close()


@pytest.mark.parametrize("isolation", ["bwrap", "unshare"])
def test_the_checker_starts_with_its_packages_under_a_directory_the_sandbox_user_cannot_enter(
    tmp_path, monkeypatch, isolation
):
    """A venv under /root, a 0700 home or a `mktemp -d` folder: the sandbox's `nobody` cannot reach its
    packages, so the checker stages a readable copy (hard links) and starts from it, in either namespace
    mode. The packages are copied here into a 0700 directory to make that case on any machine."""
    import os
    import shutil
    import tempfile

    from selfmine.sandbox import isolation as iso
    from selfmine.tasks import mathcheck

    if os.geteuid() != 0:
        pytest.skip("only root drops the sandbox to another user")
    monkeypatch.setenv("SELFMINE_ISOLATION", isolation)
    iso.best_launcher.cache_clear()
    try:
        iso.best_launcher()
    except RuntimeError:
        pytest.skip(f"{isolation} is not available here")
    dirs, _ = mathcheck._packages()
    private = tmp_path / "private"
    site = private / "venv" / "site-packages"
    site.mkdir(parents=True)
    os.chmod(private, 0o700)
    copies = tuple(shutil.copytree(d, site / os.path.basename(d)) for d in dirs)
    monkeypatch.setattr(mathcheck, "_packages", lambda: (tuple(map(str, copies)), (str(site),)))
    c = mathcheck.MathChecker(workers=1)
    path = ""
    try:
        assert [x.outcome for x in c.check_many([("1/2", "0.5"), ("3", "4")])] == ["equal", "different"]
        (path,) = c._free[0].paths
        assert not path.startswith(str(private))  # it ran from the staged copy
    finally:
        c.close()
        iso.best_launcher.cache_clear()
        if path.startswith(tempfile.gettempdir()):  # this test's own staged copy (its packages are copies)
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)


def test_a_checker_that_cannot_start_is_one_line(tmp_path, monkeypatch, capsys):
    """No traceback from the CLI when the sandboxed helper cannot start: one line naming why, exit 2."""
    from selfmine.tasks import mathcheck

    def broken(memory_mb):
        return [sys.executable, "-c", "import sys; sys.exit('bwrap: cannot start')"], {}, "bwrap", ()

    monkeypatch.setattr(mathcheck, "helper_command", broken)
    monkeypatch.setattr(mathcheck, "_SHARED", None)
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "GSM8K/0", "completion": "#### 18"}) + "\n")
    from selfmine.cli import main

    monkeypatch.setattr(sys, "argv", ["selfmine", "eval", "score", "--bench", "gsm8k", "--samples", str(samples)])
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "math-verify helper did not start (bwrap): bwrap: cannot start" in err and "Traceback" not in err
