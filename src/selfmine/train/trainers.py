"""LoRA with PEFT through TRL: SFTTrainer (loss on the completion only; TRL's fused LM head projects only
the positions that carry loss, and batches are padded to their longest sequence, not to max_tokens) and
DPOTrainer (chosen = fixed, rejected = broken)."""

from __future__ import annotations

from pathlib import Path

from .config import TrainConfig
from .data import Example


def _device_and_precision(cfg: TrainConfig):
    import torch

    from ..engine.hf import resolve_dtype

    cuda = torch.cuda.is_available()
    want = resolve_dtype(cfg.dtype, "cuda" if cuda else "cpu")
    # On a CPU the weights stay float32 and bf16 runs under autocast; on a GPU the frozen base is bf16.
    load = want if cuda else torch.float32
    return cuda, load, want == torch.bfloat16


def _load(model_path: str, load_dtype):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=load_dtype)
    return model, tok


def _lora(cfg: TrainConfig):
    from peft import LoraConfig

    return LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha or 2 * cfg.rank, lora_dropout=cfg.dropout,
                      target_modules=list(cfg.target_modules), task_type="CAUSAL_LM")  # fmt: skip


def _common_args(cfg: TrainConfig, out: Path, cuda: bool, bf16: bool, progress: bool) -> dict:
    return dict(
        output_dir=str(out / "checkpoints"), per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, num_train_epochs=cfg.epochs, learning_rate=cfg.lr,
        logging_steps=1, save_strategy="no", report_to=[], seed=cfg.seed, data_seed=cfg.seed,
        max_length=cfg.max_tokens, use_cpu=not cuda, bf16=bf16, dataloader_num_workers=0,
        disable_tqdm=not progress, remove_unused_columns=True,
    )  # fmt: skip


def fit_to_length(examples: list[Example], tok, max_tokens: int) -> list[dict]:
    """Keep every completion whole: an example over `max_tokens` loses the start of its prompt (TRL would
    cut the end, i.e. the target). Examples whose completion alone does not fit are left out."""
    rows = []
    for e in examples:
        p_ids = tok(e.prompt, add_special_tokens=True)["input_ids"]
        c_len = len(tok(e.completion, add_special_tokens=False)["input_ids"]) + 1  # + EOS
        room = max_tokens - c_len
        if room < 16:
            continue
        prompt = e.prompt if len(p_ids) <= room else tok.decode(p_ids[-room + 1 :], skip_special_tokens=True)
        rows.append({"prompt": prompt, "completion": e.completion})
    return rows


def train_sft(examples: list[Example], cfg: TrainConfig, model_path: str, out: Path, progress: bool = True):
    from datasets import Dataset
    from transformers import set_seed
    from trl import SFTConfig, SFTTrainer

    cuda, load_dtype, bf16 = _device_and_precision(cfg)
    set_seed(cfg.seed)  # before the LoRA weights are initialised
    model, tok = _load(model_path, load_dtype)
    rows = fit_to_length(examples, tok, cfg.max_tokens)
    if not rows:
        raise ValueError(f"every example is longer than max_tokens={cfg.max_tokens} in its completion alone")
    ds = Dataset.from_list(rows)
    args = SFTConfig(**_common_args(cfg, out, cuda, bf16, progress), completion_only_loss=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok, peft_config=_lora(cfg))
    trainer.train()
    trainer.model.save_pretrained(out)
    return trainer


def train_dpo(rows: list[dict], cfg: TrainConfig, model_path: str, out: Path, progress: bool = True):
    from datasets import Dataset
    from transformers import set_seed
    from trl import DPOConfig, DPOTrainer

    cuda, load_dtype, bf16 = _device_and_precision(cfg)
    set_seed(cfg.seed)
    model, tok = _load(model_path, load_dtype)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    args = DPOConfig(**_common_args(cfg, out, cuda, bf16, progress), beta=cfg.dpo_beta)
    trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok,
                         peft_config=_lora(cfg))  # fmt: skip
    trainer.train()
    trainer.model.save_pretrained(out)
    return trainer
