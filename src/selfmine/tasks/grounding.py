"""Execution-grounded tests for the code domain.

A small base model writes plausible functions but unreliable tests: calls that do not match its own
signature, expected values it got wrong, or too few calls. Here the model's calls are only *inputs*. The
interpreter runs the model's own function on them (in the sandbox) and the observed value becomes the
expected one, so every test is defined by the code. As in EvalPlus's input generation, the model's calls
are seeds that are mutated by type into more inputs; a function with no usable call gets inputs drawn from
its annotations, defaults and parameter names. This module is pure: it plans the calls, writes the
grounding program and reads its output. Running it is the miner's job."""

from __future__ import annotations

import ast
import math
import random
import re
import secrets
from dataclasses import dataclass, field

MAX_REPR = 1024  # an expected value longer than this (as source) is not a readable test
CALL_SECONDS = 0.5  # per call run, enforced inside the sandbox by an interval timer
FLOAT_TOL = 1e-6


@dataclass
class Call:
    args: tuple  # literal positional arguments
    kwargs: dict = field(default_factory=dict)
    origin: str = "model"  # model | mutated | drawn

    def source(self, name: str) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{name}({', '.join(parts)})"


@dataclass
class Grounded:
    ok: bool
    reason: str = ""
    detail: str = ""
    visible: list[str] = field(default_factory=list)  # asserts the solve prompt shows
    hidden: list[str] = field(default_factory=list)  # more asserts only the judge uses
    stats: dict = field(default_factory=dict)


def model_calls(tree: ast.Module, name: str) -> tuple[list[Call], int]:
    """Calls of `name` with literal arguments anywhere outside function definitions (assert sides, bare
    calls, `print(f(...))`), in order and without repeats; also how many calls were not literal."""
    calls, seen, other = [], set(), 0
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
            continue
        for node in ast.walk(stmt):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name):
                continue
            try:
                if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
                    raise ValueError
                call = Call(
                    tuple(ast.literal_eval(a) for a in node.args),
                    {k.arg: ast.literal_eval(k.value) for k in node.keywords},
                )
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                other += 1
                continue
            key = call.source(name)
            if key not in seen:
                seen.add(key)
                calls.append(call)
    return calls, other


# -- inputs by mutation (seed calls) and by drawing (signature) -----------------------------------
def _mutate(value, rng: random.Random) -> list:
    """A few type-aware variants of one literal value."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return list({value + 1, value - 1, value * 2, -value, 0, rng.randint(-5, 50)} - {value})
    if isinstance(value, float):
        return [v for v in {value * 2, value + 0.5, -value, 0.0, round(rng.uniform(-5, 50), 2)} if v != value]
    if isinstance(value, str):
        out = [value[::-1], value.upper(), value.lower(), value[1:], value + value[:1], value.swapcase(), ""]
        if " " in value:
            out.append(" ".join(reversed(value.split(" "))))
        return [v for v in dict.fromkeys(out) if v != value]
    if isinstance(value, (list, tuple)):
        items = list(value)
        out = [items[:-1], items[::-1], items + items[:1], []]
        if len(items) > 1:
            shuffled = items[:]
            rng.shuffle(shuffled)
            out.append(shuffled)
        if items:
            extra = _mutate(items[rng.randrange(len(items))], rng)
            if extra:
                out.append(items + [extra[0]])
                out.append([extra[0]] + items[1:])
        kind = type(value)
        return [kind(v) for v in out if v != items]
    if isinstance(value, dict) and value:
        keys = list(value)
        drop = {k: v for k, v in value.items() if k != keys[-1]}
        changed = dict(value)
        alts = _mutate(value[keys[0]], rng)
        if alts:
            changed[keys[0]] = alts[0]
        out = [drop, changed]
        new_keys = _mutate(keys[0], rng)
        if new_keys and new_keys[0] not in value:
            out.append({**value, new_keys[0]: value[keys[0]]})
        return [d for d in out if d != value]
    return []


def candidate_calls(seeds: list[Call], fn: ast.FunctionDef, rng: random.Random, limit: int) -> list[Call]:
    """The inputs a function is run on: the model's calls fitted to the signature, their mutations,
    and a few inputs drawn from the signature (all of them drawn when the model wrote no call)."""
    fitted = fit_arity(seeds, fn, rng)
    drawn = drawn_calls(fn, rng, limit if not fitted else limit // 4) if limit else []
    mutated = mutate_calls(fitted, rng, limit - min(len(drawn), limit // 4)) if fitted else []
    out, seen = [], set()
    for c in fitted + mutated + drawn:
        key = c.source("f")
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def mutate_calls(seeds: list[Call], rng: random.Random, limit: int) -> list[Call]:
    """Variants of the seed calls, one argument changed at a time."""
    out, seen = [], {repr((c.args, sorted(c.kwargs.items()))) for c in seeds}
    for _ in range(4):
        for seed in seeds:
            for pos in range(len(seed.args)):
                for alt in _mutate(seed.args[pos], rng)[:3]:
                    args = seed.args[:pos] + (alt,) + seed.args[pos + 1 :]
                    call = Call(args, dict(seed.kwargs), "mutated")
                    key = repr((call.args, sorted(call.kwargs.items())))
                    if key not in seen:
                        seen.add(key)
                        out.append(call)
        if len(out) >= limit:
            break
    rng.shuffle(out)
    return out[:limit]


_INT_NAMES = re.compile(
    r"^(n|k|m|i|j|x|y|a|b|num|number|count|size|length|limit|start|end|step|base|power|exp|year|age|value|val|target|index|idx|low|high|lo|hi|\w*_?(num|count|len|size))$"
)  # noqa: E501
_STR_NAMES = re.compile(
    r"^(s|s1|s2|t|text|string|word|words|sentence|name|char|c|ch|prefix|suffix|sub|substring|pattern|key|letter|message|msg|line|str\w*|\w*_?(str|string|text|word|name))$"
)  # noqa: E501
_LIST_NAMES = re.compile(
    r"^(lst|lst1|lst2|l|arr|array|nums|numbers|items|values|list\w*|xs|ys|seq|data|elements|scores|\w*s)$"
)  # noqa: E501


def _kind(annotation: ast.AST | None, name: str) -> str:
    text = ast.unparse(annotation).lower() if annotation is not None else ""
    for kind in ("bool", "int", "float", "str"):
        if text == kind:
            return kind
    if text.startswith(("list", "typing.list", "sequence", "tuple", "iterable")):
        inner = text[text.find("[") + 1 :] if "[" in text else "int"
        return "list_str" if inner.startswith("str") else "list_float" if inner.startswith("float") else "list_int"
    if text.startswith("dict"):
        return "dict"
    if text:
        return ""
    name = name.lower()
    if _STR_NAMES.match(name):
        return "str"
    if _INT_NAMES.match(name):
        return "int"
    if _LIST_NAMES.match(name):
        return "list_int"
    return ""


_WORDS = ["hello", "world", "abc", "racecar", "Python", "a b c", "level", "OpenAI", "banana", "x", "", "Hello World"]


def _draw(kind: str, rng: random.Random):
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice([0, 1, 2, 3, 5, 7, 10, 12, 15, 21, 100, -3, rng.randint(-20, 60)])
    if kind == "float":
        return rng.choice([0.0, 1.5, 2.0, -3.25, 10.0, round(rng.uniform(-10, 10), 2)])
    if kind == "str":
        return rng.choice(_WORDS)
    if kind.startswith("list"):
        size = rng.choice([0, 1, 3, 4, 5, 6])
        if kind == "list_str":
            return [rng.choice(_WORDS[:10]) for _ in range(size)]
        if kind == "list_float":
            return [round(rng.uniform(-5, 20), 1) for _ in range(size)]
        return [rng.randint(-5, 20) for _ in range(size)]
    if kind == "dict":
        return {rng.choice(_WORDS[:6]): rng.randint(0, 9) for _ in range(rng.choice([0, 1, 2, 3]))}
    raise ValueError(kind)


def _param_kinds(fn: ast.FunctionDef) -> list[str] | None:
    """A guessed input kind per positional parameter (annotations, then defaults, then names), or None
    when one cannot be guessed."""
    params = [*fn.args.posonlyargs, *fn.args.args]
    defaults = [None] * (len(params) - len(fn.args.defaults)) + list(fn.args.defaults)
    kinds = []
    for p, d in zip(params, defaults):
        kind = _kind(p.annotation, p.arg)
        if not kind and d is not None:
            try:
                value = ast.literal_eval(d)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                return []
            kind = {bool: "bool", int: "int", float: "float", str: "str", list: "list_int", dict: "dict"}.get(
                type(value), ""
            )
        if not kind:
            return None
        kinds.append(kind)
    return kinds


def fit_arity(calls: list[Call], fn: ast.FunctionDef, rng: random.Random) -> list[Call]:
    """A small model often calls its own function with the wrong number of arguments. Keep its values
    as inputs anyway: drop extra positional arguments, and fill missing ones from the signature."""
    params = [*fn.args.posonlyargs, *fn.args.args]
    required = len(params) - len(fn.args.defaults)
    if fn.args.vararg is not None:
        return calls
    kinds = _param_kinds(fn)
    out, seen = [], set()
    for c in calls:
        args = c.args[: len(params)]
        if len(args) + len(c.kwargs) < required:
            if kinds is None:
                continue
            args = args + tuple(_draw(k, rng) for k in kinds[len(args) : required])
        kwargs = {
            k: v
            for k, v in c.kwargs.items()
            if k in {p.arg for p in params[len(args) :]} | {a.arg for a in fn.args.kwonlyargs}
        }
        fitted = Call(args, kwargs, c.origin)
        key = fitted.source("f")
        if key not in seen:
            seen.add(key)
            out.append(fitted)
    return out


def drawn_calls(fn: ast.FunctionDef, rng: random.Random, limit: int) -> list[Call]:
    """Inputs drawn from the signature: annotations first, then defaults, then parameter names. No call
    when a parameter's type cannot be guessed."""
    kinds = _param_kinds(fn)
    if not kinds:
        return []
    out, seen = [], set()
    for _ in range(limit * 3):
        args = tuple(_draw(k, rng) for k in kinds)
        if repr(args) not in seen:
            seen.add(repr(args))
            out.append(Call(args, {}, "drawn"))
        if len(out) >= limit:
            break
    return out


# -- the grounding program and its output ------------------------------------------------------------
def grounding_setup() -> tuple[str, str]:
    """(setup, tag): a helper for the tests' process that calls the program's function once, under a
    per-call time limit the program's process enforces, and prints the repr of the value when it
    survives `ast.literal_eval`. Each call is one "test" line. The values come back as plain data, or
    as a handle to one of the program's objects, whose `repr` is the program's own text but which never
    equals the value that text reads as (a test's own value): a forged `__eq__` or `__repr__` is "N"."""
    tag = "SMG" + secrets.token_hex(6)
    setup = f'''
import ast as _sm_ast, sys as _sm_sys
_sm_call_seconds = {CALL_SECONDS}

def __sm_ground(__i, __thunk):
    try:
        __value = __thunk()
    except _sm_NotAValue as __e:
        _sm_sys.__stdout__.write("{tag} %d N %s\\n" % (__i, __e.kind))
        _sm_sys.__stdout__.flush()
        return
    __text = repr(__value)
    try:
        __ok = len(__text) <= {MAX_REPR} and _sm_ast.literal_eval(__text) == __value
    except Exception:
        __ok = False
    _sm_sys.__stdout__.write("{tag} %d %s %s\\n" % (__i, "V" if __ok else "N", __text if __ok else ("huge" if len(__text) > {MAX_REPR} else getattr(__value, "kind", type(__value).__name__))))
    _sm_sys.__stdout__.flush()
'''
    return setup, tag


def grounding_tests(name: str, calls: list[Call]) -> list[str]:
    return [f"__sm_ground({i}, lambda: {c.source(name)})" for i, c in enumerate(calls)]


def read_grounding(output: str, tag: str) -> dict[int, tuple[str, str]]:
    """{call index: ("V", value source) | ("N", why)} from the grounding program's output."""
    out = {}
    for line in output.splitlines():
        if line.startswith(tag + " "):
            parts = line.split(" ", 3)
            if len(parts) == 4 and parts[1].isdigit():
                out[int(parts[1])] = (parts[2], parts[3])
    return out


def _has_float(value) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_has_float(v) for v in value)
    if isinstance(value, dict):
        return any(_has_float(k) or _has_float(v) for k, v in value.items())
    return False


def assert_for(name: str, call: Call, value_src: str) -> str | None:
    """`assert f(ARGS) == VALUE`; a float result is compared with a tolerance. Containers holding floats
    are left out: an equally right program could differ in the last bit and fail."""
    value = ast.literal_eval(value_src)
    if isinstance(value, float) and not isinstance(value, bool):
        if not math.isfinite(value):
            return None
        tol = float(f"{FLOAT_TOL * max(1.0, abs(value)):.3g}")
        return f"assert abs({call.source(name)} - {value_src}) <= {tol!r}"
    if _has_float(value):
        return None
    return f"assert {call.source(name)} == {value_src}"


def select(
    name: str, calls: list[Call], first: dict, second: dict, *, min_asserts: int, visible: int, hidden: int
) -> Grounded:
    """Keep the calls that returned the same literal value in both grounding runs, reject degenerate
    functions, and pick a small, diverse set: distinct outputs first, the model's own calls before
    generated ones. The first `visible` go into the prompt; up to `hidden` more only to the judge."""
    dropped = {"raised": 0, "nonliteral": 0, "huge": 0, "nondeterministic": 0, "float_container": 0}
    kept: list[tuple[Call, str]] = []
    for i, call in enumerate(calls):
        a, b = first.get(i), second.get(i)
        if a is None or b is None:
            dropped["raised"] += 1
        elif a != b:
            dropped["nondeterministic"] += 1
        elif a[0] != "V":
            dropped["huge" if a[1] == "huge" else "nonliteral"] += 1
        else:
            kept.append((call, a[1]))
    stats = {
        "candidates": len(calls),
        "grounded": len(kept),
        "dropped": {k: v for k, v in dropped.items() if v},
        "origins": {},
    }
    if len(kept) < min_asserts:
        reason = "huge_output" if dropped["huge"] and len(kept) + dropped["huge"] >= min_asserts else "too_few_grounded"
        detail = f"{len(kept)} of {len(calls)} calls grounded" + "".join(
            f", {k} {v}" for k, v in stats["dropped"].items()
        )
        return Grounded(False, reason, detail, stats=stats)
    values = [ast.literal_eval(v) for _, v in kept]
    if all(v == values[0] for v in values):
        return Grounded(False, "constant_outputs", f"every call returns {kept[0][1][:80]}", stats=stats)
    for pos in range(min(len(c.args) for c, _ in kept)):
        if all(c.args[pos] == v and type(c.args[pos]) is type(v) for (c, _), v in zip(kept, values)):
            return Grounded(False, "identity", f"returns argument {pos + 1} unchanged in every call", stats=stats)
    # distinct outputs first; among equals, the model's own calls first, then shorter ones
    rank = {"model": 0, "mutated": 1, "drawn": 1}
    ordered = sorted(range(len(kept)), key=lambda i: (rank[kept[i][0].origin], len(kept[i][0].source(name)), i))
    picked, seen_out, rest = [], set(), []
    for i in ordered:
        (picked if kept[i][1] not in seen_out else rest).append(i)
        seen_out.add(kept[i][1])
    chosen = (picked + rest)[: visible + hidden]
    tests = []
    for i in chosen:
        t = assert_for(name, kept[i][0], kept[i][1])
        if t is None:
            dropped["float_container"] += 1
        else:
            tests.append((t, kept[i][0].origin))
    if len(tests) < min_asserts:
        return Grounded(
            False, "too_few_grounded", f"{len(tests)} usable asserts after dropping float containers", stats=stats
        )
    # the prompt shows distinct-output tests; at least min_asserts of them
    shown = tests[: max(visible, min_asserts)]
    stats["origins"] = {o: sum(1 for _, org in tests if org == o) for o in ("model", "mutated", "drawn")}
    stats["dropped"] = {k: v for k, v in dropped.items() if v}
    return Grounded(True, visible=[t for t, _ in shown], hidden=[t for t, _ in tests[len(shown) :]], stats=stats)
