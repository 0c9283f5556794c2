"""The `selfmine` command. Thin: parse, call one function, print."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    help="selfmine: a base model invents problems, judges its own attempts, mines (broken, fixed) pairs, "
    "fine-tunes on them, and measures the gain on public benchmarks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def fail(message: str, code: int = 2) -> None:
    """One clear line on stderr and a non-zero exit: the way every bad input ends."""
    typer.echo(f"selfmine: error: {message}", err=True)
    raise typer.Exit(code)


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
    from .sandbox import BadTests
    from .sandbox import judge as run_judge

    from .sandbox import split_tests

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


@app.command()
def version() -> None:
    """Print selfmine's version and the isolation the judge will use here."""
    from . import __version__
    from .sandbox import best_launcher

    typer.echo(f"selfmine {__version__} (judge isolation: {best_launcher().mode})")


def main() -> None:
    # Typer vendors its own click in recent releases; its exceptions share TyperException as base.
    usage_error = getattr(typer, "TyperException", None)
    if usage_error is None:
        import click

        usage_error = click.ClickException
    try:
        app(standalone_mode=False)
    except typer.Exit as e:
        raise SystemExit(e.exit_code)
    except typer.Abort:
        typer.echo("selfmine: aborted", err=True)
        raise SystemExit(130)
    except usage_error as e:  # one line, exit 2, no box, no traceback
        if type(e).__name__ == "NoArgsIsHelpError":
            e.show()
            raise SystemExit(2)
        typer.echo(f"selfmine: error: {e.format_message()} (see --help)", err=True)
        raise SystemExit(getattr(e, "exit_code", 2))


if __name__ == "__main__":
    main()
