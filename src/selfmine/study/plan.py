"""The study's grid: which adapters to train and which evaluations to run, and which of them are shared.

An evaluation arm is (format, seed, adapter or base, decoding). Base arms do not depend on the pair count,
so one base evaluation per (format, seed, decoding) serves every pair count; greedy decoding of the base
does not depend on the seed either, so one greedy base evaluation per format serves every seed
(`seed_free`). Subsets of pairs are nested: for a seed, the first k of one shuffled order, so 8 pairs are
always among the 16.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..seeds import rng

DECODINGS = ("greedy", "sample")  # greedy pass@1; n samples for best-of-n (oracle and selector)


@dataclass(frozen=True)
class Adapter:
    pairs: int
    seed: int

    @property
    def key(self) -> str:
        return f"pairs{self.pairs}-seed{self.seed}"


@dataclass(frozen=True)
class Arm:
    fmt: str
    seed: int
    decoding: str
    adapter: Adapter | None  # None: the base model

    @property
    def key(self) -> str:
        who = "base" if self.adapter is None else self.adapter.key
        return f"{self.fmt}-{self.decoding}-{who}-seed{self.seed}"


def plan(pair_counts: list[int], seeds: list[int], formats: list[str]) -> tuple[list[Adapter], list[Arm]]:
    adapters = [Adapter(k, s) for s in seeds for k in sorted(set(pair_counts)) if k > 0]
    arms = []
    for fmt in formats:
        for s in seeds:
            for d in DECODINGS:
                arms.append(Arm(fmt, s, d, None))
                arms += [Arm(fmt, s, d, a) for a in adapters if a.seed == s]
    return adapters, arms


def seed_free(arm: Arm) -> bool:
    """A greedy evaluation of the base: the seed decides nothing in it, so one serves every seed."""
    return arm.adapter is None and arm.decoding == "greedy"


def subset(pair_ids: list[int], count: int, seed: int) -> list[int]:
    """The first `count` of a seeded shuffle of the pairs: nested across counts for one seed."""
    order = sorted(pair_ids)
    rng(seed, "study_subset").shuffle(order)
    if count > len(order):
        raise ValueError(f"the study asks for {count} pairs but only {len(order)} exist")
    return order[:count]
