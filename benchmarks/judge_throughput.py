"""Judge throughput: selfmine's warm, isolated judge vs the naive way (one `python file.py` per program, the real
interpreter rather than a shim, as the reference implementation does), on the same corpus, in the same run.
The naive side runs as many programs at once as the judge has workers, so both use every core. Prints the
ratio last.

    python benchmarks/judge_throughput.py [--programs 240] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from selfmine.sandbox import Job, WorkerPool, judge_many

TEMPLATES = [
    (
        "def f(xs):\n    return sorted(xs){bug}\n",
        ["assert f([3, 1, 2]) == [1, 2, 3]", "assert f([]) == []", "assert f([1]) == [1]"],
        "[::-1]",
    ),
    (
        "def f(s):\n    return s[::-1]{bug}\n",
        ["assert f('abc') == 'cba'", "assert f('') == ''", "assert f('a') == 'a'"],
        ".upper()",
    ),
    (
        "def f(n):\n    return sum(range(n + 1)){bug}\n",
        ["assert f(3) == 6", "assert f(0) == 0", "assert f(10) == 55"],
        " + 1",
    ),
    (
        "def f(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a{bug}\n",
        ["assert f(0) == 0", "assert f(10) == 55", "assert f(20) == 6765"],
        " * 2",
    ),
    (
        "def f(xs):\n    return max(xs){bug}\n",
        ["assert f([1, 5, 3]) == 5", "assert f([-1]) == -1", "assert f([2, 2]) == 2"],
        " - 1",
    ),
    (
        "def f(s):\n    return len(set(s)){bug}\n",
        ["assert f('aab') == 2", "assert f('') == 0", "assert f('abc') == 3"],
        " + 0.5",
    ),
    (
        "def f(n):\n    return all(n % d for d in range(2, int(n ** 0.5) + 1)) and n > 1{bug}\n",
        ["assert f(7)", "assert not f(8)", "assert f(97)"],
        " and n < 50",
    ),
    (
        "import math\ndef f(a, b):\n    return math.gcd(a, b){bug}\n",
        ["assert f(12, 18) == 6", "assert f(7, 5) == 1", "assert f(0, 3) == 3"],
        " + 1",
    ),
]


def corpus(n: int) -> list[Job]:
    jobs = []
    for i in range(n):
        code, tests, bug = TEMPLATES[i % len(TEMPLATES)]
        wrong = (i // len(TEMPLATES)) % 3 == 2  # a third of the programs fail
        jobs.append(Job(code.format(bug=bug if wrong else ""), tests, timeout=10))
    return jobs


def naive(jobs: list[Job], workers: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i, job in enumerate(jobs):
            paths.append(os.path.join(d, f"p{i}.py"))
            with open(paths[-1], "w") as f:
                f.write(job.code + "\n" + "\n".join(job.tests) + "\n")

        def one(i: int) -> bool:
            return (
                subprocess.run([sys.executable, paths[i]], capture_output=True, timeout=jobs[i].timeout).returncode == 0
            )

        with ThreadPoolExecutor(workers) as ex:  # threads only wait: each program is its own process
            list(ex.map(one, range(min(workers, len(jobs)))))  # warm the page cache
            start = time.perf_counter()
            passed = sum(ex.map(one, range(len(jobs))))
            return time.perf_counter() - start, passed


def selfmine(jobs: list[Job], workers: int) -> tuple[float, int, str]:
    with WorkerPool(workers) as pool:
        judge_many(jobs[:workers], pool=pool)  # start the sandboxes (once per process)
        start = time.perf_counter()
        verdicts = judge_many(jobs, pool=pool)
        elapsed = time.perf_counter() - start
        return elapsed, sum(v.passed for v in verdicts), pool.isolation


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--programs", type=int, default=240)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    jobs = corpus(args.programs)
    t_naive, p_naive = naive(jobs, args.workers)
    t_judge, p_judge, mode = selfmine(jobs, args.workers)
    assert p_naive == p_judge, f"verdicts disagree: naive {p_naive} passed, judge {p_judge}"
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {len(jobs)} programs, {p_judge} pass")
    print(
        f"naive subprocess.run([python, file]) x{args.workers}: {len(jobs) / t_naive:8.1f} programs/s  (no isolation)"
    )
    print(f"selfmine judge_many ({args.workers} workers):   {len(jobs) / t_judge:8.1f} programs/s  (isolation: {mode})")
    print(f"ratio: {t_naive / t_judge:.1f}x")


if __name__ == "__main__":
    main()
