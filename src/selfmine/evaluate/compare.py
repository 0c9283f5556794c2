"""Comparing two evaluation results task by task: flips, a paired bootstrap CI of the difference, and an
exact McNemar p-value. Also the interaction of two factors (e.g. fine-tuning x best-of-n)."""

from __future__ import annotations

import re
from collections import Counter

from ..errors import UserError
from .stats import mcnemar_exact, newcombe, paired_bootstrap, sign_flip_p

SETTINGS = ("format", "limit", "sampling.n", "sampling.temperature", "sampling.top_p", "sampling.max_tokens")


class IncomparableResults(UserError, ValueError):
    pass


def _setting(result: dict, key: str):
    value = result
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def check_comparable(a: dict, b: dict) -> None:
    """Two arms are compared only when they were evaluated the same way."""
    for key in SETTINGS:
        if _setting(a, key) != _setting(b, key):
            raise IncomparableResults(
                f"the two results differ in {key} ({_setting(a, key)!r} vs {_setting(b, key)!r}): "
                "a difference between them would measure that setting, not the model"
            )


def _per_task(bench: dict, *, key: str = "passed") -> tuple[dict[str, float], int]:
    """({task: pass rate over its scored samples}, unscored samples). One rule everywhere: a sample the
    sandbox could not judge is left out, never counted as a failure; a task with no scored sample is left
    out of the comparison on both sides. `key` "base_passed" reads an EvalPlus bench's original tests."""
    out, unscored = {}, 0
    for t in bench["per_task"]:
        scored = [s for s in t["samples"] if s.get(key) is not None]
        unscored += len(t["samples"]) - len(scored)
        if scored:
            out[t["task_id"]] = sum(bool(s[key]) for s in scored) / len(scored)
    return out, unscored


def failure_kind(sample: dict) -> str:
    """What a failing sample failed with, read off its verdict: a wrong answer (an assert failed), a syntax
    error, a NameError (an undefined helper or a missing import), another exception, or a limit (time,
    memory, output)."""
    status, message = sample.get("status"), sample.get("message") or ""
    if status == "failed":
        return "wrong answer"
    if status in ("timeout", "memory", "output_limit"):
        return "limit"
    if status != "error":
        return str(status or "unknown")
    if message.startswith(("SyntaxError", "IndentationError", "TabError")):
        return "syntax error"
    raised = re.search(r"\((\w+)", message)
    return "NameError" if raised and raised.group(1) == "NameError" else "exception"


def _kinds(bench: dict, tasks: list[str]) -> dict[str, int]:
    """How the first scored sample of each of `tasks` failed, counted by `failure_kind`, most first."""
    first = {
        t["task_id"]: next(s for s in t["samples"] if s.get("passed") is not None)
        for t in bench["per_task"]
        if t["task_id"] in set(tasks)
    }
    return dict(Counter(failure_kind(first[i]) for i in tasks).most_common())


def compare(a: dict, b: dict) -> dict:
    """Per benchmark: pass rates, the paired difference B - A with a 95% interval and a p-value, flips."""
    check_comparable(a, b)
    out = {}
    for bench in a["benches"]:
        if bench not in b["benches"]:
            continue
        (pa, ua), (pb, ub) = _per_task(a["benches"][bench]), _per_task(b["benches"][bench])
        ids = sorted(set(pa) & set(pb))
        if not ids:
            continue
        xa, xb = [pa[i] for i in ids], [pb[i] for i in ids]
        fixed = [i for i in ids if pa[i] < 0.5 <= pb[i]]
        broke = [i for i in ids if pb[i] < 0.5 <= pa[i]]
        binary = all(x in (0.0, 1.0) for x in xa + xb)
        if binary:
            diff, lo, hi = newcombe([x == 1.0 for x in xa], [x == 1.0 for x in xb])
            p, test, interval = mcnemar_exact(len(broke), len(fixed)), "McNemar (exact)", "Newcombe"
        else:
            diff, lo, hi = paired_bootstrap(xa, xb)
            p, test, interval = sign_flip_p(xa, xb), "sign-flip permutation", "paired bootstrap"
        both = {t["task_id"] for t in a["benches"][bench]["per_task"]} & {
            t["task_id"] for t in b["benches"][bench]["per_task"]
        }
        dropped = len(both) - len(ids)
        out[bench] = {
            "tasks": len(ids),
            "a": sum(xa) / len(ids),
            "b": sum(xb) / len(ids),
            "diff": diff,
            "ci95": [lo, hi],
            "interval": interval,
            "p": p,
            "test": test,
            "mcnemar_p": p if binary else None,
            "unscored_samples": [ua, ub],
            "tasks_left_out": dropped,
            "fixed": fixed,
            "broken": broke,
            # greedy: how the fixed tasks failed in A and the broken ones fail in B (a lift made of syntax
            # errors fixed is a format effect; one made of wrong answers fixed is not)
            "fixed_from": _kinds(a["benches"][bench], fixed) if binary else None,
            "broken_to": _kinds(b["benches"][bench], broke) if binary else None,
        }
    return out


def interaction(a: float, b: float, c: float, d: float) -> float:
    """(D - C) - (B - A): how much more factor 2 helps with factor 1 on. A: neither, B: factor 1 only,
    C: factor 2 only, D: both. The reference reported D - B, which is not an interaction."""
    return (d - c) - (b - a)


def markdown(cmp: dict, name_a: str = "A", name_b: str = "B") -> str:
    rows = [
        f"| bench | tasks | {name_a} | {name_b} | difference (95% CI) | p | fixed | broken | unscored samples |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for bench, c in cmp.items():
        rows.append(
            f"| {bench} | {c['tasks']} | {c['a']:.1%} | {c['b']:.1%} | {c['diff']:+.1%} ({c['ci95'][0]:+.1%} .. "
            f"{c['ci95'][1]:+.1%}, {c['interval']}) | {c['p']:.3g} ({c['test']}) | {len(c['fixed'])} | {len(c['broken'])} | "
            f"{c['unscored_samples'][0]} / {c['unscored_samples'][1]} |"
        )
    flips = [_flip_line(bench, c, name_a, name_b) for bench, c in cmp.items() if c.get("fixed_from") is not None]
    return "\n".join(rows) + "\n" + ("\n" + "\n".join(flips) + "\n" if flips else "")


def counts(kinds: dict) -> str:
    """`failure_kind` counts as text: "wrong answer 2, syntax error 1", or "none"."""
    return ", ".join(f"{kind} {n}" for kind, n in kinds.items()) or "none"


def _flip_line(bench: str, c: dict, name_a: str, name_b: str) -> str:
    return (
        f"- {bench}: the {len(c['fixed'])} fixed failed in {name_a} with {counts(c['fixed_from'])}; "
        f"the {len(c['broken'])} broken fail in {name_b} with {counts(c['broken_to'])}"
    )
