"""LoRA with PEFT through TRL: SFTTrainer (loss on the completion only; TRL's fused LM head projects only
the positions that carry loss, and batches are padded to their longest sequence, not to max_tokens) and
DPOTrainer (chosen = fixed, rejected = broken)."""

from __future__ import annotations

from pathlib import Path

import torch

from ..config import TrainConfig
from ..engine.hf import resolve_dtype
from .data import Example


def device_and_precision(cfg: TrainConfig):
    cuda = torch.cuda.is_available()
    want = resolve_dtype(cfg.dtype, "cuda" if cuda else "cpu")
    if not cuda:
        # bf16 autocast on a CPU made the backward pass 3-5x slower here (measured); CPUs train in float32.
        return False, torch.float32, False
    return cuda, want, want == torch.bfloat16


def _load(model_path: str, load_dtype):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=load_dtype)
    return model, tok


def _lora(cfg: TrainConfig):
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.rank,
        lora_alpha=cfg.alpha or 2 * cfg.rank,
        lora_dropout=cfg.dropout,
        target_modules=list(cfg.target_modules),
        task_type="CAUSAL_LM",
    )


def _common_args(cfg: TrainConfig, out: Path, cuda: bool, bf16: bool, progress: bool) -> dict:
    return dict(
        output_dir=str(out / "checkpoints"),
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        num_train_epochs=cfg.epochs,
        learning_rate=cfg.lr,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        seed=cfg.seed,
        data_seed=cfg.seed,
        max_length=cfg.max_tokens,
        use_cpu=not cuda,
        bf16=bf16,
        dataloader_num_workers=0,
        disable_tqdm=not progress,
        remove_unused_columns=True,
        # TRL turns activation checkpointing on by default: it saves memory that a LoRA run on a 270M-1B model
        # does not need, and recomputes the forward pass (measured ~30% slower on CPU).
        gradient_checkpointing=cfg.gradient_checkpointing,
    )


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


def _completion_only_trainer():
    import torch.nn.functional as F
    from trl import SFTTrainer

    class CompletionOnlySFTTrainer(SFTTrainer):
        """SFTTrainer whose loss runs the vocabulary projection only on the positions that carry loss (the
        completion), in one matmul. The result equals the full-logits loss; on a CPU with a 262k vocabulary
        it is most of the step time saved (TRL's own fused head is tiled for GPUs and slow here)."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            causal = model.get_base_model() if hasattr(model, "get_base_model") else model
            backbone = getattr(causal, causal.base_model_prefix)
            kw = {k: inputs[k] for k in ("attention_mask", "position_ids") if inputs.get(k) is not None}
            hidden = backbone(input_ids=inputs["input_ids"], use_cache=False, **kw).last_hidden_state
            target = inputs["labels"][:, 1:]
            mask = target != -100
            logits = causal.get_output_embeddings()(hidden[:, :-1][mask])
            cap = getattr(causal.config.get_text_config(), "final_logit_softcapping", None)
            if cap:
                logits = torch.tanh(logits / cap) * cap
            loss = F.cross_entropy(logits.float(), target[mask], reduction="sum")
            n = num_items_in_batch if num_items_in_batch is not None else mask.sum()
            loss = loss / torch.as_tensor(n, device=loss.device).clamp(min=1)
            return (loss, None) if return_outputs else loss

    return CompletionOnlySFTTrainer


def train_sft(
    examples: list[Example], cfg: TrainConfig, model_path: str, out: Path, *, progress: bool = True, callbacks=None
):
    from datasets import Dataset
    from transformers import set_seed
    from trl import SFTConfig

    cuda, load_dtype, bf16 = device_and_precision(cfg)
    set_seed(cfg.seed)  # before the LoRA weights are initialised
    model, tok = _load(model_path, load_dtype)
    rows = fit_to_length(examples, tok, cfg.max_tokens)
    if not rows:
        raise ValueError(f"every example is longer than max_tokens={cfg.max_tokens} in its completion alone")
    ds = Dataset.from_list(rows)
    args = SFTConfig(**_common_args(cfg, out, cuda, bf16, progress), completion_only_loss=True)
    trainer = _completion_only_trainer()(
        model=model, args=args, train_dataset=ds, processing_class=tok, peft_config=_lora(cfg), callbacks=callbacks
    )
    trainer.train()
    trainer.model.save_pretrained(out)
    return trainer


def train_dpo(rows: list[dict], cfg: TrainConfig, model_path: str, out: Path, *, progress: bool = True):
    from datasets import Dataset
    from transformers import set_seed
    from trl import DPOConfig, DPOTrainer

    cuda, load_dtype, bf16 = device_and_precision(cfg)
    set_seed(cfg.seed)
    model, tok = _load(model_path, load_dtype)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    args = DPOConfig(**_common_args(cfg, out, cuda, bf16, progress), beta=cfg.dpo_beta)
    trainer = DPOTrainer(
        model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok, peft_config=_lora(cfg)
    )
    trainer.train()
    trainer.model.save_pretrained(out)
    return trainer
