"""Scale-out on Ray, on a local cluster this module starts and stops itself: the same verdicts as the
local judge, mining through the cluster, a Ray worker killed mid-judging, and a clear line without Ray."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from selfmine.config import load_config
from selfmine.ledger import Ledger
from selfmine.mine import mine
from selfmine.sandbox import Job, judge_many

from .scripted import ScriptedEngine
from .test_engine import agreement
from .test_mine import snapshot

ray = pytest.importorskip("ray", reason="the ray extra is part of `make setup`")


@pytest.fixture(scope="module")
def cluster():
    """The cluster's judge, which routes nothing by itself: a test judges there by naming it."""
    from selfmine.scale import ray_judge

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray_judge.shared("auto")
    ray_judge.close_shared()
    ray.shutdown()


def _key(v):
    return (v.status.value, [(t.index, t.outcome) for t in v.tests])


def test_eval_score_of_canonical_solutions_through_ray_equals_local(cluster, data_dir):
    """HumanEval's 164 canonical solutions with their tests (and MBPP+'s first 40 with plus inputs):
    every verdict through the cluster equals the local one, in order."""
    from selfmine.tasks.code_bench import load_tasks
    from selfmine.tasks.code_score import MAX_TIMEOUT_S, _job

    tasks = load_tasks("humaneval", data_dir)[0] + load_tasks("mbpp+", data_dir)[0][:40]
    jobs = [_job(t, t.canonical, MAX_TIMEOUT_S) for t in tasks]
    remote = judge_many(jobs, route=cluster)
    assert sum(v.passed for v in remote[:164]) == 164
    assert [_key(v) for v in remote] == [_key(v) for v in judge_many(jobs)]
    assert {i["isolation"] for i in cluster.info()} == {remote[0].isolation}


def test_humaneval_plus_canonical_samples_through_ray_all_pass(cluster, data_dir):
    """HumanEval+'s canonical solutions with every plus input, judged on the cluster exactly as `eval
    score` judges them: all pass, as locally, nothing lost to the cluster. Every 4th task (41, spread over
    the benchmark) keeps the suite inside its time budget; tests/test_evaluate.py checks all 164 locally."""
    from selfmine.sandbox import judging_via
    from selfmine.tasks.code_bench import load_tasks
    from selfmine.tasks.code_score import canonical_check

    tasks = load_tasks("humaneval+", data_dir)[0][::4]
    assert len(tasks) == 41 and all(t.plus_inputs for t in tasks)
    with judging_via(cluster):
        assert canonical_check(tasks) == []


def test_mine_through_ray_equals_local_and_duplicates_nothing(cluster, tmp_path, data_dir, monkeypatch):
    """Only the run with scale.ray_address judges on the cluster (its `connected` block), and gets the
    local run's ledger."""
    sets = [f"data_dir={data_dir}", "mine.propose_batch=3", "mine.problems=7", "mine.attempts=4", "mine.tests=model"]
    calls, real = [], cluster.judge_many
    monkeypatch.setattr(cluster, "judge_many", lambda jobs, on_result=None: calls.append(1) or real(jobs, on_result))
    mine(tmp_path / "local", load_config(None, sets), engine=ScriptedEngine(), progress=False, echo=lambda s: None)
    assert not calls
    cfg = load_config(None, sets + ["scale.ray_address=auto"])
    mine(tmp_path / "ray", cfg, engine=ScriptedEngine(), progress=False, echo=lambda s: None)
    assert calls
    got = snapshot(tmp_path / "ray")
    assert got == snapshot(tmp_path / "local") and got["pairs"]
    assert len(set(got["attempts"])) == len(got["attempts"])
    from selfmine.transfer import export_pairs

    mined = [p for p in got["pairs"] if p[1] != "keep_correct"]  # keep-correct rows are not (broken, fixed)
    assert export_pairs(tmp_path / "ray", "sft", tmp_path / "pairs.jsonl") == len(mined) > 0
    assert len((tmp_path / "pairs.jsonl").read_text().splitlines()) == len(mined)


def test_a_killed_ray_worker_mid_judging_changes_no_verdict(cluster):
    """The actor process that owns the node's sandbox pool is SIGKILLed while it judges; Ray restarts it
    and reruns its batch: the verdicts equal the local ones, and none is a sandbox error."""
    jobs = [
        Job(
            f"import time\ndef f(x):\n    time.sleep(0.2)\n    return x + {i % 3}",
            [f"assert f(1) == {1 + (i % 2)}"],
            10,
        )
        for i in range(48)
    ]
    want = [_key(v) for v in judge_many(jobs)]
    verdicts = _kill_actor_during(cluster.actors[0], lambda: judge_many(jobs, route=cluster))
    assert not any(v.infrastructure_failure for v in verdicts)
    assert [_key(v) for v in verdicts] == want


def _kill_actor_during(actor, call):
    """Run `call` in a thread, SIGKILL the actor's process while it works, and return what `call`
    returned after Ray restarted the actor."""
    pid = ray.get(actor.pid.remote())
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("result", call()))
    t.start()
    time.sleep(1.0)
    assert t.is_alive()  # killed while it works
    subprocess.run(["kill", "-9", str(pid)], check=True)
    t.join(300)
    assert not t.is_alive()
    assert ray.get(actor.pid.remote()) != pid  # it really was replaced
    return out["result"]


@pytest.fixture(scope="module")
def ray_engine(cluster, tiny_model):
    """Two hf engine actors on the one local node, so that prompts really are sharded."""
    from selfmine.scale.ray_engine import RayEngine

    # the same dtype as the local `tiny_engine` (auto: bf16 where the CPU has it), so the two can be compared
    engine = RayEngine("auto", "hf", str(tiny_model), {"batch_size": 8}, per_node=2)
    yield engine
    engine.close()


def test_generation_through_ray_equals_local_with_adapters_shipped(ray_engine, tiny_engine, tmp_path):
    """Prompts sharded over two actors come back in order with the samples the local engine gives for the
    same per-prompt seeds, greedy and sampled; an adapter reaches the actors as bytes, unmerged."""
    from peft import LoraConfig, get_peft_model

    from selfmine.engine import SamplingParams

    prompts = [f"def f{i}(x):\n    return x" + " +" * (i % 4) for i in range(13)]
    sampled = SamplingParams(n=3, temperature=1.0, top_p=0.95, max_tokens=10, seed=5)
    greedy = SamplingParams(max_tokens=10)
    pids = {ray.get(a.pid.remote()) for a in ray_engine.actors}
    assert len(pids) == 2
    for p in (sampled, greedy):
        assert agreement(ray_engine.generate(prompts, p, progress=True), tiny_engine.generate(prompts, p)) >= 0.9
    peft = get_peft_model(
        type(tiny_engine.model).from_pretrained(tiny_engine.path),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    peft.save_pretrained(tmp_path / "adapter")
    adapter = str(tmp_path / "adapter")
    tuned = ray_engine.generate(prompts, sampled, adapter=adapter)
    assert agreement(tuned, tiny_engine.generate(prompts, sampled, adapter=adapter)) >= 0.9
    assert agreement(tuned, tiny_engine.generate(prompts, sampled)) < 0.5
    assert ray_engine.info()["ray_engine_actors"] == 2


def test_a_killed_engine_actor_mid_generation_changes_no_sample(ray_engine, tiny_engine):
    """An engine actor is SIGKILLed while it generates: Ray restarts it and its shard runs again with the
    same per-prompt seeds, so every sample equals the local one."""
    from selfmine.engine import SamplingParams

    prompts = [f"x{i} = [" for i in range(24)]
    params = SamplingParams(n=4, temperature=1.0, max_tokens=48, seed=9)
    rows = _kill_actor_during(ray_engine.actors[0], lambda: ray_engine.generate(prompts, params))
    assert agreement(rows, tiny_engine.generate(prompts, params)) >= 0.9


def test_mine_with_generation_and_judging_on_ray_equals_local(cluster, tiny_model, tmp_path, data_dir):
    """`mine` builds its engine from the config: with scale.ray_address the model runs in engine actors.
    The proposals equal those of a local run (greedy, so that only a last-bit tie could differ)."""
    sets = [
        f"data_dir={data_dir}",
        f"engine.model={tiny_model}",
        "engine.dtype=float32",
        "mine.problems=6",
        "mine.propose_batch=3",
        "mine.attempts=2",
        "mine.propose_max_tokens=24",
        "mine.tests=model",
        "mine.propose_temperature=0",
    ]
    mine(tmp_path / "local", load_config(None, sets), progress=False, echo=lambda s: None)
    cfg = load_config(None, sets + ["scale.ray_address=auto", "scale.engines_per_node=2"])
    mine(tmp_path / "ray", cfg, progress=False, echo=lambda s: None)
    got, want = snapshot(tmp_path / "ray"), snapshot(tmp_path / "local")
    assert len(got["problems"]) == len(want["problems"]) == 6
    assert sum(a == b for a, b in zip(got["problems"], want["problems"])) >= 5
    assert len(set(got["attempts"])) == len(got["attempts"])
    assert Ledger.in_run_dir(tmp_path / "ray").get_meta("provenance")["engine"]["backend"] == "ray:hf"


def test_without_ray_one_line_names_the_extra(tmp_path):
    script = (
        "import sys; sys.modules['ray'] = None\n"
        "import selfmine, selfmine.cli, selfmine.mine, selfmine.pipeline, selfmine.evaluate\n"
        "from selfmine.cli import main\n"
        f"sys.argv = ['selfmine', 'eval', 'score', '--bench', 'humaneval', '--samples', {str(tmp_path / 's.jsonl')!r},"
        " '--ray-address', 'auto']\n"
        "main()\n"
    )
    (tmp_path / "s.jsonl").write_text('{"task_id": "HumanEval/0", "completion": "    return False\\n"}\n')
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "pip install -e '.[ray]'" in r.stderr


def test_importing_selfmine_never_imports_ray():
    code = (
        "import sys, selfmine, selfmine.cli, selfmine.mine, selfmine.pipeline, selfmine.evaluate, selfmine.scale\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_study_arms_run_as_ray_tasks_and_resume(cluster, tmp_path, tiny_model, data_dir):
    """With a cluster, every training and evaluation arm is a Ray task in another process; the driver
    writes what comes back. A rerun after two arms are forgotten runs only those two."""
    import json
    import os
    import shutil

    from selfmine.study import run_study

    from .test_study import _study_config

    sets = ["scale.ray_address=auto", "scale.arm_cpus=1", "eval.benches=[humaneval]", "study.seeds=[0]"]
    cfg = load_config(_study_config(tmp_path, tiny_model, data_dir), sets)
    run, lines = tmp_path / "study", []
    out = run_study(run, cfg, progress=False, echo=lines.append)
    rows = out["study"]["benches"]["humaneval (raw)"]["rows"]
    assert [row["pairs"] for row in rows] == [2, 4]
    assert sum(line.startswith("[study] trained") for line in lines) == 2
    reports = [json.loads(p.read_text()) for p in (run / "study" / "eval").glob("*.json")]
    assert len(reports) == 6 and all(r["ran_on"]["pid"] != os.getpid() for r in reports)
    small = json.loads((run / "study" / "adapters" / "pairs2-seed0" / "training.json").read_text())
    large = json.loads((run / "study" / "adapters" / "pairs4-seed0" / "training.json").read_text())
    assert small["pair_ids"] == large["pair_ids"][:2]  # the adapters came back whole, from nested subsets
    ledger = Ledger.in_run_dir(run)
    stages = [n for n in ledger.stages() if n.startswith("study:eval:") and "pairs2-seed0" in n]
    for name in stages:
        ledger.set_stage(name, "started")
    ledger.close()
    # carried without its adapters' weights: the one an evaluation waits for trains again, as a task
    for key in ("pairs2-seed0", "pairs4-seed0"):
        shutil.rmtree(run / "study" / "adapters" / key)
    lines.clear()
    again = run_study(run, cfg, progress=False, echo=lines.append)
    assert sum(line.startswith("[study] evaluated") for line in lines) == len(stages) == 2
    assert [line.split(" on ")[0] for line in lines if line.startswith("[study] trained")] == [
        "[study] trained pairs2-seed0"
    ]
    assert "[study] pairs2-seed0 trained again: same loss curve as before: True" in lines
    ledger = Ledger.in_run_dir(run)
    record = ledger.stage_info("study:train:pairs2-seed0")
    ledger.close()
    assert record["retrained"]["same_losses"] and record["losses"] == record["retrained"]["losses_before"]
    assert again["study"]["benches"] == out["study"]["benches"]
