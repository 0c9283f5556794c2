"""The run directory's rules, shared by `selfmine run`, `selfmine study` and `selfmine mine`: what a rerun
may change, another kind of machine, the layout boundary, fresh output folders, one process at a time."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from selfmine.errors import UserError
from selfmine.ledger import Ledger
from selfmine.ledger.rundir import LAYOUT, RunDir, RunDirError

BEFORE_LAYOUT = Path(__file__).parent / "fixtures" / "run-dir-before-layout"  # see its SOURCE.md
SETTINGS = {"engine.model": "m", "mine.problems": 8, "numerics.device": "cpu:avx2", "numerics.dtype": "float32"}


def held(tmp_path) -> RunDir:
    rd = RunDir(tmp_path / "run")
    with rd.hold():
        pass
    return rd


def test_a_recorded_stage_keeps_its_settings_but_for_the_keys_that_may_grow(tmp_path):
    rd = held(tmp_path)
    rd.check("mine", SETTINGS)  # nothing recorded yet: anything goes
    rd.record("mine", "running", settings=SETTINGS)  # interrupted stages are held to their settings too
    rd.check("mine", SETTINGS)
    rd.check("mine", {**SETTINGS, "mine.problems": 16}, may_grow=["mine.problems"])
    with pytest.raises(RunDirError, match=r"'mine' was done with mine.problems=8, this run asks for 16"):
        rd.check("mine", {**SETTINGS, "mine.problems": 16})
    with pytest.raises(RunDirError, match="engine.model"):
        rd.check("mine", {**SETTINGS, "engine.model": "other"}, may_grow=["mine.problems"])


def test_a_skipped_stage_computed_nothing_and_may_be_tried_with_other_settings(tmp_path):
    rd = held(tmp_path)
    rd.record("train:none", "skipped", settings=SETTINGS)
    rd.check("train:none", {**SETTINGS, "mine.problems": 99})


def test_another_kind_of_machine_is_named_as_such(tmp_path):
    rd = held(tmp_path)
    rd.record("baseline", "done", settings=SETTINGS)
    with pytest.raises(RunDirError, match=r"computed on 'cpu:avx2', this machine is 'cpu:amx'"):
        rd.check("baseline", {**SETTINGS, "numerics.device": "cpu:amx"})


def test_a_run_dir_of_another_layout_is_refused_and_a_new_one_is_stamped(tmp_path):
    old = tmp_path / "old"
    ledger = Ledger.in_run_dir(old)  # a run dir as an older selfmine left it: stages, no layout
    try:
        ledger.set_stage("baseline", "done")
    finally:
        ledger.close()
    with pytest.raises(RunDirError, match="made by an older selfmine") as e:
        with RunDir(old).hold():
            pass
    assert isinstance(e.value, UserError) and "\n" not in str(e.value)
    rd = held(tmp_path)
    with rd.ledger() as ledger:
        assert ledger.get_meta("layout") == LAYOUT


def test_fresh_removes_what_an_interrupted_attempt_left(tmp_path):
    rd = held(tmp_path)
    left = rd.path / "adapters" / "selfmine"
    left.mkdir(parents=True)
    (left / "half-written.safetensors").write_text("x")
    out = rd.fresh("adapters", "selfmine")
    assert out == left and not out.exists() and out.parent.is_dir()


def test_snapshot_writes_the_config_as_run(tmp_path):
    rd = held(tmp_path)
    rd.snapshot({"seed": 3, "engine": {"model": "m"}})
    assert "seed: 3" in (rd.path / "config.yaml").read_text()


def test_an_older_run_dir_is_one_line_from_the_cli(tmp_path, tiny_model, data_dir):
    """The layout boundary as a user meets it: `selfmine run` and `selfmine mine` on a dir an older
    selfmine made say so in one line and change nothing."""
    run = tmp_path / "old"
    ledger = Ledger.in_run_dir(run)
    try:
        ledger.set_stage("baseline", "done")
    finally:
        ledger.close()
    before = (run / "ledger.sqlite").read_bytes()
    for verb in ("run", "mine"):
        r = subprocess.run(
            [sys.executable, "-m", "selfmine.cli", verb, "--run-dir", str(run), "--set", f"engine.model={tiny_model}"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
        assert r.returncode != 0 and len(lines) == 1 and "older selfmine" in lines[0], (verb, r.stderr)
    assert (run / "ledger.sqlite").read_bytes() == before


def test_a_run_dir_made_by_the_selfmine_before_the_layout_is_refused_in_one_line_and_left_as_it_was(tmp_path):
    """The kept fixture: a real `selfmine mine` run dir of the version before the run-dir layout (a mined
    round, its stage done). Resuming it with today's seeds and records would differ, so every command that
    resumes a run dir refuses it in one line, and nothing in it changes."""
    run = tmp_path / "old"
    shutil.copytree(BEFORE_LAYOUT, run, ignore=shutil.ignore_patterns("*.md"))
    before = (run / "ledger.sqlite").read_bytes()
    with pytest.raises(RunDirError, match="made by an older selfmine") as e:
        with RunDir(run).hold():
            pass
    assert "\n" not in str(e.value)
    for verb in ("mine", "run"):
        r = subprocess.run(
            [sys.executable, "-m", "selfmine.cli", verb, "--run-dir", str(run), "--no-progress"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
        assert r.returncode == 2 and len(lines) == 1 and "older selfmine" in lines[0], (verb, r.stderr)
    assert (run / "ledger.sqlite").read_bytes() == before
    assert sorted(p.name for p in run.iterdir()) == [".lock", "ledger.sqlite"]  # the lock file only, as hold() makes
