"""Math judge throughput: selfmine's checker (warm math-verify helper processes with a hard deadline, one
per worker) vs the naive safe way (a fresh interpreter per check, so a runaway check can be killed), on
the same GSM8K and MATH-500 answers, in the same run, with the same number of checks in flight. Half the
samples restate the reference answer in another notation, half are off by one. Prints the ratio last.

    python benchmarks/math_judge.py [--checks 400] [--naive-checks 40] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from selfmine.tasks.math_bench import load_tasks
from selfmine.tasks.mathcheck import MathChecker

NAIVE = r"""
import json, sys
from math_verify import parse, verify
gold, pred = json.loads(sys.argv[1])
g = parse("$" + gold + "$", parsing_timeout=None)
p = parse(pred, parsing_timeout=None)
print(json.dumps(bool(g and p and verify(g, p, timeout_seconds=None))))
"""


def corpus(n: int) -> list[tuple[str, str, bool]]:
    rows = []
    for bench in ("gsm8k", "math500"):
        tasks, _ = load_tasks(bench)
        for t in tasks:
            try:
                num = float(t.answer.replace(",", ""))
            except ValueError:
                rows.append((t.answer, f"The answer is $\\boxed{{{t.answer}}}$.", True))
                continue
            restated = f"{num:,.1f}" if len(rows) % 2 else f"{num}"
            rows.append((t.answer, f"So it is {restated}.\n#### {restated}", True))
            rows.append((t.answer, f"#### {num + 1:g}", False))
    step = max(1, len(rows) // n)
    return rows[::step][:n]


def naive_one(gold: str, pred: str) -> bool:
    out = subprocess.run(
        [sys.executable, "-c", NAIVE, json.dumps([gold, pred])], capture_output=True, text=True, timeout=30
    )
    return out.stdout.strip() == "true"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checks", type=int, default=400)
    ap.add_argument("--naive-checks", type=int, default=40, help="the naive side is slow: a subset, rated per check")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    rows = corpus(args.checks)
    from selfmine.tasks.math import final_answer

    ck = MathChecker(workers=args.workers)
    ck.check_many([(g, final_answer(p)) for g, p, _ in rows[: args.workers * 2]])  # warm: helpers start
    t = time.perf_counter()
    ours = ck.check_many([(g, final_answer(p)) for g, p, _ in rows])
    ours_s = time.perf_counter() - t
    ck.close()
    wrong = sum(c.equal != want for c, (_, _, want) in zip(ours, rows))

    sub = rows[: args.naive_checks]
    with ThreadPoolExecutor(args.workers) as pool:
        list(pool.map(lambda r: naive_one(r[0], final_answer(r[1]) or ""), sub[: args.workers]))  # warm the page cache
        t = time.perf_counter()
        naive = list(pool.map(lambda r: naive_one(r[0], final_answer(r[1]) or ""), sub))
        naive_s = time.perf_counter() - t
    naive_wrong = sum(v != want for v, (_, _, want) in zip(naive, sub))

    ours_rate, naive_rate = len(rows) / ours_s, len(sub) / naive_s
    print(
        f"selfmine checker: {len(rows)} checks in {ours_s:.2f}s = {ours_rate:.1f} checks/s ({wrong} disagree with the label)"
    )
    print(f"naive (fresh interpreter per check): {len(sub)} checks in {naive_s:.2f}s = {naive_rate:.2f} checks/s "
          f"({naive_wrong} disagree)")  # fmt: skip
    print(f"ratio: {ours_rate / naive_rate:.1f}x checks per second ({args.workers} workers each)")


if __name__ == "__main__":
    main()
