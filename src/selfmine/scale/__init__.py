"""Scale-out on Ray. It wraps the judge and the engine (a study's arms run as Ray tasks in study/on_ray.py),
and never changes what a stage computes: the driver alone writes the ledger, verdicts and completions come
back in input order, every prompt keeps its own seed, and a dead node's work runs again elsewhere (an
infrastructure failure, never the program's). Ray is an optional extra: importing selfmine never imports
it; `connected(address)` and `make_engine` with an address do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..engine import get_engine, release_for_training
from ..engine.auto import choose
from ..sandbox import judging_via
from .cluster import RAY_EXTRA, RayMissing
from .ray_engine import RayEngine
from .ray_judge import RayJudge, shared

__all__ = ["RAY_EXTRA", "LazyEngine", "RayMissing", "connected", "make_engine", "resolve"]


@contextmanager
def connected(address: str | None) -> Iterator[RayJudge | None]:
    """Connect to a Ray cluster (`auto`, `ray://host:port`, `local` for a fresh local one) and judge there:
    every `judge_many` inside the block that names no pool or route of its own runs on the cluster
    (`sandbox.judging_via`, this thread's context). Yields the cluster's judge (None without an address:
    nothing changes, judging stays local). The actors are kept for the process: a nested or later block
    reuses them."""
    if not address:
        yield None
        return
    judge = shared(address)
    with judging_via(judge):
        yield judge


def resolve(engine_cfg, mode: str = "sampling"):
    """(the engine config with a concrete backend, the `auto` choice or None): `engine.backend: auto`
    decided for a job of `mode` ("greedy" or "sampling") with this model on this machine (engine/auto.py)."""
    if engine_cfg.backend != "auto":
        return engine_cfg, None
    choice = choose(mode, model=engine_cfg.model, dtype=engine_cfg.dtype)
    return engine_cfg.model_copy(update={"backend": choice.backend}), choice


def make_engine(engine_cfg, scale_cfg, mode: str = "sampling"):
    """The engine a stage generates with: local (`engine.get_engine`), or, with `scale.ray_address` and
    `scale.generation: ray`, one engine actor per GPU (per CPU-only node for hf) across the cluster.
    `mode` ("greedy" or "sampling") is the job's, for `engine.backend: auto`."""
    engine_cfg, choice = resolve(engine_cfg, mode)
    if not scale_cfg.ray_address or scale_cfg.generation != "ray":
        engine = get_engine(engine_cfg.backend, engine_cfg.model, **engine_cfg.backend_kwargs())
    else:
        engine = RayEngine(
            scale_cfg.ray_address,
            engine_cfg.backend,
            engine_cfg.model,
            engine_cfg.backend_kwargs(),
            scale_cfg.engines_per_node,
        )
    engine.chosen = choice.info() if choice else None
    return engine


class LazyEngine:
    """A run's engines, loaded when a stage first generates and released before training: an engine that
    holds the GPU (vLLM keeps most of it) is closed and loaded again by the next evaluation; a CPU engine
    is kept, since reloading it would only cost time. With `engine.backend: auto` greedy and sampling jobs
    may get different backends (one engine each, kept side by side)."""

    def __init__(self, engine_cfg, scale_cfg):
        self.engine_cfg, self.scale_cfg, self._engines = engine_cfg, scale_cfg, {}

    def get(self, mode: str = "sampling"):
        backend = resolve(self.engine_cfg, mode)[0].backend
        if self._engines.get(backend) is None:
            self._engines[backend] = make_engine(self.engine_cfg, self.scale_cfg, mode)
        return self._engines[backend]

    def release(self) -> None:
        self._engines = {k: release_for_training(e) for k, e in self._engines.items()}
