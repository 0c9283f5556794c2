"""Mine: (broken, fixed) pairs from problems with mixed outcomes and from successful repairs, plus
keep-correct examples (a passing attempt that stays as it is) to mix in against over-correction."""

from __future__ import annotations

from ..ledger import Attempt, Pair


def _unique(attempts: list[Attempt], same) -> list[Attempt]:
    seen, out = set(), []
    for a in attempts:
        key = same(a)
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out


def mine_pairs(
    problem_id: int,
    solves: list[Attempt],
    repairs: list[Attempt],
    *,
    cap: int,
    canonical: list[Attempt] | None,
    priority: dict[str, int],
    same,
) -> list[Pair]:
    """`canonical`: the proposer's own function stored as a passing attempt, for problems no attempt or
    repair solved (opt-in); its failing attempts pair with it. `priority`: the domain's failure classes
    that pair, most informative first (an attempt of another class, such as an undecided check, never
    pairs). `same(attempt)`: the key under which two attempts count as one."""
    passing = _unique([a for a in solves if a.passed], same)
    failing = _unique(
        sorted(
            (a for a in solves if not a.passed and a.failure_class in priority),
            key=lambda a: (priority[a.failure_class], a.idx),
        ),
        same,
    )
    pairs = []
    if passing and failing:
        for i, b in enumerate(failing[:cap]):
            pairs.append(Pair(problem_id, "mixed", b.id, passing[i % len(passing)].id, b.failure_class))
    if passing:
        pairs.append(Pair(problem_id, "keep_correct", passing[0].id, passing[0].id, ""))
    fixed = _unique([r for r in repairs if r.passed], same)
    by_id = {a.id: a for a in solves}
    for r in fixed[:cap]:
        parent = by_id.get(r.parent_id)
        pairs.append(Pair(problem_id, "repair", r.parent_id, r.id, parent.failure_class if parent else ""))
    if canonical and not passing and not fixed:
        for b in failing[:cap]:
            pairs.append(Pair(problem_id, "canonical", b.id, canonical[0].id, b.failure_class))
    return pairs
