"""The boundary probe: a small mining sample that says whether a model sits below, inside or above the
recipe's working range, with the numbers (and their intervals) that decide it."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from ..config import RunConfig
from ..engine import Engine
from .loop import mine

# 16 proposals: about 5.5 minutes with the CPU default (gemma-3-270m, 2 AVX2 cores, fp32); --problems for more.
PROBE_DEFAULTS = {"problems": 16, "attempts": 4, "rounds": 1, "repair": False}


def probe(
    cfg: RunConfig,
    run_dir: str | Path | None = None,
    engine: Engine | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> dict:
    """Mine one round into `run_dir` (a temporary one if None) and report the boundary verdict."""
    if run_dir is None:
        with tempfile.TemporaryDirectory(prefix="selfmine-probe-") as tmp:
            return probe(cfg, tmp, engine, progress, echo)
    stats = mine(run_dir, cfg, engine=engine, progress=progress, echo=lambda s: None)
    b = stats["total"]["boundary"]
    t = stats["total"]
    echo(
        f"probe of {cfg.engine.model or 'the embedded default'}: {t['proposed']} proposals, {cfg.mine.attempts} attempts each"
    )
    echo(f"  valid rate           {t['valid']}/{t['proposed']} = {b['valid_rate']:.0%} (95% CI {_ci(b['valid_ci'])})")
    echo(
        f"  mixed-outcome rate   {t['mixed']}/{t['solved']} = {b['mixed_rate']:.0%} (95% CI {_ci(b['mixed_ci'])})"
        f"  [all-pass {t['all_pass']}, all-fail {t['all_fail']}]"
    )
    lo, hi = b["pairs_per_proposal_ci"]
    echo(
        f"  pairs per proposal   {t['pairs']}/{t['proposed']} = {b['pairs_per_proposal']:.2f} (95% CI {lo:.2f}-{hi:.2f})"
    )
    echo(
        f"  rejections: {', '.join(f'{k} {v}' for k, v in sorted(t['rejections'].items(), key=lambda kv: -kv[1])) or 'none'}"
    )
    echo(f"  verdict: {b['verdict']}")
    echo(
        f"  (working range: valid rate >= {b['thresholds']['valid_rate']:.0%} and mixed-outcome rate >= "
        f"{b['thresholds']['mixed_rate']:.0%}, each claimed only when its whole 95% interval agrees)"
    )
    return stats


def _ci(ci: list[float]) -> str:
    return f"{ci[0]:.0%}-{ci[1]:.0%}"
