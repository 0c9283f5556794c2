"""Honest statistics: the unbiased pass@k estimator, a paired bootstrap CI, and the exact McNemar test."""

from __future__ import annotations

import math
import random

from ..intervals import wilson  # noqa: F401  (re-exported: evaluation reports it)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimator (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def mean_pass_at_k(counts: list[tuple[int, int]], k: int) -> float:
    vals = [pass_at_k(n, c, k) for n, c in counts if n >= k]
    return sum(vals) / len(vals) if vals else float("nan")


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact p-value on the discordant pairs (b: only A passed, c: only B passed)."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_bootstrap(a: list[float], b: list[float], resamples: int = 10000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """(mean of b - a, low, high): resampling tasks, keeping each task's two scores together."""
    assert len(a) == len(b) and a
    diffs = [y - x for x, y in zip(a, b)]
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    lo = means[int((1 - level) / 2 * resamples)]
    hi = means[min(resamples - 1, int((1 + level) / 2 * resamples))]
    return sum(diffs) / n, lo, hi
