"""A killed evaluation resumes from its checkpoint and gives the samples an uninterrupted one gives, on the
real hf engine (tiny model) and the real sandbox."""

from __future__ import annotations

import json

import pytest

from selfmine.evaluate import checkpoint
from selfmine.evaluate.run import evaluate


class Killed(Exception):
    pass


class Counting:
    """The engine, counting the prompts it generates for, killed (an exception) at a given call."""

    def __init__(self, engine, kill_at: int | None = None):
        self.engine, self.kill_at, self.calls, self.prompts = engine, kill_at, 0, 0

    def info(self):
        return self.engine.info()

    def describe(self):
        return self.engine.describe()

    def generate(self, prompts, params, adapter=None, progress=False, seeds=None):
        self.calls += 1
        if self.calls == self.kill_at:
            raise Killed
        self.prompts += len(prompts)
        return self.engine.generate(prompts, params, adapter=adapter, progress=progress, seeds=seeds)


def _samples(report):
    return {b: [[s["completion"] for s in t["samples"]] for t in r["per_task"]] for b, r in report["benches"].items()}


@pytest.mark.parametrize("n, temperature", [(1, 0.0), (2, 0.9)])
def test_a_killed_evaluation_resumes_to_the_same_samples(tiny_engine, data_dir, tmp_path, monkeypatch, n, temperature):
    monkeypatch.setattr(checkpoint, "CHUNK", 2)
    # no model-written tests (they are kept in a file of their own: the next test): here only the samples'
    # generation is counted
    kw = dict(n=n, temperature=temperature, max_tokens=12, limit=5, data_dir=data_dir, progress=False)
    kw.update(echo=lambda s: None, model_written_tests=0)
    benches = ["humaneval", "humaneval+"]  # one generation scored twice: the second generates nothing
    whole = evaluate(tiny_engine, benches, **kw)
    path = tmp_path / "base.partial.jsonl"
    with pytest.raises(Killed):
        evaluate(Counting(tiny_engine, kill_at=3), benches, checkpoint=path, **kw)  # 2 chunks kept, then killed
    resumed = Counting(tiny_engine)
    again = evaluate(resumed, benches, checkpoint=path, **kw)
    assert resumed.prompts == 1  # only the fifth task's prompt was generated again
    assert _samples(again) == _samples(whole)


def test_a_checkpoint_made_with_other_settings_is_set_aside(tiny_engine, data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "CHUNK", 2)
    kw = dict(limit=3, data_dir=data_dir, progress=False, echo=lambda s: None)
    path = tmp_path / "base.partial.jsonl"
    evaluate(tiny_engine, ["humaneval"], checkpoint=path, max_tokens=8, **kw)
    said = []
    other = Counting(tiny_engine)
    evaluate(other, ["humaneval"], checkpoint=path, max_tokens=9, **{**kw, "echo": said.append})
    assert other.prompts == 3  # nothing kept from the max_tokens=8 run
    assert path.with_suffix(".stale").exists() and any("other settings" in s for s in said)


def test_the_selectors_model_written_tests_are_kept_too(tiny_engine, data_dir, tmp_path, monkeypatch):
    """A best-of-n arm's selector asks the model for tests of each task: a resumed arm takes them from the
    file beside the checkpoint instead of writing them again, and they are what an uninterrupted arm wrote."""
    monkeypatch.setattr(checkpoint, "CHUNK", 2)
    kw = dict(n=2, temperature=0.9, max_tokens=12, limit=3, data_dir=data_dir, progress=False, echo=lambda s: None)
    kw.update(model_written_tests=2)
    whole_path = tmp_path / "whole.partial.jsonl"
    whole = evaluate(tiny_engine, ["humaneval"], checkpoint=whole_path, **kw)
    path = tmp_path / "arm.partial.jsonl"
    # calls 1-2: the samples (2 chunks of 3 prompts); calls 3-4: the tests; killed in the tests' second chunk
    with pytest.raises(Killed):
        evaluate(Counting(tiny_engine, kill_at=4), ["humaneval"], checkpoint=path, **kw)
    assert checkpoint.tests_path(path).exists()
    resumed = Counting(tiny_engine)
    again = evaluate(resumed, ["humaneval"], checkpoint=path, **kw)
    assert resumed.prompts == 1  # only the third task's tests prompt was generated again
    assert _samples(again) == _samples(whole)

    def written(p):  # the tests file's rows: {row key: the model's texts}
        rows = [json.loads(line) for line in checkpoint.tests_path(p).read_text().splitlines()[1:]]
        return {r["k"]: [c["text"] for c in r["c"]] for r in rows}

    assert written(path) == written(whole_path) and len(written(path)) == 3
    got, want = (r["benches"]["humaneval"] for r in (again, whole))
    assert got["model_written_tests"] == want["model_written_tests"]
    assert [t["selected"] for t in got["per_task"]] == [t["selected"] for t in want["per_task"]]
    checkpoint.discard(path)
    assert not path.exists() and not checkpoint.tests_path(path).exists()
