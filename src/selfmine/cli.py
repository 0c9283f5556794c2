"""The `selfmine` command. Thin: parse, call one function, print."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Optional

import typer

from .errors import UserError

app = typer.Typer(
    help="selfmine: a base model invents problems, judges its own attempts, mines (broken, fixed) pairs, "
    "fine-tunes on them, and measures the gain on public benchmarks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


# Options shared by several commands, declared once.
RAY_ADDRESS = typer.Option(
    None, "--ray-address", help="Judge on a Ray cluster: auto | ray://HOST:PORT | local (needs the ray extra)."
)


def fail(message: str, code: int = 2) -> None:
    """One clear line on stderr and a non-zero exit: the way every bad input ends."""
    typer.echo(f"selfmine: error: {message}", err=True)
    raise typer.Exit(code)


def quiet_libraries() -> None:
    """--no-progress also silences the progress bars of transformers, datasets and the hub."""
    import os

    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        import datasets

        datasets.disable_progress_bars()
    except ImportError:
        pass


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        fail(f"{what} file not found: {path}")
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        fail(f"cannot read {what} file {path}: {e.__class__.__name__}")
    raise AssertionError


@app.command()
def judge(
    solution: Path = typer.Argument(..., help="Python file with the program to judge (untrusted)."),
    tests: Path = typer.Option(..., "--tests", "-t", help="Python file of assert statements; each runs separately."),
    timeout: float = typer.Option(10.0, min=0.01, help="Wall-clock limit in seconds (hard kill)."),
    memory_mb: int = typer.Option(1024, "--memory-mb", min=16, help="Address-space limit in MiB."),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON."),
) -> None:
    """Run SOLUTION against TESTS in the sandbox. Exit 0 when every test passed, 1 when not, 2 on bad usage."""
    from .sandbox import BadTests, split_tests
    from .sandbox import judge as run_judge

    code, test_src = read_text(solution, "solution"), read_text(tests, "tests")
    try:
        if not split_tests(test_src)[1]:
            fail(f"no assert statements in {tests}")
        verdict = run_judge(code, test_src, timeout=timeout, memory_mb=memory_mb)
    except BadTests as e:
        fail(str(e))
    if as_json:
        typer.echo(json.dumps(verdict.to_dict(), indent=2))
    else:
        typer.echo(f"{verdict.status.value}: {verdict.message}  [{verdict.duration_s:.3f}s, {verdict.isolation}]")
        for t in verdict.tests:
            typer.echo(f"  {t.outcome:8} {t.source}" + (f"  -> {t.error_type}: {t.message}" if t.message else ""))
    raise typer.Exit(0 if verdict.passed else 1)


def _options_as_sets(*pairs: tuple[str, object]) -> list[str]:
    """`config.key=value` for every option given on the command line (None: not given, the config decides)."""
    return [f"{key}={value}" for key, value in pairs if value is not None]


def _unescape(s: str) -> str:
    """\\n, \\t and \\\\ become newline, tab and backslash; everything else (non-ASCII text included) stays."""
    import re

    return re.sub(r"\\(n|t|\\)", lambda m: {"n": "\n", "t": "\t", "\\": "\\"}[m.group(1)], s)


@app.command()
def generate(
    prompt: str = typer.Option(..., "--prompt", "-p", help="Prompt text (\\n and \\t escapes are understood)."),
    model: Optional[str] = typer.Option(
        None, "--model", "-m", help="HF model id or local directory; default: the embedded gemma-3-270m base."
    ),
    adapter: Optional[Path] = typer.Option(None, "--adapter", help="A PEFT LoRA adapter directory to apply."),
    backend: str = typer.Option("hf", "--backend", help="hf | vllm | openai"),
    n: int = typer.Option(1, "--n", min=1, help="Completions to sample."),
    temperature: float = typer.Option(0.0, "--temperature", min=0.0, help="0 = greedy."),
    top_p: float = typer.Option(1.0, "--top-p", min=0.0, max=1.0),
    max_tokens: int = typer.Option(128, "--max-tokens", min=1),
    stop: list[str] = typer.Option([], "--stop", help="Stop string (repeatable; escapes understood)."),
    seed: int = typer.Option(0, "--seed"),
    chat: bool = typer.Option(False, "--chat", help="Wrap the prompt in the tokenizer's chat template."),
    dtype: str = typer.Option(
        "auto", "--dtype", help="hf backend: auto (bf16 where native, else fp32) | float32 | bfloat16."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print completions as JSON."),
) -> None:
    """Sample completions from a model (raw completion by default: right for base models)."""
    from .engine import EngineError, ModelError, SamplingParams, get_engine

    if adapter is not None and not (adapter / "adapter_config.json").exists():
        fail(f"not a PEFT adapter directory (no adapter_config.json): {adapter}")
    try:
        params = SamplingParams(
            n=n,
            temperature=temperature,
            top_p=top_p or 1.0,
            max_tokens=max_tokens,
            stop=[_unescape(s) for s in stop],
            seed=seed,
        )
        from .config import EngineConfig

        engine = get_engine(backend, model, **EngineConfig(backend=backend, model=model, dtype=dtype).backend_kwargs())
        text = _unescape(prompt)
        if chat:
            from .engine.chat import chat_prompt

            text = chat_prompt(engine, text)
        completions = engine.generate([text], params, adapter=str(adapter) if adapter else None)[0]
    except (ModelError, EngineError, ValueError) as e:
        fail(str(e))
    if as_json:
        typer.echo(
            json.dumps(
                {"engine": engine.info(), "prompt": text, "completions": [c.to_dict() for c in completions]}, indent=2
            )
        )
        return
    for i, c in enumerate(completions):
        typer.echo(f"--- completion {i} ({c.finish_reason}, {c.completion_tokens} tokens)")
        typer.echo(c.text)


@app.command("mine")
def mine_cmd(
    run_dir: Path = typer.Option(..., "--run-dir", help="Run directory (ledger.sqlite lives here). Rerun to resume."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (see configs/)."),
    model: Optional[str] = typer.Option(
        None, "--model", "-m", help="HF model id or local directory; default: embedded gemma-3-270m."
    ),
    problems: Optional[int] = typer.Option(None, "--problems", min=1, help="Problem proposals to generate."),
    attempts: Optional[int] = typer.Option(None, "--attempts", min=1, help="Solve attempts per valid problem (k)."),
    seed: Optional[int] = typer.Option(None, "--seed"),
    rounds: Optional[int] = typer.Option(
        None, "--rounds", min=1, help="Mining rounds (the curriculum runs from round 2)."
    ),
    tests: Optional[str] = typer.Option(
        None, "--tests", help="grounded (expected values from running the model's function) | model (its own asserts)."
    ),
    domain: Optional[str] = typer.Option(
        None, "--domain", help="code (default) | math: word problems with a program-checked answer."
    ),
    data_dir: Optional[Path] = typer.Option(
        None, "--data-dir", help="Benchmark data for decontamination (default: the copy shipped with selfmine)."
    ),
    overrides: list[str] = typer.Option(
        [], "--set", help="Config override KEY=VALUE, e.g. mine.repair=false (repeatable)."
    ),
    ray_address: Optional[str] = RAY_ADDRESS,
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
) -> None:
    """Self-mine pairs: propose problems, check them (grounded tests for code, a program-checked answer for
    math), solve each k times, judge, repair, pair; over several rounds with the curriculum. Resumable:
    rerun the same command."""
    if no_progress:
        quiet_libraries()
    from .config import ConfigError, load_config
    from .datasets import DataError
    from .engine import EngineError, ModelError
    from .mine import mine

    sets = list(overrides) + _options_as_sets(
        ("engine.model", model),
        ("mine.problems", problems),
        ("mine.attempts", attempts),
        ("seed", seed),
        ("data_dir", data_dir),
        ("mine.rounds", rounds),
        ("mine.tests", tests),
        ("domain", domain),
        ("scale.ray_address", ray_address),
    )
    from .scale import RayMissing

    try:
        cfg = load_config(config, sets)
        mine(run_dir, cfg, progress=not no_progress, echo=typer.echo)
    except (ConfigError, DataError, ModelError, EngineError, RayMissing) as e:
        fail(str(e))
    except RuntimeError as e:
        fail(str(e), code=3)


@app.command("probe")
def probe_cmd(
    model: Optional[str] = typer.Option(
        None, "--model", "-m", help="HF model id, local directory or preset; default: embedded gemma-3-270m."
    ),
    problems: int = typer.Option(
        16, "--problems", min=1, help="Proposals to sample (16: about 5 minutes with the CPU default on 2 cores)."
    ),
    attempts: int = typer.Option(4, "--attempts", min=1, help="Solve attempts per valid problem."),
    seed: int = typer.Option(0, "--seed"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config for everything else."),
    run_dir: Optional[Path] = typer.Option(
        None, "--run-dir", help="Keep the probe's ledger here (default: a temporary dir)."
    ),
    overrides: list[str] = typer.Option([], "--set", help="Config override KEY=VALUE (repeatable)."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
) -> None:
    """Is a model inside the recipe's working range? Samples a small mining round and reports the valid
    rate, the mixed-outcome rate and pairs per proposal with 95% intervals, and the verdict they support."""
    if no_progress:
        quiet_libraries()
    from .config import ConfigError, load_config
    from .datasets import DataError
    from .engine import EngineError, ModelError
    from .mine.probe import PROBE_DEFAULTS, probe

    sets = [f"mine.{k}={v}" for k, v in PROBE_DEFAULTS.items()]
    sets += [f"mine.problems={problems}", f"mine.attempts={attempts}", f"seed={seed}"] + list(overrides)
    if model is not None:
        sets.append(f"engine.model={model}")
    try:
        probe(load_config(config, sets), run_dir, progress=not no_progress, echo=typer.echo)
    except (ConfigError, DataError, ModelError, EngineError) as e:
        fail(str(e))
    except RuntimeError as e:
        fail(str(e), code=3)


pairs_app = typer.Typer(help="Export mined pairs, or import the reference implementation's.", no_args_is_help=True)
app.add_typer(pairs_app, name="pairs")


@pairs_app.command("export")
def pairs_export(
    run_dir: Path = typer.Option(..., "--run-dir"),
    fmt: str = typer.Option(
        "sft",
        "--format",
        help="tinyforge (reference schema) | sft (TRL prompt/completion) | dpo (prompt/chosen/rejected).",
    ),
    out: Path = typer.Option(..., "--out", help="JSONL file to write."),
    classes: list[str] = typer.Option([], "--class", help="Keep only these broken-attempt classes (repeatable)."),
) -> None:
    """Write the run's pairs as JSONL."""
    from .transfer import export_pairs

    if not (run_dir / "ledger.sqlite").exists():
        fail(f"no ledger in {run_dir}")
    try:
        n = export_pairs(run_dir, fmt, out, tuple(classes) or None)
    except ValueError as e:
        fail(str(e))
    typer.echo(f"wrote {n} pairs to {out} ({fmt})")


@pairs_app.command("import")
def pairs_import(
    path: Path = typer.Argument(..., help="JSONL in the reference schema (signature, tests, broken, error, fixed)."),
    run_dir: Path = typer.Option(..., "--run-dir"),
) -> None:
    """Import reference-schema pairs into a run's ledger; both sides are judged on the way in."""
    from .transfer import import_pairs

    if not path.exists():
        fail(f"pairs file not found: {path}")
    try:
        info = import_pairs(path, run_dir)
    except ValueError as e:
        fail(str(e))
    typer.echo(json.dumps(info))


@app.command("train")
def train_cmd(
    out: Path = typer.Option(..., "--out", help="Adapter directory to write (PEFT format, plus training.json)."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Train on this run's mined pairs."),
    pairs: Optional[Path] = typer.Option(None, "--pairs", help="...or on a reference-schema pairs file (JSONL)."),
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="YAML run config: its train section and engine.model are used."
    ),
    overrides: list[str] = typer.Option([], "--set", help="Config override KEY=VALUE, e.g. train.rank=8 (repeatable)."),
    model: Optional[str] = typer.Option(
        None, "--model", "-m", help="Base model (engine.model); default: embedded gemma-3-270m."
    ),
    method: Optional[str] = typer.Option(
        None, "--method", help="train.method: sft | dpo (chosen = fixed, rejected = broken)."
    ),
    fmt: Optional[str] = typer.Option(
        None, "--format", help="train.format: repair (task+tests+broken+error -> fixed) | solve | mixed."
    ),
    control: Optional[str] = typer.Option(
        None, "--control", help="train.control: none | corrupted | shuffled | rft | format."
    ),
    keep_correct: Optional[float] = typer.Option(
        None, "--keep-correct", help="train.keep_correct: keep-correct examples per pair."
    ),
    drop_class: list[str] = typer.Option(
        [], "--drop-class", help="train.drop_classes: drop pairs whose broken side is of this class (repeatable)."
    ),
    first_n: Optional[int] = typer.Option(None, "--first-n", help="train.first_n: use the first N pairs."),
    rank: Optional[int] = typer.Option(None, "--rank", help="train.rank"),
    alpha: Optional[int] = typer.Option(None, "--alpha", help="train.alpha (default 2 x rank)."),
    dropout: Optional[float] = typer.Option(None, "--dropout", help="train.dropout"),
    lr: Optional[float] = typer.Option(None, "--lr", help="train.lr"),
    epochs: Optional[float] = typer.Option(None, "--epochs", help="train.epochs"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="train.batch_size"),
    grad_accum: Optional[int] = typer.Option(None, "--grad-accum", help="train.grad_accum"),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="train.max_tokens"),
    seed: Optional[int] = typer.Option(None, "--seed", help="train.seed"),
    no_progress: bool = typer.Option(False, "--no-progress"),
) -> None:
    """Fine-tune a LoRA adapter on mined pairs (or a control built from them). Settings come from the
    config's train section (defaults: the recipe's), then --set, then the options here."""
    if no_progress:
        quiet_libraries()
    from .config import ConfigError, load_config
    from .engine import ModelError
    from .train import TrainError, train

    if (run_dir is None) == (pairs is None):
        fail("give exactly one of --run-dir and --pairs")
    sets = list(overrides) + _options_as_sets(
        ("engine.model", model),
        ("train.method", method),
        ("train.format", fmt),
        ("train.control", control),
        ("train.keep_correct", keep_correct),
        ("train.first_n", first_n),
        ("train.rank", rank),
        ("train.alpha", alpha),
        ("train.dropout", dropout),
        ("train.lr", lr),
        ("train.epochs", epochs),
        ("train.batch_size", batch_size),
        ("train.grad_accum", grad_accum),
        ("train.max_tokens", max_tokens),
        ("train.seed", seed),
    )
    if drop_class:
        sets.append(f"train.drop_classes=[{', '.join(drop_class)}]")
    try:
        cfg = load_config(config, sets)
        train(
            cfg.train,
            out,
            run_dir=run_dir,
            pairs_file=pairs,
            model=cfg.engine.model,
            progress=not no_progress,
            echo=typer.echo,
        )
    except (ConfigError, TrainError, ModelError, ValueError) as e:
        fail(str(e))


eval_app = typer.Typer(
    help="Evaluate on HumanEval, HumanEval+, MBPP, MBPP+, GSM8K, MATH-500 (pass@1, pass@k, best-of-n)."
)
app.add_typer(eval_app, name="eval")


def _benches(text: str) -> list[str]:
    from .evaluate import BENCHES

    out = [b.strip() for b in text.split(",") if b.strip()]
    bad = [b for b in out if b not in BENCHES]
    if bad or not out:
        fail(f"unknown benchmark {', '.join(bad) or text!r}: choose from {', '.join(BENCHES)}")
    return out


@eval_app.callback(invoke_without_command=True)
def eval_run(
    ctx: typer.Context,
    bench: str = typer.Option(
        "humaneval", "--bench", help="Comma-separated: humaneval,humaneval+,mbpp,mbpp+,gsm8k,math500"
    ),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Default: the embedded gemma-3-270m base."),
    adapter: Optional[Path] = typer.Option(None, "--adapter", help="PEFT LoRA adapter directory."),
    backend: str = typer.Option("hf", "--backend", help="hf | vllm | openai"),
    fmt: str = typer.Option("raw", "--format", help="raw (completion; right for base models) | chat"),
    n: int = typer.Option(1, "--n", min=1, help="Samples per task (pass@k, best-of-n)."),
    temperature: float = typer.Option(0.0, "--temperature", min=0.0, help="0 = greedy."),
    max_tokens: int = typer.Option(512, "--max-tokens", min=1),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="First N tasks only (labelled a subset)."),
    seed: int = typer.Option(0, "--seed"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Benchmark data (default: SELFMINE_DATA_DIR)."),
    out: Path = typer.Option(Path("results.json"), "--out", help="Results JSON (a .md table is written beside it)."),
    dtype: str = typer.Option(
        "auto", "--dtype", help="hf backend: auto (bf16 where native, else fp32) | float32 | bfloat16."
    ),
    ray_address: Optional[str] = RAY_ADDRESS,
    no_progress: bool = typer.Option(False, "--no-progress"),
) -> None:
    """Generate and score. Subcommands: `score` (samples made elsewhere), `compare` (two results)."""
    if ctx.invoked_subcommand is not None:
        return
    if no_progress:
        quiet_libraries()
    from .datasets import DataError
    from .engine import EngineError, ModelError
    from .evaluate import evaluate, write

    benches = _benches(bench)
    if fmt not in ("raw", "chat"):
        fail(f"--format must be raw or chat, not {fmt!r}")
    if adapter is not None and not (adapter / "adapter_config.json").exists():
        fail(f"not a PEFT adapter directory (no adapter_config.json): {adapter}")
    from .scale import RayMissing, connect

    try:
        from .datasets import data_dir as resolve_data_dir

        resolve_data_dir(data_dir)
        connect(ray_address)
        from .config import EngineConfig, ScaleConfig
        from .scale import make_engine

        engine = make_engine(
            EngineConfig(backend=backend, model=model, dtype=dtype), ScaleConfig(ray_address=ray_address)
        )
        report = evaluate(
            engine,
            benches,
            fmt=fmt,
            n=n,
            temperature=temperature,
            max_tokens=max_tokens,
            seed=seed,
            limit=limit,
            adapter=str(adapter) if adapter else None,
            data_dir=data_dir,
            progress=not no_progress,
            echo=typer.echo,
        )
    except (DataError, ModelError, EngineError, ValueError, RayMissing) as e:
        fail(str(e))
    write(report, out)
    typer.echo(f"results: {out} and {out.with_suffix('.md')}")


@eval_app.command("score")
def eval_score(
    bench: str = typer.Option(..., "--bench", help="One benchmark the samples are for."),
    samples: Path = typer.Option(
        ...,
        "--samples",
        help="JSONL: task_id + solution (full code) or completion (EvalPlus format; for gsm8k and math500 the "
        "completion is a solution ending in `#### ANSWER` or `\\boxed{ANSWER}`).",
    ),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir"),
    out: Path = typer.Option(Path("results.json"), "--out"),
    ray_address: Optional[str] = RAY_ADDRESS,
) -> None:
    """Score completions produced elsewhere (EvalPlus samples format)."""
    from .datasets import DataError
    from .evaluate import evaluate, write
    from .scale import RayMissing, connect

    benches = _benches(bench)
    if not samples.exists():
        fail(f"samples file not found: {samples}")
    rows = []
    for i, line in enumerate(samples.read_text().splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                fail(f"{samples}:{i}: not JSON")
            if "task_id" not in row or not ({"solution", "completion"} & set(row)):
                fail(f"{samples}:{i}: needs task_id and solution or completion")
            rows.append(row)
    counts = {}
    for r in rows:
        counts[r["task_id"]] = counts.get(r["task_id"], 0) + 1
    try:
        connect(ray_address)
        report = evaluate(
            None,
            benches,
            n=max(counts.values(), default=1),
            data_dir=data_dir,
            samples={benches[0]: rows},
            echo=typer.echo,
        )
    except (DataError, ValueError, RayMissing) as e:
        fail(str(e))
    report["samples_file"] = str(samples)
    write(report, out)
    typer.echo(f"results: {out}")


@eval_app.command("compare")
def eval_compare(
    a: Path = typer.Argument(..., help="Results JSON of the baseline (A)."),
    b: Path = typer.Argument(..., help="Results JSON of the treatment (B)."),
) -> None:
    """Per-task flips and the paired difference B - A: Newcombe's 95% interval and McNemar's exact test
    for greedy (one sample per task), a paired bootstrap and a sign-flip permutation test for n > 1.
    Refuses arms evaluated with different format, limit, n, temperature, top_p or max tokens."""
    from .evaluate import compare
    from .evaluate.compare import IncomparableResults, markdown

    data = []
    for path in (a, b):
        try:
            data.append(json.loads(path.read_text()))
        except FileNotFoundError:
            fail(f"results file not found: {path}")
        except json.JSONDecodeError:
            fail(f"not a results JSON: {path}")
    try:
        result = compare(*data)
    except IncomparableResults as e:
        fail(str(e))
    if not result:
        fail("the two results share no benchmark tasks")
    typer.echo(markdown(result, a.stem, b.stem))


@eval_app.command("export")
def eval_export(
    results: list[Path] = typer.Argument(..., help="Results JSON files (from selfmine eval or a run's eval/)."),
    out_dir: Path = typer.Option(..., "--out-dir", help="Where <results stem>.<bench>.jsonl files go."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir"),
) -> None:
    """Write each result's samples in EvalPlus's format (task_id + solution, or completion for math), so
    `selfmine eval score`, EvalPlus or any other scorer can re-check them."""
    from .evaluate.export import export

    for path in results:
        try:
            for f in export(path, out_dir, data_dir=data_dir):
                typer.echo(str(f))
        except FileNotFoundError as e:
            fail(f"not found: {e.filename or path}")
        except (json.JSONDecodeError, KeyError):
            fail(f"not a results JSON: {path}")


@eval_app.command("pool")
def eval_pool(
    runs: list[Path] = typer.Argument(
        ..., help="Run directories of one experiment, one per seed (each has eval/*.json)."
    ),
    main: str = typer.Option("adapter", "--main", help="The arm whose lift counts (compared with the best control)."),
    as_json: bool = typer.Option(False, "--json", help="Print the pooled table as JSON."),
) -> None:
    """Pool an experiment's seeds: every arm against the base and the main arm against its best control.
    The difference is averaged over seeds per task, with a bootstrap interval over tasks and a sign-flip
    test; McNemar's exact p is given per seed. All arms must have been evaluated the same way."""
    from .evaluate.compare import IncomparableResults
    from .evaluate.pool import PoolError, markdown, pool

    loaded = []
    for run in runs:
        files = sorted((run / "eval").glob("*.json"))
        if not files:
            fail(f"no evaluation results in {run / 'eval'}: is {run} a run directory?")
        arms = {}
        for f in files:
            try:
                arms[f.stem] = json.loads(f.read_text())
            except json.JSONDecodeError:
                fail(f"not a results JSON: {f}")
        loaded.append(arms)
    try:
        pooled = pool(loaded, main=main)
    except (PoolError, IncomparableResults) as e:
        fail(str(e))
    typer.echo(json.dumps(pooled, indent=2) if as_json else markdown(pooled, main=main))


@app.command("study")
def study_cmd(
    config: Path = typer.Option(..., "--config", "-c", help="YAML study config (e.g. configs/study-cpu-smoke.yaml)."),
    run_dir: Path = typer.Option(..., "--run-dir", help="Where every arm is cached; rerun to resume."),
    overrides: list[str] = typer.Option(
        [], "--set", help="Config override KEY=VALUE, e.g. study.seeds=[0,1] (repeatable)."
    ),
    ray_address: Optional[str] = RAY_ADDRESS,
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
) -> None:
    """Fine-tuning vs best-of-n sampling: for each pair count (nested subsets) and seed, base and tuned
    models, greedy and n samples; the interaction (D-C)-(B-A) with intervals, the threshold where it turns
    positive, and the samples' diversity. Writes study.json, study.md and study.html."""
    if no_progress:
        quiet_libraries()
    from .config import ConfigError, load_config
    from .datasets import DataError
    from .datasets import data_dir as resolve_data_dir
    from .engine import EngineError, ModelError
    from .evaluate.compare import IncomparableResults
    from .ledger import RunDirBusy
    from .scale import RayMissing
    from .study import StudyError, run_study
    from .train import TrainError

    try:
        cfg = load_config(config, list(overrides) + _options_as_sets(("scale.ray_address", ray_address)))
        if cfg.data_dir is None:
            cfg.data_dir = str(resolve_data_dir(None))
        out = run_study(run_dir, cfg, progress=not no_progress, echo=typer.echo)
    except (
        ConfigError,
        DataError,
        ModelError,
        EngineError,
        TrainError,
        StudyError,
        RunDirBusy,
        IncomparableResults,
        RayMissing,
    ) as e:
        fail(str(e))
    for name, r in out["study"]["benches"].items():
        typer.echo(f"{name}: threshold (oracle) {r['threshold_oracle']}, (selector) {r['threshold_selector']}")
    typer.echo(f"study: {out['html']}, {out['md']} and {out['json']}")


@app.command("run")
def run_cmd(
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="YAML experiment config (default: the CPU demo)."
    ),
    run_dir: Path = typer.Option(Path("runs/cpu-demo"), "--run-dir", help="Where everything goes; rerun to resume."),
    overrides: list[str] = typer.Option(
        [], "--set", help="Config override KEY=VALUE, e.g. mine.attempts=8 (repeatable)."
    ),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Benchmark data (default: SELFMINE_DATA_DIR)."),
    ray_address: Optional[str] = RAY_ADDRESS,
    no_progress: bool = typer.Option(False, "--no-progress"),
) -> None:
    """The whole loop: baseline eval -> mine -> train -> eval adapter -> controls -> report. Resumable."""
    from .config import ConfigError, load_config
    from .datasets import DataError
    from .datasets import data_dir as resolve_data_dir
    from .engine import EngineError, ModelError
    from .ledger import RunDirBusy
    from .pipeline import Pipeline, PipelineError
    from .scale import RayMissing
    from .train import TrainError

    if no_progress:
        quiet_libraries()
    path = config or Path(__file__).parent / "configs" / "cpu-demo.yaml"
    sets = list(overrides) + _options_as_sets(("data_dir", data_dir), ("scale.ray_address", ray_address))
    try:
        cfg = load_config(path, sets)
        if cfg.data_dir is None:
            cfg.data_dir = str(resolve_data_dir(None))
        Pipeline(run_dir, cfg, progress=not no_progress, echo=typer.echo).run()
    except (ConfigError, DataError, ModelError, EngineError, TrainError, PipelineError, RunDirBusy, RayMissing) as e:
        fail(str(e))
    except OSError as e:
        fail(
            f"{e.strerror or e}: {getattr(e, 'filename', '') or ''} (nothing finished is lost; rerun to resume)".strip(),
            code=3,
        )
    except sqlite3.OperationalError as e:  # e.g. "database or disk is full": the open transaction rolled back
        fail(f"ledger: {e} (nothing committed is lost; free space and rerun to resume)", code=3)
    except KeyboardInterrupt:
        fail("interrupted; rerun the same command to resume", code=130)


@app.command("report")
def report_cmd(run_dir: Path = typer.Option(..., "--run-dir")) -> None:
    """Write report.html (self-contained) and report.md for a run."""
    from .report import build_report

    if not (run_dir / "ledger.sqlite").exists():
        fail(f"no ledger in {run_dir}")
    paths = build_report(run_dir)
    typer.echo(f"report: {paths['html']} and {paths['md']}")


@app.command()
def version() -> None:
    """Print selfmine's version and the isolation the judge will use here."""
    from . import __version__
    from .sandbox import best_launcher

    typer.echo(f"selfmine {__version__} (judge isolation: {best_launcher().mode})")


@app.command()
def env() -> None:
    """What this machine offers selfmine: judge isolation, accelerator, precision, packages, models.
    Paste it into a bug report."""
    from .provenance import environment

    for key, value in environment().items():
        if isinstance(value, dict):
            typer.echo(f"{key}:")
            for k, v in value.items():
                typer.echo(f"  {k}: {v}")
        else:
            typer.echo(f"{key}: {value}")


def main() -> None:
    # Typer vendors its own click in recent releases; its exceptions share TyperException as base.
    usage_error = getattr(typer, "TyperException", None)
    if usage_error is None:
        import click

        usage_error = click.ClickException
    try:
        rc = app(standalone_mode=False)  # non-standalone click returns an Exit's code instead of raising
        raise SystemExit(rc if isinstance(rc, int) else 0)
    except typer.Exit as e:
        raise SystemExit(e.exit_code) from None
    except typer.Abort:
        typer.echo("selfmine: aborted", err=True)
        raise SystemExit(130) from None
    except UserError as e:  # whatever a command did not catch itself: still one line
        typer.echo(f"selfmine: error: {e}", err=True)
        raise SystemExit(2) from None
    except usage_error as e:  # one line, exit 2, no box, no traceback
        if type(e).__name__ == "NoArgsIsHelpError":
            e.show()
            raise SystemExit(2) from None
        typer.echo(f"selfmine: error: {e.format_message()} (see --help)", err=True)
        raise SystemExit(getattr(e, "exit_code", 2)) from None


if __name__ == "__main__":
    main()
