"""Honest statistics: the unbiased pass@k estimator, paired intervals (Newcombe for binary outcomes, a
bootstrap for rates), the exact McNemar test and a sign-flip permutation test."""

from __future__ import annotations

import math

import numpy as np

from ..intervals import wilson


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


def paired_bootstrap(
    a: list[float], b: list[float], resamples: int = 10000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """(mean of b - a, low, high): percentile bootstrap resampling tasks, keeping each task's two scores
    together (numpy, vectorised). Used for per-task pass rates (n > 1); binary outcomes use newcombe()."""
    assert len(a) == len(b) and a
    diffs = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(diffs), size=(resamples, len(diffs)))
    means = diffs[idx].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(diffs.mean()), float(lo), float(hi)


def newcombe(a: list[bool], b: list[bool], z: float = 1.96) -> tuple[float, float, float]:
    """(p_b - p_a, low, high) for paired binary outcomes: Newcombe's hybrid score interval (1998, method
    10), built from the two Wilson intervals and the pairs' correlation. Unlike a percentile bootstrap it
    does not collapse to a point at 0 when only one or two tasks differ."""
    n = len(a)
    e = sum(x and y for x, y in zip(a, b))
    f = sum(y and not x for x, y in zip(a, b))  # B only
    g = sum(x and not y for x, y in zip(a, b))  # A only
    h = n - e - f - g
    p1, p2 = (e + f) / n, (e + g) / n
    l2, u2 = wilson(e + f, n, z)
    l3, u3 = wilson(e + g, n, z)
    den = math.sqrt((e + f) * (g + h) * (e + g) * (f + h))
    phi = (e * h - f * g) / den if den else 0.0
    delta = math.sqrt(max(0.0, (p1 - l2) ** 2 - 2 * phi * (p1 - l2) * (u3 - p2) + (u3 - p2) ** 2))
    eps = math.sqrt(max(0.0, (u2 - p1) ** 2 - 2 * phi * (u2 - p1) * (p2 - l3) + (p2 - l3) ** 2))
    diff = (f - g) / n
    return diff, max(-1.0, diff - delta), min(1.0, diff + eps)


def sign_flip_p(a: list[float], b: list[float], resamples: int = 20000, seed: int = 0) -> float:
    """Two-sided paired permutation test on per-task differences (each task's sign flipped at random):
    exact when at most 16 tasks differ, else Monte Carlo. For n > 1 samples per task, where McNemar's
    test on majority votes would throw the rates away."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return 1.0
    observed = abs(d.sum())
    if d.size <= 16:
        signs = ((np.arange(2**d.size)[:, None] >> np.arange(d.size)) & 1) * 2 - 1
    else:
        signs = np.random.default_rng(seed).choice([-1, 1], size=(resamples, d.size))
    stats = np.abs((signs * d).sum(axis=1))
    return float(
        min(
            1.0,
            (np.sum(stats >= observed - 1e-12) + (0 if d.size <= 16 else 1))
            / (len(stats) + (0 if d.size <= 16 else 1)),
        )
    )
