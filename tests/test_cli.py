"""The command line's contract: every user error is one `UserError`, caught once in `main` and printed as
one line; help reads as sentences; `--json` puts JSON alone on stdout. In-process and cheap: no model, and
the one sandbox run is a trivial program."""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from selfmine import cli
from selfmine.errors import UserError

# (module, class, the base code elsewhere may still catch it by)
USER_ERRORS = [
    ("selfmine.config", "ConfigError", Exception),
    ("selfmine.datasets", "DataError", Exception),
    ("selfmine.engine.base", "EngineError", Exception),
    ("selfmine.engine.models", "ModelError", Exception),
    ("selfmine.train.run", "TrainError", Exception),
    ("selfmine.study.errors", "StudyError", RuntimeError),
    ("selfmine.evaluate.pool", "PoolError", ValueError),
    ("selfmine.evaluate.compare", "IncomparableResults", ValueError),
    ("selfmine.scale.cluster", "RayMissing", RuntimeError),
    ("selfmine.ledger.store", "RunDirBusy", RuntimeError),
    ("selfmine.sandbox.judge", "BadTests", ValueError),
    ("selfmine.pipeline", "PipelineError", RuntimeError),
    ("selfmine.tasks.mathcheck", "MathVerifyMissing", RuntimeError),
    ("selfmine.tasks.mathcheck", "MathHelperFailed", RuntimeError),
]


def _error(module: str, name: str) -> type[Exception]:
    return getattr(importlib.import_module(module), name)


def run_main(monkeypatch, *args: str) -> int:
    """`selfmine ARGS` in this process; its exit code."""
    monkeypatch.setattr(sys, "argv", ["selfmine", *args])
    with pytest.raises(SystemExit) as e:
        cli.main()
    return e.value.code


@pytest.mark.parametrize("module,name,base", USER_ERRORS, ids=[n for _, n, _ in USER_ERRORS])
def test_every_user_facing_error_is_a_user_error_and_keeps_its_base(module, name, base):
    cls = _error(module, name)
    assert issubclass(cls, UserError) and issubclass(cls, base)


def _user_error_names() -> set[str]:
    for module, name, _ in USER_ERRORS:
        _error(module, name)
    found, todo = set(), [UserError]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub.__name__)
            todo.append(sub)
    return found


def test_cli_catches_no_user_error_but_in_main():
    """No `except` in cli.py names a UserError subclass: main's one `except UserError` handles them all."""
    names = _user_error_names()
    assert {"ConfigError", "RayMissing", "BadTests"} <= names
    tree = ast.parse(Path(cli.__file__).read_text())
    caught = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            for n in ast.walk(node.type):
                if isinstance(n, (ast.Name, ast.Attribute)):
                    caught.append((n.id if isinstance(n, ast.Name) else n.attr, node.lineno))
    assert [(n, line) for n, line in caught if n in names] == []
    assert [line for n, line in caught if n == "UserError"]  # main's


@pytest.mark.parametrize("module,name,base", USER_ERRORS, ids=[n for _, n, _ in USER_ERRORS])
def test_a_user_error_from_any_command_is_one_line_and_exit_2(module, name, base, monkeypatch, capsys):
    cls = _error(module, name)

    def boom():
        raise cls("what happened\n  and what to do")

    monkeypatch.setattr("selfmine.sandbox.best_launcher", boom)
    assert run_main(monkeypatch, "version") == 2
    out, err = capsys.readouterr()
    assert out == "" and err == "selfmine: error: what happened; and what to do\n"


def test_a_user_error_can_name_its_own_exit_code(monkeypatch, capsys):
    class Refused(UserError):
        exit_code = 5

    def boom():
        raise Refused("no")

    monkeypatch.setattr("selfmine.sandbox.best_launcher", boom)
    assert run_main(monkeypatch, "version") == 5
    assert capsys.readouterr().err == "selfmine: error: no\n"


def test_bad_tests_are_one_line_exit_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "s.py").write_text("def f():\n    return 1\n")
    (tmp_path / "t.py").write_text("assert f() ==\n")
    assert run_main(monkeypatch, "judge", str(tmp_path / "s.py"), "-t", str(tmp_path / "t.py")) == 2
    err = capsys.readouterr().err
    assert err.startswith("selfmine: error: tests are not valid Python") and err.count("\n") == 1


def test_incomparable_results_are_one_line_exit_2(tmp_path, monkeypatch, capsys):
    for name, fmt in (("a", "raw"), ("b", "chat")):
        (tmp_path / f"{name}.json").write_text(json.dumps({"format": fmt, "benches": {}}))
    assert run_main(monkeypatch, "eval", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")) == 2
    err = capsys.readouterr().err
    assert "differ in format" in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_bad_config_key_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("selfmine.mine.mine", lambda *a, **k: pytest.fail("mined despite a bad config"))
    assert run_main(monkeypatch, "mine", "--run-dir", str(tmp_path), "--set", "mine.bogus=1") == 2
    err = capsys.readouterr().err
    assert "mine.bogus" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "raised,code",
    [
        (lambda: _error("selfmine.sandbox.judge", "SandboxFailed")("the sandbox failed; rerun to resume"), 3),
        (lambda: _error("selfmine.scale.cluster", "RayMissing")("--ray-address needs Ray"), 2),
    ],
    ids=["sandbox-failed", "ray-missing"],
)
def test_mining_tells_a_failing_machine_from_a_user_error(raised, code, tmp_path, monkeypatch, capsys):
    """A RuntimeError under mining is the machine's (exit 3, rerun to resume); a UserError that is also a
    RuntimeError is still the user's (exit 2)."""

    def fake_mine(*a, **k):
        raise raised()

    monkeypatch.setattr("selfmine.mine.mine", fake_mine)
    assert run_main(monkeypatch, "mine", "--run-dir", str(tmp_path)) == code
    assert capsys.readouterr().err.count("\n") == 1


def _commands(group, path: tuple[str, ...] = ()):
    """(path, click command) for the root and every command and group under it (Typer may vendor its own
    click, so a group is whatever has subcommands)."""
    yield path, group
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*path, name))
        else:
            yield (*path, name), cmd


COMMANDS = list(_commands(typer.main.get_command(cli.app)))
SENTENCE_END = (".", "?", "!")


def test_commands_cover_the_cli():
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"", "judge", "generate", "mine", "eval", "eval pool", "pairs import", "env"} <= names


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) or "selfmine" for p, _ in COMMANDS])
def test_help_reads_as_sentences(path, cmd):
    """Rendered 1000 columns wide, nothing wraps for width, so every line of a command's description and
    every row of its command list must end a sentence (., ? or !): a line that does not was broken inside
    a sentence by a line break in the source. Every option and argument has a help text that is one
    sentence-like line: a capital letter first, a full stop last."""
    r = CliRunner().invoke(cli.app, [*path, "--help"], env={"COLUMNS": "1000", "TERMINAL_WIDTH": "1000"})
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    usage = next(i for i, line in enumerate(lines) if "Usage:" in line)
    first_box = next(i for i, line in enumerate(lines) if line.startswith("╭"))
    description = [line.strip() for line in lines[usage + 1 : first_box] if line.strip()]
    assert description, "no description"
    assert [line for line in description if not line.endswith(SENTENCE_END)] == []
    if "╭─ Commands" in r.output:
        start = next(i for i, line in enumerate(lines) if line.startswith("╭─ Commands"))
        rows = [line.strip("│ ").rstrip() for line in lines[start + 1 :] if line.startswith("│")]
        assert rows and [row for row in rows if not row.endswith(SENTENCE_END)] == []
    for param in cmd.params:
        text = getattr(param, "help", None)
        assert text and "\n" not in text and re.match(r"[A-Z]", text) and text.endswith("."), (param.name, text)


def test_flowing_joins_the_lines_of_a_paragraph_and_keeps_paragraphs():
    doc = """First sentence runs
    on. Second.

    Another paragraph
        indented.

    \b
    kept
    verbatim"""
    assert cli.flowing(doc) == "First sentence runs on. Second.\n\nAnother paragraph indented.\n\n\b\nkept\nverbatim"


def test_judge_json_is_alone_on_stdout(tmp_path, monkeypatch, capfd):
    """Whatever the work writes to stdout, from Python or straight to fd 1, goes to stderr under --json."""
    from selfmine import sandbox

    real = sandbox.judge

    def noisy(*a, **k):
        print("python-level noise")
        sys.stdout.flush()
        os.write(1, b"fd-level noise\n")
        return real(*a, **k)

    monkeypatch.setattr(sandbox, "judge", noisy)
    (tmp_path / "s.py").write_text("def f():\n    return 1\n")
    (tmp_path / "t.py").write_text("assert f() == 1\n")
    assert run_main(monkeypatch, "judge", str(tmp_path / "s.py"), "-t", str(tmp_path / "t.py"), "--json") == 0
    out, err = capfd.readouterr()
    assert json.loads(out)["status"] == "passed"
    assert "python-level noise" in err and "fd-level noise" in err
    print("after")  # stdout is stdout again
    assert capfd.readouterr().out == "after\n"


def test_generate_json_is_alone_on_stdout(monkeypatch, capfd):
    """A backend that reports its loading on stdout (as some do) still leaves stdout to the JSON."""
    from selfmine.engine.records import Completion

    class Loud:
        def generate(self, prompts, params, adapter=None):
            print("loading weights ... done")
            return [[Completion("x", "stop", 1, 1)] * params.n for _ in prompts]

        def info(self):
            return {"backend": "loud"}

    def get_engine(backend, model, **kwargs):
        print(f"converting {model} (once)")
        return Loud()

    monkeypatch.setattr("selfmine.engine.get_engine", get_engine)
    assert run_main(monkeypatch, "generate", "-p", "hi", "--n", "2", "--backend", "hf", "--json") == 0
    out, err = capfd.readouterr()
    data = json.loads(out)
    assert data["engine"] == {"backend": "loud"} and len(data["completions"]) == 2
    assert "loading weights" in err and "converting" in err


def _noisy(result):
    def work(*a, **k):
        print("python-level noise")
        sys.stdout.flush()
        os.write(1, b"fd-level noise\n")
        return result

    return work


def test_eval_pool_json_is_alone_on_stdout(tmp_path, monkeypatch, capfd):
    for seed in ("s0", "s1"):
        (tmp_path / seed / "eval").mkdir(parents=True)
        (tmp_path / seed / "eval" / "base.json").write_text("{}")
    monkeypatch.setattr("selfmine.evaluate.pool.pool", _noisy({"humaneval": {"pooled": True}}))
    assert run_main(monkeypatch, "eval", "pool", str(tmp_path / "s0"), str(tmp_path / "s1"), "--json") == 0
    out, err = capfd.readouterr()
    assert json.loads(out) == {"humaneval": {"pooled": True}}
    assert "python-level noise" in err and "fd-level noise" in err


def test_pairs_import_prints_its_json_alone_on_stdout(tmp_path, monkeypatch, capfd):
    (tmp_path / "pairs.jsonl").write_text("")
    monkeypatch.setattr("selfmine.transfer.import_pairs", _noisy({"imported": 0, "skipped": 0}))
    assert run_main(monkeypatch, "pairs", "import", str(tmp_path / "pairs.jsonl"), "--run-dir", str(tmp_path)) == 0
    out, err = capfd.readouterr()
    assert json.loads(out) == {"imported": 0, "skipped": 0}
    assert "python-level noise" in err and "fd-level noise" in err


def test_judge_prints_what_the_program_wrote_without_terminal_control(tmp_path, monkeypatch, capfd):
    """A program's exception message reaches the terminal with its escape sequences shown, not obeyed."""
    (tmp_path / "s.py").write_text("def f():\n    raise ValueError('\\x1b[2J\\x1b]0;owned\\x07\\rgone')\n")
    (tmp_path / "t.py").write_text("assert f() == 1\n")
    run_main(monkeypatch, "judge", str(tmp_path / "s.py"), "-t", str(tmp_path / "t.py"))
    out, _ = capfd.readouterr()
    assert "ValueError" in out and "\\x1b[2J" in out
    assert not any(c in out for c in "\x1b\x07\r")
