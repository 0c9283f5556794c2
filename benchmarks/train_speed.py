"""LoRA training speed: selfmine's trainer (TRL SFTTrainer, loss and LM-head projection on the completion
only, batches padded to their own length) vs plain PEFT + transformers.Trainer (full logits, every example
padded to max_length=1024), on the same pairs in the same run. Ratio printed last.

The plain baseline runs only its first --baseline-examples examples (at ~10 s each on 2 cores, the full 80
would take ~14 min); its full time is projected from its measured per-example time, and it says so.

    python benchmarks/train_speed.py [--pairs N] [--epochs 2] [--baseline-examples 8] [--model default]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from selfmine.engine.models import resolve_model
from selfmine.train import TrainConfig
from selfmine.train.data import build_examples, select_pairs
from selfmine.train.run import load_pairs
from selfmine.train.trainers import fit_to_length, train_sft


def plain_baseline(rows: list[dict], model_path: str, cfg: TrainConfig, n: int, out: Path) -> tuple[float, float]:
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments, set_seed

    set_seed(cfg.seed)
    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    model = get_peft_model(
        model,
        LoraConfig(
            r=cfg.rank,
            lora_alpha=2 * cfg.rank,
            lora_dropout=cfg.dropout,
            target_modules=cfg.target_modules,
            task_type="CAUSAL_LM",
        ),
    )
    feats = []
    for r in rows[:n]:
        p = tok(r["prompt"])["input_ids"]
        c = tok(r["completion"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        ids = (p + c)[: cfg.max_tokens]
        labels = ([-100] * len(p) + c)[: cfg.max_tokens]
        pad = cfg.max_tokens - len(ids)
        feats.append(
            {
                "input_ids": ids + [tok.pad_token_id] * pad,
                "attention_mask": [1] * len(ids) + [0] * pad,
                "labels": labels + [-100] * pad,
            }
        )
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=1,
        gradient_accumulation_steps=cfg.grad_accum,
        max_steps=max(1, n // cfg.grad_accum),
        learning_rate=cfg.lr,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=not torch.cuda.is_available(),
        seed=cfg.seed,
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_list(feats))
    start = time.perf_counter()
    trainer.train()
    elapsed = time.perf_counter() - start
    first = next(h["loss"] for h in trainer.state.log_history if "loss" in h)
    return elapsed / (max(1, n // cfg.grad_accum) * cfg.grad_accum), first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from selfmine.datasets import reference_pairs

    ap.add_argument("--pairs-file", default=str(reference_pairs("pairs_7b_40.jsonl")))
    ap.add_argument("--pairs", type=int, default=40)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--baseline-examples", type=int, default=8)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    model_path = resolve_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pairs, keep, _ = load_pairs(None, args.pairs_file, tmp)
        cfg = TrainConfig(first_n=args.pairs, epochs=args.epochs)
        examples = build_examples(select_pairs(pairs, cfg), keep, cfg)
        from transformers import AutoTokenizer

        rows = fit_to_length(examples, AutoTokenizer.from_pretrained(model_path), cfg.max_tokens)
        total = int(len(rows) * args.epochs)
        start = time.perf_counter()
        trainer = train_sft(examples, cfg, model_path, tmp / "ours", progress=False)
        ours = time.perf_counter() - start
        ours_first = next(h["loss"] for h in trainer.state.log_history if "loss" in h)
        per_plain, plain_first = plain_baseline(rows, model_path, cfg, args.baseline_examples, tmp / "plain")
    projected = per_plain * total
    print(
        f"model {model_path}; {len(rows)} pairs x {args.epochs:g} epochs = {total} examples; torch threads {torch.get_num_threads()}"
    )
    print(
        f"selfmine (TRL SFTTrainer, completion-only LM head, dtype {cfg.dtype}): {ours:.1f} s total, "
        f"{ours / total:.2f} s/example, first logged loss {ours_first:.3f}"
    )
    print(
        f"plain PEFT + Trainer (fp32, padded to {cfg.max_tokens}): {per_plain:.2f} s/example over {args.baseline_examples} examples, "
        f"projected {projected:.1f} s for all {total}; first logged loss {plain_first:.3f}"
    )
    print(f"ratio: {projected / ours:.1f}x")


if __name__ == "__main__":
    main()
