"""What every domain's proposer shares: the slot a proposal fills (a fresh problem or a curriculum
variant), the model's raw drafts, and the chat template for instruct models. A domain (code_propose.py,
math_domain.py) parses and validates the drafts; mine/ plans the slots and stores what comes back."""

from __future__ import annotations

from dataclasses import dataclass

from .. import seeds
from ..engine import Engine, SamplingParams
from ..engine.chat import chat_prompt
from ..ledger import Problem


@dataclass
class Slot:
    """What one proposal is asked to be: a fresh problem, or a harder or easier variant of a parent."""

    variant: str = ""  # "" | harder | easier
    parent: Problem | None = None

    @property
    def difficulty(self) -> int:
        if self.parent is None:
            return 0
        return self.parent.difficulty + (1 if self.variant == "harder" else -1)


def prompts_for(engine: Engine, cfg, texts: list[str]) -> list[str]:
    """`mine.chat` (instruct models): every prompt goes through the model's chat template."""
    return [chat_prompt(engine, t) for t in texts] if cfg.mine.chat else texts


def prompt_maker(fresh, variant, *, own, share: int):
    """`make_prompt` for `draft_problems`, from a domain's two prompt builders: a fresh proposal (with the
    model's own earlier problems as `share` of its examples) or a curriculum variant of the slot's parent."""

    def make(rng, slot):
        if slot.parent is None:
            return fresh(rng, own=own or [], own_share=share)
        return variant(rng, slot.parent, slot.variant)

    return make


def draft_problems(engine, cfg, slots, *, seed, round_id, start, round_no, make_prompt, stop, meta) -> list[Problem]:
    """The model's raw proposals, one per slot, as rejected Problems for a domain to parse and validate.
    `make_prompt(rng, slot) -> (prompt, few-shot sources)`; the sampling seed depends only on (seed, round,
    start), so a resumed batch regenerates the same text."""
    m = cfg.mine
    rng = seeds.rng(seed, "propose_shots", round_id, start)
    prompts, metas = [], []
    for slot in slots:
        prompt, shots = make_prompt(rng, slot)
        prompts.append(prompt)
        metas.append({**meta, "format": "chat" if m.chat else "raw", "shots": shots})
    params = SamplingParams(
        n=1,
        temperature=m.propose_temperature,
        top_p=m.propose_top_p,
        max_tokens=m.propose_max_tokens,
        stop=[] if m.chat else stop,
        seed=seeds.stream(seed, "propose", round_no, start),
    )
    outs = engine.generate(prompts_for(engine, cfg, prompts), params)
    return [
        Problem(
            round_id,
            start + i,
            o[0].text,
            "rejected",
            parent_id=slot.parent.id if slot.parent else None,
            variant=slot.variant,
            difficulty=slot.difficulty,
            meta=metas[i],
        )
        for i, (o, slot) in enumerate(zip(outs, slots))
    ]
