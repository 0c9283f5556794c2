"""A study's arms as Ray tasks: training arms on GPU nodes (or whole CPU nodes), evaluation arms wherever
there is room, each evaluation of an adapter scheduled after its training. The tasks never see the ledger:
the driver reads the pairs, ships them, and alone writes what comes back (adapter files, reports) and
marks each arm done in the ledger as it arrives, so a killed driver resumes with the arms it lacks."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

from tqdm import tqdm

from ..config import EngineConfig, ScaleConfig, TrainConfig
from ..engine.auto import mode_of
from ..evaluate import evaluate, write
from ..scale import make_engine
from ..scale.cluster import ray_init
from ..scale.nodes import live_nodes
from ..scale.ray_engine import adapter_files, write_files
from ..train.run import fit, load_pairs, losses_of
from .errors import StudyError
from .plan import seed_free, subset


def _where() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def train_arm(train_cfg: dict, model: str | None, pairs, keep, *, source: str, domain: str, pair_ids) -> dict:
    """Runs in a Ray task: one adapter, returned as its files (training.json included)."""
    with tempfile.TemporaryDirectory() as d:
        record = fit(
            TrainConfig(**train_cfg),
            d,
            pairs,
            keep,
            source=source,
            domain_name=domain,
            model=model,
            progress=False,
            echo=lambda s: None,
            pair_ids=pair_ids,
        )
        _, files = adapter_files(d)
    losses = losses_of(record)
    return {"files": files, "pairs": record["pairs"], "losses": losses, "ran_on": _where()}


def eval_arm(engine_cfg: dict, kwargs: dict, trained: dict | None) -> dict:
    """Runs in a Ray task: one evaluation, with the adapter's files when the arm is tuned. A training
    task's result passed here makes Ray run this task after that training."""
    mode = mode_of(n=kwargs.get("n", 1), temperature=kwargs.get("temperature", 0.0))
    engine = make_engine(EngineConfig(**engine_cfg), ScaleConfig(), mode)  # auto: decided on this node
    try:
        with tempfile.TemporaryDirectory() as d:
            if trained is not None:
                write_files(trained["files"], Path(d))
            report = evaluate(engine, adapter=d if trained else None, progress=False, echo=lambda s: None, **kwargs)
    finally:
        engine.close()
    report["ran_on"] = _where()
    return report


def _tasks(ray, cfg):
    """The training and evaluation functions as Ray tasks: one GPU each where the cluster has GPUs, else
    `scale.arm_cpus` CPUs (default: a whole node's)."""
    alive = live_nodes(ray)
    gpus = any(n.get("Resources", {}).get("GPU", 0) for n in alive)
    cpus = cfg.scale.arm_cpus or min(max(1, int(n.get("Resources", {}).get("CPU", 1))) for n in alive)
    opts = {"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": cpus}
    return ray.remote(max_retries=2)(train_arm).options(**opts), ray.remote(max_retries=2)(eval_arm).options(**opts)


def _submit(ray, study, *, adapters, arms, pair_ids: list[int], eval_kwargs) -> dict:
    """{object ref: ("train" | "eval", adapter or arm, the training's pair ids)} for every arm the ledger
    lacks; an evaluation of an adapter trained now waits for its training, one trained earlier is shipped
    from disk (once per adapter)."""
    cfg = study.cfg
    train_task, eval_task = _tasks(ray, cfg)
    pending, trained = {}, {}
    todo_train = [a for a in adapters if study.needs_training(a, arms)]
    if todo_train:
        pairs, keep, source, domain = load_pairs(study.dir, None, study.dir)
        for a in todo_train:
            chosen = subset(pair_ids, a.pairs, a.seed)
            tcfg = cfg.train.model_copy(update={"seed": a.seed, "first_n": None}).model_dump(mode="json")
            ref = train_task.remote(tcfg, cfg.engine.model, pairs, keep, source=source, domain=domain, pair_ids=chosen)
            trained[a.key] = ref
            pending[ref] = ("train", a, chosen)
    shipped = {}
    served = {a.fmt for a in arms if seed_free(a) and study.finished(f"study:eval:{a.key}") is not None}
    served |= set(cfg.study.reuse_base)
    for arm in arms:
        if study.finished(f"study:eval:{arm.key}") is not None:
            continue
        if seed_free(arm):  # one greedy base evaluation per format: the driver copies it to the other seeds
            if arm.fmt in served:
                continue
            served.add(arm.fmt)
        payload = None
        if arm.adapter is not None:
            payload = trained.get(arm.adapter.key)
            if payload is None:  # trained earlier: ship what is on disk, once per adapter
                if arm.adapter.key not in shipped:
                    _, files = adapter_files(study.adapter_dir(arm.adapter))
                    shipped[arm.adapter.key] = ray.put({"files": files})
                payload = shipped[arm.adapter.key]
        ref = eval_task.remote(cfg.engine.model_dump(mode="json"), eval_kwargs(arm), payload)
        pending[ref] = ("eval", arm, None)
    return pending


def _land(study, what: str, item, chosen, result: dict) -> None:
    """One finished arm, on the driver: its files written into the study dir, then its stage marked done."""
    if what == "train":
        out = study.adapter_dir(item)
        if out.exists():
            shutil.rmtree(out)
        write_files(result["files"], out)
        study.record_training(item, chosen, result["losses"], ran_on=result["ran_on"])
        study.echo(f"[study] trained {item.key} on {result['pairs']} pairs on {result['ran_on']['host']}")
        return
    path = study.result_path(item)
    report = {**result, "arm": item.key}
    if item.adapter is not None:
        report["adapter"] = str(study.adapter_dir(item.adapter))
    path.parent.mkdir(parents=True, exist_ok=True)
    write(report, path)
    study.finish(f"study:eval:{item.key}", result=str(path), ran_on=result["ran_on"])
    study.echo(f"[study] evaluated {item.key} on {result['ran_on']['host']}")


def run_arms(study, adapters, arms, pair_ids: list[int], eval_kwargs) -> None:
    """Every adapter and evaluation of the grid the ledger lacks, as Ray tasks; results land in the study
    dir and the ledger, on the driver, as they arrive. `eval_kwargs(arm)` gives `evaluate`'s settings."""
    ray = ray_init(study.cfg.scale.ray_address)
    pending = _submit(ray, study, adapters=adapters, arms=arms, pair_ids=pair_ids, eval_kwargs=eval_kwargs)
    if not pending:
        return
    bar = tqdm(total=len(pending), desc="study arms (ray)", unit="arm", disable=not study.progress)
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            what, item, chosen = pending.pop(done[0])
            try:
                result = ray.get(done[0])
            except ray.exceptions.RayError as e:
                raise StudyError(f"{what} arm {item.key} failed on the cluster: {str(e).splitlines()[0][:300]}") from e
            _land(study, what, item, chosen, result)
            bar.update(1)
    finally:
        bar.close()
