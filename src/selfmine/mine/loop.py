"""The self-mining loop: propose -> solve -> judge -> (repair) -> pair, one round, resumable.

Every step commits to the ledger before the next begins and is keyed so a rerun skips what exists: a
proposal batch, one problem's attempts and a problem's repairs are each one transaction. Kill it at any
moment; rerun the same command and it continues without losing or duplicating a judged attempt or pair."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from ..config import RunConfig, flatten
from ..engine import Engine
from ..engine.base import WithAdapter, adapter_sha256
from ..engine.numerics import numerics
from ..funnel import format_stats, total_stats
from ..ledger import Attempt, Ledger
from ..ledger.rundir import RunDir
from ..provenance import stamp
from ..scale import connected, make_engine, resolve
from ..tasks.base import Domain
from ..tasks.gates import Gates
from ..tasks.propose import Slot
from ..tasks.registry import get_domain
from .pair import mine_pairs
from .solve import greedy_batch, pick_broken, repair_batch, solve_batch
from .stats import round_stats

log = logging.getLogger(__name__)
# what a rerun may change: more problems extend a round, more rounds or a larger budget extend the run
MAY_GROW = ("mine.problems", "mine.rounds", "mine.target_pairs")


def settings(cfg: RunConfig) -> dict:
    """What decides what is mined, as dotted keys: the stage "mine" of a run, a study or `selfmine mine`
    (train and eval settings may change between reruns; these may not, but for MAY_GROW)."""
    c = cfg.model_dump(mode="json")
    c["engine"]["backend"] = resolve(cfg.engine, "sampling")[0].backend  # auto: what mining runs on
    machine = numerics(cfg.engine.backend, cfg.engine.dtype)
    if cfg.mine.adapter:  # the same path with other weights mines other problems
        c["mine"]["adapter_sha256"] = adapter_sha256(cfg.mine.adapter)
    if cfg.pipeline.carry_pairs:  # `selfmine run` imports them first: the gates see their problems
        c["mine"]["carry_pairs"] = cfg.pipeline.carry_pairs
    return flatten(
        {"engine": c["engine"], "seed": c["seed"], "numerics": machine, "domain": c["domain"], "mine": c["mine"]}
    )


def mine(
    run_dir: str | Path,
    cfg: RunConfig,
    engine: Engine | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> dict:
    """All rounds up to `mine.rounds` or until `mine.target_pairs` is reached; returns the last round's
    statistics with the totals over rounds under "total"."""
    with connected(cfg.scale.ray_address), RunDir(run_dir).hold() as rd:
        return _mine(rd, cfg, engine, progress, echo)


def _mine(rd: RunDir, cfg: RunConfig, engine, progress, echo) -> dict:
    decided_by = settings(cfg)
    rd.check("mine", decided_by, may_grow=MAY_GROW)
    with rd.ledger() as ledger:
        domain = get_domain(cfg.domain)
        contamination, checksums = domain.contamination(cfg)
        engine = engine or make_engine(cfg.engine, cfg.scale)
        if cfg.mine.adapter:
            engine = WithAdapter(engine, cfg.mine.adapter)
        if ledger.get_meta("config") is None:
            ledger.set_meta("config", cfg.model_dump(mode="json"))
            ledger.set_meta("provenance", {**stamp(), "engine": engine.describe(), "data_checksums": checksums})
        ledger.set_meta("config", cfg.model_dump(mode="json"))  # the effective config (problems may grow)
        ledger.set_stage("mine", "running", settings=decided_by)
        all_stats = []
        for number in range(1, cfg.mine.rounds + 1):
            stats = _round(ledger, cfg, engine, domain, number=number, contamination=contamination, progress=progress)
            all_stats.append(stats)
            echo(format_stats(stats))
            if cfg.mine.target_pairs and sum(s["pairs"] for s in all_stats) >= cfg.mine.target_pairs:
                echo(
                    f"pair budget reached: {sum(s['pairs'] for s in all_stats)} >= mine.target_pairs={cfg.mine.target_pairs}"
                )
                break
        total = total_stats(all_stats)
        ledger.set_meta("mining_total", total)
        ledger.set_stage("mine", "done", round=all_stats[-1]["round"], rounds=len(all_stats), settings=decided_by)
        if len(all_stats) > 1:
            echo(
                f"all {len(all_stats)} rounds: proposed {total['proposed']}, valid {total['valid']}, "
                f"mixed {total['mixed']} of {total['solved']}, pairs {total['pairs']}"
            )
        return {**all_stats[-1], "total": total}


def plan_round(ledger: Ledger, cfg: RunConfig, number: int) -> list[Slot]:
    """Round 1: fresh proposals. Later rounds, the curriculum: a harder variant of each problem the model
    finds easy (greedy solves it, with `mine.greedy_probe`; else every sample passes) and an easier variant
    of each all-fail one from the previous round (at most `variant_share` of the round), then fresh
    proposals. A pure function of the ledger, so a resumed round plans the same."""
    m = cfg.mine
    slots: list[Slot] = []
    if number > 1:
        prev = ledger.open_round(cfg.seed, number - 1)
        for p in ledger.problems("valid", prev):
            solves = ledger.attempts(p.id, "solve")
            greedy = ledger.attempts(p.id, "greedy") if m.greedy_probe else []
            easy = greedy[0].passed if greedy else bool(solves) and all(a.passed for a in solves)
            if solves and easy:
                slots.append(Slot("harder", p))
            elif solves and not any(a.passed for a in solves):
                slots.append(Slot("easier", p))
        slots = slots[: int(m.problems * m.variant_share)]
    return slots + [Slot() for _ in range(m.problems - len(slots))]


def _round(
    ledger: Ledger, cfg: RunConfig, engine: Engine, domain: Domain, *, number: int, contamination, progress: bool
) -> dict:
    """One round, each step resumed where it stopped: propose, solve and judge (and the greedy probe),
    repair, pair; its statistics are stored as the round closes."""
    m = cfg.mine
    round_id = ledger.open_round(cfg.seed, number)
    steps = _Steps(ledger, cfg, engine, domain, bar=_bar(progress), tag=f"r{number} " if m.rounds > 1 else "")
    steps.propose(round_id, number, contamination)
    valid = ledger.problems("valid", round_id)
    steps.solve(valid)
    if m.repair:
        steps.repair(valid)
    steps.pair(valid)
    stats = round_stats(ledger, round_id)
    stats["number"] = number
    ledger.close_round(round_id, stats)
    return stats


class _Steps:
    """The steps of one round over one ledger, engine and domain, each with its progress bar."""

    def __init__(self, ledger: Ledger, cfg: RunConfig, engine: Engine, domain: Domain, *, bar, tag: str):
        self.ledger, self.cfg, self.engine, self.domain = ledger, cfg, engine, domain
        self.bar, self.tag = bar, tag

    def propose(self, round_id: int, number: int, contamination) -> None:
        """The round's slots proposed in batches of `mine.propose_batch`, each batch one transaction;
        gates built from every valid problem so far, so a resumed round admits what the first try would."""
        ledger, cfg, domain, m = self.ledger, self.cfg, self.domain, self.cfg.mine
        slots = plan_round(ledger, cfg, number)
        gates = Gates(contamination, fingerprints=ledger.fingerprints(), near_threshold=m.near_duplicate_threshold)
        for p in ledger.problems("valid"):
            gates.admit(p, domain.near_text(p))
        done = ledger.proposals_done(round_id)
        with self.bar(total=len(slots), initial=min(done, len(slots)), desc=f"{self.tag}propose", unit="problem") as b:
            while done < len(slots):
                count = min(m.propose_batch, len(slots) - done)
                own = ledger.problems("valid") if m.own_examples else []
                batch = domain.propose_batch(
                    self.engine,
                    cfg,
                    seed=cfg.seed,
                    round_id=round_id,
                    start=done,
                    slots=slots[done : done + count],
                    gates=gates,
                    own=own,
                    round_no=number,
                )
                ledger.add_problems(batch)
                done += count
                b.update(count)

    def solve(self, valid: list) -> None:
        """`mine.attempts` judged attempts per valid problem, and the greedy probe's one when it is on."""
        engine, domain, cfg, m = self.engine, self.domain, self.cfg, self.cfg.mine
        self._fill_with_bar(
            valid,
            "solve",
            per=cfg.engine.batch_size // m.attempts,
            desc=f"solve x{m.attempts}",
            generate=lambda chunk: solve_batch(engine, domain, cfg, cfg.seed, chunk),
        )
        if m.greedy_probe:
            self._fill_with_bar(
                valid,
                "greedy",
                per=cfg.engine.batch_size,
                desc="greedy",
                generate=lambda chunk: greedy_batch(engine, domain, cfg, cfg.seed, chunk),
            )

    def repair(self, valid: list) -> None:
        """A repair round for the problems where every attempt failed, from the most informative failure."""
        ledger, engine, domain, cfg = self.ledger, self.engine, self.domain, self.cfg
        need, broken = [], {}
        for p in valid:
            solves = ledger.attempts(p.id, "solve")
            worst = pick_broken(solves, domain.failure_priority)
            if solves and not any(a.passed for a in solves) and worst is not None:
                need.append(p)
                broken[p.id] = worst
        self._fill_with_bar(
            need,
            "repair",
            per=cfg.engine.batch_size // cfg.mine.repair_attempts,
            desc="repair",
            generate=lambda chunk: repair_batch(engine, domain, cfg, chunk, seed=cfg.seed, broken=broken),
        )

    def _fill_with_bar(self, problems: list, kind: str, *, per: int, desc: str, generate) -> None:
        with self.bar(total=len(problems), desc=f"{self.tag}{desc}", unit="problem") as b:
            _fill(self.ledger, problems, kind, per=per, generate=generate, bar=b)

    def pair(self, valid: list) -> None:
        """Pairs: a pure function of stored attempts (inserting twice changes nothing)."""
        ledger, domain, m = self.ledger, self.domain, self.cfg.mine
        for p in valid:
            solves, repairs = ledger.attempts(p.id, "solve"), ledger.attempts(p.id, "repair")
            canonical = []
            if m.canonical_pairs and solves and not any(a.passed for a in solves + repairs):
                if not ledger.has_attempts(p.id, "canonical"):  # the proposer's own program, checked at validation
                    text = domain.canonical_text(p)
                    ledger.add_attempts([Attempt(p.id, "canonical", 0, text, text, "passed", True)])
                canonical = ledger.attempts(p.id, "canonical")
            pairs = mine_pairs(
                p.id,
                solves,
                repairs,
                cap=m.pairs_per_problem,
                canonical=canonical,
                priority=domain.failure_priority,
                same=domain.same,
            )
            if pairs:
                ledger.add_pairs(pairs)


def _fill(ledger: Ledger, problems: list, kind: str, *, per: int, generate, bar) -> None:
    """Attempts of `kind` for every problem that has none yet, `per` problems to a generation call (their
    attempts fill one batch). Each problem samples from its own seed, so a resumed run generates exactly
    what an uninterrupted one would have, whatever the chunks."""
    per = max(1, per)
    todo = [p for p in problems if not ledger.has_attempts(p.id, kind)]
    bar.update(len(problems) - len(todo))
    for i in range(0, len(todo), per):
        chunk = todo[i : i + per]
        for attempts in generate(chunk).values():
            ledger.add_attempts(attempts)
        bar.update(len(chunk))


def _bar(progress: bool):
    from tqdm import tqdm

    def make(**kw):
        return tqdm(disable=not progress, dynamic_ncols=True, **kw)

    return make
