"""Pooling seeds (`selfmine eval pool`): the task is the unit, seeds are averaged per task, the lift that
counts is the adapter's over its best control."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from selfmine.evaluate.compare import IncomparableResults
from selfmine.evaluate.pool import PoolError, markdown, pool, pooled_difference


def _res(outcomes, **settings):
    out = {"format": "raw", "limit": None, "sampling": {"n": 1, "temperature": 0.0, "top_p": 0.95, "max_tokens": 384}}
    out.update(settings)
    out["benches"] = {
        "humaneval": {
            "per_task": [
                {"task_id": f"t{i}", "samples": [{"passed": None if o is None else bool(o)}]}
                for i, o in enumerate(outcomes)
            ]
        }
    }
    return out


def _runs(rng, tasks=60, seeds=3, lift=0.0, control_lift=0.0):
    """Seeds of one experiment: a base that passes each task with its own probability, an adapter and a
    control that add `lift` / `control_lift` to it."""
    p = rng.uniform(0.1, 0.9, size=tasks)
    runs = []
    for _ in range(seeds):
        draw = lambda q: [int(x) for x in rng.random(tasks) < np.clip(q, 0, 1)]  # noqa: E731
        runs.append(
            {"base": _res(draw(p)), "adapter": _res(draw(p + lift)), "control-rft": _res(draw(p + control_lift))}
        )
    return runs


def test_a_real_lift_is_found_and_a_null_has_an_interval_around_zero():
    rng = np.random.default_rng(0)
    lifted = pool(_runs(rng, tasks=160, lift=0.3))["humaneval"]["vs_base"]["adapter"]
    assert lifted["ci95"][0] > 0.1 and lifted["p"] < 0.01 and lifted["seeds"] == 3 and lifted["tasks"] == 160
    null = pool(_runs(rng, tasks=160))["humaneval"]["vs_base"]["adapter"]
    assert null["ci95"][0] < 0 < null["ci95"][1] and null["p"] > 0.01
    assert len(null["mcnemar_p_per_seed"]) == 3 and all(0 <= p <= 1 for p in null["mcnemar_p_per_seed"])


def test_the_lift_that_counts_is_over_the_best_control():
    """An adapter that gains only what a control gains (e.g. format) has no lift over that control."""
    rng = np.random.default_rng(1)
    runs = _runs(rng, tasks=160, lift=0.3, control_lift=0.3)
    for r in runs:
        r["control-corrupted"] = r["base"]
    out = pool(runs)["humaneval"]
    assert out["best_control"] == "control-rft"
    assert out["vs_base"]["adapter"]["ci95"][0] > 0
    over = out["vs_best_control"]
    assert over["ci95"][0] < 0 < over["ci95"][1]


def test_each_seed_keeps_its_own_difference_beside_the_pooled_one():
    runs = [
        {"base": _res([1, 0, 0, 0]), "adapter": _res([1, 1, 0, 0])},
        {"base": _res([1, 1, 1, 0]), "adapter": _res([0, 0, 1, 0])},
    ]
    d = pool(runs)["humaneval"]["vs_base"]["adapter"]
    assert d["per_seed"] == [0.25, -0.5] and d["diff"] == pytest.approx(-0.125)


def test_greedy_flips_are_counted_over_seeds_with_how_they_failed():
    """How the fixed tasks failed in the base and the broken ones fail in the arm, summed over seeds (the
    verdict texts are the sandbox's, as `compare.failure_kind` reads them)."""
    wrong = {"status": "failed", "message": "test 0 failed (AssertionError)"}
    syntax = {"status": "error", "message": "SyntaxError: invalid syntax (solution.py, line 3)"}
    ok = {"status": "passed", "message": "all 1 tests passed"}

    def arm(samples):
        result = _res([s is ok for s in samples])
        for t, sample in zip(result["benches"]["humaneval"]["per_task"], samples):
            t["samples"][0].update(sample)
        return result

    runs = [
        {"base": arm([wrong, syntax, ok, ok]), "adapter": arm([ok, ok, syntax, ok])},
        {"base": arm([wrong, ok, ok, wrong]), "adapter": arm([ok, ok, wrong, wrong])},
    ]
    d = pool(runs)["humaneval"]["vs_base"]["adapter"]
    assert (d["fixed"], d["broken"]) == (3, 2)
    assert d["fixed_from"] == {"wrong answer": 2, "syntax error": 1}
    assert d["broken_to"] == {"syntax error": 1, "wrong answer": 1}
    assert "3 fixed (in the base: wrong answer 2, syntax error 1)" in markdown(pool(runs))


def test_seeds_are_averaged_per_task_not_counted_as_tasks():
    """The same flips on 3 seeds are 3 x more evidence about those tasks, not 3 x more tasks: the
    interval of a pooled null equals the single seed's when every seed is a copy."""
    rng = np.random.default_rng(2)
    one = _runs(rng, tasks=80, seeds=1, lift=0.1)
    copies = [one[0]] * 3
    a, b = (pooled_difference(r, "base", "adapter", "humaneval") for r in (one, copies))
    assert a["diff"] == pytest.approx(b["diff"]) and a["ci95"] == pytest.approx(b["ci95"])


def test_unscored_tasks_leave_the_comparison_on_every_seed():
    runs = [
        {"base": _res([1, 0, 1]), "adapter": _res([1, 1, None])},
        {"base": _res([1, 0, 1]), "adapter": _res([1, 1, 1])},
    ]
    d = pooled_difference(runs, "base", "adapter", "humaneval")
    assert d["tasks"] == 2 and d["diff"] == pytest.approx(0.5)


def test_seeds_at_different_stages_pool_each_comparison_over_the_seeds_that_hold_it():
    """Seed 2 has no controls yet: the adapter pools 3 seeds, the control 2, and the table names them."""
    rng = np.random.default_rng(5)
    runs = _runs(rng, tasks=50, lift=0.2)
    del runs[2]["control-rft"]
    out = pool(runs, names=["s0", "s1", "s2"])["humaneval"]
    assert out["vs_base"]["adapter"]["seed_names"] == ["s0", "s1", "s2"]
    assert out["vs_base"]["control-rft"]["seed_names"] == ["s0", "s1"]
    assert out["vs_best_control"]["seed_names"] == ["s0", "s1"]
    alone = pooled_difference(runs[:2], "base", "control-rft", "humaneval")
    assert out["vs_base"]["control-rft"]["diff"] == pytest.approx(alone["diff"])


def test_the_best_control_is_chosen_on_the_seeds_that_hold_every_control():
    """A control evaluated on one lucky seed only must not win over one held by every seed because of that
    seed: the choice is made on the seeds that hold both."""
    runs = [
        {
            "base": _res([0, 0, 0, 0]),
            "adapter": _res([1, 1, 0, 0]),
            "control-a": _res([1, 0, 0, 0]),
            "control-b": _res([1, 1, 0, 0]),
        },
        {"base": _res([0, 0, 0, 0]), "adapter": _res([1, 1, 0, 0]), "control-a": _res([1, 1, 1, 1])},
    ]
    assert pool(runs)["humaneval"]["best_control"] == "control-b"


def test_a_seed_with_chat_arms_but_no_chat_base_yet_is_left_out_of_the_chat_comparison():
    rng = np.random.default_rng(6)
    runs = _runs(rng, tasks=30)
    for r in runs:
        r["adapter@chat"] = {**r["adapter"], "format": "chat"}
    for r in runs[:2]:
        r["base@chat"] = {**r["base"], "format": "chat"}
    out = pool(runs, names=["s0", "s1", "s2"])["humaneval@chat"]["vs_base"]["adapter@chat"]
    assert out["seed_names"] == ["s0", "s1"]


def test_without_a_seed_holding_every_control_the_best_is_the_largest_gain_not_the_highest_rate():
    """control-a gains 3 tasks of 4 on a seed with a weak base, control-b 2 on a seed with a strong one:
    comparing their raw rates would compare the two seeds' bases."""
    runs = [
        {"base": _res([0, 0, 0, 0]), "adapter": _res([1, 0, 0, 0]), "control-a": _res([1, 1, 1, 0])},
        {"base": _res([1, 1, 0, 0]), "adapter": _res([1, 1, 0, 0]), "control-b": _res([1, 1, 1, 1])},
    ]
    assert pool(runs)["humaneval"]["best_control"] == "control-a"


def test_runs_that_differ_are_refused():
    base = {"base": _res([1, 0]), "adapter": _res([1, 1])}
    with pytest.raises(PoolError):
        pool([base, {"adapter": _res([1, 0])}])
    with pytest.raises(IncomparableResults):
        pool([base, {"base": _res([1, 0], format="chat"), "adapter": _res([1, 1], format="chat")}])
    with pytest.raises(PoolError):
        pool([{"adapter": _res([1])}])
    with pytest.raises(PoolError, match="different models"):  # seeds of two experiments
        pool([{"base": _res([1], engine={"model": "a"})}, {"base": _res([1], engine={"model": "b"})}])


def test_pool_cli(tmp_path):
    rng = np.random.default_rng(3)
    dirs = []
    for i, run in enumerate(_runs(rng, tasks=30, lift=0.2)):
        (tmp_path / f"s{i}" / "eval").mkdir(parents=True)
        for arm, res in run.items():
            (tmp_path / f"s{i}" / "eval" / f"{arm}.json").write_text(json.dumps(res))
        dirs.append(str(tmp_path / f"s{i}"))
    cli = [sys.executable, "-m", "selfmine.cli", "eval", "pool"]
    r = subprocess.run([*cli, *dirs], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "adapter vs its only control (control-rft)" in r.stdout and "30 x 3" in r.stdout
    png = tmp_path / "pooled.png"
    j = subprocess.run([*cli, *dirs, "--json", "--plot", str(png)], capture_output=True, text=True)
    assert json.loads(j.stdout)["humaneval"]["best_control"] == "control-rft"
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and png.stat().st_size > 5000
    bad = subprocess.run([*cli, str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_chat_arms_are_pooled_against_the_chat_base():
    rng = np.random.default_rng(4)
    runs = _runs(rng, tasks=40, lift=0.0)
    for r in runs:
        r["base@chat"] = {**r["base"], "format": "chat"}
        r["adapter@chat"] = {**r["adapter"], "format": "chat"}
    out = pool(runs)
    assert set(out) == {"humaneval", "humaneval@chat"}
    assert set(out["humaneval@chat"]["vs_base"]) == {"adapter@chat"} and out["humaneval@chat"]["best_control"] is None
    for r in runs:  # one control in chat format (the raw group has one too): no choice was made, and it says so
        r["control-rft@chat"] = {**r["control-rft"], "format": "chat"}
    out = pool(runs)
    assert out["humaneval@chat"]["controls"] == ["control-rft@chat"]
    assert "adapter@chat vs its only control (control-rft@chat)" in markdown(out)
    for r in runs:
        r["control-corrupted"] = r["base"]
    assert "adapter vs best control (control-" in markdown(pool(runs))


def test_an_evalplus_bench_without_its_original_is_also_scored_on_its_base_tests():
    """MBPP+ generated alone gives two scores (MBPP+, and MBPP as its base tests); HumanEval+ beside
    HumanEval gives none extra (HumanEval is that score already)."""

    def res(passed, base_passed, benches=("mbpp+",)):
        out = _res([0])
        out["benches"] = {
            b: {
                "per_task": [
                    {"task_id": f"t{i}", "samples": [{"passed": bool(p), "base_passed": bool(q)}]}
                    for i, (p, q) in enumerate(zip(passed, base_passed))
                ]
            }
            for b in benches
        }
        return out

    base, adapter = res([0, 0, 1, 0], [0, 1, 1, 0]), res([0, 1, 1, 0], [1, 1, 1, 1])
    out = pool([{"base": base, "adapter": adapter}])
    assert out["mbpp+"]["vs_base"]["adapter"]["diff"] == pytest.approx(0.25)
    assert out["mbpp+ base tests"]["vs_base"]["adapter"]["diff"] == pytest.approx(0.5)
    both = ("humaneval", "humaneval+")
    out = pool([{"base": res([0], [1], both), "adapter": res([1], [1], both)}])
    assert sorted(out) == ["humaneval", "humaneval+"]
