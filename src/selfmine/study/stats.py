"""The study's statistics. For each pair count, the interaction (D - C) - (B - A), with A = base greedy,
B = base best-of-n, C = tuned greedy, D = tuned best-of-n, per task and seed; a bootstrap interval that
resamples tasks (each task keeps all its seeds: the seeds are repeated measurements of the same task);
per-seed values; and the threshold: the smallest pair count whose interval lies above 0."""

from __future__ import annotations

import numpy as np


def interaction_table(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Per (task, seed) interaction; each input is [tasks, seeds] of 0/1 (or rates)."""
    return (d - c) - (b - a)


def bootstrap_tasks(
    values: np.ndarray, resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """(mean, low, high) of a [tasks, seeds] table: percentile bootstrap over tasks, seeds kept together."""
    values = np.asarray(values, dtype=float)
    per_task = values.mean(axis=1)
    idx = np.random.default_rng(seed).integers(0, len(per_task), size=(resamples, len(per_task)))
    means = per_task[idx].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(per_task.mean()), float(lo), float(hi)


def gain(base: np.ndarray, tuned: np.ndarray, resamples: int = 2000) -> dict:
    mean, lo, hi = bootstrap_tasks(np.asarray(tuned, float) - np.asarray(base, float), resamples)
    return {"mean": mean, "ci95": [lo, hi]}


def threshold(rows: list[dict]) -> int | str:
    """The smallest pair count whose interaction interval lies wholly above 0, or "not reached"."""
    for row in sorted(rows, key=lambda r: r["pairs"]):
        if row["pairs"] > 0 and row["interaction"]["ci95"][0] > 0:
            return row["pairs"]
    return "not reached"
