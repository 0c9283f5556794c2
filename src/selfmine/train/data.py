"""Training examples from pairs, in the recipe's formats, and the control datasets: same format, same
count, one thing changed each."""

from __future__ import annotations

from dataclasses import dataclass

from .. import seeds
from ..config import TrainConfig
from ..ledger import PairView
from ..tasks.base import Domain
from ..tasks.registry import get_domain


@dataclass
class Example:
    prompt: str
    completion: str
    pair_id: int
    kind: str  # pair | keep_correct | control


FLAGGED_LABELS = ("label_wrong", "ill_posed", "solution_disagrees")  # imported math rows whose label failed its check


def select_pairs(pairs: list[PairView], cfg: TrainConfig) -> list[PairView]:
    """Pairs to train on. Imported rows whose label failed re-judging are left out unless `classes`
    names them."""
    out = [p for p in pairs if p.kind != "keep_correct"]
    if cfg.classes:
        out = [p for p in out if p.failure_class in cfg.classes]
    else:
        out = [p for p in out if p.failure_class not in FLAGGED_LABELS]
    if cfg.drop_classes:
        out = [p for p in out if p.failure_class not in cfg.drop_classes]
    return out[: cfg.first_n] if cfg.first_n else out


def _pair_examples(d: Domain, p: PairView, fmt: str, *, broken: str, error: str, fixed: str) -> list[Example]:
    prompts = d.train_prompts(p, fmt, broken, error)
    rep = Example(prompts["repair"], d.train_target(p, "repair", broken, fixed), p.id, "pair")
    sol = Example(prompts["solve"], d.train_target(p, "solve", broken, fixed), p.id, "pair")
    return {"repair": [rep], "solve": [sol], "mixed": [rep, sol]}[fmt]


def build_examples(
    pairs: list[PairView], keep: list[PairView], cfg: TrainConfig, corrupt=None, domain: Domain | None = None
) -> list[Example]:
    """`pairs`: (broken, fixed) pairs; `keep`: keep-correct rows (fixed = a passing attempt).
    `corrupt(pair) -> str` supplies a failing version of the fixed side for the corrupted control.
    The `overcorrect` control trains on repairs only, with no keep-correct examples: it is there to
    reproduce the collapse that right-stays-right examples prevent."""
    d = domain or get_domain("code")
    rng = seeds.rng(cfg.seed, "train_data")
    fmt = "repair" if cfg.control == "overcorrect" else cfg.format
    examples: list[Example] = []
    if cfg.control == "shuffled" and len(pairs) > 1:
        order = list(range(len(pairs)))
        while any(i == j for i, j in enumerate(order)):  # a derangement: no pair keeps its own broken input
            rng.shuffle(order)
        for p, q in zip(pairs, (pairs[j] for j in order)):
            examples += _pair_examples(d, p, fmt, broken=q.broken, error=q.error, fixed=p.fixed)
    elif cfg.control == "rft":  # the model's own passing attempts, no broken input
        examples = [
            Example(
                d.train_prompts(p, "solve", p.broken, p.error)["solve"],
                d.train_target(p, "solve", p.broken, p.fixed),
                p.id,
                "control",
            )
            for p in pairs
        ]
    else:
        for p in pairs:
            fixed = p.fixed
            if cfg.control == "corrupted":
                fixed = corrupt(p)
            elif cfg.control == "format":
                fixed = d.format_stub(p)
            examples += _pair_examples(d, p, fmt, broken=p.broken, error=p.error, fixed=fixed)
    n_keep = 0 if cfg.control == "overcorrect" else round(cfg.keep_correct * len(pairs))
    for p in keep[:n_keep]:  # right stays right: the input is a passing attempt, the target keeps it
        prompt, completion = d.keep_example(p, fmt)
        examples.append(Example(prompt, completion, p.id, "keep_correct"))
    rng.shuffle(examples)
    return examples
