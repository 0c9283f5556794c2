"""Why fine-tuning can hurt best-of-n: it narrows what the n samples try. Three measures per task,
averaged over tasks: distinct programs among the n samples, mean pairwise edit distance (normalised to
0..1), and the entropy (bits) of the samples' first tokens."""

from __future__ import annotations

import difflib
import itertools
import math
from collections import Counter


def _normal(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines() if line.strip())


def distinct(samples: list[str]) -> int:
    return len({_normal(s) for s in samples})


def mean_edit_distance(samples: list[str]) -> float:
    pairs = list(itertools.combinations(samples, 2))
    if not pairs:
        return 0.0
    return sum(1.0 - difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() for a, b in pairs) / len(pairs)


def first_token_entropy(samples: list[str]) -> float:
    tokens = Counter((s.split() or [""])[0] for s in samples)
    n = sum(tokens.values())
    return -sum(c / n * math.log2(c / n) for c in tokens.values()) if n else 0.0


def diversity(per_task_samples: list[list[str]]) -> dict:
    tasks = [s for s in per_task_samples if s]
    if not tasks:
        return {"distinct": 0.0, "edit_distance": 0.0, "first_token_entropy": 0.0, "tasks": 0}
    return {
        "distinct": sum(distinct(s) for s in tasks) / len(tasks),
        "edit_distance": sum(mean_edit_distance(s) for s in tasks) / len(tasks),
        "first_token_entropy": sum(first_token_entropy(s) for s in tasks) / len(tasks),
        "tasks": len(tasks),
    }
