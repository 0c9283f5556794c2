"""Per-round statistics, computed from the ledger alone (so a resumed run reports the same)."""

from __future__ import annotations

from collections import Counter

from ..ledger import Ledger


def working_range(mixed_rate: float, all_pass_rate: float, all_fail_rate: float) -> str:
    if mixed_rate >= 0.2:
        return "in the recipe's working range"
    if all_pass_rate > all_fail_rate:
        return "too strong for this recipe: most problems are all-pass, few failures to learn from"
    return "too weak for this recipe: most problems are all-fail, few successes to learn from"


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
    pair_rows = ledger.db.execute(
        "SELECT pr.kind, pr.failure_class FROM pairs pr JOIN problems p ON p.id = pr.problem_id WHERE p.round_id = ?",
        (round_id,),
    ).fetchall()
    by_kind = Counter(r[0] for r in pair_rows)
    by_class = Counter(r[1] for r in pair_rows if r[0] != "keep_correct")
    solved = sum(outcome.values())
    rate = lambda k: outcome[k] / solved if solved else 0.0  # noqa: E731
    return {
        "round": round_id, "proposed": len(problems), "valid": len(valid), "rejected": len(problems) - len(valid),
        "rejections": dict(rejections), "solved": solved, "all_pass": outcome["all_pass"], "mixed": outcome["mixed"],
        "all_fail": outcome["all_fail"], "repaired": repaired, "mixed_rate": rate("mixed"),
        "range": working_range(rate("mixed"), rate("all_pass"), rate("all_fail")) if solved else "no problems solved",
        "attempts": attempts, "attempts_passed": passed, "failure_classes": dict(classes),
        "pairs": by_kind["mixed"] + by_kind["repair"], "pairs_by_kind": dict(by_kind), "pairs_by_class": dict(by_class),
    }  # fmt: skip
