"""A tiny randomly initialised model with a real (freshly trained byte-level BPE) tokenizer, built in
seconds. Same architecture family as the default (Gemma 3, with sliding-window layers), so engine,
training and evaluation code paths run for real in tests. It generates noise, by design."""

from __future__ import annotations

import sysconfig
from pathlib import Path

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]


def _corpus() -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = ["textwrap.py", "heapq.py", "bisect.py", "functools.py", "string.py", "fractions.py", "statistics.py"]
    return [(stdlib / f).read_text() for f in files if (stdlib / f).exists()]


def build_tiny_model(out_dir: str | Path, vocab_size: int = 2048, seed: int = 0) -> Path:
    out = Path(out_dir)
    if (out / "config.json").exists() and (out / "tokenizer.json").exists():
        return out
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(_corpus(), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>", unk_token="<unk>"
    )
    fast.add_bos_token = True
    # a minimal chat template, so that the chat-format paths run in tests too
    fast.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    torch.manual_seed(seed)
    config = Gemma3TextConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=4,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        sliding_window=8,
        max_position_embeddings=2048,
        pad_token_id=fast.pad_token_id,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        layer_types=["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
    )
    model = Gemma3ForCausalLM(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    fast.save_pretrained(out)
    return out
