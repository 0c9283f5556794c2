"""`selfmine run`: baseline evaluation -> mining -> training -> evaluation of the adapter -> the same
training with each control -> report. Each stage is recorded in the ledger when its output is complete,
so a rerun with the same run dir skips finished stages and redoes an interrupted one."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from . import train as training  # the stage, looked up when it runs: training.train
from .config import RunConfig, flatten
from .engine import Engine
from .engine.auto import mode_of
from .engine.base import require_adapter
from .engine.numerics import numerics
from .errors import UserError
from .evaluate import evaluate, write
from .evaluate.checkpoint import discard
from .evaluate.pool import CHAT
from .evaluate.reuse import reused_for
from .ledger import MINED_KINDS
from .ledger.rundir import RunDir
from .mine import mine, mining_settings
from .scale import LazyEngine, connected, resolve
from .transfer import import_pairs, import_pairs_file


class PipelineError(UserError, RuntimeError):
    pass


class Pipeline:
    def __init__(self, run_dir: str | Path, cfg: RunConfig, progress: bool = True, echo: Callable[[str], None] = print):
        self.dir, self.cfg, self.progress, self.echo = Path(run_dir), cfg, progress, echo
        self.run_dir = RunDir(self.dir)
        self._engine = LazyEngine(cfg.engine, cfg.scale)
        self.numerics = numerics(cfg.engine.backend, cfg.engine.dtype)

    @property
    def engine(self) -> Engine:
        """The engine mining samples with."""
        return self._engine.get("sampling")

    @property
    def eval_mode(self) -> str:
        return mode_of(n=self.cfg.eval.n, temperature=self.cfg.eval.temperature)

    @property
    def eval_engine(self) -> Engine:
        return self._engine.get(self.eval_mode)

    def release_engine(self) -> None:
        self._engine.release()

    def _stage(self, name: str) -> str | None:
        return self.run_dir.status(name)

    def _done(self, name: str, status: str = "done", **info) -> None:
        self.run_dir.record(name, status, **info)

    def settings(self, name: str) -> dict:
        """The settings that decide a stage's output, as dotted keys: a finished stage is reused only when
        they are unchanged."""
        c = self.cfg.model_dump(mode="json")
        mode = self.eval_mode if name == "baseline" or name.startswith("eval:") else "sampling"
        c["engine"]["backend"] = resolve(self.cfg.engine, mode)[0].backend  # auto: the backend it runs on
        engine = {"engine": c["engine"], "seed": c["seed"], "numerics": self.numerics}
        mine = {**engine, "domain": c["domain"], "mine": c["mine"]}
        train = {
            **mine,
            "train": c["train"],
            "pipeline.min_pairs": c["pipeline"]["min_pairs"],
            "pipeline.supplement_pairs": c["pipeline"]["supplement_pairs"],
        }
        if c["pipeline"]["carry_pairs"]:  # absent unless set: run dirs recorded before the option still resume
            train["pipeline.carry_pairs"] = c["pipeline"]["carry_pairs"]
        evaluation = {k: v for k, v in c["eval"].items() if k != "chat_arms"}  # an arm's own settings only
        if name.endswith(CHAT):
            evaluation["format"] = "chat"
        if name in ("baseline", "eval:base" + CHAT):
            reuse = c["pipeline"]["reuse_base"].get("base" if name == "baseline" else "base" + CHAT)
            return flatten({**engine, "eval": evaluation, "data_dir": c["data_dir"], "pipeline.reuse_base": reuse})
        if name == "mine":
            return mining_settings(self.cfg)  # the same record `selfmine mine` keeps
        if name.startswith("train:"):
            return flatten(train)
        return flatten({**train, "eval": evaluation, "data_dir": c["data_dir"]})  # eval:<arm>

    def check_settings(self, names: list[str]) -> None:
        """Refuse, naming the key, when a recorded stage was made with other settings (or on another kind of
        machine): reusing it would mix two configurations in one report."""
        for name in names:
            self.run_dir.check(name, self.settings(name))

    def _step(self, name: str, fn) -> None:
        if self._stage(name) == "done":
            self.echo(f"[{name}] already done, skipping")
            return  # a "skipped" stage is tried again: a changed setting (e.g. a pair file) may let it run
        self.echo(f"[{name}] ...")
        start = time.time()
        info = fn() or {}
        status = info.pop("status", "done")
        self._done(name, status, seconds=round(time.time() - start, 1), settings=self.settings(name), **info)
        self.echo(
            f"[{name}] {status} in {time.time() - start:.0f}s"
            + (f": {info.get('reason')}" if info.get("reason") else "")
        )

    # -- stages ---------------------------------------------------------------------------------------
    def _eval(self, out: str, adapter: str | None = None) -> dict:
        c = self.cfg.eval
        source = self.cfg.pipeline.reuse_base.get(out) if adapter is None else None
        if source:
            report = reused_for(
                source,
                self.cfg,
                fmt="chat" if out.endswith(CHAT) else c.format,
                engine_info=self.eval_engine.info(),  # the engine an evaluation loads next anyway
                numerics=self.numerics,
                setting="pipeline.reuse_base",
            )
            report["arm"] = out
            write(report, self.dir / "eval" / f"{out}.json")
            self.echo(f"[{out}] taken from {source} (greedy, seed-free; matched by {report['reused_from']['matched']})")
            return {"reused_from": report["reused_from"]}
        report = evaluate(
            self.eval_engine,
            c.benches,
            fmt="chat" if out.endswith(CHAT) else c.format,
            n=c.n,
            temperature=c.temperature,
            max_tokens=c.max_tokens,
            seed=self.cfg.seed,
            limit=c.limit,
            adapter=adapter,
            data_dir=self.cfg.data_dir,
            progress=self.progress,
            echo=self.echo,
            checkpoint=self.dir / "eval" / f"{out}.partial.jsonl",
        )
        report["arm"], report["numerics"] = out, self.numerics
        write(report, self.dir / "eval" / f"{out}.json")
        discard(self.dir / "eval" / f"{out}.partial.jsonl")
        return {}

    def _mine(self) -> dict:
        stats = mine(self.dir, self.cfg, engine=self.engine, progress=self.progress, echo=self.echo)
        return {"pairs": stats["pairs"]}

    def _check_inputs(self) -> None:
        """An iteration's adapter and pair files, checked before the baseline (hours on a CPU) rather than
        when mining or training first needs them."""
        if self.cfg.mine.adapter:
            require_adapter(self.cfg.mine.adapter, self.cfg.engine.backend)
        missing = [p for p in self.cfg.pipeline.carry_pairs if not Path(p).expanduser().is_file()]
        if missing:
            raise PipelineError(f"pipeline.carry_pairs: no such file: {', '.join(missing)}")

    def _carry_pairs(self) -> None:
        """pipeline.carry_pairs: an earlier iteration's pairs join this run's before mining (its problems are
        then near duplicates the gates turn away) and so before every training; an import is recorded by its
        source and never repeated."""
        for spec in self.cfg.pipeline.carry_pairs:
            info = import_pairs(spec, self.dir)
            if info.get("imported"):
                self.echo(f"carried {info['imported']} pairs from {spec} (re-judged; labelled imported)")

    def _train(self, control: str) -> dict:
        before = self._weights_lost(f"train:{control}")
        with self.run_dir.ledger() as ledger:
            mined = ledger.pair_count(MINED_KINDS)
            imported = ledger.pair_count(("imported",))
        p = self.cfg.pipeline
        if mined < p.min_pairs and imported == 0:
            if not p.supplement_pairs:
                return {
                    "status": "skipped",
                    "reason": f"mining gave {mined} self-mined pairs (< pipeline.min_pairs={p.min_pairs}); "
                    "mine more (--set mine.rounds=N or mine.problems=N) and rerun, or opt in to reference pairs with "
                    "--set pipeline.supplement_pairs=pairs_7b_40.jsonl",
                }
            info = import_pairs_file(p.supplement_pairs, self.dir, self.cfg.data_dir)
            self.echo(
                f"mining gave {mined} pairs: supplemented with {info.get('imported', 0)} reference pairs from {p.supplement_pairs}"
            )
        out = self.run_dir.fresh(*self._adapter(control).relative_to(self.dir).parts)
        self.release_engine()
        cfg = self.cfg.train.model_copy(update={"control": control})
        rec = training.train(
            cfg, out, run_dir=self.dir, model=self.cfg.engine.model, progress=self.progress, echo=self.echo
        )
        losses = training.losses_of(rec)
        info = {"pairs": rec["pairs"], "adapter": str(out), "losses": losses}
        if before is not None:  # trained again because the weights were gone: is it the same adapter?
            info["retrained"] = training.retrained(before, losses)
            self.echo(
                f"[train:{control}] trained again: "
                + ("the same loss curve as before" if before == losses else "the loss curve DIFFERS from before")
            )
        return info

    def _weights_lost(self, name: str) -> list | None:
        """The recorded loss curve of a training whose weights were lost, or None for a first training."""
        return self.run_dir.info(name).get("losses") if self._stage(name) == "weights missing" else None

    def _adapter(self, control: str) -> Path:
        return self.dir / "adapters" / ("selfmine" if control == "none" else f"control-{control}")

    def _weights_back(self, control: str, needs: list[str]) -> None:
        """A run dir carried to another session without adapter weights (they are not committed) keeps its
        finished training stages; when an evaluation still needs the weights, the training runs again from
        the same pairs and seed, and its loss curve is checked against the recorded one."""
        name = f"train:{control}"
        if self._stage(name) != "done" or training.has_weights(self._adapter(control)):
            return
        if all(self._stage(n) == "done" for n in needs):
            return
        self._done(name, "weights missing", **self.run_dir.info(name))
        self.echo(f"[{name}] done before, but its weights are not here: training again")

    def _chat_arms(self, arms: list[tuple[str, str]]) -> list[tuple[str, str | None]]:
        """(arm, its training's control or None for the base) for each arm of eval.chat_arms."""
        known = {"base": None, **{a: c for c, a in arms}}
        unknown = [a for a in self.cfg.eval.chat_arms if a not in known]
        if unknown:
            raise PipelineError(
                f"eval.chat_arms names {', '.join(unknown)}, which this run does not train: "
                f"choose from {', '.join(known)}"
            )
        return [(a, known[a]) for a in self.cfg.eval.chat_arms]

    def run(self) -> dict:
        with connected(self.cfg.scale.ray_address), self.run_dir.hold():
            return self._run()

    def _run(self) -> dict:
        arms = [("none", "adapter")] + [(c, f"control-{c}") for c in self.cfg.pipeline.controls]
        chat = self._chat_arms(arms)
        self._check_inputs()
        self.check_settings(
            ["baseline", "mine"]
            + [n for c, a in arms for n in (f"train:{c}", f"eval:{a}")]
            + [f"eval:{a}{CHAT}" for a, _ in chat]
        )
        self.run_dir.snapshot(self.cfg.model_dump(mode="json"))
        for sub in ("eval", "adapters"):
            (self.dir / sub).mkdir(exist_ok=True)
        self._step("baseline", lambda: self._eval("base"))
        self._carry_pairs()  # before mining: the near-duplicate gate then turns away the last iteration's problems
        self._step("mine", self._mine)
        for control, arm in arms:
            needs = [f"eval:{arm}"] + [f"eval:{a}{CHAT}" for a, c in chat if c == control]
            self._weights_back(control, needs)
            self._step(f"train:{control}", lambda c=control: self._train(c))
            if self._stage(f"train:{control}") == "done":
                self._step(f"eval:{arm}", lambda a=arm, d=self._adapter(control): self._eval(a, str(d)))
        for arm, control in chat:
            adapter = None if control is None else self._adapter(control)
            if control is None or self._stage(f"train:{control}") == "done":
                self._step(
                    f"eval:{arm}{CHAT}", lambda a=arm, d=adapter: self._eval(a + CHAT, None if d is None else str(d))
                )
        from .report import build_report  # matplotlib (the eval extra), and only once every stage is done

        paths = build_report(self.dir)
        self._done("report")
        self.echo(paths["summary"])
        self.echo(f"report: {paths['html']} and {paths['md']}")
        self.echo(f"open it with: python -m webbrowser file://{Path(paths['html']).resolve()}")
        return paths
