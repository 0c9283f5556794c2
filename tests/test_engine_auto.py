"""`engine.backend: auto`: the rule that picks a backend per machine and job, and where its choice lands."""

from __future__ import annotations

import pytest

from selfmine.config import EngineConfig, RunConfig, ScaleConfig
from selfmine.engine import auto
from selfmine.engine.numerics import numerics
from selfmine.mine.loop import settings as mining_settings
from selfmine.pipeline import Pipeline
from selfmine.scale import make_engine, resolve

HERE = numerics("hf", "auto")["device"]  # this machine's class, e.g. cpu:avx2


def test_without_vllm_auto_is_hf_and_says_why():
    choice = auto.choose("greedy", has_vllm=False)
    assert (choice.backend, choice.reason) == ("hf", "vLLM is not installed")


@pytest.mark.skipif(HERE.startswith("cuda"), reason="the CPU rule")
def test_on_a_cpu_vllm_is_chosen_only_where_it_measured_a_margin_faster():
    modes = {"greedy": {"hf": 10.0, "vllm": 10.0 * auto.MARGIN + 0.1}, "sampling": {"hf": 10.0, "vllm": 11.0}}
    fast = {HERE: {"gemma-3-270m": modes}}
    assert auto.choose("greedy", table=fast, has_vllm=True).backend == "vllm"  # the default model's
    slow = auto.choose("sampling", model="default", table=fast, has_vllm=True)
    assert slow.backend == "hf" and "1.10x" in slow.reason
    assert auto.choose("greedy", table={"cpu:elsewhere": fast[HERE]}, has_vllm=True).backend == "hf"
    with pytest.raises(ValueError):
        auto.choose("beam", table=fast, has_vllm=True)


@pytest.mark.skipif(HERE.startswith("cuda"), reason="the CPU rule")
def test_a_measurement_decides_for_its_own_model_only():
    """vLLM sampled gemma 1.27x and qwen 1.07x the hf engine on one machine: one model's figures never
    choose for another."""
    table = {HERE: {"a-model": {"greedy": {"hf": 10.0, "vllm": 30.0}}}}
    assert auto.choose("greedy", model="a-model", table=table, has_vllm=True).backend == "vllm"
    other = auto.choose("greedy", model="b-model", table=table, has_vllm=True)
    assert other.backend == "hf" and "b-model" in other.reason
    assert auto.choose("greedy", table=table, has_vllm=True).backend == "hf"  # the default model: none


def test_the_users_own_measurement_overrides_the_committed_table(tmp_path, monkeypatch):
    monkeypatch.setenv("SELFMINE_HOME", str(tmp_path))
    auto.record(HERE, "greedy", {"hf": 5.0, "vllm": 50.0}, model="default")
    assert auto.measurements()[HERE]["gemma-3-270m"]["greedy"] == {"hf": 5.0, "vllm": 50.0}
    (tmp_path / "measured.json").write_text("not json")
    assert auto.measurements() == auto.MEASURED  # a broken file is ignored, never fatal


@pytest.mark.skipif(HERE.startswith("cuda"), reason="the CPU rule")
def test_a_measurement_file_from_before_models_counts_for_any_model(tmp_path, monkeypatch):
    """measured.json used to be machine -> mode -> rates: such a file still decides, for every model, and
    a new record keeps it."""
    monkeypatch.setenv("SELFMINE_HOME", str(tmp_path))
    (tmp_path / "measured.json").write_text('{"%s": {"greedy": {"hf": 1.0, "vllm": 9.0}}}' % HERE)
    assert auto.choose("greedy", model="some/model", has_vllm=True).backend == "vllm"
    auto.record(HERE, "sampling", {"hf": 9.0, "vllm": 1.0}, model="some/model")
    assert auto.choose("greedy", model="other", has_vllm=True).backend == "vllm"
    assert auto.choose("sampling", model="some/model", has_vllm=True).backend == "hf"


def test_auto_resolves_per_job_and_a_fixed_backend_is_left_alone(monkeypatch):
    fixed = EngineConfig(backend="hf")
    assert resolve(fixed, "greedy") == (fixed, None)
    monkeypatch.setattr(
        "selfmine.scale.choose", lambda mode, model, dtype: auto.Choice("vllm" if mode == "greedy" else "hf", "test")
    )
    cfg, choice = resolve(EngineConfig(), "greedy")
    assert cfg.backend == "vllm" and choice.backend == "vllm"
    assert resolve(EngineConfig(), "sampling")[0].backend == "hf"


def test_settings_name_the_backend_each_stage_runs_on(tmp_path, monkeypatch):
    """A run dir records the concrete backend, so `auto` on a machine without vLLM decides exactly what
    `hf` did (older run dirs resume), and a resume where auto would choose otherwise is refused."""
    cfg_auto, cfg_hf = RunConfig(), RunConfig(engine=EngineConfig(backend="hf"))
    monkeypatch.setattr(auto, "vllm_installed", lambda: False)
    assert mining_settings(cfg_auto) == mining_settings(cfg_hf)
    assert Pipeline(tmp_path, cfg_auto).settings("eval:adapter") == Pipeline(tmp_path, cfg_hf).settings("eval:adapter")
    monkeypatch.setattr(
        "selfmine.scale.choose", lambda mode, model, dtype: auto.Choice("vllm" if mode == "greedy" else "hf", "test")
    )
    p = Pipeline(tmp_path, cfg_auto)
    assert p.settings("eval:adapter")["engine.backend"] == "vllm"
    assert p.settings("baseline")["engine.backend"] == "vllm"
    assert p.settings("mine")["engine.backend"] == "hf"
    assert p.settings("train:none")["engine.backend"] == "hf"


def test_an_auto_engine_records_its_choice(tiny_model, monkeypatch):
    monkeypatch.setattr(auto, "vllm_installed", lambda: False)
    engine = make_engine(EngineConfig(model=str(tiny_model), batch_size=4), ScaleConfig(), "greedy")
    assert engine.name == "hf"
    assert engine.describe()["auto"] == {"chose": "hf", "reason": "vLLM is not installed"}
    assert "auto" not in make_engine(EngineConfig(backend="hf", model=str(tiny_model)), ScaleConfig()).describe()
