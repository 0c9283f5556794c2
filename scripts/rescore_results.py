"""Re-score committed results after a fix to the scorer, and say so in each result.

    python scripts/rescore_results.py --bench mbpp+ --tasks Mbpp/737,Mbpp/787 results/*/s*/*.json ...

A result's verdicts are a function of its samples (committed beside it) and the scorer, so a scorer fix is
applied to committed results by judging their samples again, never by generating anything. For each result
JSON holding the bench: the given tasks' samples are judged again with this checkout's scorer; where a
verdict changed, the sample's record is replaced, the bench's summary is computed again from every task
(the function `selfmine eval` uses), and a `rescored` entry records the commit, the date, the reason and
each change. Only the given tasks are judged: they are the ones the fix touches (list them from the fix);
`make check-results` then judges every committed sample again and must agree with the files.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
from pathlib import Path

from selfmine.evaluate import evaluate
from selfmine.evaluate.run import summarise
from selfmine.tasks.base import SampleResult
from selfmine.tasks.code_bench import BENCHES
from selfmine.tasks.math_bench import MATH_BENCHES

FIELDS = ("passed", "base_passed", "status", "message", "duration_s")


def _result(sample: dict) -> SampleResult | None:
    return None if sample.get("passed") is None else SampleResult(**{k: sample[k] for k in FIELDS})


def rescore(path: Path, bench: str, tasks: set[str], reason: str, commit: str) -> list[dict]:
    """Judge the given tasks' samples of one result again; write the file if a verdict changed."""
    text = path.read_text()
    committed = json.loads(text)
    summary = committed["benches"][bench]
    rows = [json.loads(line) for line in (path.parent / "samples" / f"{path.stem}.{bench}.jsonl").open()]
    rows = [r for r in rows if r["task_id"] in tasks]
    again = evaluate(None, [bench], fmt=committed["format"], samples={bench: rows}, progress=False, echo=lambda _: None)
    fresh = {t["task_id"]: t["samples"] for t in again["benches"][bench]["per_task"]}
    changes = []
    for task in summary["per_task"]:
        for i, (old, new) in enumerate(zip(task["samples"], fresh.get(task["task_id"], []))):
            if (old.get("passed"), old.get("base_passed")) != (new.get("passed"), new.get("base_passed")):
                was = {"passed": old.get("passed"), "base_passed": old.get("base_passed")}
                changes.append({"task_id": task["task_id"], "sample": i, "was": was, "now": {k: new[k] for k in was}})
                task["samples"][i] = {"completion": old.get("completion"), **{k: new.get(k) for k in FIELDS}}
    if changes:
        results = [[_result(s) for s in t["samples"]] for t in summary["per_task"]]
        choice = [t.get("selected") for t in summary["per_task"]]
        n = max(len(t["samples"]) for t in summary["per_task"])
        selector = summary.get("best_of_n", {}).get("selector", "")
        summary.update(summarise(summary["per_task"], results, n, choice if n > 1 else None, selector=selector))
        committed.setdefault("rescored", []).append(
            {
                "commit": commit,
                "date": datetime.date.today().isoformat(),
                "bench": bench,
                "why": reason,
                "changes": changes,
            }
        )
        path.write_text(json.dumps(committed, indent=1) + ("\n" if text.endswith("\n") else ""))
    return changes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", type=Path, help="result JSONs (those without the bench are skipped)")
    ap.add_argument("--bench", required=True, choices=BENCHES + MATH_BENCHES)
    ap.add_argument("--tasks", required=True, help="comma-separated task ids the scorer fix touches")
    ap.add_argument("--why", required=True, help="the fix, in words (recorded in each changed result)")
    args = ap.parse_args()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    tasks = {t.strip() for t in args.tasks.split(",") if t.strip()}
    if not tasks:
        ap.error("--tasks names no task")
    for path in args.results:
        try:  # bad input: one line naming the file, not a traceback
            if args.bench not in json.loads(path.read_text()).get("benches", {}):
                continue
            changes = rescore(path, args.bench, tasks, args.why, commit)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise SystemExit(f"rescore_results: {path}: {type(e).__name__}: {e}") from None
        for c in changes:
            print(f"{path}: {c['task_id']} sample {c['sample']}: {c['was']} -> {c['now']}")


if __name__ == "__main__":
    main()
