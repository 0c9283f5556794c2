"""The code domain: problem-writing prompts, `ast`-based parsing and quality gates, solve and repair
prompts, leak checks, fingerprints, and the classification of broken attempts."""

from __future__ import annotations

import ast
import copy
import hashlib
import io
import random
import re
import tokenize
from dataclasses import dataclass, field

from .code_examples import EXAMPLES, TOPICS
from .grounding import model_calls

# What ast raises on hostile model output besides SyntaxError: null bytes, deep nesting, huge expressions.
HOSTILE = (SyntaxError, ValueError, RecursionError, MemoryError)

PROPOSE_STOP = ["\n### Exercise", "\n###", "\nif __name__", "\nprint("]
SOLVE_STOP = ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert"]
FAILURE_CLASSES = ("syntax", "runtime", "wrong_answer", "timeout", "format")
STUB_BODIES = {"pass", "...", "raise NotImplementedError", "raise NotImplementedError()", "return", "return None"}


# -- propose ----------------------------------------------------------------------------------------
HEADER = [
    "# Python exercises: each is one self-contained function with a docstring, a correct",
    "# implementation, and at least three assert tests that call it.",
    "",
]
VARIANT_ASK = {
    "harder": "a harder variant of the exercise above: the same idea with one more requirement or edge case",
    "easier": "an easier variant of the exercise above: the same idea with one step fewer",
}


def example_text(problem) -> str:
    """A stored valid problem as an in-context example: its code, then its (grounded) visible asserts."""
    return problem.code.rstrip() + "\n\n" + "\n".join(problem.tests)


def _diverse(rng: random.Random, own: list, k: int) -> list:
    """Up to k of the model's own valid problems, pairwise dissimilar (token Jaccard below 0.5)."""
    order = own[:]
    rng.shuffle(order)
    chosen, sets = [], []
    for p in order:
        toks = set(code_tokens(p.code))
        if all(len(toks & t) / max(1, len(toks | t)) < 0.5 for t in sets):
            chosen.append(p)
            sets.append(toks)
        if len(chosen) == k:
            break
    return chosen


def propose_prompt(
    rng: random.Random, n_examples: int = 3, own: list | None = None, own_share: int = 2
) -> tuple[str, list[str]]:
    """Raw-completion prompt for a base model: a few exercises, then the start of a new one. Once the
    model has valid problems of its own, up to `own_share` of the examples are drawn from them (diverse);
    at least one shipped example stays, to anchor the format. Returns (prompt, example sources)."""
    mine = _diverse(rng, own or [], min(own_share, n_examples - 1))
    shipped = rng.sample(range(len(EXAMPLES)), n_examples - len(mine))
    shots = [(f"shipped:{i}", EXAMPLES[i]) for i in shipped] + [(f"own:{p.id}", example_text(p)) for p in mine]
    rng.shuffle(shots)
    parts = list(HEADER)
    for _, ex in shots:
        parts += ["### Exercise", ex, ""]
    # End on a newline, not "def ": a prompt ending in a space makes tokenizers split words oddly.
    parts += [f"### Exercise (topic: {rng.choice(TOPICS)})", ""]
    return "\n".join(parts), [src for src, _ in shots]


def variant_prompt(rng: random.Random, parent, variant: str) -> tuple[str, list[str]]:
    """The curriculum's next step: a harder (or easier) variant of one of the model's own problems."""
    i = rng.randrange(len(EXAMPLES))
    parts = list(HEADER) + ["### Exercise", EXAMPLES[i], "", "### Exercise", example_text(parent), ""]
    parts += [f"### Exercise ({VARIANT_ASK[variant]})", ""]
    return "\n".join(parts), [f"shipped:{i}", f"parent:{parent.id}"]


@dataclass
class Parsed:
    ok: bool
    reason: str = ""  # rejection reason when not ok
    detail: str = ""
    entry_point: str = ""
    code: str = ""  # imports + helpers + the function: the model's canonical solution
    tests: list[str] = field(default_factory=list)
    header: str = ""  # imports + signature + docstring
    body: list[str] = field(default_factory=list)  # the canonical body's statements (for the leak check)
    hidden: list[str] = field(default_factory=list)  # grounded mode: asserts judged but not shown
    calls: list = field(default_factory=list)  # grounded mode: the model's literal calls (input seeds)
    non_literal_calls: int = 0
    fn: object = None  # grounded mode: the function's ast node


def _parse_prefix(text: str) -> ast.Module | None:
    """Parse text; a base model often runs past the end, so drop trailing lines until it parses."""
    lines = text.split("\n")
    for end in range(len(lines), 0, -1):
        try:
            return ast.parse("\n".join(lines[:end]))
        except HOSTILE:  # hostile output (nesting, null bytes) is rejected like any unparseable text
            continue
    return None


def _calls(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name for n in ast.walk(node))


def _constant(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def _expected_value(test: ast.Assert, name: str) -> str | None:
    """For `assert f(...) == LITERAL`, the literal's source; else None."""
    t = test.test
    if isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq):
        left, right = t.left, t.comparators[0]
        if _calls(left, name) and _constant(right):
            return ast.unparse(right)
        if _calls(right, name) and _constant(left):
            return ast.unparse(left)
    return None


def _constant_expected(asserts: list[ast.AST], name: str) -> str | None:
    expected = [_expected_value(n, name) if isinstance(n, ast.Assert) else None for n in asserts]
    if expected and all(e is not None for e in expected) and len(set(expected)) == 1:
        return expected[0]
    return None


def constant_expectations(tests: list[str], name: str) -> str | None:
    """The one literal every test expects, when a constant-returning stub would pass them all."""
    try:
        return _constant_expected([ast.parse(t).body[0] for t in tests], name)
    except HOSTILE:
        return None


def _function(completion: str):
    """(rejection, tree, fn, kept helpers and imports) for the first function the model wrote."""
    start = re.search(r"^(def |import |from )", completion, re.M)
    text = completion[start.start() :] if start else completion
    try:
        tree = _parse_prefix(text)
    except (RecursionError, MemoryError, ValueError):  # hostile nesting; ValueError: NUL bytes
        return Parsed(False, "syntax", "unparseable (too deep or invalid bytes)"), None, None, []
    if tree is None:
        return Parsed(False, "syntax", "no parseable function"), None, None, []
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if not funcs:
        return Parsed(False, "no_function", ""), None, None, []
    fn = funcs[0]
    name = fn.name
    doc = ast.get_docstring(fn)
    if not doc or not doc.strip():
        return Parsed(False, "no_docstring", name), None, None, []
    body = fn.body[1:]
    if not body or all(ast.unparse(s) in STUB_BODIES for s in body):
        return Parsed(False, "stub_body", name), None, None, []
    keep = [
        n
        for n in tree.body
        if isinstance(n, (ast.Import, ast.ImportFrom))
        or (isinstance(n, ast.FunctionDef) and n is not fn and not _calls(n, name))
    ]
    return None, tree, fn, keep


def _accepted(fn: ast.FunctionDef, keep: list, tests: list[str]) -> Parsed:
    imports = [n for n in keep if isinstance(n, (ast.Import, ast.ImportFrom))]
    code = ast.unparse(ast.Module(body=[*keep, fn], type_ignores=[]))
    head_fn = copy.deepcopy(fn)
    head_fn.body = [fn.body[0]]
    header = ast.unparse(ast.Module(body=[*imports, *[k for k in keep if k not in imports], head_fn], type_ignores=[]))
    return Parsed(
        True, entry_point=fn.name, code=code, tests=tests, header=header, body=[ast.unparse(s) for s in fn.body[1:]]
    )


def parse_proposal(completion: str, min_asserts: int = 3) -> Parsed:
    """`mine.tests: model`: the model's own asserts are the tests (the reference recipe)."""
    rejected, tree, fn, keep = _function(completion)
    if rejected:
        return rejected
    name = fn.name
    asserts = [n for n in tree.body if isinstance(n, ast.Assert)]
    calling = [a for a in asserts if _calls(a, name)]
    trivial = [a for a in asserts if not _calls(a, name) or _constant(a.test)]
    tests, seen = [], set()
    for a in calling:
        if _constant(a.test):
            continue
        src = ast.unparse(a)
        if src not in seen:
            seen.add(src)
            tests.append(src)
    if len(tests) < min_asserts:
        detail = f"{len(tests)} asserts call {name}" + (f"; {len(trivial)} trivial" if trivial else "")
        return Parsed(False, "too_few_asserts", detail)
    constant = _constant_expected(calling, name)
    if constant is not None:
        return Parsed(False, "constant_expectations", f"every test expects {constant}")
    return _accepted(fn, keep, tests)


def parse_function(completion: str) -> Parsed:
    """`mine.tests: grounded`: the function alone, plus the model's calls of it as input seeds (its
    expected values are ignored: the interpreter computes them). `fn` is set for drawing inputs."""
    rejected, tree, fn, keep = _function(completion)
    if rejected:
        return rejected
    parsed = _accepted(fn, keep, [])
    parsed.calls, parsed.non_literal_calls = model_calls(tree, fn.name)
    parsed.fn = fn
    return parsed


def calls_prompt(code: str, name: str) -> str:
    """A short follow-up for a function written with too few calls: ask for calls only."""
    return f"{code}\n\n\n# Example calls of {name} with different arguments:\nprint({name}("


def parse_calls(completion: str, name: str, chat: bool = False) -> list:
    """Calls from the continuation of `calls_prompt` (which opened the first `print(name(`); in chat
    format, from the answer's code."""
    text = extract_code(completion) if chat else f"print({name}(" + completion
    lines = [ln for ln in text.splitlines() if ln.strip()][:12]
    good = []
    for ln in lines:
        try:
            good.append(ast.parse(ln.strip()).body[0])
        except (SyntaxError, RecursionError, MemoryError, ValueError, IndexError):
            continue
    return model_calls(ast.Module(body=good, type_ignores=[]), name)[0]


# -- solve ------------------------------------------------------------------------------------------
def solve_prompt(header: str, tests: list[str], with_header: bool = True) -> str:
    """Signature, docstring and tests; never the body. With the header the model continues with the body;
    without it (training targets that are whole programs) the task is given in comments."""
    lines = ["# Complete the function below so that all of these tests pass:"]
    lines += [f"# {t}" for t in tests]
    if with_header:
        lines += ["", header, ""]
    else:
        lines += ["# Task:"] + [f"# {ln}" for ln in header.splitlines()] + ["# Solution:", ""]
    return "\n".join(lines)


def leaks(prompt: str, body: list[str]) -> str | None:
    """A line of the canonical body that appears verbatim in the prompt, if any (short lines such as
    `return x` are too common to count)."""
    prompt_lines = {ln.strip() for ln in prompt.splitlines()}
    for stmt in body:
        for line in stmt.splitlines():
            line = line.strip()
            if len(line) >= 16 and line in prompt_lines:
                return line
    return None


def attempt_code(header: str, completion: str) -> str:
    return f"{header}\n{completion}"


def extract_code(text: str) -> str:
    """Code from a chat answer: the first fenced block that parses, else the whole text."""
    for block in re.findall(r"```(?:python|py|Python)?\s*\n(.*?)```", text, re.S):
        try:
            ast.parse(block)
            return block
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    return text


def attempt_program(header: str, completion: str, entry_point: str, chat: bool = False) -> str:
    """The program judged for one attempt. Raw: the header continued by the completion. Chat: the answer's
    code block; a block that defines the function stands alone (with the header's imports), else it is
    taken as the body that continues the header."""
    if not chat:
        return attempt_code(header, completion)
    code = extract_code(completion)
    if re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", code, re.M):
        imports = "\n".join(ln for ln in header.splitlines() if ln.startswith(("import ", "from ")))
        return f"{imports}\n{code}".strip() + "\n"
    return attempt_code(header, code)


def repair_prompt(header: str, tests: list[str], broken: str, error: str, with_header: bool = True) -> str:
    """The repair format of the reference recipe: task + tests + broken attempt + error -> fixed code.
    With the header the model continues with the body; without it, it writes the whole fixed program."""
    err = " ".join(error.split())[-300:] or "(no error message)"
    lines = ["# This attempt at the function fails its tests:"]
    lines += [f"# {t}" for t in tests]
    lines += ["# Broken attempt:"] + [f"# {ln}" for ln in broken.splitlines()]
    if not with_header:
        lines += ["# Task:"] + [f"# {ln}" for ln in header.splitlines()]
    lines += [f"# Error: {err}", "# Fixed version:", ""]
    if with_header:
        lines += [header, ""]
    return "\n".join(lines)


def header_from_source(source: str) -> tuple[str, str] | None:
    """(entry point, imports + signature + docstring) of the first function in `source`, cut with `ast`
    (the reference cut it by scanning lines and often kept the whole body)."""
    tree = _parse_prefix(source)
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef)), None) if tree else None
    if fn is None:
        return None
    head = copy.deepcopy(fn)
    doc = ast.get_docstring(fn)
    head.body = [fn.body[0]] if doc else [ast.Expr(ast.Constant("..."))]
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    text = ast.unparse(ast.Module(body=[*imports, head], type_ignores=[]))
    if not doc:
        text = text.rsplit("\n", 1)[0]  # signature only
    return fn.name, text


# -- classification ---------------------------------------------------------------------------------
def classify_failure(completion: str, status: str, error_type: str, finish_reason: str, tests: list[str]) -> str:
    """syntax | runtime | wrong_answer | timeout | format. Format garbage (empty, stub, echoed prompt,
    truncated) is what the reference pairs mostly were; it is told apart from real bugs."""
    body = completion.strip()
    if not body or "\n".join(ln.strip() for ln in body.splitlines() if ln.strip()) in STUB_BODIES:
        return "format"
    if any(t in completion for t in tests) or re.search(r"^\s*# Complete the function", completion, re.M):
        return "format"  # echoed prompt
    if error_type in ("SyntaxError", "IndentationError", "TabError"):
        return "format" if finish_reason == "length" else "syntax"
    if status == "timeout":
        return "timeout"
    if status == "failed":
        return "wrong_answer"
    return "runtime"


# -- dedup and decontamination ----------------------------------------------------------------------
class _Normalise(ast.NodeTransformer):
    def __init__(self):
        self.names: dict[str, str] = {}

    def _n(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_FunctionDef(self, node):
        node.name = self._n(node.name)
        if ast.get_docstring(node):
            node.body = node.body[1:] or [ast.Pass()]
        node.returns = None
        self.generic_visit(node)
        return node

    def visit_arg(self, node):
        node.arg = self._n(node.arg)
        node.annotation = None
        return node

    def visit_Name(self, node):
        node.id = self._n(node.id)
        return node


def fingerprint(code: str) -> str:
    """Hash of the AST with names, docstrings and annotations normalised away (of the text, where the AST
    is too deep to walk)."""
    try:
        tree = _Normalise().visit(ast.parse(code))
        return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:32]
    except HOSTILE:
        return hashlib.sha256(code.encode("utf-8", "replace")).hexdigest()[:32]


_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|[^\sA-Za-z0-9_]")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    t = tokens(text)
    return {tuple(t[i : i + n]) for i in range(len(t) - n + 1)}


def code_tokens(code: str) -> list[str]:
    try:
        return [t.string for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.string.strip()]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return tokens(code)
