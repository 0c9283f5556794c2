"""Per-round statistics, computed from the ledger alone (so a resumed run reports the same), and the
boundary verdict: is the model inside the recipe's working range, below it, above it, or can the sample
not tell yet?"""

from __future__ import annotations

from collections import Counter

from ..intervals import mean_ci, wilson
from ..ledger import MINED_KINDS, Ledger

# The working range: enough valid problems, and enough of them with mixed outcomes to give pairs.
MIN_MIXED_RATE = 0.2  # of solved problems (RESEARCH.md: below this the recipe starves)
MIN_VALID_RATE = 0.1  # of proposals
MIN_SOLVED = 5  # fewer solved problems than this: too small to tell


def boundary(proposed: int, valid: int, solved: int, mixed: int, all_pass: int, all_fail: int, pairs_per: list[int]) -> dict:
    """The numbers that decide where a model sits, with 95% intervals, and the verdict they support.
    A side is claimed only when the whole interval is on it."""
    v_lo, v_hi = wilson(valid, proposed)
    m_lo, m_hi = wilson(mixed, solved)
    ppp, ppp_lo, ppp_hi = mean_ci([float(x) for x in pairs_per])
    out = {"valid_rate": valid / proposed if proposed else 0.0, "valid_ci": [v_lo, v_hi],
           "mixed_rate": mixed / solved if solved else 0.0, "mixed_ci": [m_lo, m_hi],
           "pairs_per_proposal": ppp if proposed else 0.0, "pairs_per_proposal_ci": [ppp_lo, ppp_hi],
           "thresholds": {"mixed_rate": MIN_MIXED_RATE, "valid_rate": MIN_VALID_RATE, "min_solved": MIN_SOLVED}}  # fmt: skip
    if proposed and v_hi < MIN_VALID_RATE:
        out["position"] = "below"
        out["verdict"] = (f"below the working range: valid rate {valid}/{proposed} (95% CI {v_lo:.0%}-{v_hi:.0%}) "
                          f"is under {MIN_VALID_RATE:.0%}; the model writes too few usable problems")  # fmt: skip
    elif solved < MIN_SOLVED:
        out["position"] = "unknown"
        out["verdict"] = f"too small to tell: {solved} solved problems (need at least {MIN_SOLVED})"
    elif m_lo >= MIN_MIXED_RATE:
        out["position"] = "inside"
        out["verdict"] = (f"inside the working range: mixed-outcome rate {mixed}/{solved} (95% CI {m_lo:.0%}-{m_hi:.0%}) "
                          f">= {MIN_MIXED_RATE:.0%}")  # fmt: skip
    elif m_hi < MIN_MIXED_RATE:
        weak = all_fail >= all_pass
        out["position"] = "below" if weak else "above"
        out["verdict"] = (f"{'below' if weak else 'above'} the working range: mixed-outcome rate {mixed}/{solved} "
                          f"(95% CI {m_lo:.0%}-{m_hi:.0%}) < {MIN_MIXED_RATE:.0%}; "
                          + (f"{all_fail} all-fail: too few successes" if weak else f"{all_pass} all-pass: too few failures"))  # fmt: skip
    else:
        out["position"] = "unknown"
        out["verdict"] = (f"too small to tell: mixed-outcome rate {mixed}/{solved} (95% CI {m_lo:.0%}-{m_hi:.0%}) "
                          f"straddles {MIN_MIXED_RATE:.0%}")  # fmt: skip
    return out


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
    where = boundary(len(problems), len(valid), solved, outcome["mixed"], outcome["all_pass"], outcome["all_fail"], pairs_per)
    variants = Counter(p.variant or "fresh" for p in problems)
    variants_valid = Counter(p.variant or "fresh" for p in valid)
    return {
        "round": round_id, "proposed": len(problems), "valid": len(valid), "rejected": len(problems) - len(valid),
        "rejections": dict(rejections), "solved": solved, "all_pass": outcome["all_pass"], "mixed": outcome["mixed"],
        "all_fail": outcome["all_fail"], "repaired": repaired, "mixed_rate": rate("mixed"),
        "range": where["verdict"], "boundary": where,
        "attempts": attempts, "attempts_passed": passed, "failure_classes": dict(classes),
        "pairs": pairs, "pairs_by_kind": dict(by_kind), "pairs_by_class": dict(by_class), "pairs_per_proposal": pairs_per,
        # string keys, as the ledger's JSON gives them back: fresh and stored statistics read alike
        "difficulty": {str(k): v for k, v in sorted(Counter(p.difficulty for p in valid).items())},
        "variants": {k: [variants_valid[k], variants[k]] for k in sorted(variants)},
        "tests": sorted({p.meta.get("tests", "model") for p in problems}),
        "format": sorted({p.meta.get("format", "raw") for p in problems}),
        "own_examples": sum(1 for p in problems for s in p.meta.get("shots", []) if s.startswith("own:")),
    }  # fmt: skip


def total_stats(rounds: list[dict]) -> dict:
    """Sums over rounds, with the boundary verdict over all of them."""
    keys = ("proposed", "valid", "rejected", "solved", "all_pass", "mixed", "all_fail", "repaired", "attempts",
            "attempts_passed", "pairs")  # fmt: skip
    total = {k: sum(r[k] for r in rounds) for k in keys}
    for k in ("rejections", "failure_classes", "pairs_by_kind", "pairs_by_class"):
        c = Counter()
        for r in rounds:
            c.update(r[k])
        total[k] = dict(c)
    total["rounds"] = len(rounds)
    total["mixed_rate"] = total["mixed"] / total["solved"] if total["solved"] else 0.0
    pairs_per = [n for r in rounds for n in r.get("pairs_per_proposal", [])]
    b = boundary(total["proposed"], total["valid"], total["solved"], total["mixed"], total["all_pass"], total["all_fail"], pairs_per)
    total["boundary"], total["range"] = b, b["verdict"]
    return total
