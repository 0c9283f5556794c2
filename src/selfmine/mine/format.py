"""One round's statistics as the lines `mine`, `run` and the report print."""

from __future__ import annotations


def format_stats(s: dict) -> str:
    lines = [
        f"round {s['round']}: proposed {s['proposed']}, valid {s['valid']}, rejected {s['rejected']}",
        "  rejected by reason: " + (", ".join(f"{k} {v}" for k, v in sorted(s["rejections"].items(), key=lambda kv: -kv[1])) or "none"),
        f"  outcomes over {s['solved']} problems: all-pass {s['all_pass']}, mixed {s['mixed']}, all-fail {s['all_fail']}"
        f" (repaired {s['repaired']})",
        f"  mixed-outcome rate {s['mixed_rate']:.0%}; {s['range']}",
        f"  valid by difficulty: {s.get('difficulty', {})}; proposals by kind [valid, proposed]: {s.get('variants', {})};"
        f" tests: {'/'.join(s.get('tests', []))}; prompt format: {'/'.join(s.get('format', []))}; own few-shot examples used: {s.get('own_examples', 0)}",
        f"  attempts {s['attempts']} (passed {s['attempts_passed']}); failures by class: "
        + (", ".join(f"{k} {v}" for k, v in s["failure_classes"].items()) or "none"),
        f"  pairs: {s['pairs']} (mixed {s['pairs_by_kind'].get('mixed', 0)}, repair {s['pairs_by_kind'].get('repair', 0)}"
        + (f", canonical {s['pairs_by_kind']['canonical']}" if s["pairs_by_kind"].get("canonical") else "") + ");"
        f" keep-correct {s['pairs_by_kind'].get('keep_correct', 0)}; pairs by broken class: "
        + (", ".join(f"{k} {v}" for k, v in s["pairs_by_class"].items()) or "none"),
    ]  # fmt: skip
    return "\n".join(lines)
