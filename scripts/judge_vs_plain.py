"""The judge against plain Python on model-written programs: every valid problem's own program and every
attempt at it in the given ledgers, judged as mining judges them, and run by plain Python (one interpreter,
the program then each assert, in the judge's own sandbox launcher: `selfmine.sandbox.reference`). Prints how many agree on
every assert's outcome, and each one that does not.

    python scripts/judge_vs_plain.py results/*/s*/run/ledger.sqlite.gz [--limit N] [--out differ.jsonl]

Agreement: the same outcome (passed, failed, error) for every assert; where plain Python gives no outcomes,
the same kind of end (a program that does not load is the judge's `error`; one that runs past the time
limit is its `timeout`, or `memory` where it filled the judge's memory limit first).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sqlite3
import sys
import tempfile
from collections import Counter
from pathlib import Path

from selfmine.ledger import Ledger
from selfmine.sandbox import Job, WorkerPool, judge_many
from selfmine.sandbox.reference import run_plain, sandboxed

CHUNK = 50  # programs judged per call: the progress line moves, and a kill loses little


def programs(path: Path, tmp: Path) -> list[tuple[str, int, str, list[str]]]:
    """(kind, id, code, tests) for a ledger's valid code problems and every attempt at them."""
    if path.suffix == ".gz":
        copy = tmp / (path.parent.parent.name + "-" + path.stem)
        with gzip.open(path) as src, copy.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        path = copy
    ledger = Ledger(path)
    try:
        if ledger.domain() != "code":
            return []
        valid = {p.id: p for p in ledger.problems(status="valid")}
        out = [("proposer", p.id, p.code, p.judge_tests) for p in valid.values()]
        out += [
            ("attempt", a.id, a.code, valid[a.problem_id].judge_tests)
            for a in ledger.attempts()
            if a.problem_id in valid
        ]
        return out
    finally:
        ledger.close()


def agree(verdict, plain: dict) -> bool:
    if "outcomes" in plain:
        return [t.outcome for t in verdict.tests] == plain["outcomes"]
    if "load_error" in plain or "crash" in plain:
        return verdict.status.value == "error"
    return verdict.status.value in ("timeout", "memory")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ledgers", nargs="+", type=Path, help="ledger.sqlite files, gzipped or not")
    ap.add_argument("--limit", type=int, default=0, help="only the first N programs (0: all)")
    ap.add_argument("--timeout", type=float, default=5.0, help="the judge's time limit (mining's default)")
    ap.add_argument("--plain-timeout", type=float, default=10.0, help="plain Python's, in wall seconds")
    ap.add_argument("--out", type=Path, help="write every program that differs here, as JSONL")
    ap.add_argument("--json", action="store_true", help="the summary as JSON on stdout")
    args = ap.parse_args()
    launcher = sandboxed()
    missing = [str(p) for p in args.ledgers if not p.is_file()]
    if missing:
        raise SystemExit(f"judge_vs_plain: no ledger at {', '.join(missing)}")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            todo = [(str(p), *row) for p in args.ledgers for row in programs(p, Path(tmp))]
        except (OSError, EOFError, sqlite3.DatabaseError) as e:  # not gzip, not SQLite, not a ledger
            raise SystemExit(f"judge_vs_plain: cannot read a ledger: {e}") from None
    todo = todo[: args.limit] if args.limit > 0 else todo
    counts, differ = Counter(), []
    with WorkerPool(1) as pool:
        isolation = pool.isolation
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            verdicts = judge_many([Job(code, tests, args.timeout) for *_, code, tests in chunk], pool=pool)
            for (ledger, kind, i, code, tests), v in zip(chunk, verdicts):
                plain = run_plain(code, tests, timeout=args.plain_timeout, launcher=launcher)
                same = agree(v, plain)
                counts["agree" if same else "differ"] += 1
                if not same:
                    judged = [t.outcome for t in v.tests]
                    differ.append(dict(ledger=ledger, kind=kind, id=i, judge=v.status.value, tests=judged, plain=plain))
                    if args.out:
                        with args.out.open("a") as f:
                            f.write(json.dumps({**differ[-1], "code": code, "asserts": tests}) + "\n")
            print(f"{start + len(chunk)}/{len(todo)} programs: {dict(counts)}", file=sys.stderr, flush=True)
    summary = {"programs": len(todo), **counts, "isolation": isolation, "differ": differ}
    if args.json:
        print(json.dumps(summary, indent=1))
        return
    print(
        f"{len(todo)} programs from {len(args.ledgers)} ledgers: {counts['agree']} agree on every assert, "
        f"{counts['differ']} differ (judge isolation: {isolation})"
    )
    for d in differ:
        print(f"  {d['ledger']} {d['kind']} {d['id']}: judge {d['judge']} {d['tests']}, plain {d['plain']}")


if __name__ == "__main__":
    main()
