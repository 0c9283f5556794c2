"""`selfmine study`: every arm of the grid, each cached in the run's ledger as a finished stage (so a
killed study resumes where it stopped), then the analysis and the report."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import yaml

from ..config import RunConfig, first_difference, flatten
from ..ledger import MINED_KINDS, Ledger, run_dir_lock
from .errors import StudyError
from .plan import Adapter, Arm, plan, subset


def _check_same_config(ledger: Ledger, cfg: RunConfig) -> None:
    """A study's arms are comparable only if they were all made with one configuration."""
    new = {k: v for k, v in flatten(cfg.model_dump(mode="json")).items() if not k.startswith("scale.")}
    old = ledger.get_meta("study_config")  # where it runs (scale.*) never changes what an arm computes
    old = old and {k: v for k, v in old.items() if not k.startswith("scale.")}
    if old is None:
        ledger.set_meta("study_config", new)
        return
    diff = first_difference(old, new)
    if diff:
        key, was, now = diff
        raise StudyError(
            f"this study dir was started with {key}={was!r}, this run asks for {now!r}; "
            f"use a new --run-dir, or set {key} back to resume"
        )


class Study:
    def __init__(self, run_dir: str | Path, cfg: RunConfig, progress: bool = True, echo: Callable[[str], None] = print):
        self.dir, self.cfg, self.progress, self.echo = Path(run_dir), cfg, progress, echo
        self._engine = None

    # -- the ledger as the cache --------------------------------------------------------------------
    def finished(self, name: str) -> dict | None:
        """The stage's recorded info when the ledger has it done, else None."""
        ledger = Ledger.in_run_dir(self.dir)
        try:
            return ledger.stage_info(name) if ledger.stage(name) == "done" else None
        finally:
            ledger.close()

    def finish(self, name: str, **info) -> None:
        """Mark the stage done in the ledger, with what a resumed study needs to know about it."""
        ledger = Ledger.in_run_dir(self.dir)
        try:
            ledger.set_stage(name, "done", **info)
        finally:
            ledger.close()

    @property
    def engine(self):
        if self._engine is None:
            from ..scale import make_engine

            self._engine = make_engine(self.cfg.engine, self.cfg.scale)
        return self._engine

    def _release(self) -> None:
        from ..engine import release_for_training

        self._engine = release_for_training(self._engine)

    # -- stages -------------------------------------------------------------------------------------
    def pairs(self) -> list[int]:
        s = self.cfg.study
        if self.finished("study:pairs") is None:
            if s.pairs_file:
                from ..datasets import reference_pairs
                from ..transfer import import_pairs

                path = Path(s.pairs_file).expanduser()
                if not path.exists():
                    path = reference_pairs(path.name, self.cfg.data_dir)
                info = import_pairs(path, self.dir)
                self.echo(f"study pairs: {info.get('imported', 0)} imported from {s.pairs_file} (not self-mined)")
            else:
                from ..mine import mine

                mine(self.dir, self.cfg, engine=self.engine, progress=self.progress, echo=self.echo)
            self.finish("study:pairs", source=s.pairs_file or "mined")
        ledger = Ledger.in_run_dir(self.dir)
        try:
            return [p.id for p in ledger.pairs((*MINED_KINDS, "imported"))]
        finally:
            ledger.close()

    def adapter_dir(self, a: Adapter) -> Path:
        return self.dir / "study" / "adapters" / a.key

    def train(self, a: Adapter, pair_ids: list[int]) -> None:
        name = f"study:train:{a.key}"
        if self.finished(name) is not None:
            return
        from ..train import train

        out = self.adapter_dir(a)
        if out.exists():
            shutil.rmtree(out)  # an interrupted earlier attempt
        self._release()
        cfg = self.cfg.train.model_copy(update={"seed": a.seed, "first_n": None})
        chosen = subset(pair_ids, a.pairs, a.seed)
        self.echo(f"[study] training {a.key} on {len(chosen)} pairs")
        train(
            cfg,
            out,
            run_dir=self.dir,
            model=self.cfg.engine.model,
            progress=self.progress,
            echo=self.echo,
            pair_ids=chosen,
        )
        self.finish(name, pair_ids=chosen)

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

    def evaluate(self, arm: Arm) -> dict:
        name, path = f"study:eval:{arm.key}", self.result_path(arm)
        if self.finished(name) is None:
            from ..evaluate import evaluate, write

            self.echo(f"[study] evaluating {arm.key}")
            report = evaluate(
                self.engine,
                adapter=str(self.adapter_dir(arm.adapter)) if arm.adapter else None,
                progress=self.progress,
                echo=self.echo,
                **self.eval_kwargs(arm),
            )
            report["arm"] = arm.key
            path.parent.mkdir(parents=True, exist_ok=True)
            write(report, path)
            self.finish(name, result=str(path))
        return json.loads(path.read_text())

    def run(self) -> dict:
        from ..scale import connect

        connect(self.cfg.scale.ray_address)
        with run_dir_lock(self.dir):
            self.dir.mkdir(parents=True, exist_ok=True)
            ledger = Ledger.in_run_dir(self.dir)
            try:
                _check_same_config(ledger, self.cfg)
            finally:
                ledger.close()
            (self.dir / "config.yaml").write_text(yaml.safe_dump(self.cfg.model_dump(mode="json"), sort_keys=False))
            s = self.cfg.study
            pair_ids = self.pairs()
            too_many = [k for k in s.pair_counts if k > len(pair_ids)]
            if too_many:
                raise StudyError(
                    f"study.pair_counts {too_many} exceed the {len(pair_ids)} pairs available; "
                    "mine more (mine.problems, mine.rounds) or lower the counts"
                )
            adapters, arms = plan(s.pair_counts, s.seeds, s.formats)
            if self.cfg.scale.ray_address:  # every missing arm as a Ray task; results land here as they finish
                from .on_ray import run_arms

                self._release()
                run_arms(self, adapters, arms, pair_ids, self.eval_kwargs)
            for a in adapters:
                self.train(a, pair_ids)
            results = {arm.key: self.evaluate(arm) for arm in arms}
            from .analyse import analyse
            from .report import write_report

            study = analyse(self.cfg, arms, results, self.dir)
            paths = write_report(study, self.dir)
            self.finish("study:report")
            return {"study": study, **paths}


def run_study(run_dir: str | Path, cfg: RunConfig, progress: bool = True, echo: Callable[[str], None] = print) -> dict:
    return Study(run_dir, cfg, progress, echo).run()
