"""Pairs in and out: the reference implementation's schema (`signature`, `tests`, `broken`, `error`,
`fixed`), a TRL-ready SFT dataset (prompt / completion), and a preference dataset (prompt / chosen /
rejected) for DPO."""

from __future__ import annotations

import json
from pathlib import Path

from .ledger import MINED_KINDS, Attempt, Ledger, Pair, PairView, Problem
from .ledger.store import insert_attempt, insert_import_round, insert_pair, insert_problem, set_meta_in
from .sandbox import Job, check_sandbox, judge_many
from .tasks.code import classify_failure, header_from_source, solve_prompt

FORMATS = ("tinyforge", "sft", "dpo")


def export_record(p: PairView, fmt: str, domain=None) -> dict:
    from .tasks.base import get_domain

    d = domain or get_domain("code")
    if fmt == "tinyforge":
        return d.reference_row(p)
    if fmt == "sft":
        return {
            "prompt": d.train_prompts(p, "repair", p.broken, p.error)["repair"],
            "completion": d.train_target(p, "repair", p.broken, p.fixed),
            "pair_id": p.id,
            "kind": p.kind,
            "failure_class": p.failure_class,
        }
    if fmt == "dpo":
        prompt = d.train_prompts(p, "solve", p.broken, p.error)["solve"]
        return {
            "prompt": prompt,
            "chosen": d.train_target(p, "solve", p.broken, p.fixed),
            "rejected": d.train_target(p, "solve", p.broken, p.broken),
            "pair_id": p.id,
        }
    raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")


def export_pairs(
    run_dir: str | Path,
    fmt: str,
    out: str | Path,
    classes: tuple[str, ...] | None = None,
    kinds: tuple[str, ...] = (*MINED_KINDS, "imported"),
) -> int:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    from .tasks.base import get_domain

    ledger = Ledger.in_run_dir(run_dir)
    try:
        pairs = ledger.pairs(kinds, classes)
        domain = get_domain(ledger.domain())
    finally:
        ledger.close()
    tmp = Path(str(out) + ".tmp")
    with open(tmp, "w") as f:
        for p in pairs:
            f.write(json.dumps(export_record(p, fmt, domain)) + "\n")
    tmp.replace(out)
    return len(pairs)


def import_pairs(path: str | Path, run_dir: str | Path, timeout: float = 5.0) -> dict:
    """Reads reference-schema pairs; judges both sides (so the mix of failure classes, and fixed sides
    that do not actually pass, are visible). Records whose broken side is empty are kept (class: format)."""
    rows = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not JSON ({e.msg})") from None
    if rows and {"problem", "solution", "answer"} <= set(rows[0]):
        return import_math_pairs(path, rows, run_dir)
    missing = [k for k in ("signature", "tests", "broken", "fixed") if rows and k not in rows[0]]
    if missing:
        raise ValueError(f"{path}: not the reference pair schema (missing {', '.join(missing)})")
    ledger = Ledger.in_run_dir(run_dir)
    try:
        source = str(Path(path).resolve())
        prior = ledger.get_meta("imports", [])
        if source in prior:
            return {"imported": 0, "skipped": len(rows), "note": "already imported"}
        parsed = []
        for i, r in enumerate(rows):
            head = header_from_source(r["signature"]) or header_from_source(r["fixed"])
            tests = (
                r["tests"] if isinstance(r["tests"], list) else [t for t in str(r["tests"]).splitlines() if t.strip()]
            )
            parsed.append((i, r, head, tests))
        jobs = []
        for _, r, _, tests in parsed:
            jobs += [Job(r["broken"] or "", tests, timeout), Job(r["fixed"], tests, timeout)]
        verdicts = check_sandbox(judge_many(jobs), "re-judging imported pairs")  # never stored as the pair's failure
        skipped, fixed_fail = 0, 0
        with ledger.transaction() as db:  # all of the file or nothing: a killed import leaves no trace
            round_id = insert_import_round(db, source)
            for (i, r, head, tests), vb, vf in zip(parsed, verdicts[::2], verdicts[1::2]):
                if head is None:
                    skipped += 1
                    continue
                entry, header = head
                pid = insert_problem(
                    db,
                    Problem(
                        round_id,
                        i,
                        json.dumps(r),
                        "valid",
                        entry_point=entry,
                        code=r["fixed"],
                        tests=tests,
                        solve_prompt=solve_prompt(header, tests),
                        header=header,
                    ),
                )
                broken = r["broken"] or ""
                cls = "" if vb.passed else classify_failure(broken, vb.status.value, vb.error_type, "stop", tests)
                bid = insert_attempt(
                    db,
                    Attempt(
                        pid,
                        "imported_broken",
                        0,
                        broken,
                        broken,
                        vb.status.value,
                        vb.passed,
                        cls,
                        error=r.get("error", "") or vb.message,
                    ),
                )
                fid = insert_attempt(
                    db,
                    Attempt(
                        pid, "imported_fixed", 0, r["fixed"], r["fixed"], vf.status.value, vf.passed, error=vf.message
                    ),
                )
                insert_pair(db, Pair(pid, "imported", bid, fid, cls or "passes"))
                fixed_fail += not vf.passed
            set_meta_in(db, "imports", prior + [source])
        return {"imported": len(rows) - skipped, "skipped": skipped, "fixed_side_fails": fixed_fail, "round": round_id}
    finally:
        ledger.close()


def _label_checks(path: Path) -> dict:
    """Hand-written label checks for a math pairs file: `<stem>.checks.json` beside it, else the one
    shipped with selfmine for a reference file of the same name."""
    from .datasets import PACKAGED

    for cand in (
        path.with_name(path.stem + ".checks.json"),
        PACKAGED / "tinyforge-zero" / (path.stem + ".checks.json"),
    ):
        if cand.exists():
            return json.loads(cand.read_text())
    return {}


def import_math_pairs(path: str | Path, rows: list[dict], run_dir: str | Path) -> dict:
    """Reference math rows (problem, solution, answer) become solve examples, every label re-judged:
    the solution's own final answer against the label (math-verify), and the label against an
    independent program from the checks file, run in the sandbox. Each is flagged in its failure class:
    verified | unverified (no check program) | label_wrong | ill_posed | solution_disagrees."""
    import hashlib

    from .sandbox.judge import DEFAULT_MEMORY_MB
    from .tasks import math as m
    from .tasks.math_domain import program_values, value_text
    from .tasks.mathcheck import checker

    path = Path(path)
    checks = _label_checks(path)
    ledger = Ledger.in_run_dir(run_dir)
    try:
        source = str(path.resolve())
        prior = ledger.get_meta("imports", [])
        if source in prior:
            return {"imported": 0, "skipped": len(rows), "note": "already imported"}
        labels = [
            value_text(float(r["answer"])) if isinstance(r["answer"], (int, float)) else str(r["answer"]) for r in rows
        ]
        own = checker().check_many([(lab, m.final_answer(r["solution"])) for lab, r in zip(labels, rows)])
        spec = [checks.get(hashlib.sha256(r["problem"].encode()).hexdigest()[:16], {}) for r in rows]
        with_prog = [i for i, c in enumerate(spec) if c.get("program")]
        (got,) = program_values(
            [spec[i]["program"] for i in with_prog], DEFAULT_MEMORY_MB, "re-judging imported labels"
        )
        values = {i: value for i, (value, _) in zip(with_prog, got)}
        agree = checker().check_many([(value_text(values[i]), labels[i]) for i in with_prog if values[i] is not None])
        verdict = dict(zip([i for i in with_prog if values[i] is not None], agree))
        flags = []
        for i in range(len(rows)):
            if spec[i].get("ill_posed"):
                flags.append("ill_posed")
            elif not own[i].equal:
                flags.append("solution_disagrees")
            elif i in verdict:
                flags.append("verified" if verdict[i].equal else "label_wrong")
            else:
                flags.append("unverified")
        with ledger.transaction() as db:
            round_id = insert_import_round(db, source)
            for i, (r, lab, flag) in enumerate(zip(rows, labels, flags)):
                pid = insert_problem(
                    db,
                    Problem(round_id, i, json.dumps(r), "valid", entry_point=m.PROGRAM_NAME,
                            code=spec[i].get("program", ""), tests=[lab], solve_prompt=m.solve_prompt(r["problem"]),
                            header=r["problem"], meta={"domain": "math", "label_check": flag}),
                )  # fmt: skip
                ok = flag in ("verified", "unverified")
                fid = insert_attempt(
                    db,
                    Attempt(pid, "imported_fixed", 0, r["solution"], m.judged_solution(r["solution"]),
                            "passed" if ok else flag, ok, "" if ok else flag, error=spec[i].get("ill_posed", "")),
                )  # fmt: skip
                insert_pair(db, Pair(pid, "imported", None, fid, flag))
            set_meta_in(db, "imports", prior + [source])
            set_meta_in(db, "domain", "math")
        counts = {f: flags.count(f) for f in sorted(set(flags))}
        return {"imported": len(rows), "skipped": 0, "label_checks": counts, "round": round_id}
    finally:
        ledger.close()
