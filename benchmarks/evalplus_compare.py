"""selfmine's judge against EvalPlus's own evaluator on the same samples: verdicts (plus tests and base tests)
and wall time, same cores, both warmed up, in one run.

EvalPlus runs in its own virtual environment (it pins dependencies selfmine does not need), as a subprocess
of this script; its data is pointed at selfmine's shipped copy (`HUMANEVAL_OVERRIDE_PATH` /
`MBPP_OVERRIDE_PATH`, the same pinned release files), and its expected outputs are computed once before
the timed run (its ground-truth cache), as selfmine's warm pool is started before its timed run.

    python3 -m venv /tmp/venv-evalplus && /tmp/venv-evalplus/bin/pip install evalplus==0.3.1
    python benchmarks/evalplus_compare.py --evalplus-python /tmp/venv-evalplus/bin/python \
        [--bench humaneval+] [--samples results/cpu-qwen2.5-coder-0.5b/s1/samples/base.humaneval+.jsonl]

Prints a table of agreement and every task on which the two disagree, then the time ratio last.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selfmine.evaluate import evaluate

ROOT = Path(__file__).resolve().parent.parent
DATA = {
    "humaneval+": ("humaneval", "HUMANEVAL_OVERRIDE_PATH", "humanevalplus/HumanEvalPlus.jsonl.gz"),
    "mbpp+": ("mbpp", "MBPP_OVERRIDE_PATH", "mbppplus/MbppPlus.jsonl.gz"),
}
DRIVER = """
import json, os, sys, time
from evalplus.evaluate import evaluate
dataset, samples, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
result = samples.replace(".jsonl", "_eval_results.json")
if os.path.exists(result):
    os.remove(result)  # else it asks on stdin whether to overwrite
start = time.perf_counter()
evaluate(dataset=dataset, samples=samples, parallel=workers, i_just_wanna_run=True)
print(json.dumps({"wall_s": time.perf_counter() - start}))
"""


def run_evalplus(python: str, bench: str, samples: Path, workers: int, tmp: Path) -> tuple[dict, float]:
    """EvalPlus's verdicts {(task_id, i): (plus, base)} for the i-th sample of each task, and its wall time
    (ground truth cached by a first run). EvalPlus keeps a task's results in the order of its samples."""
    dataset, env_name, data = DATA[bench]
    plain = tmp / "data.jsonl"
    plain.write_bytes(gzip.decompress((ROOT / "src/selfmine/data" / data).read_bytes()))
    copy = tmp / "samples.jsonl"
    copy.write_text(samples.read_text())
    env = {**os.environ, env_name: str(plain)}
    timings = []
    for _ in range(2):  # the first computes (and caches) the expected outputs: a warm-up
        out = subprocess.run(
            [python, "-c", DRIVER, dataset, str(copy), str(workers)], env=env, capture_output=True, text=True
        )
        if out.returncode:
            sys.exit(f"evalplus failed:\n{out.stderr[-3000:]}")
        timings.append(json.loads(out.stdout.strip().splitlines()[-1])["wall_s"])
    results = json.loads((tmp / "samples_eval_results.json").read_text())["eval"]
    verdicts = {}
    for task_id, rows in results.items():
        for i, row in enumerate(rows):
            base_ok = row["base_status"] == "pass"
            verdicts[task_id, i] = (base_ok and row["plus_status"] == "pass", base_ok)
    return verdicts, timings[-1]


def run_selfmine(bench: str, rows: list[dict]) -> tuple[dict, float]:
    """selfmine's verdicts {(task_id, i): (plus, base)} and its wall time (its worker pool warmed up first)."""
    quiet = dict(progress=False, echo=lambda s: None, model_written_tests=0)
    evaluate(None, [bench], samples={bench: rows[:4]}, limit=4, **quiet)  # starts the warm pool
    start = time.perf_counter()
    report = evaluate(None, [bench], samples={bench: rows}, **quiet)
    wall = time.perf_counter() - start
    out = {}
    for t in report["benches"][bench]["per_task"]:
        for i, s in enumerate(t["samples"]):
            out[t["task_id"], i] = (bool(s["passed"]), bool(s["base_passed"]))
    return out, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--evalplus-python", required=True, help="the python of a virtualenv with evalplus installed")
    ap.add_argument("--bench", choices=sorted(DATA), default="humaneval+")
    ap.add_argument("--samples", type=Path, help="EvalPlus samples (default: seed 1's committed base samples)")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    args = ap.parse_args()
    samples = args.samples or ROOT / f"results/cpu-qwen2.5-coder-0.5b/s1/samples/base.{args.bench}.jsonl"
    rows = [json.loads(line) for line in samples.read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        theirs, their_wall = run_evalplus(args.evalplus_python, args.bench, samples, args.workers, Path(tmp))
    ours, our_wall = run_selfmine(args.bench, rows)
    tasks = sorted(set(ours) & set(theirs))
    n_tasks = len({t for t, _ in tasks})
    print(
        f"{args.bench}: {len(tasks)} samples of {n_tasks} tasks, {samples}, {args.workers} workers, {os.cpu_count()} cores"
    )
    print("| score | selfmine passes | EvalPlus passes | same verdict | differ |")
    print("|---|---|---|---|---|")
    for k, name in ((0, "plus tests"), (1, "base tests")):
        differ = [t for t in tasks if ours[t][k] != theirs[t][k]]
        mine, evp = sum(ours[t][k] for t in tasks), sum(theirs[t][k] for t in tasks)
        print(f"| {name} | {mine} | {evp} | {len(tasks) - len(differ)} | {len(differ)} |")
        for t in differ:
            print(
                f"|  | {t[0]} sample {t[1]}: selfmine {'pass' if ours[t][k] else 'fail'}, EvalPlus {'pass' if theirs[t][k] else 'fail'} |"
            )
    print(f"wall time: selfmine {our_wall:.1f} s, EvalPlus {their_wall:.1f} s")
    print(f"ratio (EvalPlus time / selfmine time): {their_wall / our_wall:.2f}x")


if __name__ == "__main__":
    main()
