"""Reference math rows (problem, solution, answer) into a run's ledger, every label re-judged."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..datasets import PACKAGED
from ..ledger import Attempt, Pair, Problem
from ..ledger.rundir import RunDir
from ..ledger.store import insert_attempt, insert_import_round, insert_pair, insert_problem, set_meta_in
from ..sandbox.judge import DEFAULT_MEMORY_MB
from . import math_text as mt
from .math_values import program_values, value_text
from .mathcheck import checker


def _label_checks(path: Path) -> dict:
    """Hand-written label checks for a math pairs file: `<stem>.checks.json` beside it, else the one
    shipped with selfmine for a reference file of the same name."""
    for cand in (
        path.with_name(path.stem + ".checks.json"),
        PACKAGED / "tinyforge-zero" / (path.stem + ".checks.json"),
    ):
        if cand.exists():
            return json.loads(cand.read_text())
    return {}


def import_math_rows(path: str | Path, rows: list[dict], run_dir: str | Path, timeout: float = 5.0) -> dict:
    """Reference math rows (problem, solution, answer) become solve examples, every label re-judged:
    the solution's own final answer against the label (math-verify), and the label against an
    independent program from the checks file, run in the sandbox. Each is flagged in its failure class:
    verified | unverified (no check program) | label_wrong | ill_posed | solution_disagrees."""
    path = Path(path)
    checks = _label_checks(path)
    with RunDir(run_dir).ledger() as ledger:
        source = str(path.resolve())
        prior = ledger.get_meta("imports", [])
        if source in prior:
            return {"imported": 0, "skipped": len(rows), "note": "already imported"}
        labels = [_label(r["answer"]) for r in rows]
        spec = [checks.get(hashlib.sha256(r["problem"].encode()).hexdigest()[:16], {}) for r in rows]
        flags = _label_flags(rows, labels, spec)
        with ledger.transaction() as db:
            round_id = insert_import_round(db, source)
            for i, (r, lab, flag) in enumerate(zip(rows, labels, flags)):
                _insert_row(db, round_id, i, r, label=lab, flag=flag, spec=spec[i])
            set_meta_in(db, "imports", prior + [source])
            set_meta_in(db, "domain", "math")
        counts = {f: flags.count(f) for f in sorted(set(flags))}
        return {"imported": len(rows), "skipped": 0, "label_checks": counts, "round": round_id}


def _label(answer) -> str:
    return value_text(float(answer)) if isinstance(answer, (int, float)) else str(answer)


def _label_flags(rows: list[dict], labels: list[str], spec: list[dict]) -> list[str]:
    """Each row's label check: its solution's final answer against the label, then the label against the
    value of the row's check program (run in the sandbox), where it has one."""
    own = checker().check_many([(lab, mt.final_answer(r["solution"])) for lab, r in zip(labels, rows)])
    with_prog = [i for i, c in enumerate(spec) if c.get("program")]
    (got,) = program_values([spec[i]["program"] for i in with_prog], DEFAULT_MEMORY_MB, "re-judging imported labels")
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
    return flags


def _insert_row(db, round_id: int, i: int, r: dict, *, label: str, flag: str, spec: dict) -> None:
    """One row as a valid problem, its solution as the fixed side of an imported pair (passing only when
    its label check found nothing wrong)."""
    problem = Problem(
        round_id,
        i,
        json.dumps(r),
        "valid",
        entry_point=mt.PROGRAM_NAME,
        code=spec.get("program", ""),
        tests=[label],
        solve_prompt=mt.solve_prompt(r["problem"]),
        header=r["problem"],
        meta={"domain": "math", "label_check": flag},
    )
    pid = insert_problem(db, problem)
    ok = flag in ("verified", "unverified")
    fixed = Attempt(
        pid,
        "imported_fixed",
        0,
        r["solution"],
        mt.judged_solution(r["solution"]),
        "passed" if ok else flag,
        ok,
        "" if ok else flag,
        error=spec.get("ill_posed", ""),
    )
    fid = insert_attempt(db, fixed)
    insert_pair(db, Pair(pid, "imported", None, fid, flag))
