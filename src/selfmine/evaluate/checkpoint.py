"""Generated completions kept as they are made, so a killed evaluation resumes where it stopped.

Why: a full evaluation of the 0.5B preset generates for 542 prompts and takes an hour or more on 2 cores;
a session that ends in the middle lost all of it. Completions are appended to a JSONL file a chunk of
prompts at a time (written, flushed and fsynced before the next chunk starts). A resumed evaluation reads
them back and generates only the rest. With the `hf` engine a prompt's completions do not depend on which
prompts share its batch (batch-invariant decoding, per-prompt seeds), so a resumed evaluation gives the same
samples as an uninterrupted one.

The file starts with the key of everything the completions depend on (the engine's description, the
sampling settings, the prompt format, the adapter's weights, the processor class): a file made under
another key is set aside (renamed `.stale`), never mixed in. A row is keyed by its prompt, stop strings and
seed, so a kept row is only ever what generating it again would give.

The model-written tests a best-of-n selector uses are kept the same way, in a file of their own beside it
(`tests_path`): without it a resumed arm wrote them again, one more generation per task.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from ..engine import Completion
from ..engine.base import adapter_sha256
from ..engine.numerics import cpu_isa, cpu_vendor
from ..engine.records import prompt_seeds

CHUNK = 128  # prompts per checkpointed generate call (4 decode batches: the tail of a chunk costs little)


def key(engine, params, *, fmt: str, adapter: str | None) -> str:
    parts = {
        "engine": engine.info(),
        "sampling": {k: v for k, v in asdict(params).items() if k != "stop"},
        "format": fmt,
        "adapter_sha256": adapter_sha256(adapter),
        "cpu": f"{cpu_vendor()}:{cpu_isa()}",
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def tests_path(path: str | Path) -> Path:
    """Where the model-written tests of the evaluation checkpointed at `path` are kept."""
    path = Path(path)
    return path.with_name("tests-" + path.name)


def discard(path: str | Path) -> None:
    """An evaluation's checkpoint files, once its result is written."""
    Path(path).unlink(missing_ok=True)
    tests_path(path).unlink(missing_ok=True)


class Checkpoint:
    """The completions of one evaluation arm, by prompt (and stop strings: benchmarks differ in them)."""

    def __init__(self, path: str | Path, key: str, echo=print):
        self.path, self.key = Path(path), key
        self.done: dict[str, list[Completion]] = {}
        if self.path.exists():
            self._load(echo)

    @staticmethod
    def row_key(prompt: str, stop: list[str], seed: int | None) -> str:
        return hashlib.sha256(json.dumps([prompt, stop, seed]).encode()).hexdigest()

    def _load(self, echo) -> None:
        lines = self.path.read_text().splitlines()
        head = json.loads(lines[0]) if lines else {}
        if head.get("key") != self.key:
            self.path.rename(self.path.with_suffix(".stale"))
            echo(f"evaluation checkpoint {self.path.name} was made with other settings: set aside, starting over")
            return
        for line in lines[1:]:
            try:
                row = json.loads(line)
            except ValueError:  # the last line of a killed write
                break
            self.done[row["k"]] = [Completion(**c) for c in row["c"]]
        if self.done:
            echo(f"evaluation resumed: {len(self.done)} prompts' completions were kept from before")

    def add(self, rows: list[tuple[str, list[Completion]]]) -> None:
        new = not self.path.exists()
        with open(self.path, "a") as f:
            if new:
                f.write(json.dumps({"key": self.key}) + "\n")
            for k, cs in rows:
                f.write(json.dumps({"k": k, "c": [c.to_dict() for c in cs]}) + "\n")
                self.done[k] = cs
            f.flush()
            os.fsync(f.fileno())

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def generate(engine, prompts: list[str], params, *, adapter, progress, store: Checkpoint | None):
    """engine.generate over `prompts`, in checkpointed chunks when `store` is given."""
    if store is None:
        return engine.generate(prompts, params, adapter=adapter, progress=progress)
    seeds = prompt_seeds(params, len(prompts))  # each prompt's seed by its place in the whole list, as unchunked
    keys = [Checkpoint.row_key(p, params.stop, s) for p, s in zip(prompts, seeds)]
    todo = [i for i, k in enumerate(keys) if k not in store.done]
    for start in range(0, len(todo), CHUNK):
        part = todo[start : start + CHUNK]
        outs = engine.generate(
            [prompts[i] for i in part], params, adapter=adapter, progress=progress, seeds=[seeds[i] for i in part]
        )
        store.add([(keys[i], cs) for i, cs in zip(part, outs)])
    return [store.done[k] for k in keys]
