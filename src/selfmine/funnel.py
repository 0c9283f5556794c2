"""The mining funnel as data, shared by mining (which stores it per round) and the report (which reads
it back from the ledger): the boundary verdict, totals over rounds, and the lines both print. No stage
logic and no ledger access here."""

from __future__ import annotations

from collections import Counter

from .intervals import mean_ci, wilson

# The working range: enough valid problems, and enough of them with mixed outcomes to give pairs.
MIN_MIXED_RATE = 0.2  # of solved problems (RESEARCH.md: below this the recipe starves)
MIN_VALID_RATE = 0.1  # of proposals
MIN_SOLVED = 5  # fewer solved problems than this: too small to tell


def boundary(
    proposed: int, valid: int, solved: int, mixed: int, all_pass: int, all_fail: int, pairs_per: list[int]
) -> dict:
    """The numbers that decide where a model sits, with 95% intervals, and the verdict they support.
    A side is claimed only when the whole interval is on it."""
    v_lo, v_hi = wilson(valid, proposed)
    m_lo, m_hi = wilson(mixed, solved)
    ppp, ppp_lo, ppp_hi = mean_ci([float(x) for x in pairs_per])
    out = {
        "valid_rate": valid / proposed if proposed else 0.0,
        "valid_ci": [v_lo, v_hi],
        "mixed_rate": mixed / solved if solved else 0.0,
        "mixed_ci": [m_lo, m_hi],
        "pairs_per_proposal": ppp if proposed else 0.0,
        "pairs_per_proposal_ci": [ppp_lo, ppp_hi],
        "thresholds": {"mixed_rate": MIN_MIXED_RATE, "valid_rate": MIN_VALID_RATE, "min_solved": MIN_SOLVED},
    }
    if proposed and v_hi < MIN_VALID_RATE:
        out["position"] = "below"
        out["verdict"] = (
            f"below the working range: valid rate {valid}/{proposed} (95% CI {v_lo:.0%}-{v_hi:.0%}) "
            f"is under {MIN_VALID_RATE:.0%}; the model writes too few usable problems"
        )
    elif solved < MIN_SOLVED:
        out["position"] = "unknown"
        out["verdict"] = f"too small to tell: {solved} solved problems (need at least {MIN_SOLVED})"
    elif m_lo >= MIN_MIXED_RATE:
        out["position"] = "inside"
        out["verdict"] = (
            f"inside the working range: mixed-outcome rate {mixed}/{solved} (95% CI {m_lo:.0%}-{m_hi:.0%}) "
            f">= {MIN_MIXED_RATE:.0%}"
        )
    elif m_hi < MIN_MIXED_RATE:
        weak = all_fail >= all_pass
        out["position"] = "below" if weak else "above"
        out["verdict"] = (
            f"{'below' if weak else 'above'} the working range: mixed-outcome rate {mixed}/{solved} "
            f"(95% CI {m_lo:.0%}-{m_hi:.0%}) < {MIN_MIXED_RATE:.0%}; "
            + (f"{all_fail} all-fail: too few successes" if weak else f"{all_pass} all-pass: too few failures")
        )
    else:
        out["position"] = "unknown"
        out["verdict"] = (
            f"too small to tell: mixed-outcome rate {mixed}/{solved} (95% CI {m_lo:.0%}-{m_hi:.0%}) "
            f"straddles {MIN_MIXED_RATE:.0%}"
        )
    return out


def total_stats(rounds: list[dict]) -> dict:
    """Sums over rounds, with the boundary verdict over all of them."""
    keys = (
        "proposed",
        "valid",
        "rejected",
        "solved",
        "all_pass",
        "mixed",
        "all_fail",
        "repaired",
        "attempts",
        "attempts_passed",
        "pairs",
    )
    total = {k: sum(r[k] for r in rounds) for k in keys}
    for k in ("rejections", "failure_classes", "pairs_by_kind", "pairs_by_class"):
        c = Counter()
        for r in rounds:
            c.update(r[k])
        total[k] = dict(c)
    total["rounds"] = len(rounds)
    total["mixed_rate"] = total["mixed"] / total["solved"] if total["solved"] else 0.0
    pairs_per = [n for r in rounds for n in r.get("pairs_per_proposal", [])]
    b = boundary(
        total["proposed"],
        total["valid"],
        total["solved"],
        total["mixed"],
        total["all_pass"],
        total["all_fail"],
        pairs_per,
    )
    total["boundary"], total["range"] = b, b["verdict"]
    return total


def format_stats(s: dict) -> str:
    lines = [
        f"round {s['round']}: proposed {s['proposed']}, valid {s['valid']}, rejected {s['rejected']}",
        "  rejected by reason: "
        + (", ".join(f"{k} {v}" for k, v in sorted(s["rejections"].items(), key=lambda kv: -kv[1])) or "none"),
        f"  outcomes over {s['solved']} problems: all-pass {s['all_pass']}, mixed {s['mixed']}, all-fail {s['all_fail']}"
        f" (repaired {s['repaired']})",
        f"  mixed-outcome rate {s['mixed_rate']:.0%}; {s['range']}",
        f"  valid by difficulty: {s.get('difficulty', {})}; proposals by kind [valid, proposed]: {s.get('variants', {})};"
        f" tests: {'/'.join(s.get('tests', []))}; prompt format: {'/'.join(s.get('format', []))}; own few-shot examples used: {s.get('own_examples', 0)}",
        f"  attempts {s['attempts']} (passed {s['attempts_passed']}); failures by class: "
        + (", ".join(f"{k} {v}" for k, v in s["failure_classes"].items()) or "none"),
        f"  pairs: {s['pairs']} (mixed {s['pairs_by_kind'].get('mixed', 0)}, repair {s['pairs_by_kind'].get('repair', 0)}"
        + (f", canonical {s['pairs_by_kind']['canonical']}" if s["pairs_by_kind"].get("canonical") else "")
        + ");"
        f" keep-correct {s['pairs_by_kind'].get('keep_correct', 0)}; pairs by broken class: "
        + (", ".join(f"{k} {v}" for k, v in s["pairs_by_class"].items()) or "none"),
    ]
    return "\n".join(lines)
