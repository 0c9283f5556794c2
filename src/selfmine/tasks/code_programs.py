"""Turning a model's output into the program that is judged, and the differential harness that checks a
"plus" variant's extra inputs against the canonical solution (with float tolerance and the special
oracles EvalPlus uses where exact comparison is not meaningful). The harness is test code: it runs in the
judge's tests process, so the canonical solution never shares a process with the program."""

from __future__ import annotations

import ast
import json
import re

from .code_bench import EvalTask
from .code_text import extract_code  # noqa: F401  (chat answers are read the same everywhere)

# Output comparisons where exact equality is the wrong oracle: EvalPlus 0.3.1's special oracles
# (evalplus/eval/_special_oracle.py and unsafe_execute), the same cases and the same rules, so a committed
# sample scores here as it does there. `_sm_same` below holds the ones that are code.
SET_EQUAL = [
    "similar_elements",
    "find_char_long",
    "common_in_nested_lists",
    "extract_singly",
    "larg_nnum",
    "intersection_array",
    "find_dissimilar",
    "Diff",
]
NOT_NONE = ["check_str", "text_match_three", "text_starta_endb"]

# JSON has no tuples, sets or complex numbers: MBPP+ stores them as lists / strings, and EvalPlus restores
# them per task before calling the function. The same restorations, table-driven.
MBPP_RESTORE = {
    "each_arg_tuple": [
        2,
        116,
        132,
        143,
        222,
        261,
        273,
        394,
        399,
        421,
        424,
        429,
        470,
        560,
        579,
        596,
        616,
        630,
        726,
        740,
        744,
        809,
    ],
    "each_arg_items_tuple": [63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780],
    "first_arg_items_tuple": [75, 413, 444, 753],
    "second_arg_tuple": [106, 750],
    "first_arg_tuple": [250, 405, 446, 617, 720, 763, 808],
    "items_then_args_tuple": [259, 401, 445],
    "all_tuples": [580, 615, 791],
}

HARNESS = r"""
import copy as _sm_copy, json as _sm_json, math as _sm_math, sys as _sm_sys
_sm_sys.set_int_max_str_digits(0)  # some canonical answers are integers beyond the 4300-digit default
_sm_ref_ns = {}
exec(%(canonical)r, _sm_ref_ns)
_sm_ref = _sm_ref_ns[%(entry)r]
_sm_inputs = _sm_json.loads(%(inputs)r)
_sm_atol = %(atol)r

def _sm_tuples(v):
    return tuple(_sm_tuples(x) for x in v) if isinstance(v, list) else v

def _sm_restore(task, rows):
    rule = next((k for k, ids in %(restore)r.items() if task in ids), None)
    if rule == "each_arg_tuple":
        return [[tuple(a) for a in r] for r in rows]
    if rule == "each_arg_items_tuple":
        return [[[tuple(x) for x in a] for a in r] for r in rows]
    if rule == "first_arg_items_tuple":
        return [[[tuple(x) for x in r[0]]] + [r[1]] for r in rows]
    if rule == "second_arg_tuple":
        return [[r[0], tuple(r[1])] for r in rows]
    if rule == "first_arg_tuple":
        return [[tuple(r[0])] + list(r[1:]) for r in rows]
    if rule == "items_then_args_tuple":
        return [[tuple(tuple(x) for x in a) for a in r] for r in rows]
    if rule == "all_tuples":
        return [_sm_tuples(r) for r in rows]
    if task == 115:
        return [[[set(x) if isinstance(x, list) and x else {} for x in r[0]]] for r in rows]
    if task == 124:
        return [[float(r[0]), complex(r[1])] for r in rows]
    if task == 252:
        return [[complex(r[0])] for r in rows]
    if task == 278:
        return [[tuple(tuple(x) if isinstance(x, list) else x for x in r[0])] for r in rows]
    if task == 307:
        return [[tuple(r[0]), r[1], r[2]] for r in rows]
    if task == 722:
        return [[{k: tuple(v) for k, v in r[0].items()}] + list(r[1:]) for r in rows]
    return rows

if %(mbpp)r:
    _sm_inputs = _sm_restore(%(task_number)r, _sm_inputs)

def _sm_floats(x):
    if isinstance(x, float):
        return True
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(isinstance(i, float) for i in x)

def _sm_close(out, exp, atol):
    if type(out) != type(exp):
        return False
    if isinstance(exp, (list, tuple)):
        return len(out) == len(exp) and all(_sm_math.isclose(a, b, rel_tol=1e-7, abs_tol=atol) for a, b in zip(out, exp))
    return _sm_math.isclose(out, exp, rel_tol=1e-7, abs_tol=atol)

def _sm_poly(xs, x):
    return sum(c * _sm_math.pow(x, i) for i, c in enumerate(xs))

def _sm_surface_area(base_edge, height):  # Mbpp/581 read with the height as the pyramid's own
    slant = _sm_math.sqrt((base_edge / 2) ** 2 + height ** 2)
    return round(base_edge ** 2 + 4 * (base_edge * slant) / 2)

def _sm_digit_distance(a, b):  # Mbpp/558 with the shorter number padded with zeros
    a, b = str(a), str(b)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width)))

def _sm_same(entry, inp, out, exp, atol):
    if entry == "find_zero":
        return abs(_sm_poly(inp[0], out)) <= max(atol, 1e-6)
    same = out == exp
    if %(mbpp)r:
        if entry == "are_equivalent":
            same = True
        elif entry == "sum_div":
            same = same or out == 0
        elif entry == "surface_Area":
            same = same or abs(out - _sm_surface_area(*inp)) <= atol
        elif entry == "digit_distance_nums":
            same = same or out == _sm_digit_distance(*inp)
        elif entry in %(set_equal)r:
            same = set(out) == set(exp)
        elif entry in %(not_none)r:
            exp = exp is not None  # the reference's answer is a match object or None: only whether it found one
            same = out == exp if isinstance(out, bool) else exp == (out is not None)
    if atol == 0 and _sm_floats(exp):
        atol = 1e-6
    return bool(same) or (atol != 0 and _sm_close(out, exp, atol))

def _sm_plus():
    fn = %(entry_name)s  # a proxy: the call runs in the program's process, the comparison here
    for i, inp in enumerate(_sm_inputs):
        exp = _sm_ref(*_sm_copy.deepcopy(inp))
        out = fn(*_sm_copy.deepcopy(inp))
        if not _sm_same(%(entry)r, inp, out, exp, _sm_atol):
            raise AssertionError("extra input %%d of %%d: got %%.200r, expected %%.200r" %% (i, len(_sm_inputs), out, exp))
    return True
"""


def plus_harness(task: EvalTask) -> str:
    mbpp = task.bench.startswith("mbpp")
    number = int(task.task_id.split("/")[-1]) if mbpp else -1
    return HARNESS % {
        "canonical": task.canonical,
        "entry": task.entry_point,
        "entry_name": task.entry_point,
        "inputs": json.dumps(task.plus_inputs),
        "atol": task.atol,
        "set_equal": SET_EQUAL if mbpp else [],
        "not_none": NOT_NONE if mbpp else [],
        "restore": MBPP_RESTORE,
        "mbpp": mbpp,
        "task_number": number,
    }


def _imports(prompt: str) -> str:
    try:
        tree = ast.parse(prompt)
    except SyntaxError:
        return ""
    return "\n".join(ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))


def program(task: EvalTask, completion: str, fmt: str) -> str:
    """The full program judged for one sample. Raw format: the prompt as is + the completion (so the
    prompt's imports are kept). Chat format: the extracted code, with the prompt's imports added; if it
    does not define the entry point it is taken as the body that continues the prompt."""
    if fmt == "raw":
        return task.prompt + completion
    code = extract_code(completion)
    if re.search(rf"^\s*def\s+{re.escape(task.entry_point)}\s*\(", code, re.M):
        return f"{_imports(task.prompt)}\n{code}".strip() + "\n"
    return task.prompt + code


def solution_field(task: EvalTask, sample: dict) -> str:
    """EvalPlus samples: `solution` is a full program, `completion` continues the prompt."""
    if sample.get("solution"):
        return sample["solution"]
    return task.prompt + sample.get("completion", "")
