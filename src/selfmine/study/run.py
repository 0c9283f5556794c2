"""`selfmine study`: every arm of the grid, each cached in the run's ledger as a finished stage (so a
killed study resumes where it stopped), then the analysis and the report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ..config import RunConfig, flatten
from ..engine.auto import mode_of
from ..engine.numerics import numerics
from ..evaluate import evaluate, write
from ..evaluate.checkpoint import discard
from ..evaluate.reuse import reused_for
from ..ledger import MINED_KINDS
from ..ledger.rundir import RunDir
from ..mine import mine
from ..scale import LazyEngine, connected, resolve
from ..train import has_weights, losses_of, retrained, train
from ..transfer import import_pairs_file
from .analyse import analyse
from .errors import StudyError
from .on_ray import run_arms
from .plan import Adapter, Arm, plan, seed_free, subset
from .report import write_report


def settings(cfg: RunConfig) -> dict:
    """What decides a study's arms, as dotted keys: all of its configuration but where it runs (scale.*)
    and where its greedy base evaluation may be taken from (study.reuse_base: checked to be the same), and
    the kind of machine. Its arms are comparable only if they were all made with one of these."""
    c = cfg.model_dump(mode="json")
    chosen = {mode: resolve(cfg.engine, mode)[0].backend for mode in ("greedy", "sampling")}
    if len(set(chosen.values())) == 1:  # auto: the backend(s) its arms run on
        c["engine"]["backend"] = chosen["greedy"]
    else:
        c["engine"]["backend"] = ",".join(f"{mode}:{backend}" for mode, backend in chosen.items())
    flat = flatten({**c, "numerics": numerics(cfg.engine.backend, cfg.engine.dtype)})
    return {k: v for k, v in flat.items() if not k.startswith(("scale.", "study.reuse_base"))}


class Study:
    def __init__(self, run_dir: str | Path, cfg: RunConfig, progress: bool = True, echo: Callable[[str], None] = print):
        self.dir, self.cfg, self.progress, self.echo = Path(run_dir), cfg, progress, echo
        self.run_dir = RunDir(self.dir)
        self._engine = LazyEngine(cfg.engine, cfg.scale)

    # -- the ledger as the cache --------------------------------------------------------------------
    def finished(self, name: str) -> dict | None:
        """The stage's recorded info when the ledger has it done, else None."""
        return self.run_dir.finished(name)

    def finish(self, name: str, **info) -> None:
        """Mark the stage done in the ledger, with what a resumed study needs to know about it."""
        self.run_dir.record(name, "done", **info)

    @property
    def engine(self):
        """The engine mining samples with (an arm's evaluation asks `_engine` for its own mode)."""
        return self._engine.get("sampling")

    def _release(self) -> None:
        self._engine.release()

    # -- stages -------------------------------------------------------------------------------------
    def pairs(self) -> list[int]:
        s = self.cfg.study
        if self.finished("study:pairs") is None:
            if s.pairs_file:
                info = import_pairs_file(s.pairs_file, self.dir, self.cfg.data_dir)
                self.echo(f"study pairs: {info.get('imported', 0)} imported from {s.pairs_file} (not self-mined)")
            else:
                mine(self.dir, self.cfg, engine=self.engine, progress=self.progress, echo=self.echo)
            self.finish("study:pairs", source=s.pairs_file or "mined")
        with self.run_dir.ledger() as ledger:
            return [p.id for p in ledger.pairs((*MINED_KINDS, "imported"))]

    def adapter_dir(self, a: Adapter) -> Path:
        return self.dir / "study" / "adapters" / a.key

    def needs_training(self, a: Adapter, arms: list[Arm]) -> bool:
        """Not trained yet; or trained, but its weights are not here (a study carried to another session:
        they are not committed) while one of `arms` still waits to be evaluated with it."""
        if self.finished(f"study:train:{a.key}") is None:
            return True
        if has_weights(self.adapter_dir(a)):
            return False
        return any(arm.adapter == a and self.finished(f"study:eval:{arm.key}") is None for arm in arms)

    def train(self, a: Adapter, pair_ids: list[int]) -> None:
        """Train adapter `a` (the caller asks `needs_training` first). Trained again, from the same pairs
        and seed, it says whether its loss curve is the recorded one."""
        if self.finished(f"study:train:{a.key}") is not None:
            self.echo(f"[study] {a.key} was trained before, but its weights are not here: training again")
        out = self.run_dir.fresh(*self.adapter_dir(a).relative_to(self.dir).parts)
        self._release()
        cfg = self.cfg.train.model_copy(update={"seed": a.seed, "first_n": None})
        chosen = subset(pair_ids, a.pairs, a.seed)
        self.echo(f"[study] training {a.key} on {len(chosen)} pairs")
        rec = train(
            cfg,
            out,
            run_dir=self.dir,
            model=self.cfg.engine.model,
            progress=self.progress,
            echo=self.echo,
            pair_ids=chosen,
        )
        self.record_training(a, chosen, losses_of(rec))

    def record_training(self, a: Adapter, pair_ids: list[int], losses: list[float], **extra) -> None:
        """Adapter `a`'s training marked done (here or, on Ray, on the driver); one trained again because its
        weights were gone records whether its loss curve is the first one's."""
        name = f"study:train:{a.key}"
        before = self.finished(name)
        info = {"pair_ids": pair_ids, "losses": losses, **extra}
        if before is not None:  # its "losses" is None where recorded before studies kept loss curves
            info["retrained"] = retrained(before.get("losses"), losses)
            self.echo(f"[study] {a.key} trained again: same loss curve as before: {info['retrained']['same_losses']}")
        self.finish(name, **info)

    def result_path(self, arm: Arm) -> Path:
        return self.dir / "study" / "eval" / f"{arm.key}.json"

    def eval_kwargs(self, arm: Arm) -> dict:
        """What decides an arm's evaluation (the engine and the adapter aside), wherever it runs."""
        s, e = self.cfg.study, self.cfg.eval
        sample = arm.decoding == "sample"
        return {
            "benches": e.benches,
            "fmt": arm.fmt,
            "n": s.n if sample else 1,
            "temperature": s.temperature if sample else 0.0,
            "max_tokens": e.max_tokens,
            "seed": arm.seed,
            "limit": e.limit,
            "data_dir": self.cfg.data_dir,
        }

    def partial_path(self, arm: Arm) -> Path:
        """The completions of an evaluation under way (`evaluate.checkpoint`): a best-of-8 arm of the Qwen
        study generates for an hour on 2 cores, and a session that ends in its middle must not lose it."""
        return self.dir / "study" / "eval" / f"{arm.key}.partial.jsonl"

    def evaluate(self, arm: Arm) -> dict:
        name, path = f"study:eval:{arm.key}", self.result_path(arm)
        if self.finished(name) is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            report = self._shared_base(arm) or self._generate(arm)
            report["arm"] = arm.key
            write(report, path)
            discard(self.partial_path(arm))
            self.finish(name, result=str(path))
        return json.loads(path.read_text())

    def _generate(self, arm: Arm) -> dict:
        self.echo(f"[study] evaluating {arm.key}")
        kwargs = self.eval_kwargs(arm)
        report = evaluate(
            self._engine.get(mode_of(n=kwargs["n"], temperature=kwargs["temperature"])),
            adapter=str(self.adapter_dir(arm.adapter)) if arm.adapter else None,
            progress=self.progress,
            echo=self.echo,
            checkpoint=self.partial_path(arm),
            **kwargs,
        )
        report["numerics"] = numerics(self.cfg.engine.backend, self.cfg.engine.dtype)
        return report

    def _shared_base(self, arm: Arm) -> dict | None:
        """The greedy base evaluation made already, for a greedy base arm: greedy decoding does not depend
        on the seed, so one evaluation per format serves every seed (another seed's arm of this study, or
        `study.reuse_base`'s result, checked like `pipeline.reuse_base`). None: generate it."""
        if not seed_free(arm):
            return None
        for seed in self.cfg.study.seeds:  # first a sibling made here: one evaluation per format, even when
            other = Arm(arm.fmt, seed, "greedy", None)  # reuse_base is set on a resumed study
            if other != arm and self.finished(f"study:eval:{other.key}") is not None:
                self.echo(f"[study] {arm.key} is {other.key}'s evaluation (greedy, seed-free)")
                return {**json.loads(self.result_path(other).read_text()), "shared_from": other.key}
        source = self.cfg.study.reuse_base.get(arm.fmt)
        if not source:
            return None
        report = reused_for(
            source,
            self.cfg,
            fmt=arm.fmt,
            engine_info=self._engine.get("greedy").info(),
            numerics=numerics(self.cfg.engine.backend, self.cfg.engine.dtype),
            setting=f"study.reuse_base.{arm.fmt}",
        )
        self.echo(f"[study] {arm.key} taken from {source} (greedy, seed-free)")
        return report

    def run(self) -> dict:
        with connected(self.cfg.scale.ray_address), self.run_dir.hold():
            decided_by = settings(self.cfg)
            self.run_dir.check("study", decided_by)
            if self.run_dir.status("study") is None:
                self.run_dir.record("study", "running", settings=decided_by)
            self.run_dir.snapshot(self.cfg.model_dump(mode="json"))
            s = self.cfg.study
            if s.reuse_base and self.cfg.scale.ray_address:  # its arms' engines and machines are the nodes'
                raise StudyError(
                    "study.reuse_base is checked against this machine's engine: not with scale.ray_address"
                )
            pair_ids = self.pairs()
            too_many = [k for k in s.pair_counts if k > len(pair_ids)]
            if too_many:
                raise StudyError(
                    f"study.pair_counts {too_many} exceed the {len(pair_ids)} pairs available; "
                    "mine more (mine.problems, mine.rounds) or lower the counts"
                )
            adapters, arms = plan(s.pair_counts, s.seeds, s.formats)
            if self.cfg.scale.ray_address:  # every missing arm as a Ray task; results land here as they finish
                self._release()
                run_arms(self, adapters, arms, pair_ids, self.eval_kwargs)
            for a in adapters:
                if self.needs_training(a, arms):
                    self.train(a, pair_ids)
            results = {arm.key: self.evaluate(arm) for arm in arms}
            study = analyse(self.cfg, arms, results, self.dir)
            paths = write_report(study, self.dir)
            self.finish("study:report")
            self.run_dir.record("study", "done", settings=decided_by)
            return {"study": study, **paths}


def run_study(run_dir: str | Path, cfg: RunConfig, progress: bool = True, echo: Callable[[str], None] = print) -> dict:
    return Study(run_dir, cfg, progress, echo).run()
