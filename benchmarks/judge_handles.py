"""What a value costs to cross from the program's process to the tests process, per item, against plain
Python running the same program and asserts in one process (what a user without a judge would run).

The judge runs the model's code and the tests in two processes (sandbox/worker/__init__.py), so every call,
method call on a program object, or item of a program's iterator is a round trip (two for a method call: the
attribute, then the call). Each case runs at two sizes (20x larger where items cross in batches); the cost
per item is the difference of the two times over the difference of the sizes, so the fixed costs (starting
the program, the sandbox) cancel out. Plain Python is timed inside its interpreter. Best of --repeat runs
each. Prints, per case, microseconds per item for plain Python and for the judge, and their ratio.

    python benchmarks/judge_handles.py [--small 1000] [--large 11000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
import time

from selfmine.sandbox import Job, WorkerPool, judge_many
from selfmine.sandbox.isolation import interpreter

# name -> (program, assert with {n}); every assert passes in plain Python
CASES = {
    "function call": (
        "def f(i):\n    return i + 1\n",
        "assert sum(f(i) for i in range({n})) == {n} * ({n} + 1) // 2",
    ),
    "method call on a program object": (
        "class Acc:\n    def __init__(self):\n        self.total = 0\n"
        "    def add(self, k):\n        self.total += k\n\ndef make():\n    return Acc()\n",
        "assert (lambda a: [a.add(1) for _ in range({n})] and a.total)(make()) == {n}",
    ),
    "program iterator class (a handle per item)": (
        "class Count:\n    def __init__(self, n):\n        self.i, self.n = 0, n\n"
        "    def __iter__(self):\n        return self\n"
        "    def __next__(self):\n        if self.i >= self.n:\n            raise StopIteration\n"
        "        self.i += 1\n        return self.i\n",
        "assert sum(Count({n})) == {n} * ({n} + 1) // 2",
    ),
    "generator (items in batches)": (
        "def count(n):\n    yield from range(1, n + 1)\n",
        "assert sum(count({n})) == {n} * ({n} + 1) // 2",
    ),
    "list returned whole": (
        "def make(n):\n    return list(range(1, n + 1))\n",
        "assert sum(make({n})) == {n} * ({n} + 1) // 2",
    ),
}


# cases whose items cross in batches cost about 1 us each: more of them, so the difference is above the noise
SCALE = {"generator (items in batches)": 20, "list returned whole": 20}


def plain_seconds(code: str, test: str, python: str) -> float:
    """One plain interpreter running the program, then the assert timed inside it (an interpreter's start
    would drown microseconds of work in milliseconds of noise)."""
    timed = f"import time as _t\n_s = _t.perf_counter()\n{test}\nprint(_t.perf_counter() - _s)\n"
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code + "\n" + timed)
    try:
        done = subprocess.run([python, f.name], capture_output=True, timeout=120)
    finally:
        os.unlink(f.name)
    if done.returncode != 0:
        raise SystemExit(f"plain Python failed its own assert: {done.stderr.decode()[-300:]}")
    return float(done.stdout.split()[-1])


def judge_seconds(code: str, test: str, pool: WorkerPool) -> float:
    start = time.perf_counter()
    (verdict,) = judge_many([Job(code, [test], timeout=120)], pool=pool)
    elapsed = time.perf_counter() - start
    if not verdict.passed:
        raise SystemExit(f"the judge failed a right program: {verdict}")
    return elapsed


def per_item(measure, code: str, test: str, *, small: int, large: int, repeat: int) -> float:
    """Microseconds per item: (best time at `large` - best time at `small`) / (large - small)."""
    best = {}
    for n in (small, large):
        best[n] = min(measure(code, test.format(n=n)) for _ in range(repeat))
    return (best[large] - best[small]) / (large - small) * 1e6


def cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    except OSError:
        return platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", type=int, default=1000, help="items in the small run")
    ap.add_argument("--large", type=int, default=11000, help="items in the large run")
    ap.add_argument("--repeat", type=int, default=3, help="runs per size; the best counts")
    ap.add_argument("--case", action="append", choices=sorted(CASES), help="only these cases (repeatable)")
    args = ap.parse_args()
    if not 0 < args.small < args.large:
        raise SystemExit("judge_handles: need 0 < --small < --large")
    python = interpreter()  # the sandbox's own interpreter: both sides run the same Python
    sizes = dict(small=args.small, large=args.large, repeat=args.repeat)
    with WorkerPool(1) as pool:
        judge_many([Job("def f():\n    return 1\n", ["assert f() == 1"])], pool=pool)  # start the sandbox
        print(f"{cpu()}, {os.cpu_count()} cores, python {python}, isolation {pool.isolation}")
        print(f"{'case':45s} {'plain us/item':>14s} {'judge us/item':>14s} {'judge / plain':>14s}")
        for name in args.case or CASES:
            code, test = CASES[name]
            scaled = {**sizes, **{k: sizes[k] * SCALE.get(name, 1) for k in ("small", "large")}}
            plain = per_item(lambda c, t: plain_seconds(c, t, python), code, test, **scaled)
            judged = per_item(lambda c, t: judge_seconds(c, t, pool), code, test, **scaled)
            ratio = judged / plain if plain > 0 else float("inf")
            print(f"{name:45s} {plain:14.3f} {judged:14.2f} {ratio:13.0f}x", flush=True)


if __name__ == "__main__":
    main()
