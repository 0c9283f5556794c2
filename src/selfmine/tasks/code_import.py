"""Reference code pairs (the TinyForge-Zero schema: signature, tests, broken, error, fixed) into a run's
ledger, both sides re-judged, so the mix of failure classes, and fixed sides that do not actually pass,
are visible. Records whose broken side is empty are kept (class: format)."""

from __future__ import annotations

import json
from pathlib import Path

from ..ledger import Attempt, Pair, Problem
from ..ledger.rundir import RunDir
from ..ledger.store import insert_attempt, insert_import_round, insert_pair, insert_problem, set_meta_in
from ..sandbox import Job, check_sandbox, judge_many
from .code_text import classify_failure, header_from_source, solve_prompt


def check_code_rows(rows: list) -> None:
    """Each row a JSON object with the schema's fields as strings (`tests` a string or a list of strings,
    `broken` and `error` may be null); a malformed file is refused whole, one line per bad row."""
    bad = []
    for i, r in enumerate(rows, 1):
        if not isinstance(r, dict):
            bad.append(f"row {i}: not a JSON object")
            continue
        missing = [k for k in ("signature", "tests", "fixed") if k not in r]
        wrong = [k for k in ("signature", "fixed") if k in r and not isinstance(r[k], str)]
        wrong += [k for k in ("broken", "error") if r.get(k) is not None and not isinstance(r[k], str)]
        tests = r.get("tests")
        if "tests" in r and not (
            isinstance(tests, str) or (isinstance(tests, list) and all(isinstance(t, str) for t in tests))
        ):
            wrong.append("tests")
        if missing or wrong:
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"not text: {', '.join(wrong)}"] if wrong else []
            )
            bad.append(f"row {i}: " + "; ".join(parts))
    if bad:
        more = f"\n... and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise ValueError("malformed pairs file:\n" + "\n".join(bad[:20]) + more)


def import_code_rows(path: str | Path, rows: list[dict], run_dir: str | Path, timeout: float = 5.0) -> dict:
    with RunDir(run_dir).ledger() as ledger:
        source = str(Path(path).resolve())
        prior = ledger.get_meta("imports", [])
        if source in prior:
            return {"imported": 0, "skipped": len(rows), "note": "already imported"}
        check_code_rows(rows)
        parsed = [(i, r, *_parsed(r)) for i, r in enumerate(rows)]
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
                _insert_row(db, round_id, i, r, head=head, tests=tests, broken_verdict=vb, fixed_verdict=vf)
                fixed_fail += not vf.passed
            set_meta_in(db, "imports", prior + [source])
        return {"imported": len(rows) - skipped, "skipped": skipped, "fixed_side_fails": fixed_fail, "round": round_id}


def _parsed(r: dict) -> tuple[tuple[str, str] | None, list[str]]:
    """((entry point, header) or None where neither side has a function header, the tests as a list)."""
    head = header_from_source(r["signature"]) or header_from_source(r["fixed"])
    tests = r["tests"] if isinstance(r["tests"], list) else [t for t in str(r["tests"]).splitlines() if t.strip()]
    return head, tests


def _insert_row(db, round_id: int, i: int, r: dict, *, head, tests, broken_verdict, fixed_verdict) -> None:
    """One row as a valid problem with its re-judged broken and fixed sides and their imported pair."""
    entry, header = head
    problem = Problem(
        round_id,
        i,
        json.dumps(r),
        "valid",
        entry_point=entry,
        code=r["fixed"],
        tests=tests,
        solve_prompt=solve_prompt(header, tests),
        header=header,
    )
    pid = insert_problem(db, problem)
    broken, vb, vf = r["broken"] or "", broken_verdict, fixed_verdict
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
        db, Attempt(pid, "imported_fixed", 0, r["fixed"], r["fixed"], vf.status.value, vf.passed, error=vf.message)
    )
    insert_pair(db, Pair(pid, "imported", bid, fid, cls or "passes"))
