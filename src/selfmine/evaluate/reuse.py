"""A greedy evaluation of the base model taken from another run (`pipeline.reuse_base`).

Greedy decoding of the base does not depend on a run's seed, so the seeds of one experiment can share one
base evaluation, on one kind of machine. It is taken only when everything that decides it is the same:
greedy, one sample, the format, the token limit, the task limit, the model and backend, the machine class,
and each benchmark's data checksum; the copy keeps only this run's benchmarks and says where it came from.

A result that records no machine class is refused: matching it on the dtype alone once paired an adapter
evaluated on an Intel CPU without AMX with a base made on one with AMX (both bf16); the two machines gave
different greedy completions on 9 of 12 numerically sensitive HumanEval tasks
(results/cpu-qwen2.5-coder-0.5b/README.md)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import UserError
from ..tasks.registry import bench_kit


class ReuseError(UserError):
    """A result that cannot stand for this run's base evaluation: the message names the difference."""


ENGINE_KEYS = ("backend", "model", "decoding", "attention")  # what of the engine decides a greedy completion


def _want(setting: str, name: str, was, now) -> None:
    if was != now:
        raise ReuseError(f"{setting}: the result's {name} is {was!r}, this run's is {now!r}")


def reused(
    path: str | Path,
    *,
    benches: list[str],
    fmt: str,
    max_tokens: int,
    limit,
    engine: dict,
    numerics: dict,
    data_dir,
    setting: str = "pipeline.reuse_base",
) -> dict:
    """The result at `path`, checked against this run's settings and cut to its benchmarks. `setting`: the
    configuration key that asked for it, named in every refusal."""
    path = Path(path).expanduser()
    try:
        raw = path.read_bytes()
        report = json.loads(raw)
    except (OSError, json.JSONDecodeError) as e:
        raise ReuseError(f"{setting}: cannot read {path}: {e}") from None
    if report.get("adapter"):
        raise ReuseError(f"{setting}: {path} evaluates an adapter, not the base")
    s = report.get("sampling", {})
    if s.get("n") != 1 or s.get("temperature") not in (0, 0.0):
        raise ReuseError(f"{setting}: {path} is not a greedy evaluation (only greedy is seed-free)")
    _want(setting, "format", report.get("format"), fmt)
    _want(setting, "max_tokens", s.get("max_tokens"), max_tokens)
    _want(setting, "task limit", report.get("limit"), limit)
    for key in ENGINE_KEYS:
        _want(setting, f"engine {key}", report.get("engine", {}).get(key), engine.get(key))
    if "numerics" not in report:
        raise ReuseError(
            f"{setting}: {path} records no machine class, so nothing shows it was made on this kind "
            "of machine (the dtype alone does not decide greedy outputs): evaluate the base here"
        )
    _want(setting, "machine class", report["numerics"], numerics)
    matched = "machine class"
    missing = [b for b in benches if b not in report.get("benches", {})]
    if missing:
        raise ReuseError(f"{setting}: {path} has no {', '.join(missing)}")
    for b in benches:
        _, digest = bench_kit(b).load(b, data_dir)
        _want(setting, f"{b} data checksum", report["benches"][b].get("data_sha256"), digest)
    report["benches"] = {b: report["benches"][b] for b in benches}
    report["reused_from"] = {"path": str(path), "sha256": hashlib.sha256(raw).hexdigest(), "matched": matched}
    return report


def reused_for(path: str | Path, cfg, *, fmt: str, engine_info: dict, numerics: dict, setting: str) -> dict:
    """`reused` with a run's own evaluation settings (`cfg.eval`, `cfg.data_dir`) and the `info()` of the
    engine that would otherwise evaluate: the one check a pipeline's and a study's base arms share."""
    e = cfg.eval
    return reused(
        path,
        benches=e.benches,
        fmt=fmt,
        max_tokens=e.max_tokens,
        limit=e.limit,
        engine={k: engine_info.get(k) for k in ENGINE_KEYS},
        numerics=numerics,
        data_dir=cfg.data_dir,
        setting=setting,
    )
