"""The `selfmine` command. Thin: parse, call one function, print.

Errors: every error a user can cause or mend subclasses `errors.UserError`; `main` catches it once and prints
its message as one line (exit `UserError.exit_code`, 2). Commands catch only what needs a message of its own
(a full disk, an interrupt) and the plain ValueErrors of input checks that predate UserError."""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import re
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import UserError

app = typer.Typer(
    help="selfmine: a base model invents problems, judges its own attempts, mines (broken, fixed) pairs, "
    "fine-tunes on them, and measures the gain on public benchmarks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


# Options shared by several commands, declared once: a command names the type and gives the default.
RayAddress = Annotated[
    Optional[str],
    typer.Option("--ray-address", help="Judge on a Ray cluster: auto, ray://HOST:PORT or local (needs the ray extra)."),
]
NoProgress = Annotated[
    bool, typer.Option("--no-progress", help="Show no progress bars (nor those of transformers, datasets, the hub).")
]
Overrides = Annotated[
    Optional[list[str]],
    typer.Option("--set", help="A config override KEY=VALUE, e.g. mine.attempts=8 or train.rank=8 (repeatable)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON, alone on stdout (messages go to stderr).")]
RunDir = Annotated[Path, typer.Option("--run-dir", help="The run directory (where ledger.sqlite lives).")]
DataDir = Annotated[
    Optional[Path],
    typer.Option(
        "--data-dir",
        help="Benchmark data in selfmine's layout (default: SELFMINE_DATA_DIR, else the copy shipped with selfmine).",
    ),
]
Model = Annotated[
    Optional[str],
    typer.Option(
        "--model",
        "-m",
        help="An HF model id, local directory or preset name (default: the embedded gemma-3-270m base).",
    ),
]
Adapter = Annotated[Optional[Path], typer.Option("--adapter", help="A PEFT LoRA adapter directory to apply.")]
Backend = Annotated[
    str,
    typer.Option(
        "--backend",
        help="The generation backend: auto (the one measured fastest on this machine for this job; hf where "
        "vLLM is not installed), hf, vllm or openai.",
    ),
]
Dtype = Annotated[
    str,
    typer.Option(
        "--dtype", help="The hf backend's precision: auto (bf16 where native, else fp32), float32 or bfloat16."
    ),
]
Temperature = Annotated[float, typer.Option("--temperature", min=0.0, help="The sampling temperature (0 is greedy).")]
MaxTokens = Annotated[int, typer.Option("--max-tokens", min=1, help="The most tokens a completion may have.")]
Seed = Annotated[int, typer.Option("--seed", help="The random seed.")]


def one_line(message: str) -> str:
    """A message as one line: its lines, stripped, joined with '; ' (with a space after a colon)."""
    out = ""
    for line in filter(None, (line.strip() for line in str(message).splitlines())):
        out += line if not out else (" " if out.endswith(":") else "; ") + line
    return out


def printable(text: str, limit: int = 500) -> str:
    """Text a program wrote, safe to print on a terminal: control characters (escape sequences that could
    rewrite the screen, carriage returns, bells) shown as Python escapes, and at most `limit` characters."""
    text = str(text)
    cut = len(text) > limit
    text = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text[:limit])
    return text + (" ..." if cut else "")


def fail(message: str, code: int = 2) -> None:
    """One clear line on stderr and a non-zero exit: the way every bad input ends."""
    typer.echo(f"selfmine: error: {one_line(message)}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def value_errors_are_usage() -> Iterator[None]:
    """A plain ValueError from checking the user's input (code that predates UserError) ends as one line,
    exit 2. Only around calls whose ValueErrors are such checks."""
    try:
        yield
    except ValueError as e:
        fail(str(e))


@contextlib.contextmanager
def runtime_errors_are_failures() -> Iterator[None]:
    """A RuntimeError that is not the user's (the sandbox failing under the run) ends as one line, exit 3:
    nothing finished is lost, rerun to resume. A UserError goes on to `main`."""
    try:
        yield
    except UserError:
        raise
    except RuntimeError as e:
        fail(str(e), code=3)


@contextlib.contextmanager
def stdout_to_stderr(active: bool = True) -> Iterator[None]:
    """While active, whatever is written to stdout (a library's print, a C extension's write to fd 1) goes
    to stderr, so that a --json command's stdout holds its JSON alone."""
    if not active:
        yield
        return
    sys.stdout.flush()
    try:
        saved = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no fd 1 to move: the Python-level redirection still holds
        saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def quiet_libraries() -> None:
    """--no-progress also silences the progress bars of transformers, datasets and the hub."""
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
    solution: Path = typer.Argument(..., help="The Python file with the program to judge (untrusted)."),
    tests: Path = typer.Option(..., "--tests", "-t", help="A Python file of assert statements; each runs separately."),
    timeout: float = typer.Option(10.0, min=0.01, help="The wall-clock limit in seconds (a hard kill)."),
    memory_mb: int = typer.Option(1024, "--memory-mb", min=16, help="The address-space limit in MiB."),
    as_json: AsJson = False,
) -> None:
    """Run SOLUTION against TESTS in the sandbox. Exit 0 when every test passed, 1 when not, 2 on bad usage."""
    from .sandbox import judge as run_judge
    from .sandbox import split_tests

    code, test_src = read_text(solution, "solution"), read_text(tests, "tests")
    with stdout_to_stderr(as_json):
        if not split_tests(test_src)[1]:
            fail(f"no assert statements in {tests}")
        verdict = run_judge(code, test_src, timeout=timeout, memory_mb=memory_mb)
    if as_json:
        typer.echo(json.dumps(verdict.to_dict(), indent=2))
    else:
        typer.echo(
            f"{verdict.status.value}: {printable(verdict.message)}  [{verdict.duration_s:.3f}s, {verdict.isolation}]"
        )
        for t in verdict.tests:
            typer.echo(
                f"  {t.outcome:8} {printable(t.source)}"
                + (f"  -> {printable(t.error_type)}: {printable(t.message)}" if t.message else "")
            )
    raise typer.Exit(0 if verdict.passed else 1)


def _options_as_sets(*pairs: tuple[str, object]) -> list[str]:
    """`config.key=value` for every option given on the command line (None: not given, the config decides)."""
    return [f"{key}={value}" for key, value in pairs if value is not None]


def _unescape(s: str) -> str:
    """\\n, \\t and \\\\ become newline, tab and backslash; everything else (non-ASCII text included) stays."""
    return re.sub(r"\\(n|t|\\)", lambda match: {"n": "\n", "t": "\t", "\\": "\\"}[match.group(1)], s)


@app.command()
def generate(
    prompt: str = typer.Option(..., "--prompt", "-p", help="The prompt text (\\n and \\t escapes are understood)."),
    model: Model = None,
    adapter: Adapter = None,
    backend: Backend = "auto",
    n: int = typer.Option(1, "--n", min=1, help="How many completions to sample."),
    temperature: Temperature = 0.0,
    top_p: float = typer.Option(
        1.0, "--top-p", min=0.0, max=1.0, help="Sample only from the likeliest tokens, up to this probability mass."
    ),
    max_tokens: MaxTokens = 128,
    stop: list[str] = typer.Option([], "--stop", help="A stop string (repeatable; escapes are understood)."),
    seed: Seed = 0,
    chat: bool = typer.Option(False, "--chat", help="Wrap the prompt in the tokenizer's chat template."),
    dtype: Dtype = "auto",
    as_json: AsJson = False,
) -> None:
    """Sample completions from a model (a raw completion by default: right for base models)."""
    from .config import EngineConfig
    from .engine import SamplingParams, get_engine
    from .engine.auto import mode_of
    from .scale import resolve

    if adapter is not None and not (adapter / "adapter_config.json").exists():
        fail(f"not a PEFT adapter directory (no adapter_config.json): {adapter}")
    with stdout_to_stderr(as_json), value_errors_are_usage():
        params = SamplingParams(
            n=n,
            temperature=temperature,
            top_p=top_p or 1.0,
            max_tokens=max_tokens,
            stop=[_unescape(s) for s in stop],
            seed=seed,
        )
        engine_cfg, choice = resolve(
            EngineConfig(backend=backend, model=model, dtype=dtype), mode_of(n=n, temperature=temperature)
        )
        engine = get_engine(engine_cfg.backend, model, **engine_cfg.backend_kwargs())
        text = _unescape(prompt)
        if chat:
            from .engine.chat import chat_prompt

            text = chat_prompt(engine, text)
        completions = engine.generate([text], params, adapter=str(adapter) if adapter else None)[0]
        info = {**engine.info(), **({"auto": choice.info()} if choice else {})}
    if as_json:
        typer.echo(
            json.dumps({"engine": info, "prompt": text, "completions": [c.to_dict() for c in completions]}, indent=2)
        )
        return
    for i, c in enumerate(completions):
        typer.echo(f"--- completion {i} ({c.finish_reason}, {c.completion_tokens} tokens)")
        typer.echo(c.text)


@app.command("mine")
def mine_cmd(
    run_dir: Path = typer.Option(
        ..., "--run-dir", help="The run directory (ledger.sqlite lives here); rerun to resume."
    ),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="A YAML config (see configs/)."),
    model: Model = None,
    problems: Optional[int] = typer.Option(None, "--problems", min=1, help="How many problems to propose."),
    attempts: Optional[int] = typer.Option(None, "--attempts", min=1, help="Solve attempts per valid problem (k)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="The run's random seed (seed)."),
    rounds: Optional[int] = typer.Option(
        None, "--rounds", min=1, help="Mining rounds (the curriculum runs from round 2)."
    ),
    tests: Optional[str] = typer.Option(
        None,
        "--tests",
        help="Where tests come from: grounded (expected values from running the model's function) or model "
        "(its own asserts).",
    ),
    domain: Optional[str] = typer.Option(
        None, "--domain", help="The domain: code (the default) or math (word problems with a program-checked answer)."
    ),
    data_dir: DataDir = None,
    overrides: Overrides = None,
    ray_address: RayAddress = None,
    no_progress: NoProgress = False,
) -> None:
    """Self-mine (broken, fixed) pairs, over several rounds. Resumable: rerun the same command.

    Each round proposes problems, checks them (grounded tests for code, a program-checked answer for
    math), solves each k times, judges, repairs and pairs; the curriculum runs from round 2."""
    if no_progress:
        quiet_libraries()
    from .config import load_config
    from .mine import mine

    sets = list(overrides or []) + _options_as_sets(
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
    with runtime_errors_are_failures():
        mine(run_dir, load_config(config, sets), progress=not no_progress, echo=typer.echo)


@app.command("probe")
def probe_cmd(
    model: Model = None,
    problems: int = typer.Option(
        16, "--problems", min=1, help="Proposals to sample (16 take about 5 minutes with the CPU default on 2 cores)."
    ),
    attempts: int = typer.Option(4, "--attempts", min=1, help="Solve attempts per valid problem."),
    seed: Seed = 0,
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="A YAML config for everything else."),
    run_dir: Optional[Path] = typer.Option(
        None, "--run-dir", help="Keep the probe's ledger here (default: a temporary directory)."
    ),
    overrides: Overrides = None,
    no_progress: NoProgress = False,
    as_json: AsJson = False,
) -> None:
    """Is a model inside the recipe's working range? A small mining round tells.

    It reports the valid rate, the mixed-outcome rate and pairs per proposal with 95% intervals, and the
    verdict they support."""
    if no_progress:
        quiet_libraries()
    from .config import load_config
    from .mine.probe import PROBE_DEFAULTS, probe

    sets = [f"mine.{k}={v}" for k, v in PROBE_DEFAULTS.items()]
    sets += [f"mine.problems={problems}", f"mine.attempts={attempts}", f"seed={seed}"] + list(overrides or [])
    if model is not None:
        sets.append(f"engine.model={model}")
    with stdout_to_stderr(as_json), runtime_errors_are_failures():
        stats = probe(load_config(config, sets), run_dir, progress=not no_progress, echo=typer.echo)
    if as_json:
        typer.echo(json.dumps(stats, indent=2))


pairs_app = typer.Typer(help="Export mined pairs, or import the reference implementation's.", no_args_is_help=True)
app.add_typer(pairs_app, name="pairs")


@pairs_app.command("export")
def pairs_export(
    run_dir: RunDir,
    out: Path = typer.Option(..., "--out", help="The JSONL file to write."),
    fmt: str = typer.Option(
        "sft",
        "--format",
        help="The format: tinyforge (the reference schema), sft (TRL prompt/completion) or dpo "
        "(prompt/chosen/rejected).",
    ),
    classes: list[str] = typer.Option([], "--class", help="Keep only these broken-attempt classes (repeatable)."),
) -> None:
    """Write the run's pairs as JSONL."""
    from .transfer import export_pairs

    if not (run_dir / "ledger.sqlite").exists():
        fail(f"no ledger in {run_dir}")
    with value_errors_are_usage():
        n = export_pairs(run_dir, fmt, out, tuple(classes) or None)
    typer.echo(f"wrote {n} pairs to {out} ({fmt})")


@pairs_app.command("import")
def pairs_import(
    path: Annotated[
        Path, typer.Argument(help="A JSONL file in the reference schema (signature, tests, broken, error, fixed).")
    ],
    run_dir: RunDir,
) -> None:
    """Import reference-schema pairs into a run's ledger; both sides are judged on the way in. Prints JSON."""
    from .transfer import import_pairs

    if not path.exists():
        fail(f"pairs file not found: {path}")
    with stdout_to_stderr(), value_errors_are_usage():
        info = import_pairs(path, run_dir)
    typer.echo(json.dumps(info))


@app.command("train")
def train_cmd(
    out: Path = typer.Option(..., "--out", help="The adapter directory to write (PEFT format, plus training.json)."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Train on this run's mined pairs."),
    pairs: Optional[Path] = typer.Option(None, "--pairs", help="Or train on a reference-schema pairs file (JSONL)."),
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="A YAML run config: its train section and engine.model are used."
    ),
    overrides: Overrides = None,
    model: Model = None,
    method: Optional[str] = typer.Option(
        None, "--method", help="The method (train.method): sft, or dpo with chosen = fixed and rejected = broken."
    ),
    fmt: Optional[str] = typer.Option(
        None,
        "--format",
        help="The examples' format (train.format): repair (task, tests, broken and error to fixed), solve or mixed.",
    ),
    control: Optional[str] = typer.Option(
        None, "--control", help="The control (train.control): none, corrupted, shuffled, rft or format."
    ),
    keep_correct: Optional[float] = typer.Option(
        None, "--keep-correct", help="Keep-correct examples per pair (train.keep_correct)."
    ),
    drop_class: list[str] = typer.Option(
        [], "--drop-class", help="Drop pairs whose broken side is of this class (train.drop_classes; repeatable)."
    ),
    first_n: Optional[int] = typer.Option(None, "--first-n", help="Use the first N pairs (train.first_n)."),
    rank: Optional[int] = typer.Option(None, "--rank", help="The LoRA rank (train.rank)."),
    alpha: Optional[int] = typer.Option(None, "--alpha", help="The LoRA alpha (train.alpha; default 2 x rank)."),
    dropout: Optional[float] = typer.Option(None, "--dropout", help="The LoRA dropout (train.dropout)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="The learning rate (train.lr)."),
    epochs: Optional[float] = typer.Option(None, "--epochs", help="Epochs (train.epochs)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="The batch size (train.batch_size)."),
    grad_accum: Optional[int] = typer.Option(
        None, "--grad-accum", help="Gradient accumulation steps (train.grad_accum)."
    ),
    max_tokens: Optional[int] = typer.Option(
        None, "--max-tokens", help="The most tokens an example may have (train.max_tokens)."
    ),
    seed: Optional[int] = typer.Option(None, "--seed", help="The training seed (train.seed)."),
    no_progress: NoProgress = False,
) -> None:
    """Fine-tune a LoRA adapter on mined pairs (or on a control built from them).

    Settings come from the config's train section (defaults: the recipe's), then --set, then the options
    here."""
    if no_progress:
        quiet_libraries()
    from .config import load_config
    from .train import train

    if (run_dir is None) == (pairs is None):
        fail("give exactly one of --run-dir and --pairs")
    sets = list(overrides or []) + _options_as_sets(
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
    with value_errors_are_usage():
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
        "humaneval",
        "--bench",
        help="The benchmarks, comma-separated: humaneval, humaneval+, mbpp, mbpp+, gsm8k, math500.",
    ),
    model: Model = None,
    adapter: Adapter = None,
    backend: Backend = "auto",
    fmt: str = typer.Option(
        "raw", "--format", help="The prompt format: raw (a completion; right for base models) or chat."
    ),
    n: int = typer.Option(1, "--n", min=1, help="Samples per task (for pass@k and best-of-n)."),
    temperature: Temperature = 0.0,
    max_tokens: MaxTokens = 512,
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N tasks (labelled a subset)."),
    seed: Seed = 0,
    data_dir: DataDir = None,
    out: Path = typer.Option(
        Path("results.json"), "--out", help="The results JSON to write (a .md table is written beside it)."
    ),
    dtype: Dtype = "auto",
    ray_address: RayAddress = None,
    no_progress: NoProgress = False,
    as_json: AsJson = False,
) -> None:
    """Generate and score. Subcommands: `score` (samples made elsewhere), `compare` (two results).

    With --json, stdout holds the results' summary (every benchmark's scores, settings and versions; the
    per-task samples stay in the results file)."""
    if ctx.invoked_subcommand is not None:
        return
    if no_progress:
        quiet_libraries()
    from .config import EngineConfig, ScaleConfig
    from .datasets import data_dir as resolve_data_dir
    from .engine.auto import mode_of
    from .evaluate import evaluate, write
    from .scale import connected, make_engine

    benches = _benches(bench)
    if fmt not in ("raw", "chat"):
        fail(f"--format must be raw or chat, not {fmt!r}")
    if adapter is not None and not (adapter / "adapter_config.json").exists():
        fail(f"not a PEFT adapter directory (no adapter_config.json): {adapter}")
    resolve_data_dir(data_dir)
    with stdout_to_stderr(as_json), connected(ray_address), value_errors_are_usage():
        engine = make_engine(
            EngineConfig(backend=backend, model=model, dtype=dtype),
            ScaleConfig(ray_address=ray_address),
            mode_of(n=n, temperature=temperature),
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
    write(report, out)
    _results_written(report, f"{out} and {out.with_suffix('.md')}", as_json=as_json)


def _results_written(report: dict, where: str, *, as_json: bool) -> None:
    """Where the results went; with --json, their summary alone on stdout (no per-task samples)."""
    if not as_json:
        typer.echo(f"results: {where}")
        return
    benches = {name: {k: v for k, v in b.items() if k != "per_task"} for name, b in report["benches"].items()}
    typer.echo(json.dumps({**report, "benches": benches, "results_file": where}, indent=2, default=str))


@eval_app.command("score")
def eval_score(
    bench: str = typer.Option(..., "--bench", help="The one benchmark the samples are for."),
    samples: Path = typer.Option(
        ...,
        "--samples",
        help="A JSONL file of task_id and solution (full code) or completion (EvalPlus format; for gsm8k and "
        "math500 the completion is a solution ending in `#### ANSWER` or `\\boxed{ANSWER}`).",
    ),
    data_dir: DataDir = None,
    out: Path = typer.Option(Path("results.json"), "--out", help="The results JSON to write."),
    ray_address: RayAddress = None,
    as_json: AsJson = False,
) -> None:
    """Score completions produced elsewhere (EvalPlus samples format). With --json, stdout holds the
    results' summary."""
    from .evaluate import evaluate, write
    from .scale import connected

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
    with stdout_to_stderr(as_json), connected(ray_address), value_errors_are_usage():
        report = evaluate(
            None,
            benches,
            n=max(counts.values(), default=1),
            data_dir=data_dir,
            samples={benches[0]: rows},
            echo=typer.echo,
        )
    report["samples_file"] = str(samples)
    write(report, out)
    _results_written(report, str(out), as_json=as_json)


@eval_app.command("compare")
def eval_compare(
    a: Path = typer.Argument(..., help="The results JSON of the baseline (A)."),
    b: Path = typer.Argument(..., help="The results JSON of the treatment (B)."),
    as_json: AsJson = False,
) -> None:
    """Per-task flips and the paired difference B - A, with its interval and test.

    Greedy results (one sample per task) get Newcombe's 95% interval and McNemar's exact test, and say how
    the fixed tasks failed in A and the broken ones fail in B (wrong answer, syntax error, NameError,
    another exception, a limit); for n > 1, a paired bootstrap and a sign-flip permutation test. Arms
    evaluated with a different format, limit, n, temperature, top_p or max tokens are refused."""
    from .evaluate import compare
    from .evaluate.compare import markdown

    data = []
    for path in (a, b):
        try:
            data.append(json.loads(path.read_text()))
        except FileNotFoundError:
            fail(f"results file not found: {path}")
        except json.JSONDecodeError:
            fail(f"not a results JSON: {path}")
    result = compare(*data)
    if not result:
        fail("the two results share no benchmark tasks")
    typer.echo(json.dumps(result, indent=2) if as_json else markdown(result, a.stem, b.stem))


@eval_app.command("export")
def eval_export(
    results: list[Path] = typer.Argument(
        ..., help="Results JSON files (from selfmine eval or a run's eval/ directory)."
    ),
    out_dir: Path = typer.Option(..., "--out-dir", help="Where the <results stem>.<bench>.jsonl files go."),
    data_dir: DataDir = None,
) -> None:
    """Write each result's samples in EvalPlus's format, for any scorer to re-check.

    Each row is a task_id with its solution (or its completion, for math), so that `selfmine eval score`,
    EvalPlus or another scorer can score them again."""
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
        ...,
        help="One directory per seed of one experiment: a run directory (its eval/*.json) or a committed "
        "results folder (its *.json, e.g. results/cpu-qwen2.5-coder-0.5b/s1).",
    ),
    main: str = typer.Option("adapter", "--main", help="The arm whose lift counts (compared with the best control)."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Also draw the differences as a forest plot into this PNG (pooled and per seed)."
    ),
    as_json: AsJson = False,
) -> None:
    """Pool an experiment's seeds: every arm against the base, and the main arm against its best control.

    The difference is averaged over seeds per task, with a bootstrap interval over tasks and a sign-flip
    test; McNemar's exact p is given per seed. Seeds may be at different stages: each comparison pools the
    seeds that hold both its arms and names them. An arm must have been evaluated the same way on every seed."""
    from .evaluate.pool import markdown, pool

    loaded = []
    for run in runs:
        files = sorted((run / "eval").glob("*.json")) or sorted(run.glob("*.json"))
        if not files:
            fail(f"no evaluation results in {run / 'eval'} or {run}: is {run} a run or results directory?")
        arms = {}
        for f in files:
            try:
                arms[f.stem] = json.loads(f.read_text())
            except json.JSONDecodeError:
                fail(f"not a results JSON: {f}")
        loaded.append(arms)
    with stdout_to_stderr(as_json):
        names = [r.name for r in runs] if len({r.name for r in runs}) == len(runs) else [str(r) for r in runs]
        pooled = pool(loaded, main=main, names=names)
    if plot is not None:
        from .report.charts import pooled_lifts

        try:
            plot.write_bytes(pooled_lifts(pooled, main=main))
        except OSError as e:
            fail(f"cannot write the plot {plot}: {e.strerror or e}")
    typer.echo(json.dumps(pooled, indent=2) if as_json else markdown(pooled, main=main))


@app.command("study")
def study_cmd(
    config: Path = typer.Option(..., "--config", "-c", help="A YAML study config (e.g. configs/study-cpu-smoke.yaml)."),
    run_dir: Path = typer.Option(..., "--run-dir", help="Where every arm is cached; rerun to resume."),
    overrides: Overrides = None,
    ray_address: RayAddress = None,
    no_progress: NoProgress = False,
) -> None:
    """Fine-tuning vs best-of-n sampling. Writes study.json, study.md and study.html.

    For each pair count (nested subsets) and seed: base and tuned models, greedy and n samples; the
    interaction (D-C)-(B-A) with intervals, the threshold where it turns positive, and the samples'
    diversity."""
    if no_progress:
        quiet_libraries()
    from .config import load_config
    from .datasets import data_dir as resolve_data_dir
    from .study import run_study

    cfg = load_config(config, list(overrides or []) + _options_as_sets(("scale.ray_address", ray_address)))
    if cfg.data_dir is None:
        cfg.data_dir = str(resolve_data_dir(None))
    out = run_study(run_dir, cfg, progress=not no_progress, echo=typer.echo)
    for name, r in out["study"]["benches"].items():
        typer.echo(f"{name}: threshold (oracle) {r['threshold_oracle']}, (selector) {r['threshold_selector']}")
    typer.echo(f"study: {out['html']}, {out['md']} and {out['json']}")


@app.command("run")
def run_cmd(
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="A YAML experiment config (default: the CPU demo)."
    ),
    run_dir: Path = typer.Option(Path("runs/cpu-demo"), "--run-dir", help="Where everything goes; rerun to resume."),
    overrides: Overrides = None,
    data_dir: DataDir = None,
    ray_address: RayAddress = None,
    no_progress: NoProgress = False,
) -> None:
    """The whole loop: baseline eval, mine, train, eval the adapter, controls, report. Resumable."""
    from .config import load_config
    from .datasets import data_dir as resolve_data_dir
    from .pipeline import Pipeline

    if no_progress:
        quiet_libraries()
    path = config or Path(__file__).parent / "configs" / "cpu-demo.yaml"
    sets = list(overrides or []) + _options_as_sets(("data_dir", data_dir), ("scale.ray_address", ray_address))
    try:
        cfg = load_config(path, sets)
        if cfg.data_dir is None:
            cfg.data_dir = str(resolve_data_dir(None))
        Pipeline(run_dir, cfg, progress=not no_progress, echo=typer.echo).run()
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
def report_cmd(run_dir: RunDir) -> None:
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


def flowing(text: Optional[str]) -> Optional[str]:
    """Help text as flowing paragraphs: the line breaks inside a paragraph (a docstring wrapped at the
    source's width) become spaces, so that help lists and pages wrap at the terminal's width, never
    mid-sentence at the source's. Paragraphs stay apart; one marked \\b (click's verbatim mark) stays as is."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(
        p if p.startswith("\b") else " ".join(line.strip() for line in p.splitlines()) for p in paragraphs
    )


def _flow_help(group: typer.Typer) -> None:
    """Every help text of `group`, its commands and its subgroups made `flowing`."""
    if isinstance(group.info.help, str):
        group.info.help = flowing(group.info.help)
    infos = [*group.registered_commands, *([group.registered_callback] if group.registered_callback else [])]
    for info in infos:
        if isinstance(info.help, str):
            info.help = flowing(info.help)
        if info.callback is not None:
            info.callback.__doc__ = flowing(info.callback.__doc__)
    for sub in group.registered_groups:
        if isinstance(sub.help, str):
            sub.help = flowing(sub.help)
        _flow_help(sub.typer_instance)


_flow_help(app)


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
    except UserError as e:  # the one place a user's error is caught: one line, never a traceback
        typer.echo(f"selfmine: error: {one_line(str(e))}", err=True)
        raise SystemExit(e.exit_code) from None
    except usage_error as e:  # one line, exit 2, no box, no traceback
        if type(e).__name__ == "NoArgsIsHelpError":
            e.show()
            raise SystemExit(2) from None
        typer.echo(f"selfmine: error: {e.format_message()} (see --help)", err=True)
        raise SystemExit(getattr(e, "exit_code", 2)) from None


if __name__ == "__main__":
    main()
