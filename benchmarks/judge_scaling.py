"""Judge throughput on a local Ray cluster against the local pool, in the same run, on the same programs:
for each worker count, the local `WorkerPool(w)` and a Ray judge whose one node actor owns `w` workers.
Prints programs per second for both, the overhead per program Ray adds, and the ratio last.

    python benchmarks/judge_scaling.py [--programs 160] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import time

from selfmine.sandbox import Job, WorkerPool, judge_many


def corpus(n: int) -> list[Job]:
    return [
        Job(
            f"def f(xs):\n    return sorted(xs){'[::-1]' if i % 3 == 0 else ''}\n",
            ["assert f([3, 1, 2]) == [1, 2, 3]"],
            10,
        )
        for i in range(n)
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--programs", type=int, default=160)
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()
    import ray

    from selfmine.scale.ray_judge import RayJudge

    jobs = corpus(args.programs)
    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    rows = []
    for w in [int(x) for x in args.workers.split(",")]:
        pool = WorkerPool(w)
        judge_many(jobs[: 2 * w], pool=pool)  # warm: workers started
        t = time.perf_counter()
        local = judge_many(jobs, pool=pool)
        local_s = time.perf_counter() - t
        pool.close()
        rj = RayJudge("auto", workers=w)
        rj.judge_many(jobs[: 2 * w * 8])  # warm: actor and its workers started
        t = time.perf_counter()
        remote = rj.judge_many(jobs)
        ray_s = time.perf_counter() - t
        rj.close()
        same = [v.status for v in local] == [v.status for v in remote]
        rows.append((w, len(jobs) / local_s, len(jobs) / ray_s, (ray_s - local_s) / len(jobs) * 1000, same))
    ray.shutdown()
    for w, lr, rr, over, same in rows:
        print(f"workers {w}: local pool {lr:.1f} programs/s, ray {rr:.1f} programs/s, "
              f"ray overhead {over:+.2f} ms/program, same verdicts: {same}")  # fmt: skip
    w, lr, rr, _, _ = rows[-1]
    print(f"ratio (ray / local, {w} workers): {rr / lr:.2f}x")


if __name__ == "__main__":
    main()
