"""`selfmine run` end to end on the tiny model (every stage real), resume, errors, and the report in a
headless browser."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml


def run_cli(*args, timeout=900):
    return subprocess.run(
        [sys.executable, "-m", "selfmine.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def tiny_config(tmp_path: Path, tiny_model: Path, data_dir: Path) -> Path:
    cfg = {
        "data_dir": str(data_dir),
        "engine": {"model": str(tiny_model), "batch_size": 8},
        "mine": {"problems": 2, "propose_batch": 2, "propose_max_tokens": 24, "attempts": 2},
        "train": {"first_n": 3, "epochs": 1, "grad_accum": 1, "max_tokens": 256, "rank": 4, "dtype": "float32"},
        "eval": {"benches": ["humaneval", "mbpp"], "limit": 2, "max_tokens": 16},
        "pipeline": {"controls": ["corrupted"], "min_pairs": 2, "supplement_pairs": "tinyforge-zero/pairs_7b_40.jsonl"},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model, data_dir):
    tmp = tmp_path_factory.mktemp("run")
    cfg = tiny_config(tmp, tiny_model, data_dir)
    r = run_cli("run", "-c", str(cfg), "--run-dir", str(tmp / "run"), "--no-progress")
    assert r.returncode == 0, r.stderr[-3000:]
    return tmp / "run", cfg, r.stdout


def test_run_produces_every_artifact(finished_run):
    run, _, out = finished_run
    for rel in (
        "ledger.sqlite",
        "config.yaml",
        "eval/base.json",
        "eval/adapter.json",
        "eval/control-corrupted.json",
        "adapters/selfmine/adapter_config.json",
        "adapters/control-corrupted/training.json",
        "report.html",
        "report.md",
    ):
        assert (run / rel).exists(), rel
    md = (run / "report.md").read_text()
    assert "first 2 tasks" in md and "control-corrupted" in md and "McNemar" in md
    assert "pairs imported from a file (reference pairs" in md  # supplemented pairs are labelled
    assert "report:" in out


def test_rerun_skips_finished_stages(finished_run):
    run, cfg, _ = finished_run
    start = time.time()
    r = run_cli("run", "-c", str(cfg), "--run-dir", str(run), "--no-progress")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count("already done") >= 6
    assert time.time() - start < 120


def test_a_rerun_with_changed_settings_is_refused_naming_the_key(finished_run):
    """Reusing a finished stage made with other settings would mix two configurations in one report."""
    run, cfg, _ = finished_run
    before = (run / "config.yaml").read_text()
    r = run_cli("run", "-c", str(cfg), "--run-dir", str(run), "--no-progress", "--set", "eval.limit=3")
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "eval.limit" in lines[0] and "'baseline'" in lines[0], r.stderr
    assert (run / "config.yaml").read_text() == before  # nothing overwritten


def test_chat_arms_are_evaluated_again_through_the_template_and_leave_raw_stages_alone(finished_run):
    """eval.chat_arms adds a chat-format evaluation of the named arms (the issue's instruct-model arms),
    compared with base@chat; the raw stages stay finished, and an arm the run does not train is one line."""
    run, cfg, _ = finished_run
    chat = ("--set", "eval.chat_arms=[base,adapter]")
    r = run_cli("run", "-c", str(cfg), "--run-dir", str(run), "--no-progress", *chat)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "[eval:adapter] already done" in r.stdout and "[eval:base@chat] done" in r.stdout
    for arm in ("base@chat", "adapter@chat"):
        assert json.loads((run / "eval" / f"{arm}.json").read_text())["format"] == "chat"
    assert "adapter@chat" in (run / "report.md").read_text()
    bad = run_cli(
        "run", "-c", str(cfg), "--run-dir", str(run), "--no-progress", "--set", "eval.chat_arms=[control-rft]"
    )
    assert bad.returncode == 2 and "control-rft" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_a_second_process_on_the_same_run_dir_gets_one_line(finished_run):
    run, cfg, _ = finished_run
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(run / '.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        r = run_cli("run", "-c", str(cfg), "--run-dir", str(run), "--no-progress")
        assert r.returncode != 0 and "in use by another selfmine process" in r.stderr
        assert "Traceback" not in r.stderr
    finally:
        holder.kill()
        holder.wait()


def test_a_run_killed_at_several_points_resumes_to_the_same_result(tmp_path, tiny_model, data_dir, finished_run):
    """SIGKILL during mining, after the baseline, and inside the first training; each rerun picks up where
    the last one stopped, and the final result equals the uninterrupted run's."""
    cfg = tiny_config(tmp_path, tiny_model, data_dir)
    run = tmp_path / "run"

    def ledger_has_problems() -> bool:
        from selfmine.ledger import Ledger

        if not (run / "ledger.sqlite").exists():
            return False
        ledger = Ledger.in_run_dir(run)
        try:
            return bool(ledger.problems())
        finally:
            ledger.close()

    points = [
        ("during mining", ledger_has_problems),
        ("after the baseline", lambda: (run / "eval" / "base.json").exists() and (run / "adapters").exists()),
        ("inside the first training", lambda: (run / "adapters" / "selfmine" / "examples.jsonl").exists()),
    ]
    killed = []
    for name, reached in points:
        p = subprocess.Popen(
            [sys.executable, "-m", "selfmine.cli", "run", "-c", str(cfg), "--run-dir", str(run), "--no-progress"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 300
        while not reached() and time.time() < deadline and p.poll() is None:
            time.sleep(0.05)
        if p.poll() is None:
            killed.append(name)
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert killed, "every run finished before it could be killed"
    r = run_cli("run", "-c", str(cfg), "--run-dir", str(run), "--no-progress")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "[baseline] already done" in r.stdout and (run / "report.html").exists()
    whole, _, _ = finished_run
    for rel in ("eval/base.json", "eval/adapter.json", "eval/control-corrupted.json"):
        a, b = json.loads((run / rel).read_text()), json.loads((whole / rel).read_text())
        for bench in a["benches"]:
            assert [[x["completion"] for x in t["samples"]] for t in a["benches"][bench]["per_task"]] == [
                [x["completion"] for x in t["samples"]] for t in b["benches"][bench]["per_task"]
            ], (rel, bench, killed)


def _completions(path: Path) -> dict:
    report = json.loads(path.read_text())
    return {b: [[x["completion"] for x in t["samples"]] for t in r["per_task"]] for b, r in report["benches"].items()}


def test_a_run_dir_carried_without_weights_trains_again_and_checks_the_loss_curve(finished_run, tmp_path):
    """A run dir carried to another session (ledger and results committed, adapter weights not) resumes:
    an evaluation that still needs an adapter trains it again from the same pairs and seed, the loss curve
    is compared with the recorded one, and a training whose evaluations are all done is left alone."""
    from selfmine.ledger import Ledger

    whole, cfg, _ = finished_run
    run = tmp_path / "carried"
    shutil.copytree(whole, run, ignore=shutil.ignore_patterns("*.safetensors", ".lock"))
    (run / "eval" / "adapter.json").unlink()
    ledger = Ledger.in_run_dir(run)
    try:
        ledger.set_stage("eval:adapter", "interrupted")
    finally:
        ledger.close()
    r = run_cli("run", "-c", str(cfg), "--run-dir", str(run), "--no-progress")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "[train:none] trained again: the same loss curve as before" in r.stdout, r.stdout
    assert "[train:corrupted] already done" in r.stdout
    assert (run / "adapters" / "selfmine" / "adapter_model.safetensors").exists()
    assert _completions(run / "eval" / "adapter.json") == _completions(whole / "eval" / "adapter.json")
    ledger = Ledger.in_run_dir(run)
    try:
        info = ledger.stage_info("train:none")
    finally:
        ledger.close()
    assert info["retrained"]["same_losses"] and info["losses"] == info["retrained"]["losses_before"]


@pytest.mark.parametrize(
    ("key", "other"), [("numerics.device", "cpu:some-other-kind"), ("numerics.vendor", "other-vendor")]
)
def test_a_run_dir_from_another_kind_of_machine_is_refused_in_one_line(finished_run, tmp_path, key, other):
    """Greedy outputs and trainings differ between an AVX2/float32 and an AMX/bf16 machine, and between an
    Intel and an AMD CPU with the same instructions: finishing a run on another kind would mix both in one
    paired comparison."""
    from selfmine.ledger import Ledger

    whole, cfg, _ = finished_run
    run = tmp_path / "moved"
    shutil.copytree(whole, run, ignore=shutil.ignore_patterns("*.safetensors", ".lock"))
    ledger = Ledger.in_run_dir(run)
    try:
        info = ledger.stage_info("baseline")
        assert key in info["settings"]
        info["settings"][key] = other
        ledger.set_stage("baseline", "done", **info)
    finally:
        ledger.close()
    r = run_cli("run", "-c", str(cfg), "--run-dir", str(run), "--no-progress")
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert r.returncode != 0 and len(lines) == 1, r.stderr
    assert f"computed on {other!r}" in lines[0] and "Traceback" not in r.stderr


def test_a_greedy_base_evaluation_is_taken_from_another_seed_only_when_everything_else_matches(finished_run, tmp_path):
    """pipeline.reuse_base: greedy decoding of the base does not depend on the seed, so another seed's run
    takes the result (checked, cut to its benchmarks, labelled) instead of generating it again; a result
    made with other settings is one line naming the difference."""
    from selfmine.config import load_config
    from selfmine.pipeline import Pipeline

    whole, cfg_path, _ = finished_run
    source = whole / "eval" / "base.json"
    over = ["seed=7", f"pipeline.reuse_base={{base: {source}}}", "eval.benches=[humaneval]"]
    pipe = Pipeline(tmp_path / "s7", load_config(cfg_path, over), progress=False, echo=lambda s: None)
    (tmp_path / "s7" / "eval").mkdir(parents=True)
    info = pipe._eval("base")
    got = json.loads((tmp_path / "s7" / "eval" / "base.json").read_text())
    assert list(got["benches"]) == ["humaneval"] and info["reused_from"]["path"] == str(source)
    assert _completions(tmp_path / "s7" / "eval" / "base.json")["humaneval"] == _completions(source)["humaneval"]
    assert got["reused_from"]["matched"] == "machine class"  # a pipeline result records its machine class
    from selfmine.evaluate.reuse import ReuseError

    bare = json.loads(source.read_text())
    del bare["numerics"]  # as results made before machine classes were recorded
    (tmp_path / "bare.json").write_text(json.dumps(bare))
    over[1] = f"pipeline.reuse_base={{base: {tmp_path / 'bare.json'}}}"
    pipe = Pipeline(tmp_path / "s8", load_config(cfg_path, over), progress=False, echo=lambda s: None)
    (tmp_path / "s8" / "eval").mkdir(parents=True)
    with pytest.raises(ReuseError, match="records no machine class"):
        pipe._eval("base")
    r = run_cli(
        "run", "-c", str(cfg_path), "--run-dir", str(tmp_path / "other"), "--no-progress",
        "--set", "eval.max_tokens=17", "--set", f"pipeline.reuse_base={{base: {source}}}",
    )  # fmt: skip
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert r.returncode != 0 and len(lines) == 1 and "max_tokens is 16, this run's is 17" in lines[0], r.stderr


def test_expert_iteration_mines_with_the_last_adapter_and_trains_on_the_union_of_pairs(finished_run, tmp_path):
    """mine.adapter: every mining request goes through the previous iteration's adapter (recorded with its
    checksum, so other weights are another mining); pipeline.carry_pairs: the previous iteration's pairs join
    this run's, re-judged and labelled, before the first training."""
    from selfmine.ledger import Ledger

    whole, cfg_path, _ = finished_run
    adapter, carried = whole / "adapters" / "selfmine", tmp_path / "round1.jsonl"
    r = run_cli("pairs", "export", "--run-dir", str(whole), "--format", "tinyforge", "--out", str(carried))
    assert r.returncode == 0, r.stderr
    rows = len(carried.read_text().splitlines())
    run = tmp_path / "iteration"
    common = ["-c", str(cfg_path), "--no-progress", "--set", "pipeline.controls=[]", "--set", "train.first_n=null"]
    r = run_cli(
        "run", *common, "--run-dir", str(run), "--set", f"mine.adapter={adapter}",
        "--set", f"pipeline.carry_pairs=[{carried}]", "--set", f"pipeline.reuse_base={{base: {whole}/eval/base.json}}",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    ledger = Ledger.in_run_dir(run)
    try:
        engine = ledger.get_meta("provenance")["engine"]
        mined = ledger.pair_count(("mixed", "repair", "canonical"))
        imported = ledger.pair_count(("imported",))
        trained = ledger.stage_info("train:none")["pairs"]
        mining = ledger.stage_info("mine")["settings"]
    finally:
        ledger.close()
    assert engine["adapter"] == str(adapter) and engine["adapter_sha256"] == mining["mine.adapter_sha256"]
    assert 0 < imported <= rows and trained == mined + imported, (mined, imported, trained)
    mined_first = {}
    for name, where in (("before", whole), ("iteration", run)):
        ledger = Ledger.in_run_dir(where)
        try:  # the first mining round's proposals (an import has a round of its own)
            rounds = ledger.mining_rounds()
            mined_first[name] = [p.raw for p in ledger.problems(round_id=rounds[0]["id"])]
            imports = [r[0] for r in ledger.db.execute("SELECT id FROM rounds WHERE seed < 0")]
        finally:
            ledger.close()
    assert imports and imports[0] < rounds[0]["id"]  # carried before mining: the gates knew its problems
    assert mined_first["iteration"] != mined_first["before"]  # the same seed through the adapter: other problems
    gone = run_cli("run", *common, "--run-dir", str(tmp_path / "none"), "--set", f"mine.adapter={tmp_path}/nowhere")
    lines = [ln for ln in gone.stderr.strip().splitlines() if ln.strip()]
    assert gone.returncode != 0 and len(lines) == 1 and "no PEFT adapter" in lines[0], gone.stderr
    none = run_cli(
        "run", *common, "--run-dir", str(tmp_path / "none"), "--set", "pipeline.carry_pairs=[pairs_7b_40.jsonl]"
    )
    lines = [ln for ln in none.stderr.strip().splitlines() if ln.strip()]  # never the shipped file of that name
    assert none.returncode != 0 and len(lines) == 1 and "no such file: pairs_7b_40.jsonl" in lines[0], none.stderr
    assert not (tmp_path / "none" / "eval" / "base.json").exists()  # refused before the baseline


@pytest.mark.parametrize(
    "override,needle",
    [
        ("mine.attempts=0", "mine.attempts"),
        ("mine.bogus=1", "mine.bogus"),
        ("engine.model=/nonexistent/m", "not found"),
        ("train.lr=-1", "train.lr"),
    ],
)
def test_bad_input_is_one_line(tmp_path, tiny_model, data_dir, override, needle):
    cfg = tiny_config(tmp_path, tiny_model, data_dir)
    r = run_cli("run", "-c", str(cfg), "--run-dir", str(tmp_path / "run"), "--set", override, "--no-progress")
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_missing_config_and_bad_yaml(tmp_path):
    r = run_cli("run", "-c", str(tmp_path / "nope.yaml"), "--run-dir", str(tmp_path / "r"))
    assert r.returncode == 2 and "not found" in r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("mine: [unclosed\n")
    r = run_cli("run", "-c", str(bad), "--run-dir", str(tmp_path / "r"))
    assert r.returncode == 2 and "YAML" in r.stderr


def test_missing_data_dir(tmp_path, monkeypatch):
    env = {**os.environ, "SELFMINE_DATA_DIR": str(tmp_path / "nowhere")}
    r = subprocess.run(
        [sys.executable, "-m", "selfmine.cli", "run", "--run-dir", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert r.returncode == 2 and "--data-dir" in r.stderr and len(r.stderr.strip().splitlines()) == 1


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(
    CHROMIUM is None, reason="no headless Chromium (the setup script installs it where apt and root allow)"
)
def test_report_renders_in_headless_chromium(finished_run, tmp_path):
    run, _, _ = finished_run
    shot = tmp_path / "report.png"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,2400",
        f"--screenshot={shot}",
        (run / "report.html").as_uri(),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000, r.stderr[-2000:]
    console = [ln for ln in r.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert console == []
    html = (run / "report.html").read_text()
    assert "<script" not in html and "data:image/png;base64," in html and "<details>" in html


def test_full_disk_is_one_line_and_loses_nothing(tmp_path, tiny_model, data_dir):
    """A run dir on a 256 KiB filesystem: the run stops with one line and exit 3; the ledger stays readable."""
    import sqlite3

    mnt = tmp_path / "small"
    mnt.mkdir()
    if (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True).returncode
        != 0
    ):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        cfg = tiny_config(tmp_path, tiny_model, data_dir)
        r = run_cli("run", "-c", str(cfg), "--run-dir", str(mnt / "run"), "--no-progress")
        assert r.returncode == 3, (r.returncode, r.stderr[-2000:])
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
        db = sqlite3.connect(mnt / "run" / "ledger.sqlite")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_an_engine_holding_the_gpu_is_released_before_training(tmp_path, monkeypatch):
    """vLLM keeps most of the GPU's memory: training must start only after the engine let it go, and the
    next evaluation gets a fresh engine."""
    import selfmine.pipeline as pipeline_mod
    import selfmine.scale as scale_mod
    import selfmine.train as train_mod
    from selfmine.config import load_config
    from selfmine.ledger import Ledger

    events = []

    class GpuEngine:
        holds_accelerator = True

        def close(self):
            events.append("engine closed")

    monkeypatch.setattr(scale_mod, "make_engine", lambda *a, **k: events.append("engine loaded") or GpuEngine())
    monkeypatch.setattr(Ledger, "pair_count", lambda self, kinds: 5)
    monkeypatch.setattr(train_mod, "train", lambda *a, **k: events.append("train") or {"pairs": 5, "loss_curve": []})
    pipe = pipeline_mod.Pipeline(tmp_path / "run", load_config(None, []), progress=False, echo=lambda s: None)
    assert pipe.engine is pipe.engine  # loaded once for the baseline evaluation
    pipe._train("none")
    assert pipe.engine is not None  # the adapter's evaluation
    assert events == ["engine loaded", "engine closed", "train", "engine loaded"]


def test_every_shipped_config_is_valid():
    """Recipes are only useful if they load: each YAML under configs/ validates, with nothing unknown."""
    from pathlib import Path

    from selfmine.config import load_config

    root = Path(__file__).resolve().parents[1] / "src" / "selfmine" / "configs"
    files = sorted(root.rglob("*.yaml"))
    assert len(files) >= 12
    for path in files:
        cfg = load_config(path, [])
        assert cfg.engine.backend in ("hf", "vllm", "openai"), path
    study = [load_config(p, []) for p in files if "study" in p.name or "study-gpu" in str(p)]
    assert all(max(c.study.pair_counts) > 0 for c in study)


def _open_ledger(path, barrier):
    from selfmine.ledger import Ledger

    barrier.wait()
    Ledger(path).close()


def test_processes_opening_one_fresh_ledger_at_once_all_succeed(tmp_path):
    """A run's watcher (or a resumed run) opens the ledger while its writer creates it: neither the WAL
    switch nor the column migration may fail on the race."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    for trial in range(10):
        barrier = ctx.Barrier(6)
        path = tmp_path / f"ledger{trial}.sqlite"
        procs = [ctx.Process(target=_open_ledger, args=(path, barrier)) for _ in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * 6, f"trial {trial}"
