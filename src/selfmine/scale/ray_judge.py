"""Judging on a Ray cluster: one long-lived actor per node owns a warm sandbox pool sized to the node's
cores; the driver cuts the jobs into batches, hands them out round-robin, and reassembles the verdicts in
input order. An actor whose process dies is restarted by Ray (on its node, or elsewhere if the node is
gone) and its batch runs again; what cannot be judged after that comes back as a sandbox error, which no
stage ever scores as the program's."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from ..sandbox import WorkerPool
from ..sandbox.judge import judge_many as local_judge_many
from ..sandbox.verdict import Status, Verdict
from .cluster import ray_init
from .nodes import live_nodes, pinned_actor_options

# Jobs per actor call. A call costs tens of milliseconds (measured here: batches of 8 ran at half the
# local rate, batches of 32 at the local rate), so a call carries as many jobs as still gives every
# node's concurrent slots two calls each, between these bounds.
MIN_BATCH, MAX_BATCH = 8, 64
CONCURRENT_BATCHES = 2  # per actor: one batch's slowest program does not idle the node's other workers


class JudgeNode:
    """Runs inside a Ray worker on one node (wrapped by `ray.remote` at connect time)."""

    def __init__(self, workers: int):
        self.pool = WorkerPool(workers)

    def judge(self, jobs: list) -> list[Verdict]:
        return local_judge_many(jobs, pool=self.pool)

    def pid(self) -> int:
        return os.getpid()

    def info(self) -> dict:
        return {"pid": os.getpid(), "workers": self.pool.size, "isolation": self.pool.isolation}


class RayJudge:
    def __init__(self, address: str, batch: int | None = None, workers: int | None = None):
        """`workers`: sandbox workers per node (default: the node's CPU count)."""
        ray = ray_init(address)
        self.ray, self.batch = ray, batch
        remote = ray.remote(JudgeNode)
        self.actors = []
        for node in live_nodes(ray):
            cpus = workers or max(1, int(node.get("Resources", {}).get("CPU", 1)))
            # num_cpus=0: the sandbox processes are its work; the CPU resource stays free for stages
            opts = pinned_actor_options(node, num_cpus=0, max_concurrency=CONCURRENT_BATCHES)
            self.actors.append(remote.options(**opts).remote(cpus))
        if not self.actors:
            raise RuntimeError("the Ray cluster has no live node")
        self._lock = threading.Lock()
        self._next = 0

    def info(self) -> list[dict]:
        return self.ray.get([a.info.remote() for a in self.actors])

    def judge_many(self, jobs, on_result: Callable[[int, Verdict], None] | None = None) -> list[Verdict]:
        jobs = list(jobs)
        size = self.batch or min(
            MAX_BATCH, max(MIN_BATCH, -(-len(jobs) // (len(self.actors) * CONCURRENT_BATCHES * 2)))
        )
        batches = [(i, jobs[i : i + size]) for i in range(0, len(jobs), size)]
        with self._lock:  # concurrent callers share the round-robin
            start, self._next = self._next, self._next + len(batches)
        futures = [self.actors[(start + k) % len(self.actors)].judge.remote(b) for k, (_, b) in enumerate(batches)]
        out: list[Verdict] = []
        for (first, b), f in zip(batches, futures):
            try:
                verdicts = self.ray.get(f)
            except self.ray.exceptions.RayError as e:  # the cluster failed, not the program
                why = f"ray: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
                verdicts = [Verdict(Status.SANDBOX_ERROR, why, isolation="ray") for _ in b]
            for k, v in enumerate(verdicts):
                if on_result:
                    on_result(first + k, v)
            out += verdicts
        return out

    def close(self) -> None:
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []


_SHARED: RayJudge | None = None


def shared(address: str) -> RayJudge:
    """This process's judge actors, made on first use and kept (a process connects to one cluster):
    `scale.connected` blocks reuse them. It routes nothing by itself."""
    global _SHARED
    if _SHARED is None:
        _SHARED = RayJudge(address)
    return _SHARED


def close_shared() -> None:
    global _SHARED
    if _SHARED is not None:
        _SHARED.close()
        _SHARED = None
