"""Generation on a Ray cluster: one engine actor per GPU (per CPU-only node for the hf engine), prompts
cut into shards that idle actors pull, completions reassembled in prompt order. Every prompt keeps its own
seed (`engine.records.prompt_seeds`), so the samples do not depend on how the prompts were sharded, on
which actor ran them, or on a shard being run again after its actor died. Adapters travel as bytes
through Ray's object store and are written once per node: they are applied per request, never merged."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from ..engine import get_engine
from ..engine.base import Engine, EngineError
from ..engine.records import Completion, SamplingParams, prompt_seeds
from .cluster import ray_init
from .nodes import live_nodes, pinned_actor_options

SHARDS_PER_ACTOR = 4  # more shards than actors: a slow actor gets fewer, and the progress bar moves
ADAPTER_CACHE = Path(tempfile.gettempdir()) / "selfmine-adapters"


class EngineNode:
    """One local engine inside a Ray actor (wrapped by `ray.remote` in `RayEngine`)."""

    def __init__(self, backend: str, model: str | None, kwargs: dict):
        self.engine = get_engine(backend, model, **kwargs)

    def generate(self, prompts, params, seeds, adapter) -> list[list[Completion]]:
        return self.engine.generate(prompts, params, adapter=self._adapter(adapter), seeds=seeds)

    def _adapter(self, adapter) -> str | None:
        """`adapter`: None, or (digest, [object ref of its files]). The ref sits in a list so that Ray
        does not fetch the bytes unless this node has not written them yet."""
        if adapter is None:
            return None
        digest, (ref,) = adapter
        path = ADAPTER_CACHE / digest
        if not (path / "adapter_config.json").exists():
            import ray

            tmp = Path(tempfile.mkdtemp(dir=ADAPTER_CACHE.parent, prefix=".adapter-"))
            write_files(ray.get(ref), tmp)
            ADAPTER_CACHE.mkdir(exist_ok=True)
            try:
                os.rename(tmp, path)  # atomic: two actors on one node may race; the first wins
            except OSError:
                import shutil

                shutil.rmtree(tmp, ignore_errors=True)
        return str(path)

    def info(self) -> dict:
        return {**self.engine.info(), "pid": os.getpid()}

    def pid(self) -> int:
        return os.getpid()


def write_files(files: dict[str, bytes], root: Path) -> None:
    """The inverse of `adapter_files`: {relative name: bytes} written under `root`."""
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def adapter_files(path: str | Path) -> tuple[str, dict[str, bytes]]:
    """An adapter directory as (sha256 over names and bytes, {relative name: bytes})."""
    root = Path(path)
    files = {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file()}
    h = hashlib.sha256()
    for rel, data in files.items():
        h.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()[:32], files


class RayEngine(Engine):
    def __init__(
        self,
        address: str,
        backend: str = "hf",
        model: str | None = None,
        kwargs: dict | None = None,
        per_node: int | None = None,
    ):
        """`per_node`: engine actors per node (default: one per GPU; one per node without GPUs)."""
        ray = ray_init(address)
        self.ray, self.name, self.model_name = ray, f"ray:{backend}", model or "default"
        kwargs = dict(kwargs or {})
        self.batch_rows = int(kwargs.get("batch_size") or 256)  # rows one engine call decodes well together
        gpus_each = int(kwargs.get("tensor_parallel_size", 1) or 1)
        remote = ray.remote(EngineNode)
        self.actors, self.holds_accelerator = [], False
        for node in live_nodes(ray):
            res = node.get("Resources", {})
            gpus, cpus = int(res.get("GPU", 0)), max(1, int(res.get("CPU", 1)))
            count = per_node or max(1, gpus // gpus_each)
            opts = pinned_actor_options(node)  # a shard on a dead actor runs again after its restart
            node_kwargs = dict(kwargs)
            if gpus >= gpus_each:
                opts |= {"num_gpus": gpus_each, "num_cpus": 1}
                self.holds_accelerator = True
            else:
                opts["num_cpus"] = 0  # it uses the node's cores through torch threads, not Ray's CPU slots
                if backend == "hf":
                    node_kwargs.setdefault("threads", max(1, cpus // count))
                elif backend == "vllm":
                    raise EngineError(f"the vllm backend needs a GPU; node {node['NodeManagerAddress']} has none")
            self.actors += [remote.options(**opts).remote(backend, model, node_kwargs) for _ in range(count)]
        if not self.actors:
            raise EngineError("the Ray cluster has no live node")
        self._adapters: dict[str, tuple] = {}

    def info(self) -> dict:
        first = self.ray.get(self.actors[0].info.remote())
        first.pop("pid", None)
        return {**first, "backend": self.name, "model": self.model_name, "ray_engine_actors": len(self.actors)}

    def _adapter(self, adapter: str | None):
        if adapter is None:
            return None
        key = os.path.realpath(adapter)
        if key not in self._adapters:
            digest, files = adapter_files(key)
            self._adapters[key] = (digest, [self.ray.put(files)])
        return self._adapters[key]

    def generate(self, prompts, params: SamplingParams, adapter=None, progress=False, seeds=None):
        prompts = list(prompts)
        seeds = prompt_seeds(params, len(prompts), seeds)
        if not prompts:
            return []
        payload = self._adapter(adapter)
        # several shards per actor, but none smaller than one full batch of the engine: a small shard
        # decodes a small batch, which wastes what batching gives (measured: 0.38x on one node)
        size = max(-(-len(prompts) // (len(self.actors) * SHARDS_PER_ACTOR)), self.batch_rows // params.n, 1)
        shards = [(i, prompts[i : i + size], seeds[i : i + size]) for i in range(0, len(prompts), size)]
        results: list[list[Completion] | None] = [None] * len(prompts)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(prompts) * params.n, desc=f"generate ({len(self.actors)} actors)", unit="seq")
        queue, running = list(reversed(shards)), {}
        idle = list(self.actors)
        try:
            while queue or running:
                while queue and idle:  # idle actors pull the next shard
                    actor = idle.pop()
                    first, ps, ss = queue.pop()
                    running[actor.generate.remote(ps, params, ss, payload)] = (actor, first, len(ps))
                done, _ = self.ray.wait(list(running), num_returns=1)
                actor, first, count = running.pop(done[0])
                try:
                    rows = self.ray.get(done[0])
                except self.ray.exceptions.RayError as e:
                    raise EngineError(f"generation failed on the Ray cluster: {str(e).splitlines()[0][:300]}") from e
                results[first : first + count] = rows
                idle.append(actor)
                if bar:
                    bar.update(count * params.n)
        finally:
            if bar:
                bar.close()
        return results  # type: ignore[return-value]

    def close(self) -> None:
        """Kill the actors: on GPUs this gives their memory back before training."""
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []
