"""`train`: pairs (from a run's ledger or a reference-schema file) -> examples (format, control,
keep-correct mix) -> a PEFT adapter directory plus a training record (training.json)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from ..config import TrainConfig
from ..engine.models import resolve_model
from ..errors import UserError
from ..ledger import MINED_KINDS, PairView
from ..ledger.rundir import RunDir
from ..provenance import stamp
from ..tasks.registry import get_domain
from ..transfer import import_pairs
from .data import build_examples, select_pairs

PAIR_KINDS = (*MINED_KINDS, "imported")


class TrainError(UserError):
    """Nothing sensible to train on, or a bad source. The message is meant for the user."""


def load_pairs(
    run_dir: str | Path | None, pairs_file: str | Path | None, out: Path
) -> tuple[list[PairView], list[PairView], str, str]:
    """(pairs, keep-correct rows, source, domain)."""
    if pairs_file is not None:
        if not Path(pairs_file).exists():
            raise TrainError(f"pairs file not found: {pairs_file}")
        run_dir = out / "imported"  # the file is judged and classified into a ledger of its own
        import_pairs(pairs_file, run_dir)
    if run_dir is None or not (Path(run_dir) / "ledger.sqlite").exists():
        raise TrainError(f"no ledger in {run_dir}: mine first, or pass --pairs FILE")
    with RunDir(run_dir).ledger() as ledger:
        return ledger.pairs(PAIR_KINDS), ledger.pairs(("keep_correct",)), str(Path(run_dir).resolve()), ledger.domain()


def has_weights(adapter_dir: str | Path) -> bool:
    """Whether a trained adapter's weights are on disk: they are not committed with a run's results, so a
    run carried to another session has its training records without them."""
    return (Path(adapter_dir) / "adapter_model.safetensors").exists()


def retrained(before: list[float] | None, losses: list[float]) -> dict:
    """What a training done again (its weights were gone) records: the first loss curve and whether the new
    one is the same (None where the first training kept no curve)."""
    return {"losses_before": before, "same_losses": None if before is None else before == losses}


def losses_of(record: dict) -> list[float]:
    """A training record's loss curve as plain numbers, rounded: what a run's ledger keeps, so that a
    training done again (its weights were not carried) can be checked against the first."""
    return [round(x["loss"], 6) for x in record["loss_curve"]]


def train(
    cfg: TrainConfig,
    out: str | Path,
    *,
    run_dir: str | Path | None = None,
    pairs_file: str | Path | None = None,
    model: str | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    pair_ids: list[int] | None = None,
) -> dict:
    """`pair_ids` (a study's nested subset) restricts training to those pairs, in that order."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pairs, keep, source, domain_name = load_pairs(run_dir, pairs_file, out)
    return fit(
        cfg,
        out,
        pairs,
        keep,
        source=source,
        domain_name=domain_name,
        model=model,
        progress=progress,
        echo=echo,
        pair_ids=pair_ids,
    )


def fit(
    cfg: TrainConfig,
    out: str | Path,
    pairs: list[PairView],
    keep: list[PairView],
    *,
    source: str,
    domain_name: str,
    model: str | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    pair_ids: list[int] | None = None,
) -> dict:
    """Train an adapter into `out` on pairs already read from a ledger: what runs where the ledger is not
    (a study arm on a Ray node)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    domain = get_domain(domain_name)
    chosen = _chosen(pairs, cfg, source=source, pair_ids=pair_ids)
    control_info: dict = {}
    corrupt = None
    if cfg.control == "corrupted":
        corrupt, control_info = domain.corruptor(chosen, cfg.seed)
    model_path = resolve_model(model)
    start = time.time()
    trainer, n_examples = _trained(
        cfg, out, chosen, keep, domain=domain, corrupt=corrupt, model_path=model_path, progress=progress
    )
    losses = [{"step": h["step"], "loss": h["loss"]} for h in trainer.state.log_history if "loss" in h]
    record = {
        "config": cfg.model_dump(mode="json"),
        "model": model or "default",
        "model_path": str(model_path),
        "source": source,
        "pair_ids": [p.id for p in chosen],
        "pairs": len(chosen),
        "examples": n_examples,
        "failure_classes": {
            c: sum(p.failure_class == c for p in chosen) for c in sorted({p.failure_class for p in chosen})
        },
        "sources": {k: sum(p.kind == k for p in chosen) for k in sorted({p.kind for p in chosen})},
        "domain": domain_name,
        "precision": _precision(cfg),
        "control": cfg.control,
        "control_info": control_info,
        "loss_curve": losses,
        "wall_time_s": round(time.time() - start, 1),
        **stamp(),
    }
    (out / "training.json").write_text(json.dumps(record, indent=2))
    first, last = (losses[0]["loss"], losses[-1]["loss"]) if losses else (float("nan"), float("nan"))
    echo(
        f"trained on {len(chosen)} pairs ({n_examples} examples, control: {cfg.control}) in {record['wall_time_s']}s; "
        f"loss {first:.3f} -> {last:.3f}; adapter in {out}"
    )
    return record


def _chosen(pairs: list[PairView], cfg: TrainConfig, *, source: str, pair_ids: list[int] | None) -> list[PairView]:
    """The pairs trained on: `pair_ids` (in that order) when given, then the config's filters."""
    if pair_ids is not None:
        by_id = {p.id: p for p in pairs}
        pairs = [by_id[i] for i in pair_ids if i in by_id]
    chosen = select_pairs(pairs, cfg)
    if not chosen:
        raise TrainError(
            f"no pairs to train on in {source} after filters (classes={cfg.classes}, drop={cfg.drop_classes})"
        )
    return chosen


def _trained(
    cfg: TrainConfig,
    out: Path,
    chosen: list[PairView],
    keep: list[PairView],
    *,
    domain,
    corrupt,
    model_path,
    progress: bool,
):
    """(the finished trainer, how many examples it trained on): DPO on (solve prompt, fixed, broken)
    rows, else SFT on the examples the format and control make (written to examples.jsonl)."""
    if cfg.method == "dpo":
        from .trainers import train_dpo

        rows = [
            {
                "prompt": domain.train_prompts(p, "solve", p.broken, p.error)["solve"],
                "chosen": domain.train_target(p, "solve", p.broken, p.fixed),
                "rejected": domain.train_target(p, "solve", p.broken, p.broken),
            }
            for p in chosen
        ]
        return train_dpo(rows, cfg, model_path, out, progress=progress), len(rows)
    from .trainers import train_sft

    examples = build_examples(chosen, keep, cfg, corrupt, domain)
    (out / "examples.jsonl").write_text("".join(json.dumps(e.__dict__) + "\n" for e in examples))
    return train_sft(examples, cfg, model_path, out, progress=progress), len(examples)


def _precision(cfg: TrainConfig) -> dict:
    """What `dtype: auto` became on this machine: the config alone does not say."""
    from .trainers import device_and_precision

    cuda, load_dtype, bf16 = device_and_precision(cfg)
    return {"device": "cuda" if cuda else "cpu", "weights": str(load_dtype).replace("torch.", ""), "bf16": bf16}
