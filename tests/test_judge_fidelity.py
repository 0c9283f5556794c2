"""A fidelity corpus for the judge: the same program and asserts, judged by `selfmine.sandbox.judge` and run
by plain Python (program and asserts in one fresh interpreter), must end with the same outcome for every
assert.

The judge runs the program in one process and the tests in another, and the program's return values cross
as plain data (`selfmine/sandbox/worker/encode.py` / `decode.py`), so a value that loses its type, its
size or its laziness on the way can turn a pass into a failure or an error. Every case holds asserts that
pass and asserts that fail in plain Python (checked by `test_case_has_both_outcomes`), so a judge that says
the same thing for everything cannot pass.

`KNOWN_DIFFERENCES` holds cases where the judge differs from plain Python by design (a program's object
never compares equal to a test's own value, identity inside a plain value is not kept across the process
boundary, ...): documented, and checked only
for plain Python's side and for the judge giving every assert an outcome, never asserted equal.
"""

from __future__ import annotations

import functools

import pytest

from selfmine.sandbox import WorkerPool, judge
from selfmine.sandbox.reference import run_plain

PLAIN_TIMEOUT_S = 60
JUDGE_TIMEOUT_S = 120.0  # one deadline for all asserts of a case; the million-element ones take ~20 s


def plain(code: str, asserts: list[str]) -> list[str]:
    """Per-assert outcomes ('passed', 'failed' for AssertionError, 'error' for any other exception) of
    `code` and `asserts` run in one fresh plain interpreter, each assert separately after the program."""
    result = run_plain(code, asserts, timeout=PLAIN_TIMEOUT_S)
    assert "outcomes" in result, f"the program does not run in plain Python: {result}"
    return result["outcomes"]


# -- the corpus: (name, program source, asserts) --

MILLION_FLOATS = (
    "million_floats",
    r"""
def f():
    return [0.0] * 1_500_000
""",
    [
        "assert len(f()) == 1_500_000",
        "assert f() == [0] * 1_500_000",
        "assert sum(f()) == 0",
        "assert f()[5] == 0",
        "assert f() == [0.0] * 1_500_000",
        "assert len(f()) == 3",
        "assert f()[5] == 1",
    ],
)

MILLION_OTHER = (
    "million_tuple_set_and_just_below",
    r"""
def t():
    return tuple(range(1_100_000))

def s():
    return set(range(1_100_000))

def below():
    return list(range(999_000))
""",
    [
        "assert t() == tuple(range(1_100_000))",
        "assert t()[-1] == 1_099_999",
        "assert t() == list(range(1_100_000))",
        "assert 5 in s()",
        "assert len(s()) == 1_100_000",
        "assert len(below()) == 999_000",
        "assert below()[-1] == 998_999",
        "assert sum(below()) == 1",
    ],
)

# Over 2 million nodes, so it crosses in parts (it once crossed as a digest, and one that kept lists and
# tuples apart only at the top level passed the list of lists).
MILLION_NESTED = (
    "million_nested_types",
    r"""
def pairs():
    return [(i, i) for i in range(700_000)]
""",
    [
        "assert pairs() == [(i, i) for i in range(700_000)]",
        "assert pairs() == [[i, i] for i in range(700_000)]",
    ],
)

# Over 2 million nodes of every kind a large result can be: built again in the tests process from its
# parts, so indexing, slicing, sum, membership and the exact type work as in one interpreter (a digest
# allowed only == and len()).
LARGE_RESULTS = (
    "large_results_of_every_kind",
    r"""
import collections

def ints():
    return list(range(2_100_000))

def floats():
    return [i / 4 for i in range(2_100_000)]

def rows():
    return [(i, str(i)) for i in range(800_000)]

def mixed():
    return [None, True, 1.5, "é", b"x"] + list(range(2_100_000))

def nested():
    return [tuple(range(2_100_000)), {1, 2}]

def table():
    return {i: -i for i in range(1_100_000)}

def counts():
    return collections.Counter({i: 1 for i in range(1_100_000)})

def ordered():
    return collections.OrderedDict((i, i) for i in range(1_100_000, 0, -1))

def window():
    return collections.deque(range(2_100_000), maxlen=2_000_000)
""",
    [
        "x = ints()\nassert type(x) is list and x[-1] == 2_099_999 and x[10:12] == [10, 11] and 7 in x and sum(x) == 2_204_998_950_000",
        "x = floats()\nassert x[3] == 0.75 and sum(x) == sum(i / 4 for i in range(2_100_000))",
        "assert rows()[7] == (7, '7')",
        "m = mixed()\nassert m[:5] == [None, True, 1.5, 'é', b'x'] and m[5] is not True and len(m) == 2_100_005",
        "n = nested()\nassert type(n[0]) is tuple and n[0][-1] == 2_099_999 and n[1] == {1, 2}",
        "t = table()\nassert t[5] == -5 and type(t) is dict and len(t) == 1_100_000",
        "c = counts()\nassert c[3] == 1 and c[-3] == 0 and sum(c.values()) == 1_100_000",
        "assert list(ordered())[:2] == [1_100_000, 1_099_999]",
        "w = window()\nassert w.maxlen == 2_000_000 and w[0] == 100_000",
        "assert ints() == list(range(2_100_001))",
    ],
)

# Arguments the program changes in place are seen by the tests afterwards, as in one interpreter, whether
# the call returns or raises; an argument it leaves alone keeps its identity.
IN_PLACE = (
    "arguments_changed_in_place",
    r"""
from fractions import Fraction

def half(q):
    return q / 2

def push(xs):
    xs.append(1)

def fill(d, key=None):
    d[key] = 1
    raise ValueError("after")

def grow(s):
    s.add(3)

def shift(q):
    q.appendleft(0)

def poke(b):
    b[0] = 65

def count(xs):
    return len(xs)
""",
    [
        "assert half(Fraction(1)) == Fraction(1, 2)",
        "xs = []\npush(xs)\nassert xs == [1]",
        "xs = []\npush(xs)\nassert xs == []",
        "d = {}\ntry:\n    fill(d, key='k')\nexcept ValueError:\n    pass\nassert d == {'k': 1}",
        "s = {1}\ngrow(s)\nassert s == {1, 3}",
        "import collections\nq = collections.deque([1], maxlen=2)\nshift(q)\nassert list(q) == [0, 1] and q.maxlen == 2",
        "b = bytearray(b'ab')\npoke(b)\nassert b == bytearray(b'Ab')",
        "xs = [[1]]\ninner = xs[0]\nassert count(xs) == 1 and xs[0] is inner",
    ],
)

LIST_VS_TUPLE = (
    "list_vs_tuple",
    r"""
import collections

Point = collections.namedtuple("Point", "x y")

def lst():
    return [1, 2]

def tup():
    return (1, 2)

def pt():
    return Point(1, 2)

def nested():
    return {"a": [(1, [2, {3}])], "b": ((),)}
""",
    [
        "assert lst() == [1, 2]",
        "assert tup() == (1, 2)",
        "assert list(tup()) == lst()",
        "assert isinstance(tup(), tuple)",
        "assert tup() + (3,) == (1, 2, 3)",
        "assert pt() == (1, 2)",
        'assert nested() == {"a": [(1, [2, {3}])], "b": ((),)}',
        "assert lst() == (1, 2)",
        "assert tup() == [1, 2]",
        "assert isinstance(lst(), tuple)",
        "assert pt() == [1, 2]",
        'assert nested() == {"a": [[1, [2, {3}]]], "b": ((),)}',
    ],
)

SPECIAL_FLOATS = (
    "nan_inf_signed_zero_and_exact_floats",
    r"""
import math

def nan():
    return float("nan")

def nans():
    return [float("nan")]

def inf():
    return float("inf")

def negzero():
    return -0.0

def third():
    return 1 / 3
""",
    [
        "assert math.isnan(nan())",
        "assert nan() != nan()",
        "assert str(nan()) == 'nan'",
        "assert math.isnan(nans()[0])",
        "assert inf() > 10**308",
        "assert negzero() == 0.0",
        "assert math.copysign(1, negzero()) == -1",
        "assert str(negzero()) == '-0.0'",
        "assert third() == 1 / 3",
        "assert third().hex() == (1 / 3).hex()",
        "assert nan() == nan()",
        "assert nans() == nans()",
        "assert float('nan') in [nan()]",
        "assert inf() == -inf()",
        "assert str(negzero()) == '0.0'",
        "assert math.copysign(1, negzero()) == 1",
        "assert third() == 0.333",
    ],
)

BIG_INTS = (
    "big_ints",
    r"""
def big():
    return 10**5000

def neg():
    return -(2**200) + 1

def edge():
    return 1 << 62
""",
    [
        "assert big() == 10**5000",
        "assert big() % 7 == pow(10, 5000, 7)",
        "assert big().bit_length() == (10**5000).bit_length()",
        "assert type(big()) is int",
        "assert neg() < 0",
        "assert edge() == 4611686018427387904",
        "assert -edge() == -(1 << 62)",
        "assert big() == 10**5000 + 1",
        "assert neg() == -(2**200)",
        "assert edge() == 1 << 61",
    ],
)

BOOL_VS_INT = (
    "bool_vs_int",
    r"""
def t():
    return True

def one():
    return 1

def none():
    return None
""",
    [
        "assert t() == 1",
        "assert isinstance(t(), bool)",
        "assert t() is True",
        "assert t() + t() == 2",
        "assert [t()] == [1]",
        "assert {t(): 'a'} == {1: 'a'}",
        "assert none() is None",
        "assert isinstance(one(), bool)",
        "assert one() is True",
        "assert type(t()) is int",
        "assert none() == 0",
    ],
)

# The asserts import what they name: the program's own `Fraction` would be one of its callables, which
# the judge replaces by a proxy (see NUMERIC_NAMES_FROM_PROGRAM).
NUMERIC_TOWER = (
    "numeric_tower",
    r"""
from fractions import Fraction
from decimal import Decimal

def fr():
    return Fraction(1, 2)

def dec():
    return Decimal(3)

def dsum():
    return Decimal("0.1") + Decimal("0.2")

def cx():
    return complex(1, 2)
""",
    [
        "assert fr() == 0.5",
        "from fractions import Fraction\nassert type(fr()) is Fraction",
        "from fractions import Fraction\nassert fr() == Fraction(1, 2)",
        "assert fr() * 2 == 1",
        "assert float(fr()) == 0.5",
        "assert dec() == 3",
        "from decimal import Decimal\nassert dsum() == Decimal('0.3')",
        "assert cx() == 1 + 2j",
        "assert cx().imag == 2",
        "assert fr() == 1",
        "assert dsum() == 0.3",
        "from fractions import Fraction\nassert fr() == Fraction(1, 3)",
        "assert dec() == 4",
        "assert cx() == 1 + 3j",
    ],
)

NUMERIC_NAMES_FROM_PROGRAM = (
    "numeric_names_from_program",
    r"""
from fractions import Fraction
from decimal import Decimal

def fr():
    return Fraction(1, 2)

def dec():
    return Decimal("0.3")
""",
    [
        "assert fr() == Fraction(1, 2)",
        "assert type(fr()) is Fraction",
        "assert dec() == Decimal('0.3')",
        "assert Fraction(1, 2) == 0.5",
        "assert fr() == Fraction(2, 3)",
        "assert dec() == Decimal('0.1')",
    ],
)

BYTES_LIKE = (
    "bytes_bytearray_memoryview",
    r"""
def by():
    return b"ab"

def ba():
    return bytearray(b"ab")

def mv():
    return memoryview(b"ab")
""",
    [
        "assert by() == b'ab'",
        "assert by()[0] == 97",
        "assert by() == bytearray(b'ab')",
        "assert ba() == b'ab'",
        "assert ba()[0] == 97",
        "assert isinstance(ba(), bytearray)",
        "assert bytes(mv()) == b'ab'",
        "assert mv()[0] == 97",
        "assert mv() == b'ab'",
        "assert by() == 'ab'",
        "assert ba() == b'ac'",
        "assert len(mv()) == 3",
        "assert mv().tobytes() == b'ac'",
    ],
)

LAZY = (
    "lazy_objects",
    r"""
import itertools

def m():
    return map(abs, [-1, -2, 3])

def gen():
    return (x * x for x in range(4))

def yielder():
    yield 1
    yield 2

def r():
    return range(2, 10, 2)

def keys():
    return {"a": 1, "b": 2}.keys()

def vals():
    return {"a": 1, "b": 2}.values()

def items():
    return {"a": 1, "b": 2}.items()

def z():
    return zip([1, 2], "ab")

def flt():
    return filter(None, [0, 1, 2, 0])

def en():
    return enumerate("xy")

def rev():
    return reversed([1, 2, 3])

def count():
    return itertools.count()
""",
    [
        "assert list(m()) == [1, 2, 3]",
        "assert sorted(gen()) == [0, 1, 4, 9]",
        "assert sum(gen()) == 14",
        "assert next(yielder()) == 1",
        "assert list(yielder()) == [1, 2]",
        "assert len(r()) == 4",
        "assert 4 in r()",
        "assert list(r()) == [2, 4, 6, 8]",
        "assert r() == range(2, 10, 2)",
        "assert r()[-1] == 8",
        "assert 'a' in keys()",
        "assert keys() == {'a', 'b'}",
        "assert sorted(vals()) == [1, 2]",
        "assert set(items()) == {('a', 1), ('b', 2)}",
        "assert dict(items()) == {'a': 1, 'b': 2}",
        "assert list(z()) == [(1, 'a'), (2, 'b')]",
        "assert dict(z()) == {1: 'a', 2: 'b'}",
        "assert list(flt()) == [1, 2]",
        "assert list(en()) == [(0, 'x'), (1, 'y')]",
        "assert list(rev()) == [3, 2, 1]",
        "assert next(count()) == 0",
        "assert list(itertools.islice(count(), 3)) == [0, 1, 2]",
        "assert list(m()) == [1, 2]",
        "assert m() == [1, 2, 3]",
        "assert sum(gen()) == 15",
        "assert list(yielder()) == [1, 2, 3]",
        "assert 5 in r()",
        "assert len(r()) == 5",
        "assert 'c' in keys()",
        "assert keys() == {'a'}",
        "assert list(flt()) == [0, 1, 2, 0]",
        "assert list(rev()) == [1, 2, 3]",
        "assert next(count()) == 1",
        "assert list(itertools.islice(count(), 3)) == [1, 2, 3]",
    ],
)

DEEP = (
    "nested_deeper_than_200",
    r"""
import functools

def deep(n=500):
    x = []
    for _ in range(n):
        x = [x]
    return x

def deep_dict(n=300):
    d = {}
    for _ in range(n):
        d = {"k": d}
    return d
""",
    [
        "assert functools.reduce(lambda v, _: v[0], range(500), deep()) == []",
        "assert len(deep()) == 1",
        "assert deep() == deep()",
        "assert deep() != deep(499)",
        "assert deep(150) == deep(150)",
        "assert functools.reduce(lambda d, _: d['k'], range(300), deep_dict()) == {}",
        "assert functools.reduce(lambda v, _: v[0], range(499), deep()) == []",
        "assert deep() == deep(499)",
        "assert deep(150) == deep(149)",
        "assert functools.reduce(lambda d, _: d['k'], range(299), deep_dict()) == {}",
    ],
)

SETS_AND_DICTS = (
    "sets_frozensets_and_dict_order",
    r"""
def s():
    return {3, 1, 2}

def fs():
    return frozenset({1, 2})

def sos():
    return {frozenset({1}), frozenset({2, 3})}

def d():
    return {"b": 1, "a": 2, "c": 3}

def keyed():
    return {1: "a", "1": "b", (1, 2): "c", None: "d", 1.5: "e", frozenset(): "f"}
""",
    [
        "assert s() == {1, 2, 3}",
        "assert sorted(s()) == [1, 2, 3]",
        "assert s() | {4} == {1, 2, 3, 4}",
        "assert fs() == {1, 2}",
        "assert isinstance(fs(), frozenset)",
        "assert frozenset({2, 3}) in sos()",
        "assert {1} in sos()",
        "assert list(d().keys()) == ['b', 'a', 'c']",
        "assert list(d().items())[0] == ('b', 1)",
        "assert d() == {'a': 2, 'b': 1, 'c': 3}",
        "assert keyed()[(1, 2)] == 'c' and keyed()[None] == 'd' and keyed()[frozenset()] == 'f'",
        "assert keyed()[1] == 'a' and keyed()['1'] == 'b'",
        "assert s() == [1, 2, 3]",
        "assert s() == {1, 2}",
        "assert isinstance(fs(), set)",
        "assert list(d()) == ['a', 'b', 'c']",
        "assert keyed()[1.5] == 'f'",
    ],
)

COLLECTIONS = (
    "counter_ordereddict_defaultdict_deque",
    r"""
import collections

def c():
    return collections.Counter("abca")

def od():
    return collections.OrderedDict([("x", 1), ("y", 2)])

def dd():
    d = collections.defaultdict(list)
    d["k"].append(1)
    return d

def dq():
    return collections.deque([1, 2, 3])

def dqm():
    return collections.deque([1, 2, 3], maxlen=2)
""",
    [
        "assert c() == {'a': 2, 'b': 1, 'c': 1}",
        "assert c()['z'] == 0",
        "assert c().most_common(1) == [('a', 2)]",
        "assert isinstance(c(), collections.Counter)",
        "assert od() == {'y': 2, 'x': 1}",
        "assert list(od()) == ['x', 'y']",
        "assert dd() == {'k': [1]}",
        "assert dd()['missing'] == []",
        "assert list(dq()) == [1, 2, 3]",
        "assert dq() == collections.deque([1, 2, 3])",
        "assert dq()[0] == 1",
        "assert dqm() == collections.deque([2, 3])",
        "assert dqm().maxlen == 2",
        "assert c() == {'a': 2}",
        "assert od() == collections.OrderedDict([('y', 2), ('x', 1)])",
        "assert dd() == {'k': []}",
        "assert dq() == [1, 2, 3]",
        "assert dq() == (1, 2, 3)",
        "assert dqm().maxlen is None",
    ],
)

STRINGS = (
    "surrogates_non_bmp_and_long_strings",
    r"""
def sur():
    return "\ud800"

def pair():
    return "\ud83d\ude00"

def emoji():
    return "\U0001F600x"

def mixed():
    return "\u00e9\x00\n\"\\"

def long():
    return "ab" * 1_000_000
""",
    [
        r"assert sur() == '\ud800'",
        "assert len(sur()) == 1",
        "assert ord(sur()) == 0xD800",
        "assert len(pair()) == 2",
        r"assert pair() != '\U0001F600'",
        "assert len(emoji()) == 2",
        r"assert emoji()[0] == '\U0001F600'",
        r"assert emoji().encode('utf-8') == b'\xf0\x9f\x98\x80x'",
        r"assert mixed() == '\u00e9\x00\n\"\\'",
        "assert len(long()) == 2_000_000",
        "assert long() == 'ab' * 1_000_000",
        "assert long().count('ab') == 1_000_000",
        r"assert sur() == '\ud801'",
        r"assert pair() == '\U0001F600'",
        "assert len(emoji()) == 3",
        r"assert mixed() == '\u00e9\n\"\\'",
        "assert long() == 'ab' * 999_999",
    ],
)

ARGUMENTS = (
    "arguments_round_trip",
    r"""
def ident(x):
    return x

def kinds(*args, **kwargs):
    return [type(a).__name__ for a in args] + sorted(kwargs)
""",
    [
        "assert ident((1, 2)) == (1, 2)",
        "assert ident({(1, 2): {3}}) == {(1, 2): {3}}",
        "assert ident(10**5000) == 10**5000",
        "assert str(ident(-0.0)) == '-0.0'",
        r"assert ident('\ud800') == '\ud800'",
        "assert ident(True) is True",
        "assert ident(None) is None",
        "assert ident(b'\\x00') == b'\\x00'",
        "assert kinds(1, (2,), [3], {4}, frozenset(), b'', 1.0, 1j, y=1, x=2) == "
        "['int', 'tuple', 'list', 'set', 'frozenset', 'bytes', 'float', 'complex', 'x', 'y']",
        "assert ident([1, 2]) == (1, 2)",
        "assert ident(1) is True",
        "assert kinds(True) == ['int']",
    ],
)

MODULE_VALUES = (
    "program_globals",
    r"""
TABLE = list(range(10))
PAIR = (1, 2)
NAME = "x"
BIG = 10**5000

def f():
    return TABLE[3]
""",
    [
        "assert TABLE == list(range(10))",
        "assert PAIR == (1, 2)",
        "assert NAME == 'x'",
        "assert BIG == 10**5000",
        "assert f() == 3",
        "assert PAIR == [1, 2]",
        "assert NAME == 'y'",
        "assert f() == 4",
    ],
)

EXCEPTIONS = (
    "exceptions_of_program_and_library_classes",
    r"""
import json, statistics

class BadInput(ValueError):
    pass

def check(x):
    if x < 0:
        raise BadInput("negative")
    return x

def parse(s):
    return json.loads(s)

def avg(xs):
    return statistics.mean(xs)

def lookup(d, k):
    return d[k]

def two(x):
    raise ValueError("bad value", x)
""",
    [
        "try:\n    check(-1)\nexcept ValueError:\n    pass\nelse:\n    assert False",
        "try:\n    check(1)\nexcept ValueError:\n    pass\nelse:\n    assert False",
        "try:\n    check(-1)\nexcept ValueError as e:\n    assert type(e).__name__ == 'BadInput' and str(e) == 'negative'",
        "try:\n    parse('{')\nexcept ValueError as e:\n    assert 'Expecting' in str(e)\nelse:\n    assert False",
        "try:\n    avg([])\nexcept ValueError:\n    pass\nelse:\n    assert False",
        "try:\n    avg([])\nexcept TypeError:\n    pass\nexcept ValueError:\n    assert False",
        "try:\n    lookup({}, 'k')\nexcept KeyError as e:\n    assert e.args == ('k',) and str(e) == \"'k'\"",
        "try:\n    two(3)\nexcept ValueError as e:\n    assert e.args[1] == 3",
        "import json\ntry:\n    parse('{')\nexcept json.JSONDecodeError as e:\n    assert e.pos == 1",  # session 22
        "import statistics\ntry:\n    avg([])\nexcept statistics.StatisticsError:\n    pass\nexcept Exception:\n    assert False",
        "import json\ntry:\n    parse('{')\nexcept json.JSONDecodeError as e:\n    assert e.pos == 2",
        "try:\n    two(3)\nexcept ValueError as e:\n    assert e.args[1] == 4",
        # the program's own class named by the tests (session 16: the name was a proxy, so `except` raised)
        "try:\n    check(-1)\nexcept BadInput as e:\n    assert str(e) == 'negative'\nelse:\n    assert False",
        "try:\n    check(-1)\nexcept BadInput:\n    assert False",
        "assert isinstance(BadInput('x'), ValueError) and str(BadInput('x')) == 'x'",
        "assert issubclass(BadInput, KeyError)",
    ],
)


def _raises_recursion(call):
    return f"try:\n    {call}\nexcept RecursionError:\n    pass\nelse:\n    assert False"


# Plain Python's recursion limit: a recursive solution 1,020 calls deep fails in a plain run, and failed in
# none of the judge's before it ran the program under plain Python's count (`_as_plain`). Not to the frame:
# plain Python 3.11 itself moves the first failing depth by a frame or two with what ran before (the
# interpreter's specialised calls), so each side is asked 20 frames from the limit. The program's own
# sys.setrecursionlimit holds for its later calls, as in one interpreter.
RECURSION = (
    "recursion_limit_of_a_plain_run",
    r"""
import sys

def depth(n):
    return 0 if n == 0 else 1 + depth(n - 1)

def gen(n):
    yield depth(n)

AT_LOAD = depth(990)

def raise_limit(n):
    sys.setrecursionlimit(n)
""",
    [
        "assert depth(980) == 980",
        "assert list(gen(980)) == [980]",
        _raises_recursion("depth(1020)"),
        _raises_recursion("list(gen(1020))"),
        _raises_recursion("depth(980)"),
        _raises_recursion("list(gen(980))"),
        "assert AT_LOAD == 990",
        _raises_recursion("depth(1500)"),
        "raise_limit(4000)",
        "assert depth(3000) == 3000",
        _raises_recursion("depth(3000)"),
    ],
)

GROUPBY = (
    "itertools_groupby_returned",  # its groups are views into it: read ahead, they came back empty
    r"""
import itertools

def runs(s):
    return itertools.groupby(s)
""",
    [
        "assert [(k, list(g)) for k, g in runs('aabbbcd')] == [('a', ['a', 'a']), ('b', ['b', 'b', 'b']), ('c', ['c']), ('d', ['d'])]",
        "assert [(k, len(list(g))) for k, g in runs('aab')] == [('a', 2), ('b', 1)]",
        "assert [(k, list(g)) for k, g in runs('aab')] == [('a', ['a']), ('b', ['b'])]",
        "assert [k for k, g in runs('aab')] == ['a']",
    ],
)

WIDE_TEXT = (
    "non_ascii_text_global_over_the_message_cap",  # budgeted as ASCII, its JSON (72 MB) ended every test
    r"""
TEXT = "\u00e9" * 12_000_000

def f():
    return 1
""",
    ["assert f() == 1", "assert f() == 2"],
)

WIDE_NUMBERS = (
    "wide_numbers_over_the_message_cap",  # session 19: a huge int or a complex counted one node, so a
    # result under the node budget could take more than a message (64 MiB) and arrive as an error
    r"""
def big(n):
    return [1 << (4 * 120_000) for _ in range(n)]
""",
    # (1.2 million complex numbers, 70 MB, were the same case; left out for the suite's time)
    ["assert big(600) == [1 << (4 * 120_000)] * 600", "assert big(2) == [1] * 2"],
)

NAMEDTUPLES = (
    "namedtuples_keep_their_fields",  # session 17: they arrived as tuples, so `p.x` was an AttributeError
    r"""
import collections
import typing

Point = collections.namedtuple("Point", "x y")

class Span(typing.NamedTuple):
    start: int
    end: int

def pt():
    return Point(1, 2)

def spans():
    return [Span(0, 3), Span(5, 9)]

def moved(p, dx):
    return p._replace(x=p.x + dx)

Renamed = collections.namedtuple("Renamed", ["a", "class"], rename=True)

class Fake(tuple):  # claims fields, has no accessors
    _fields = ("x", "y")

class Shadowed(Point):
    @property
    def x(self):
        return 99

def renamed():
    return Renamed(1, 2)

def fake():
    return Fake((1, 2))

def shadowed():
    return Shadowed(1, 2)
""",
    [
        "assert renamed()._1 == 2 and renamed()._fields == ('a', '_1')",
        # session 17's review: only a class whose fields are the factory's own accessors crosses with them
        "assert not hasattr(fake(), 'x') and fake() == (1, 2)",
        "assert getattr(shadowed(), 'x', 99) == 99",
        "assert renamed().a == 2",
        "assert pt().x == 1 and pt().y == 2",
        "assert pt() == (1, 2) and pt() == Point(1, 2)",
        "assert [s.end - s.start for s in spans()] == [3, 4]",
        "assert spans()[1]._asdict() == {'start': 5, 'end': 9}",
        "assert moved(pt(), 2).x == 3",
        "assert type(pt()).__name__ == 'Point' and pt()._fields == ('x', 'y')",
        "assert pt().y == 1",
        "assert moved(pt(), 2) == (1, 2)",
        "assert spans()[0].end == 4",
    ],
)

EXCEPTION_ATTRIBUTES = (
    "exception_attributes_cross",  # session 17: only args crossed, so `e.needed` was an AttributeError
    r"""
class InsufficientFunds(Exception):
    def __init__(self, needed):
        super().__init__("need %d more" % needed)
        self.needed = needed
        self.history = [needed, needed * 2]

def withdraw(balance, amount):
    if amount > balance:
        raise InsufficientFunds(amount - balance)
    return balance - amount

def read(path):
    return open(path).read()

class Odd(ValueError):
    def __init__(self):
        super().__init__("odd")
        self.filename = None
        self.rest = iter([1, 2])

def odd():
    raise Odd()

class Node:
    pass

def with_object():
    raise ValueError("bad", Node())

def with_iterator():
    raise KeyError("k", iter([1]))
""",
    [
        # session 19's review: one arg that cannot cross wiped them all (the message alone was left)
        "try:\n    with_object()\nexcept ValueError as e:\n    assert e.args[0] == 'bad' and len(e.args) == 2",
        "try:\n    with_iterator()\nexcept KeyError as e:\n    assert e.args[0] == 'k' and len(e.args) == 2",
        "try:\n    with_object()\nexcept ValueError as e:\n    assert e.args[1] == 'bad'",
        "try:\n    with_object()\nexcept ValueError as e:\n    assert len(e.args) == 1",
        # session 17's review: a None attribute is kept, one that cannot cross still exists
        "try:\n    odd()\nexcept Odd as e:\n    assert e.filename is None and hasattr(e, 'rest')",
        "try:\n    odd()\nexcept Odd as e:\n    assert not hasattr(e, 'rest')",
        "try:\n    withdraw(5, 8)\nexcept InsufficientFunds as e:\n    assert e.needed == 3 and e.history == [3, 6]",
        "try:\n    withdraw(5, 8)\nexcept Exception as e:\n    assert str(e) == 'need 3 more' and e.args == ('need 3 more',)",
        "try:\n    read('/nonexistent/x')\nexcept FileNotFoundError as e:\n    assert e.filename == '/nonexistent/x'",
        "try:\n    read('/nonexistent/x')\nexcept OSError as e:\n    assert e.errno == 2 and e.filename2 is None",
        "try:\n    withdraw(5, 8)\nexcept InsufficientFunds as e:\n    assert e.needed == 4",
        "try:\n    read('/nonexistent/x')\nexcept FileNotFoundError as e:\n    assert e.filename == 'x'",
    ],
)

EXCEPTION_VALUES = (
    "exceptions_returned_as_values",  # session 21: a returned ValueError was a stand-in, not a ValueError
    r"""
NOT_FOUND = LookupError("not found")

def lookup(d, k):
    return d[k] if k in d else NOT_FOUND

def check(x):
    return ValueError("bad", x) if x < 0 else x

def errors():
    return [KeyError("k"), StopIteration(5), ZeroDivisionError()]

def missing(path):
    e = OSError(2, "No such file or directory", path)
    e.hint = "look elsewhere"
    return e

def group():
    return ExceptionGroup("two", [ValueError(1), TypeError(2)])

class BadRow(ValueError):
    def __init__(self, row):
        super().__init__("bad row %d" % row)
        self.row = row

def rows():
    return ExceptionGroup("bad rows", [BadRow(3)])

def final_value():
    e = StopIteration(0)
    e.args = (42,)
    return e

def same(e):
    return e

class Mixin:
    def tag(self):
        return "m"

class MixErr(Mixin, ValueError):
    pass

def mixed():
    return MixErr("x")

def impostor():
    class BadRow:
        pass
    return BadRow()

class Lexer:
    class Error(ValueError):
        pass

class Parser:
    class Error(ValueError):
        pass

LexError, ParseError = Lexer.Error, Parser.Error

def lex_wrong(s):
    return ParseError(s)

class Node:
    def __init__(self, v):
        self.v = v

def make(v):
    return Node(v)
""",
    [
        "assert isinstance(check(-1), ValueError) and check(-1).args == ('bad', -1)",
        "assert str(check(-2)) == \"('bad', -2)\" and repr(check(-3)) == \"ValueError('bad', -3)\"",
        "assert check(-1) != ValueError('bad', -1)",  # an exception equals only itself
        "e = check(-1)\nassert e == e and same(e) is e",
        "assert [type(e).__name__ for e in errors()] == ['KeyError', 'StopIteration', 'ZeroDivisionError']",
        "assert isinstance(errors()[0], LookupError) and errors()[1].value == 5 and str(errors()[0]) == \"'k'\"",
        "e = missing('x.txt')\nassert isinstance(e, FileNotFoundError) and e.errno == 2 and e.filename == 'x.txt'",
        "assert str(missing('y')) == \"[Errno 2] No such file or directory: 'y'\" and missing('y').hint == 'look elsewhere'",
        "g = group()\nassert isinstance(g, ExceptionGroup) and [type(e).__name__ for e in g.exceptions] == ['ValueError', 'TypeError']",
        "assert lookup({}, 'x') is NOT_FOUND and lookup({}, 'x') == lookup({}, 'y') and lookup({}, 'z') in [NOT_FOUND]",
        "e = rows().exceptions[0]\nassert isinstance(e, BadRow) and isinstance(e, ValueError) and e.row == 3",
        "assert final_value().args == (42,) and final_value().value == 0",
        "e = mixed()\nassert isinstance(e, Mixin) and isinstance(e, ValueError) and e.tag() == 'm'",
        "assert issubclass(type(mixed()), Mixin) and issubclass(type(mixed()), Exception)",
        "assert isinstance(impostor(), BadRow)",  # another class of the same name
        "assert isinstance(lex_wrong('@'), LexError)",  # two classes named Error
        "class Strict(BadRow):\n    pass\nassert not isinstance(rows().exceptions[0], Strict)",
        "class Leaf(Node):\n    pass\nassert not isinstance(make(1), Leaf) and not issubclass(Node, Leaf)",
        "try:\n    raise check(-1)\nexcept ValueError as e:\n    assert e.args == ('bad', -1)",
        "assert check(-1) == ValueError('bad', -1)",
        "assert isinstance(check(-1), TypeError)",
        "assert errors()[1].value == 6",
        "assert missing('x').filename == 'y'",
        "assert final_value().value == 42",  # args changed after construction: value stays 0
        "assert len(group().exceptions) == 3",
        "assert isinstance(rows().exceptions[0], KeyError)",
    ],
)

RAISED_HIERARCHY = (
    "raised_exceptions_keep_the_program_class_hierarchy",  # session 22: classes were shared by name alone
    r"""
class AppError(Exception):
    status = 500

class NotFound(AppError):
    status = 404

    def __init__(self, key):
        super().__init__(key)
        self.key = key

class Weird(NotFound, KeyError):
    pass

class Other(Exception):
    pass

def find(d, k):
    if k not in d:
        raise NotFound(k)
    return d[k]

def weird():
    raise Weird("w")

def other():
    raise Other("o")

def make():
    return NotFound("z")

def nested():
    class NotFound(Exception):  # another class of the same name: no AppError
        pass
    raise NotFound("n")

class InputError(ValueError):
    pass

class BadValue(ValueError, AppError):
    pass

class BadField(InputError, AppError):
    pass

class BadRecord(BadField, BadValue):  # an MRO that holds in the program's order of bases only
    pass

def record():
    raise BadRecord("r")

class TimeoutError(Exception):  # the program's own, named as a builtin: no OSError
    pass

class ReadTimeout(TimeoutError):
    pass

def read():
    raise ReadTimeout("slow")

class Tagged:
    def tag(self):
        return "t"

class TaggedError(Tagged, AppError):
    pass

def tagged():
    raise TaggedError("x")
""",
    [
        "try:\n    find({}, 'a')\n    assert False\nexcept AppError:\n    pass",
        "try:\n    find({}, 'a')\nexcept NotFound as e:\n    assert e.key == 'a' and str(e) == 'a'",
        "try:\n    find({}, 'a')\nexcept Exception as e:\n    assert isinstance(e, AppError) and type(e) is NotFound",
        "try:\n    weird()\nexcept KeyError:\n    pass",
        "try:\n    weird()\nexcept AppError as e:\n    assert type(e).__name__ == 'Weird' and isinstance(e, Weird)",
        "assert issubclass(NotFound, AppError) and issubclass(Weird, KeyError) and not issubclass(Other, AppError)",
        "assert isinstance(make(), AppError) and not isinstance(make(), Other)",
        "try:\n    nested()\nexcept NotFound:\n    assert False\nexcept Exception as e:\n    assert not isinstance(e, AppError)",
        "try:\n    find({}, 'a')\nexcept KeyError:\n    pass\nexcept Exception:\n    assert False",
        "try:\n    other()\nexcept AppError:\n    pass\nexcept Exception:\n    assert False",
        "try:\n    nested()\nexcept NotFound:\n    pass\nexcept Exception:\n    assert False",
        "assert issubclass(AppError, NotFound)",
        "try:\n    record()\nexcept BadField as e:\n    assert isinstance(e, AppError) and isinstance(e, BadValue)",
        "assert issubclass(BadRecord, BadValue) and BadRecord.__mro__[1:4] == (BadField, InputError, BadValue)",
        "try:\n    read()\nexcept OSError:\n    assert False\nexcept TimeoutError as e:\n    assert str(e) == 'slow'",
        "try:\n    record()\nexcept KeyError:\n    pass\nexcept Exception:\n    assert False",
        "assert issubclass(ReadTimeout, OSError)",
        "try:\n    find({}, 'a')\nexcept AppError as e:\n    assert e.status == 404 and AppError.status == 500",
        "class Mine(NotFound):\n    pass\nassert Mine.status == 404 and not hasattr(NotFound, 'code')",
        "try:\n    find({}, 'a')\nexcept AppError as e:\n    assert e.status == 500",
        "try:\n    tagged()\nexcept AppError as e:\n    assert isinstance(e, Tagged) and issubclass(TaggedError, Tagged)",
        "try:\n    tagged()\nexcept AppError as e:\n    assert not isinstance(e, Tagged)",
    ],
)

ITERATOR_CLASSES = (
    "iterator_classes_of_the_program",  # session 22: an instance of a class with __next__ crossed as an
    # iterator alone, so its attributes and its class were not there
    r"""
class Countdown:
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return self

    def __next__(self):
        if self.n <= 0:
            raise StopIteration
        self.n -= 1
        return self.n + 1

class Fib:
    def __init__(self):
        self.a, self.b = 0, 1

    def __iter__(self):
        return self

    def __next__(self):
        self.a, self.b = self.b, self.a + self.b
        return self.a

def countdown(n):
    return Countdown(n)
""",
    [
        "c = countdown(3)\nassert list(c) == [3, 2, 1] and c.n == 0 and list(c) == []",
        "c = Countdown(2)\nassert next(c) == 2 and c.n == 1 and isinstance(c, Countdown) and iter(c) is c",
        "import itertools\nassert list(itertools.islice(Fib(), 6)) == [1, 1, 2, 3, 5, 8]",
        "f = Fib()\nnext(f)\nnext(f)\nassert (f.a, f.b) == (1, 2)",
        "assert [x * 2 for x in Countdown(2)] == [4, 2]",
        "c = countdown(3)\nassert list(c) == [3, 2, 1, 0]",
        "c = Countdown(2)\nnext(c)\nassert c.n == 2",
        "assert isinstance(countdown(1), Fib)",
    ],
)

RAISED_GROUPS = (
    "raised_exception_groups_keep_their_members",  # session 22: a raised group arrived as a RemoteError
    r"""
class BatchError(ExceptionGroup):
    pass

class RowError(ValueError):
    def __init__(self, row):
        super().__init__("row %d" % row)
        self.row = row

def check(rows):
    errors = [RowError(r) for r in rows if r < 0]
    errors += [TypeError("t%d" % i) for i, r in enumerate(rows) if r == 0]
    if errors:
        raise ExceptionGroup("bad rows", errors)

def batch():
    raise BatchError("batch", [KeyError("k"), ExceptionGroup("inner", [RowError(7)])])
""",
    [
        "try:\n    check([-1, 0, 2])\nexcept ExceptionGroup as eg:\n    assert len(eg.exceptions) == 2 and eg.message == 'bad rows'",
        "try:\n    check([-1, -2])\nexcept* RowError as eg:\n    assert [e.row for e in eg.exceptions] == [-1, -2]",
        "try:\n    batch()\nexcept BatchError as eg:\n    assert isinstance(eg.exceptions[1], ExceptionGroup) and eg.exceptions[1].exceptions[0].row == 7",
        "try:\n    batch()\nexcept* KeyError:\n    pass\nexcept* ValueError as eg:\n    assert eg.exceptions[0].exceptions[0].row == 7",
        "try:\n    check([0])\nexcept* ValueError:\n    assert False\nexcept* TypeError:\n    pass",
        "try:\n    check([-1, 0])\nexcept ExceptionGroup as eg:\n    assert str(eg) == 'bad rows (2 sub-exceptions)'",
        "try:\n    check([-1])\nexcept ExceptionGroup as eg:\n    assert eg.exceptions[0].row == 2",
        "try:\n    check([0])\nexcept* TypeError as eg:\n    ok = isinstance(eg.exceptions[0], ValueError)\nassert ok",
    ],
)

EXCEPTIONS_PASSED = (
    "exceptions_a_test_passes_to_the_program",  # session 23: "a ValueError cannot be passed to the program"
    r"""
def describe(e):
    return type(e).__name__ + ": " + str(e)

def code_of(e):
    return getattr(e, "code", None)

def members(group):
    return [type(x).__name__ for x in group.exceptions]

def raise_it(e):
    raise e

def fails():
    raise KeyError("k")
""",
    [
        "assert describe(ValueError('bad')) == 'ValueError: bad'",
        "assert describe(ValueError('bad')) == 'ValueError: good'",
        "try:\n    fails()\nexcept KeyError as e:\n    assert describe(e) == \"KeyError: 'k'\"",
        "e = OSError('x')\ne.code = 7\nassert code_of(e) == 7",
        "assert members(ExceptionGroup('g', [ValueError(1), TypeError(2)])) == ['ValueError', 'TypeError']",
        "try:\n    raise_it(IndexError('i'))\nexcept IndexError as e:\n    assert str(e) == 'i'",
        "assert describe(FileNotFoundError(2, 'gone')) == 'FileNotFoundError: [Errno 2] gone'",
        "assert describe(KeyError('k')) == 'KeyError: k'",
        "assert describe(UnicodeDecodeError('utf-8', b'\\xff', 0, 1, 'bad')).startswith('UnicodeDecodeError: ')",
    ],
)

STANDARD_OBJECTS = (
    "standard_library_classes_and_functions_cross_as_themselves",  # session 22: `kind(3) is int` failed and
    # `apply(int, xs)` could not pass `int` to the program
    r"""
import collections, decimal, math

def apply(fn, xs):
    return [fn(x) for x in xs]

def kind(x):
    return type(x)

def conv(x, to=str):
    return to(x)

def tools():
    return [math.sqrt, collections.Counter, decimal.ConversionSyntax, len]
""",
    [
        "assert apply(int, ['1', '2']) == [1, 2] and apply(abs, [-3]) == [3]",
        "import math\nassert apply(math.sqrt, [4]) == [2.0]",
        "assert kind(3) is int and kind('a') == str and kind([]) is list",
        "assert conv(3, to=float) == 3.0",
        "import collections, decimal, math\nassert tools() == [math.sqrt, collections.Counter, decimal.ConversionSyntax, len]",
        "assert tools()[1]('aab')['a'] == 2",
        "assert apply(len, ['ab']) == [3]",
        "assert kind([]) is tuple",
        "assert tools()[3] is abs",
    ],
)

PASSED_BACK = (
    "program_functions_and_exception_classes_passed_back",  # session 22: a test could not pass the program's
    # function or exception class to the program
    r"""
class AppError(Exception):
    pass

class NotFound(AppError):
    pass

class Store:
    class Full(AppError):
        pass

def raises(fn, cls):
    try:
        fn()
    except cls:
        return True
    return False

def bad():
    raise NotFound("x")

def full():
    raise Store.Full("f")

def get_cls():
    return NotFound

def inc(x):
    return x + 1

def twice(f, x):
    return f(f(x))
""",
    [
        "assert raises(bad, NotFound) and raises(bad, AppError)",
        "assert twice(inc, 3) == 5",
        "assert twice(inc, 3) == 6",
        "assert not raises(full, AppError)",
        "assert not raises(bad, AppError)",
    ],
)

REGISTERED_CLASSES = (
    "abc_registry_and_hooks_decide_isinstance",  # session 21: the mirrors went by class handles alone
    r"""
from abc import ABC, abstractmethod

class Shape(ABC):
    @abstractmethod
    def area(self): ...

class Circle:
    def area(self):
        return 3

Shape.register(Circle)

class Drawable(ABC):
    @classmethod
    def __subclasshook__(cls, C):
        return True if any("draw" in B.__dict__ for B in C.__mro__) else NotImplemented

class Pic:
    def draw(self):
        return 1

def make():
    return Circle()

def pic():
    return Pic()
""",
    [
        "assert isinstance(make(), Shape) and issubclass(type(make()), Shape)",
        "assert isinstance(pic(), Drawable) and not isinstance(make(), Drawable)",
        "assert not isinstance(make(), Shape)",
        "assert isinstance(make(), Drawable)",
    ],
)

DATETIMES = (
    "datetime_values_cross",  # session 17: they arrived opaque, equal to nothing
    r"""
import datetime as dt

def next_day(d):
    return d + dt.timedelta(days=1)

def span(a, b):
    return b - a

def noon(d):
    return dt.datetime(d.year, d.month, d.day, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))

def utc():
    return dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)

def at(h):
    return dt.time(h, 30, fold=1)

def named():  # two lone surrogates: JSON alone would join them into one character
    return dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(0), "\ud83d\ude00"))
""",
    [
        "assert named().tzname() == '\\ud83d\\ude00' and named().tzname() != '\\U0001f600'",
        "assert named().tzname() == '\\U0001f600'",
        "assert next_day(dt.date(2024, 2, 28)) == dt.date(2024, 2, 29)",
        "assert span(dt.date(2024, 1, 1), dt.date(2024, 3, 1)).days == 60",
        "assert noon(dt.date(2024, 5, 1)).isoformat() == '2024-05-01T12:00:00+02:00'",
        "assert noon(dt.date(2024, 5, 1)) == dt.datetime(2024, 5, 1, 10, tzinfo=dt.timezone.utc)",
        "assert utc().tzinfo is dt.timezone.utc and str(utc()) == '2024-01-01 00:00:00+00:00'",
        "assert at(7).fold == 1 and at(7) == dt.time(7, 30)",
        "assert span(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2, 0, 0, 1)) == dt.timedelta(1, 1)",
        "assert next_day(dt.date(2023, 2, 28)) == dt.date(2023, 2, 29 - 1)",
        "assert noon(dt.date(2024, 5, 1)) == dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)",
        "assert span(dt.date(2024, 1, 1), dt.date(2024, 3, 1)).days == 59",
        "assert repr(noon(dt.date(2024, 5, 1)).tzinfo) == 'datetime.timezone.utc'",
    ],
)

DATACLASSES = (
    "dataclass_instances_compare_by_their_fields",  # session 17: they arrived opaque, equal only to themselves
    r"""
import dataclasses

@dataclasses.dataclass
class Point:
    x: int
    y: int = 0

@dataclasses.dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    note: str = dataclasses.field(default="", compare=False)

@dataclasses.dataclass(eq=False)
class Handle:
    n: int

def shifted(dx):
    return Point(dx)

def versions():
    return [Version(1, 2, "a"), Version(1, 10), Version(0, 9)]

def handle():
    return Handle(1)

@dataclasses.dataclass
class Node:
    v: int

FIRST = Node(1)

@dataclasses.dataclass
class Node:  # another class of the same name and fields: plain Python's == tells them apart
    v: int

@dataclasses.dataclass
class Bag:
    items: list

    def __len__(self):  # a special method of its own: the value stays opaque, with its truth value
        return len(self.items)

def first():
    return FIRST

def empty():
    return Bag([])
""",
    [
        # session 17's review: each failed with the first version of the crossing
        "assert first() != Node(1) and first() == first() and Node(2) == Node(2)",
        "assert not empty()",
        "assert empty()",
        "assert shifted(3) == Point(3) and shifted(3).x == 3",
        "assert repr(shifted(3)) == 'Point(x=3, y=0)'",
        "assert sorted(versions()) == [Version(0, 9), Version(1, 2), Version(1, 10)]",
        "assert {versions()[0]: 1}[Version(1, 2, 'b')] == 1",
        "assert handle() != Handle(1)",
        "assert dataclasses.asdict(shifted(2)) == {'x': 2, 'y': 0}",
        "try:\n    versions()[0].major = 5\nexcept dataclasses.FrozenInstanceError:\n    pass\nelse:\n    assert False",
        "assert shifted(3) == (3, 0)",
        "assert shifted(3) == Point(3, 1)",
        "assert versions()[1] < versions()[0]",
        "assert handle() == Handle(1)",
    ],
)

PROGRAM_OBJECTS = (
    "program_objects_act_through_their_process",  # session 20: they arrived opaque (no attributes, no
    # isinstance, no passing back), so a right program whose tests use its classes failed them
    r"""
import enum, re

class Shape:
    sides = 0

    def area(self):
        raise NotImplementedError

class Square(Shape):
    sides = 4

    def __init__(self, side):
        self.side = side

    def area(self):
        return self.side ** 2

    def __eq__(self, other):
        return isinstance(other, Square) and self.side == other.side

    def __hash__(self):
        return hash(self.side)

    def __lt__(self, other):
        return self.side < other.side

    def __repr__(self):
        return "Square(%d)" % self.side

class Stack:
    def __init__(self):
        self.items = []

    def push(self, x):
        self.items.append(x)
        return self

    def pop(self):
        return self.items.pop()

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def __contains__(self, x):
        return x in self.items

class Vec:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __add__(self, o):
        return Vec(self.x + o.x, self.y + o.y)

    def __mul__(self, k):
        return Vec(self.x * k, self.y * k)

    __rmul__ = __mul__

    def __abs__(self):
        return (self.x ** 2 + self.y ** 2) ** 0.5

class Color(enum.Enum):
    RED = 1
    BLUE = 2

def total_area(shapes):
    return sum(s.area() for s in shapes)

def biggest(shapes):
    return max(shapes, key=lambda s: s.area())

def adder(n):
    return lambda x: x + n

def found(text):
    return re.search(r"(\d+)-(\d+)", text)

def favourite():
    return Color.BLUE

def same(x):
    return x

class Greeter:
    def __init__(self, name, obj="!"):
        self.name, self.obj = name, obj

    def hi(self, cls="Hi", name=None):
        return "%s %s%s" % (cls, name or self.name, self.obj)
""",
    [
        "assert isinstance(Square(2), Square) and isinstance(Square(2), Shape)",
        "assert issubclass(Square, Shape) and not issubclass(Shape, Square)",
        "assert type(Square(2)) is Square and type(Square(2)).__name__ == 'Square'",
        "assert Square(3).area() == 9 and Square(3).side == 3 and Square.sides == 4",
        "assert total_area([Square(1), Square(2)]) == 5",
        "assert biggest([Square(1), Square(3), Square(2)]) == Square(3)",
        "assert sorted([Square(3), Square(1)]) == [Square(1), Square(3)]",
        "assert len({Square(1), Square(1), Square(2)}) == 2",
        "assert repr(Square(5)) == 'Square(5)' and str([Square(1)]) == '[Square(1)]'",
        "s = Stack()\ns.push(1).push(2)\nassert len(s) == 2 and list(s) == [1, 2] and 2 in s and s.pop() == 2",
        "s = Stack()\nassert not s and s.items == []",
        "s = Square(2)\ns.side = 5\nassert s.area() == 25",
        "v = Vec(1, 2) + Vec(3, 4)\nassert (v.x, v.y) == (4, 6) and (2 * v).x == 8 and abs(Vec(3, 4)) == 5.0",
        "assert adder(2)(3) == 5",
        "m = found('call 555-1234 now')\nassert m.group(1) == '555' and m.span() == (5, 13)",
        "assert favourite() is Color.BLUE and favourite().name == 'BLUE' and isinstance(favourite(), Color)",
        "assert list(Color) == [Color.RED, Color.BLUE] and Color(1) is Color.RED",
        "x = Square(1)\nassert same(x) is x",
        "try:\n    Shape().area()\nexcept NotImplementedError:\n    pass\nelse:\n    assert False",
        "assert Greeter(name='Ann', obj='?').hi(cls='Yo', name='Bo') == 'Yo Bo?'",  # keywords named as the judge's
        "assert Greeter(name='Ann').hi(name='Bo') == 'Hi Ann!'",
        # and what fails in plain Python fails here
        "assert isinstance(Square(2), Stack)",
        "assert Square(3).area() == 10",
        "assert biggest([Square(1), Square(3)]) == Square(1)",
        "s = Stack()\ns.push(1)\nassert len(s) == 2",
        "assert favourite() is Color.RED",
        "assert adder(2)(3) == 6",
        "assert type(Square(2)) is Shape",
    ],
)

DATACLASS_METHODS = (
    "dataclass_methods_properties_and_mutation",  # session 22: a dataclass with methods but no special
    # methods of its own crossed as its fields alone, so `.deposit()` and `.rich` were AttributeErrors
    r"""
from dataclasses import dataclass, field
from typing import ClassVar

@dataclass
class Account:
    owner: str
    balance: int = 0
    history: list = field(default_factory=list)
    LIMIT: ClassVar[int] = 1000

    def deposit(self, n):
        self.balance += n
        self.history.append(n)
        return self

    @property
    def rich(self):
        return self.balance > 100

@dataclass(frozen=True, order=True)
class Pt:
    x: int
    y: int

    def dist(self):
        return abs(self.x) + abs(self.y)

@dataclass
class Plain:
    a: int

def pts():
    return [Pt(2, 1), Pt(1, 5)]

def plain_one():
    return Plain(3)

class Swap:
    __match_args__ = ("y", "x")

    def __init__(self, x, y):
        self.x, self.y = x, y

def sw():
    return Swap(1, 2)

class InvalidMove(ValueError):
    def __init__(self, pos):
        super().__init__(pos)
        self.pos = pos

def move(x):
    raise InvalidMove(Pt(x, 0))
""",
    [
        "a = Account('bo')\nassert a.deposit(5) is a and a.balance == 5 and a.history == [5]",
        "assert Account('bo', 200).rich and not Account('x').rich",
        "assert Pt(1, -2).dist() == 3 and max(pts()).dist() == 3",
        "assert sorted(pts()) == [Pt(1, 5), Pt(2, 1)] and Pt(1, 2) in {Pt(1, 2)}",
        "import dataclasses\nassert dataclasses.asdict(Account('bo').deposit(3)) == {'owner': 'bo', 'balance': 3, 'history': [3]}",
        "import dataclasses\nassert [f.name for f in dataclasses.fields(Pt)] == ['x', 'y'] and dataclasses.is_dataclass(Pt(1, 2))",
        "import dataclasses\nassert dataclasses.replace(Pt(1, 2), y=5) == Pt(1, 5)",
        "match Pt(1, 2):\n    case Pt(x, y):\n        assert (x, y) == (1, 2)\n    case _:\n        assert False",
        "assert Account.LIMIT == 1000 and repr(Pt(1, 2)) == 'Pt(x=1, y=2)'",
        "assert plain_one() == Plain(3) and plain_one().a == 3",
        "import dataclasses\nassert dataclasses.astuple(Pt(1, 2)) == (1, 2, 3)",
        "assert Pt(1, 2) < Pt(0, 9)",
        "assert Account('x').deposit(2).balance == 3",
        "assert Account('bo', 100).rich",
        "match sw():\n    case Swap(a, b):\n        assert (a, b) == (2, 1)",
        "match sw():\n    case Swap(a, b):\n        assert (a, b) == (1, 2)",
        "try:\n    move(3)\nexcept InvalidMove as e:\n    assert e.pos == Pt(3, 0) and e.args[0].dist() == 3",
        "try:\n    move(3)\nexcept InvalidMove as e:\n    assert e.pos.dist() == 4",
    ],
)

DATACLASS_WITH_OWN_METHODS = (
    "dataclass_methods_and_own_eq",  # session 20: it stayed opaque (session 17), so `==`, `.cents`
    # and passing it back failed; it now crosses as a handle and its own `__eq__` compares two of them
    r"""
import dataclasses

@dataclasses.dataclass
class Money:
    cents: int

    def __eq__(self, other):  # its own ==, which the dataclass decorator keeps
        return isinstance(other, Money) and abs(self.cents - other.cents) < 5

    def doubled(self):
        return Money(self.cents * 2)

def price():
    return Money(150)

def twice(m):
    return m.doubled()
""",
    [
        "assert price() == Money(152)",
        "assert twice(price()) == Money(300)",
        "assert price().cents == 150",
        "assert price() == Money(160)",
    ],
)

PROGRAM_OBJECT_PROTOCOLS = (
    "program_objects_have_the_special_methods_their_class_has",  # session 20's review of the handles
    r"""
import collections.abc

class Node:
    def __init__(self, v, nxt=None):
        self.v, self.nxt = v, nxt

    def __iter__(self):
        n = self
        while n:
            yield n.v
            n = n.nxt

    def __reversed__(self):
        return iter(list(self)[::-1])

    def __floor__(self):
        return 42

    def __divmod__(self, o):
        return (1, 2)

    def __iadd__(self, o):
        self.v += o
        return self

class OnlyEq:
    def __eq__(self, other):
        return self is other

class Box:
    count = 0

    def __init__(self, v):
        self.v = v

    def __eq__(self, o):
        return isinstance(o, Box) and o.v == self.v

    def __hash__(self):
        return hash(self.v)

    def get(self):
        return self.v + Box.count

def lst():
    return Node(1, Node(2, Node(3)))

def only_eq():
    return OnlyEq()

def box(v):
    return Box(v)
""",
    [
        "assert list(reversed(lst())) == [3, 2, 1] and list(lst()) == [1, 2, 3]",
        "import math\nassert math.floor(lst()) == 42 and divmod(lst(), 3) == (1, 2)",
        "a = lst()\nb = a\na += 5\nassert b.v == 6 and a is b",
        "import copy\nb = box(3)\nassert copy.copy(b) == b and copy.deepcopy(b) == b and copy.copy(b) is not b",
        "assert box(3) in [box(1), box(3)] and box(3) in {box(3)} and {box(1): 'a'}[box(1)] == 'a'",
        "assert vars(box(3)) == {'v': 3} and box(3).__dict__ == {'v': 3}",
        "assert not callable(only_eq()) and not isinstance(only_eq(), collections.abc.Hashable)",
        "assert isinstance(lst(), collections.abc.Iterable) and not hasattr(only_eq(), '__len__')",
        "Box.count = 10\nassert box(1).get() == 11",
        # and what fails in plain Python fails here
        "assert list(reversed(lst())) == [1, 2, 3]",
        "assert callable(only_eq())",
        "assert box(3) in [box(1), box(2)]",
        "Box.count = 10\nassert box(1).get() == 1",
        "assert isinstance(only_eq(), collections.abc.Iterable)",
    ],
)

DATACLASS_VALUES_KEEP_THEIR_CLASS = (
    "dataclass_values_keep_their_class",  # session 20: they crossed as values of a class of the judge's
    # own, so `isinstance(p, P)` was false in the tests and the program got a stranger back
    r"""
import dataclasses

@dataclasses.dataclass(frozen=True)
class P:
    x: int
    y: int

    def norm(self):
        return abs(self.x) + abs(self.y)

def mkp():
    return P(1, -2)

def norm_of(p):
    return p.norm() if isinstance(p, P) else -1
""",
    [
        "assert isinstance(mkp(), P) and isinstance(P(3, 4), P) and issubclass(type(mkp()), P)",
        "assert norm_of(mkp()) == 3 and norm_of(P(3, 4)) == 7",
        "assert mkp() == P(1, -2)",
        "assert not isinstance((1, -2), P)",
        "assert norm_of(P(3, 4)) == -1",
        "assert mkp() == P(1, 2)",
    ],
)

CORPUS = [
    PROGRAM_OBJECTS,
    DATACLASS_VALUES_KEEP_THEIR_CLASS,
    PROGRAM_OBJECT_PROTOCOLS,
    DATACLASS_WITH_OWN_METHODS,
    DATACLASS_METHODS,
    DATACLASSES,
    NAMEDTUPLES,
    DATETIMES,
    EXCEPTION_ATTRIBUTES,
    EXCEPTION_VALUES,
    RAISED_HIERARCHY,
    ITERATOR_CLASSES,
    RAISED_GROUPS,
    EXCEPTIONS_PASSED,
    STANDARD_OBJECTS,
    PASSED_BACK,
    REGISTERED_CLASSES,
    GROUPBY,
    WIDE_TEXT,
    WIDE_NUMBERS,
    LARGE_RESULTS,
    IN_PLACE,
    MILLION_FLOATS,
    MILLION_OTHER,
    MILLION_NESTED,
    LIST_VS_TUPLE,
    SPECIAL_FLOATS,
    BIG_INTS,
    BOOL_VS_INT,
    NUMERIC_TOWER,
    NUMERIC_NAMES_FROM_PROGRAM,
    BYTES_LIKE,
    LAZY,
    DEEP,
    SETS_AND_DICTS,
    COLLECTIONS,
    STRINGS,
    ARGUMENTS,
    MODULE_VALUES,
    EXCEPTIONS,
    RECURSION,
]

# -- documented differences: (name, program, asserts, plain Python's outcomes, the judge's outcomes when this
# was written, what the judge does). Only plain Python's side is asserted. --

KNOWN_DIFFERENCES = [
    (
        "user_class_with_eq",
        r"""
class Money:
    def __init__(self, cents):
        self.cents = cents

    def __eq__(self, other):
        if isinstance(other, Money):
            return self.cents == other.cents
        return other == self.cents

def price():
    return Money(150)
""",
        [
            "assert price() == 150",
            "assert price() == Money(150)",
            "assert price().cents == 150",
            "assert bool(price())",
            "assert price() == 151",
        ],
        ["passed", "passed", "passed", "passed", "failed"],
        ["failed", "passed", "passed", "passed", "failed"],
        "By design (objects.py): the instance crosses as a handle, and its `__eq__` answers only for "
        "another of the program's objects (`== Money(150)` passes, `.cents` reads 150). Against a test's "
        "own value (`== 150`) it is equal only to itself, so an `__eq__` that says yes to everything "
        "cannot pass. Until session 20 the instance arrived opaque and only the truth value agreed.",
    ),
    (
        "int_subclass_with_forged_eq",
        r"""
class Weird(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__

def w():
    return Weird(3)
""",
        ["assert w() == 5", "assert w() == 3", "assert w() + 1 == 4", "assert w() < 3"],
        ["passed", "passed", "passed", "failed"],
        ["failed", "passed", "passed", "failed"],
        "Subclasses arrive as their base type by design (an overridden __eq__ must not forge a pass): "
        "`w() == 5` fails in the judge.",
    ),
    (
        "enum_attributes",
        r"""
import enum

class Color(enum.IntEnum):
    RED = 1

def red():
    return Color.RED
""",
        ["assert red().name == 'RED'", "assert red() == 1", "assert red() == 2"],
        ["passed", "passed", "failed"],
        ["error", "passed", "failed"],
        "An IntEnum member arrives as an int: attribute access is an AttributeError in the judge, "
        "equality with the base value agrees. (Namedtuples keep their fields since session 17.)",
    ),
    (
        "object_identity",
        r"""
def same():
    x = float("nan")
    return [x, x]
""",
        [
            "x = same()\nassert [x[0]] == [x[1]]",
            "x = same()\nassert x[0] is x[1]",
            "x = same()\nassert x == x",
            "x = same()\nassert x[0] == x[1]",
        ],
        ["passed", "passed", "passed", "failed"],
        ["failed", "failed", "passed", "failed"],
        "Identity inside a value is not kept across the process boundary: the two elements decode as two "
        "nan objects, so the identity-based equality and `is` fail in the judge.",
    ),
    (
        "int_str_digits_limit",
        r"""
def big():
    return 10**5000
""",
        ["assert len(str(big())) == 5001", "assert big() > 0", "assert big() < 0"],
        ["error", "passed", "failed"],
        ["passed", "passed", "failed"],
        "The worker lifts sys.set_int_max_str_digits (right answers can be huge integers), so str() of "
        "10**5000 works in the judge and raises ValueError in plain Python.",
    ),
    (
        "arguments_over_the_message_cap",
        r"""
def f(s):
    return len(s)
""",
        ["assert f('a' * 70_000_000) == 70_000_000", "assert f('a' * 10) == 10", "assert f('a') == 2"],
        ["passed", "passed", "failed"],
        ["error", "passed", "failed"],
        "README known limits: a test's arguments cross in one message of at most 64 MiB; past it the test is "
        "an error that says so, and the program's process, which used to end on it, answers the next tests.",
    ),
    (
        "functions_passed_to_the_program",
        r"""
def apply(fn, x):
    return fn(x)
""",
        ["assert apply(lambda v: v + 1, 1) == 2"],
        ["passed"],
        ["error"],
        "README known limits: a test's own function (or another object of the test's that is not plain "
        "data) cannot be passed to the program (TypeError); the program's own objects can (session 20).",
    ),
]


@functools.cache
def _plain_outcomes(name: str) -> tuple[str, ...]:
    code, asserts = next((c, a) for n, c, a, *_ in CORPUS + KNOWN_DIFFERENCES if n == name)
    return tuple(plain(code, asserts))


@pytest.fixture(scope="module")
def pool():
    with WorkerPool(2) as p:
        yield p


def _ids(cases):
    return [c[0] for c in cases]


def test_names_are_unique():
    names = _ids(CORPUS + KNOWN_DIFFERENCES)
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", CORPUS, ids=_ids(CORPUS))
def test_case_has_both_outcomes(case):
    """Each case has asserts that pass and asserts that fail in plain Python, none that errors."""
    name, _, asserts = case
    outcomes = _plain_outcomes(name)
    assert len(outcomes) == len(asserts)
    assert "passed" in outcomes and "failed" in outcomes
    assert "error" not in outcomes, [a for a, o in zip(asserts, outcomes) if o == "error"]


@pytest.mark.parametrize("case", CORPUS, ids=_ids(CORPUS))
def test_judge_agrees_with_plain_python(case, pool):
    name, code, asserts = case
    expected = _plain_outcomes(name)
    v = judge(code, asserts, timeout=JUDGE_TIMEOUT_S, pool=pool)
    assert not v.infrastructure_failure, v.message
    got = [t.outcome for t in v.tests]
    assert len(got) == len(asserts), v.message
    differ = [
        f"{asserts[i]!r}: plain {expected[i]}, judge {got[i]} ({v.tests[i].error_type}: {v.tests[i].message[:200]})"
        for i in range(len(asserts))
        if got[i] != expected[i]
    ]
    assert not differ, f"{len(differ)} of {len(asserts)} asserts differ ({v.status.value}):\n" + "\n".join(differ)


@pytest.mark.parametrize("case", KNOWN_DIFFERENCES, ids=_ids(KNOWN_DIFFERENCES))
def test_known_difference_is_documented(case, pool):
    """Plain Python's side of each documented difference is as stated, and the judge gives every assert a
    real outcome (no sandbox error, nothing left not run). The judge's outcomes are not asserted."""
    name, code, asserts, plain_expected, judge_when_written, note = case
    assert note and len(judge_when_written) == len(asserts) and judge_when_written != plain_expected
    assert list(_plain_outcomes(name)) == plain_expected
    v = judge(code, asserts, timeout=JUDGE_TIMEOUT_S, pool=pool)
    assert not v.infrastructure_failure, v.message
    assert [t.outcome in ("passed", "failed", "error") for t in v.tests] == [True] * len(asserts), v.message


def test_a_large_list_of_flat_rows_digests_as_it_does_element_by_element():
    """The bulk digest of lists of tuples (or lists) of str and int hashes the very bytes the general path
    hashes, so a value equal in Python (1.0 for 1) still digests equal, and a list of lists still differs."""
    import hashlib
    import itertools

    from selfmine.sandbox.worker import digest as worker

    def general(v):
        h = hashlib.sha256(b"L[" if type(v) is list else b"T[")
        for x in v:
            h.update(worker._dumps(x).encode("utf-8", "surrogatepass") + b",")
        return h.hexdigest()

    rows = list(itertools.combinations_with_replacement(["a", "é", 'q"', "\ud83d", 7, -3], 4))
    for v in (rows, tuple(rows), [list(x) for x in rows], rows * 30, [()], [[], []], [(1, True)], []):
        assert worker.digest(v) == general(v)
    assert worker.digest([(1, "a")] * 3) == worker.digest([(1.0, "a")] * 3)
    assert worker.digest([(1, "a")]) != worker.digest([[1, "a"]])
    chunked = hashlib.sha256(b"L[")
    worker._hash_rows(chunked, rows, chunk=7)  # chunks that do not divide the list
    assert chunked.hexdigest() == general(rows)


def test_an_argument_over_the_message_cap_is_the_tests_error_and_the_program_answers_on(pool):
    """Session 19's review: the program's process refused the oversized message and ended, so the verdict
    blamed the program ("stopped before its tests finished") and no later test ran."""
    case = next(c for c in KNOWN_DIFFERENCES if c[0] == "arguments_over_the_message_cap")
    v = judge(case[1], case[2], timeout=JUDGE_TIMEOUT_S, pool=pool)
    assert [t.outcome for t in v.tests] == ["error", "passed", "failed"], v.message
    assert "too large to pass to the program" in v.tests[0].message
