"""LoRA training speed: selfmine's trainer (TRL SFTTrainer, loss and LM-head projection on the completion
tokens only) vs plain PEFT + transformers.Trainer (logits over every token), as a competent PEFT user would
write it: same model, fp32 on both sides, same examples, same batch (batch size x grad-accum), batches
padded to their longest example (DataCollatorForSeq2Seq), same number of optimizer steps. Each side's time
is the mean optimizer-step time after its first step (the warm-up), over at least 8 steps. The one thing
that differs is the LM head on completion tokens only, and the ratio is credited to that. Ratio printed last.

    python benchmarks/train_speed.py [--pairs 40] [--epochs 2] [--model default]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from transformers import TrainerCallback

from selfmine.config import TrainConfig
from selfmine.engine.models import resolve_model
from selfmine.train.data import build_examples, select_pairs
from selfmine.train.run import load_pairs
from selfmine.train.trainers import fit_to_length, train_sft


class StepTimes(TrainerCallback):
    """Wall time of every optimizer step."""

    def __init__(self):
        self.times, self._t = [], None

    def on_step_begin(self, args, state, control, **kw):
        self._t = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        self.times.append(time.perf_counter() - self._t)


def plain_baseline(
    rows: list[dict], model_path: str, cfg: TrainConfig, steps: int, out: Path
) -> tuple[StepTimes, float]:
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    set_seed(cfg.seed)
    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    model = get_peft_model(
        model,
        LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha or 2 * cfg.rank, lora_dropout=cfg.dropout,
                   target_modules=cfg.target_modules, task_type="CAUSAL_LM"),
    )  # fmt: skip
    feats = []
    for r in rows:
        p = tok(r["prompt"])["input_ids"]
        c = tok(r["completion"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        feats.append({"input_ids": (p + c)[: cfg.max_tokens], "labels": ([-100] * len(p) + c)[: cfg.max_tokens]})
    times = StepTimes()
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        max_steps=steps,
        learning_rate=cfg.lr,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=not torch.cuda.is_available(),
        seed=cfg.seed,
        disable_tqdm=True,
    )
    collator = DataCollatorForSeq2Seq(tok, padding="longest", label_pad_token_id=-100)
    trainer = Trainer(
        model=model, args=args, train_dataset=Dataset.from_list(feats), data_collator=collator, callbacks=[times]
    )
    trainer.train()
    first = next(h["loss"] for h in trainer.state.log_history if "loss" in h)
    return times, first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from selfmine.datasets import reference_pairs

    ap.add_argument("--pairs-file", default=str(reference_pairs("pairs_7b_40.jsonl")))
    ap.add_argument("--pairs", type=int, default=40)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    model_path = resolve_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pairs, keep, _ = load_pairs(None, args.pairs_file, tmp)
        cfg = TrainConfig(first_n=args.pairs, epochs=args.epochs, dtype="float32")
        examples = build_examples(select_pairs(pairs, cfg), keep, cfg)
        from transformers import AutoTokenizer

        rows = fit_to_length(examples, AutoTokenizer.from_pretrained(model_path), cfg.max_tokens)
        ours_times = StepTimes()
        trainer = train_sft(examples, cfg, model_path, tmp / "ours", progress=False, callbacks=[ours_times])
        ours_first = next(h["loss"] for h in trainer.state.log_history if "loss" in h)
        steps = len(ours_times.times)
        if steps < 9:
            raise SystemExit(f"only {steps} optimizer steps: use more --pairs or --epochs (at least 9 are needed)")
        plain_times, plain_first = plain_baseline(rows, model_path, cfg, steps, tmp / "plain")
    ours = statistics.mean(ours_times.times[1:])
    plain = statistics.mean(plain_times.times[1:])
    print(
        f"model {model_path}; {len(rows)} examples x {args.epochs:g} epochs; batch {cfg.batch_size} x grad-accum "
        f"{cfg.grad_accum}; {steps} optimizer steps each, the first left out; fp32; torch threads {torch.get_num_threads()}"
    )
    print(
        f"selfmine (TRL SFTTrainer, LM head on completion tokens only): {ours:.2f} s/step; first loss {ours_first:.3f}"
    )
    print(
        f"plain PEFT + Trainer (full logits, padded to the longest in the batch): {plain:.2f} s/step; first loss {plain_first:.3f}"
    )
    print(f"ratio: {plain / ours:.2f}x")


if __name__ == "__main__":
    main()
