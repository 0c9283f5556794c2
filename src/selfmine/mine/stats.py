"""Per-round statistics, computed from the ledger alone (so a resumed run reports the same). The boundary
verdict and the totals live in selfmine.funnel, which the report shares."""

from __future__ import annotations

from collections import Counter

from ..funnel import boundary
from ..ledger import MINED_KINDS, Ledger


def round_stats(ledger: Ledger, round_id: int) -> dict:
    problems = ledger.problems(round_id=round_id)
    valid = [p for p in problems if p.status == "valid"]
    rejections = Counter(p.reason for p in problems if p.status == "rejected")
    outcome = Counter()
    classes, attempts, passed, repaired = Counter(), 0, 0, 0
    for p in valid:
        solves = ledger.attempts(p.id, "solve")
        if not solves:
            continue
        ok = sum(a.passed for a in solves)
        outcome["all_pass" if ok == len(solves) else "all_fail" if ok == 0 else "mixed"] += 1
        attempts += len(solves)
        passed += ok
        classes.update(a.failure_class for a in solves if not a.passed)
        repaired += any(a.passed for a in ledger.attempts(p.id, "repair"))
    by_kind, by_class, per_problem = Counter(), Counter(), Counter()
    for pr in ledger.round_pairs(round_id):
        by_kind[pr.kind] += 1
        if pr.kind != "keep_correct":
            by_class[pr.failure_class] += 1
            per_problem[pr.problem_id] += 1
    solved = sum(outcome.values())
    rate = lambda k: outcome[k] / solved if solved else 0.0  # noqa: E731
    pairs = sum(by_kind[k] for k in MINED_KINDS)
    pairs_per = [per_problem[p.id] for p in problems]
    where = boundary(
        len(problems), len(valid), solved, outcome["mixed"], outcome["all_pass"], outcome["all_fail"], pairs_per
    )
    variants = Counter(p.variant or "fresh" for p in problems)
    variants_valid = Counter(p.variant or "fresh" for p in valid)
    return {
        "round": round_id,
        "proposed": len(problems),
        "valid": len(valid),
        "rejected": len(problems) - len(valid),
        "rejections": dict(rejections),
        "solved": solved,
        "all_pass": outcome["all_pass"],
        "mixed": outcome["mixed"],
        "all_fail": outcome["all_fail"],
        "repaired": repaired,
        "mixed_rate": rate("mixed"),
        "range": where["verdict"],
        "boundary": where,
        "attempts": attempts,
        "attempts_passed": passed,
        "failure_classes": dict(classes),
        "pairs": pairs,
        "pairs_by_kind": dict(by_kind),
        "pairs_by_class": dict(by_class),
        "pairs_per_proposal": pairs_per,
        # string keys, as the ledger's JSON gives them back: fresh and stored statistics read alike
        "difficulty": {str(k): v for k, v in sorted(Counter(p.difficulty for p in valid).items())},
        "variants": {k: [variants_valid[k], variants[k]] for k in sorted(variants)},
        "tests": sorted({p.meta.get("tests", "model") for p in problems}),
        "format": sorted({p.meta.get("format", "raw") for p in problems}),
        "own_examples": sum(1 for p in problems for s in p.meta.get("shots", []) if s.startswith("own:")),
    }
