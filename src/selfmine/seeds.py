"""One seed scheme for every random stream of a run: `mix_seed(run_seed, STREAM[name], *ids)`.

A stream is named once here, and the ids that follow say which draw it is (a round, a batch's start, a
problem id, a string such as a solution text). Neighbouring inputs give unrelated streams, and a stream
depends only on what names it, never on the order in which a run reaches it, so a resumed run draws what an
uninterrupted one would. Run dirs made before this scheme (run-dir layout < 2) are refused, not resumed
with other draws."""

from __future__ import annotations

import hashlib
import random

_MASK64 = (1 << 64) - 1

# The numbers only need to differ; solve/greedy/repair keep the values they had as mine.solve.KIND_SEEDS.
STREAM = {
    "solve": 1,
    "greedy": 2,
    "repair": 3,
    "propose": 4,  # the sampling seed of a proposal batch
    "propose_shots": 5,  # which few-shot examples and topics a proposal prompt shows
    "ask_calls": 6,  # asking the model for more calls of a proposed function
    "ground": 7,  # inputs drawn to ground a proposed function's tests
    "eval_tests": 8,  # model-written tests at evaluation (CodeT-style selection)
    "corrupt": 9,  # mechanical corruptions of a fixed side (the corrupted control)
    "train_data": 10,  # shuffles and draws while building training examples
    "study_subset": 11,  # the nested subsets of pairs a study trains on
    "math_wrong": 12,  # the wrong answer of a corrupted math solution
}


def _int(part: int | str) -> int:
    if isinstance(part, int):
        return part
    return int.from_bytes(hashlib.sha256(part.encode()).digest()[:8], "little")


def mix_seed(*parts: int | str) -> int:
    """A 31-bit seed from integers or strings (splitmix64 steps; a string counts as the first 8 bytes of
    its sha256), so every backend accepts the value (servers often take 32-bit seeds)."""
    z = 0x9E3779B97F4A7C15
    for p in parts:
        z = (z ^ (_int(p) & _MASK64)) & _MASK64
        z = (z + 0x9E3779B97F4A7C15) & _MASK64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        z ^= z >> 31
    return z & 0x7FFFFFFF


def stream(run_seed: int, name: str, *ids: int | str) -> int:
    """The seed of one draw of a named stream."""
    return mix_seed(run_seed, STREAM[name], *ids)


def rng(run_seed: int, name: str, *ids: int | str) -> random.Random:
    """A random.Random for one draw of a named stream."""
    return random.Random(stream(run_seed, name, *ids))
