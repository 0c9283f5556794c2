"""A results JSON's samples in EvalPlus's format, so any scorer can re-check them.

Why: committed results are believed only if someone else can score the same programs. Code benchmarks get
`solution` (the full program that was judged: prompt and completion in raw format, the extracted code in
chat format), math benchmarks `completion` (the text whose final answer was checked).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..tasks.registry import bench_kit


def sample_rows(result: dict, bench: str, *, data_dir=None) -> list[dict]:
    """[{task_id, solution | completion}] for every sample of `bench` in `result`, in task order."""
    kit = bench_kit(bench)
    tasks = {t.task_id: t for t in kit.load(bench, data_dir)[0]}
    rows = []
    for t in result["benches"][bench]["per_task"]:
        for s in t["samples"]:
            rows.append(
                {
                    "task_id": t["task_id"],
                    **kit.sample_row(tasks[t["task_id"]], s.get("completion") or "", result["format"]),
                }
            )
    return rows


def export(result_file: Path, out_dir: Path, *, data_dir=None) -> list[Path]:
    """Write `<out_dir>/<result stem>.<bench>.jsonl` for each benchmark of the results file."""
    result = json.loads(Path(result_file).read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for bench in result["benches"]:
        path = out_dir / f"{Path(result_file).stem}.{bench}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in sample_rows(result, bench, data_dir=data_dir)))
        written.append(path)
    return written
