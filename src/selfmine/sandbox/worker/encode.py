"""Values across the socket, the program's side: plain data, every type named exactly (no subclasses),
and handles for the objects that are not plain data (objects.py)."""

import collections
import dataclasses
import datetime
import decimal
import fractions
import itertools
import sys
import unicodedata

from .errors import EXC_BUILTIN, attribute_name
from .objects import (
    NoHandle,
    ProgramFunction,
    ProgramType,
    Stand,
    class_number,
    described,
    handles_mark,
    handles_of,
    in_the_tests,
    roll_back_handles,
    sole_handle,
)
from .stdlib import stdlib_name


class Unencodable(TypeError):
    pass


_TAGGED_DICTS = ((collections.Counter, "C"), (collections.OrderedDict, "O"), (collections.defaultdict, "D"))


class TooBig(Exception):
    pass


# A result of more nodes than this crosses in parts (the encoding of a few million nodes at once would
# outgrow the program's memory limit: MBPP+'s Mbpp/255 returns such a list): the program keeps the value
# and the tests process fetches its items a part at a time, then builds the same value, so a result of
# any size is compared, indexed and summed as plain Python would (`large`, `_Link.whole`).
# A node is at most about 35 bytes of JSON (a float's hex with its tag; longer ints, text and bytes are
# charged a node per 32 characters), so a message of SEND_NODES nodes stays under MESSAGE_CAP (64 MiB).
SEND_NODES = 1_800_000
PART_NODES = 250_000  # about this many nodes in one part of a large value
# ... except a value of an estimated DIGEST_NODES nodes or more (MBPP+'s Mbpp/255 returns 1.66M tuples of
# 77 strings, 130M nodes: built again it would need gigabytes and minutes): it crosses as a digest, equal
# to a value of the same canonical encoding (numbers compared as numbers, 0 == 0.0), with its length; any
# other use of it (indexing, sum) is a test error that names the limit.
DIGEST_NODES = 20_000_000
ESTIMATE_SAMPLE = 64  # items whose sizes estimate a large value's nodes
MAX_DEPTH = 2000  # containers nested deeper than this cannot cross (plain Python's == stops near 1000)
_VIEWS = (type({}.keys()), type({}.values()), type({}.items()))
_VIEW_TAG = dict(zip(_VIEWS, "kva"))


FACTORIES = {f.__name__: f for f in (list, dict, set, int, float, str, tuple, frozenset, bytes, bool, complex)}


ITERATORS = {}  # the program's live iterators, by id, consumed from the tests process call by call


def _text(v):
    """A str as plain data. JSON would join a lone high and low surrogate into one character (a false pass
    for `f() == '\U0001f600'`), so text with surrogates crosses as its UTF-32 code units."""
    if v.isascii():
        return v
    try:
        v.encode("utf-8")
        return v
    except UnicodeEncodeError:
        return {"u": v.encode("utf-32-le", "surrogatepass").hex()}


def _text_nodes(v):
    return len(v) >> 5 if str.isascii(v) else (len(v) * 3) >> 3


def encode(v, depth=0, strict=False, budget=None):
    """Plain data for `v`, exact for everything the standard library returns: numbers (int, float, bool,
    complex, Fraction, Decimal), text and bytes (bytearray, memoryview), containers (deque with its
    maxlen, defaultdict with a builtin factory, namedtuples with their fields), range, dict views and
    datetime's dates, times and durations. Iterators (generators, map, zip,
    ...) cross as handles the tests process consumes lazily (`strict` refuses them: arguments). Subclasses
    become their standard base type, so an overridden __eq__ never crosses; other objects cross as handles
    (objects.py; opaque past its limits), and in `strict` (the tests' arguments) the program's own
    objects go back as their handles."""
    if depth > MAX_DEPTH:
        raise Unencodable("value nested deeper than %d levels" % MAX_DEPTH)
    if budget is not None:
        # a node, and a long text or bytes value as many (32 ASCII characters or 16 bytes a node; JSON
        # writes other characters as escapes of up to 12 bytes): what a message can hold is bounded in
        # bytes (MESSAGE_CAP) as well as in nodes
        budget[0] -= 1 + (
            _text_nodes(v) if isinstance(v, str) else len(v) >> 4 if isinstance(v, (bytes, bytearray)) else 0
        )
        if budget[0] < 0:
            raise TooBig()
    t = type(v)
    if t is int:
        if -(1 << 62) < v < (1 << 62):
            return v
        _spend(budget, v.bit_length() >> 7)  # its hex, 32 digits a node
        return {"i": "%x" % v}  # decimal conversion of a huge int is quadratic
    if v is None or t is bool:
        return v
    if t is str:
        return _text(v)
    if t is float:
        return {"f": v.hex()}
    if t is list:
        return [encode(x, depth + 1, strict, budget) for x in v]
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return encode(int.__int__(v), depth, strict, budget)
    if isinstance(v, float):
        return {"f": float.hex(float.__float__(v))}
    if isinstance(v, str):
        return _text(str.__str__(v))
    if isinstance(v, dict):
        return _encode_dict(v, depth, strict, budget)
    if isinstance(v, collections.deque):
        items = [encode(x, depth + 1, strict, budget) for x in v]
        return {"q": items} if v.maxlen is None else {"Q": [v.maxlen, items]}
    if isinstance(v, list):
        return [encode(x, depth + 1, strict, budget) for x in list.__iter__(v)]
    if isinstance(v, tuple):
        items = [encode(x, depth + 1, strict, budget) for x in tuple.__iter__(v)]
        shape = None if t is tuple else _namedtuple_shape(t, len(items))
        if shape:
            _spend_names(budget, [shape[0], *shape[1]])
        return {"N": [*shape, items]} if shape else {"t": items}
    if isinstance(v, (set, frozenset)):
        return {"z" if isinstance(v, frozenset) else "s": [encode(x, depth + 1, strict, budget) for x in v]}
    return _encode_other(v, t, depth, strict, budget)


def enc(v, depth=0, strict=False, budget=None):
    """`encode`, undoing the handles it handed out where it fails: the value then crosses another way or
    not at all, so none of them was sent (three lists too large for one message used up the judge's
    million handles, and classes that came after had none)."""
    mark = handles_mark()
    try:
        return encode(v, depth, strict, budget)
    except BaseException:
        roll_back_handles(mark)
        raise


def _spend(budget, nodes):
    if budget is not None:
        budget[0] -= nodes
        if budget[0] < 0:
            raise TooBig()


def _spend_names(budget, names):
    """A namedtuple's or dataclass's names travel with every instance: a node each, 32 characters a node."""
    _spend(budget, sum(1 + (len(x) >> 5) for x in names))


def _namedtuple_shape(t, length):
    """[typename, field names] of a namedtuple class (its instances keep their attributes: `p.x`), or None
    for any other tuple type. Looked at for every value, not cached: the program may change its class
    between two calls."""
    shape = _shape_of(t)
    return shape if shape is not None and len(shape[1]) == length else None


def _shape_of(t):
    """Only a class whose every field is still the factory's own accessor of its position, with tuple's
    attribute lookup, and names the tests process can build again exactly (a `rename=True` name `_3`
    included), has a shape."""
    try:
        fields = type.__getattribute__(t, "_fields")
        name = type.__getattribute__(t, "__name__")
        if type.__getattribute__(t, "__getattribute__") is not tuple.__getattribute__:
            return None
        if type(fields) is not tuple or not 0 < len(fields) <= 255:
            return None
        if not (shape_name(name) and all(field_name(f, i) for i, f in enumerate(fields))):
            return None
        mro = type.__getattribute__(t, "__mro__")
        return [name, list(fields)] if all(_accessor(mro, f, i) for i, f in enumerate(fields)) else None
    except BaseException:
        return None


def shape_name(name):
    return type(name) is str and str.isidentifier(name) and len(name) <= NAME_CHARS


def field_name(name, index):
    if not _source_name(name):
        return False
    return not name.startswith("_") or name == "_%d" % index


def _source_name(name):
    """A name the class factories may write into the source they compile: an identifier the parser keeps
    as it is (it NFKC-normalises names, so "_\uff3fclass\uff3f\uff3f" would be compiled as __class__)."""
    if type(name) is not str or len(name) > NAME_CHARS or not str.isidentifier(name):
        return False
    return name.isascii() or unicodedata.normalize("NFKC", name) == name


def _accessor(mro, field, index):
    """Whether `field` resolves, on a class of this MRO, to the namedtuple factory's getter of `index`."""
    found = next((c.__dict__[field] for c in mro if field in c.__dict__), None)
    return type(found) is _TUPLEGETTER and found.__reduce__()[1][0] == index


NAME_CHARS = 200  # a longer class or field name leaves its namedtuple a plain tuple (never cut short)
_TUPLEGETTER = type(collections.namedtuple("_Probe", "a").a)


# A dataclass crosses as its fields only where its class has nothing of its own that plain Python would
# run on the tests' side: every special method in its MRO is one `dataclass` generated (or object's), so
# ==, <, hash, repr and truth are what the same fields give in a class made again from them.
_DATACLASS_OWN = frozenset(
    ("__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__annotations__", "__slots__")
    + ("__dataclass_fields__", "__dataclass_params__", "__match_args__", "__init__", "__post_init__")
    + ("__orig_bases__", "__parameters__")
)
_DATACLASS_MADE = frozenset(("__eq__", "__repr__", "__hash__", "__lt__", "__le__", "__gt__", "__ge__"))
_DATACLASS_MADE_TOO = frozenset(("__setattr__", "__delattr__", "__getstate__", "__setstate__"))


def _dataclass_shape(t):
    """[name, qualname, class number, [[field, compare, repr, hash], ...], [order, frozen, unsafe_hash,
    repr]] of a dataclass compared field by field, or None: an eq=False class (identity), or one with
    special methods of its own (`_DATACLASS_OWN`), stays opaque."""
    try:
        params = type.__getattribute__(t, "__dataclass_params__")
        if params.eq is not True or type(t) is not type or not all(_generated(c) for c in t.__mro__[:-1]):
            return None
        fields = [[f.name, bool(f.compare), bool(f.repr), f.hash] for f in dataclasses.fields(t)]
        name, qualname = type.__getattribute__(t, "__name__"), type.__getattribute__(t, "__qualname__")
        if not shape_name(name) or not is_qualname(qualname) or len(fields) > 255:
            return None
        if not all(dataclass_field(f[0]) and f[3] in (None, True, False) for f in fields):
            return None
        if not in_the_tests() and _has_own_attributes(t, {f[0] for f in fields}):
            return None
        number = class_number(t)  # two program classes of one name and fields stay two (objects.py)
        flags = [bool(params.order), bool(params.frozen), bool(params.unsafe_hash), bool(params.repr)]
        return [name, qualname, number, fields, flags]
    except BaseException:
        return None


_STANDARD = sys.stdlib_module_names | {"builtins"}  # taken before the program runs


def _has_own_attributes(t, fields):
    """Whether the program's dataclass `t` has attributes beside its fields (a method, a property, a class
    constant) in a class of its own: its instances then cross as handles, so a test can call them, and a
    method that changes the object changes the one the test holds (made again from its fields alone, the
    class had none: session 22). Classes of the standard library (`typing.Generic`) do not count."""
    for cls in type.__getattribute__(t, "__mro__")[:-1]:
        module = type.__getattribute__(cls, "__module__")
        if type(module) is str and module.partition(".")[0] in _STANDARD:
            continue
        for key in type.__getattribute__(cls, "__dict__"):
            if type(key) is str and not (key.startswith("__") and key.endswith("__")) and key not in fields:
                return True
    return False


def _generated(cls):
    """Whether every special name `cls` defines is a dataclass's own: data, or a method it generated."""
    for key, value in type.__getattribute__(cls, "__dict__").items():
        if not (key.startswith("__") and key.endswith("__")) or key in _DATACLASS_OWN:
            continue
        if key == "__hash__" and value is None:
            continue
        code = getattr(value, "__code__", None)
        made = code is not None and code.co_filename in ("<string>", dataclasses.__file__)
        if not (made and (key in _DATACLASS_MADE or key in _DATACLASS_MADE_TOO)):
            return False
    return True


def is_qualname(name):
    parts = name.split(".") if type(name) is str and len(name) <= NAME_CHARS else []
    return bool(parts) and all(p == "<locals>" or _source_name(p) for p in parts)


def dataclass_field(name):
    return _source_name(name) and not name.startswith("__")


def _dataclass_values(v, fields, depth, strict, budget):
    """The fields' values as plain data; None where one was never set (init=False, no default)."""
    _spend_names(budget, [f[0] for f in fields])
    try:
        values = [object.__getattribute__(v, f[0]) for f in fields]
    except AttributeError:
        return None
    # `==` and repr of nested dataclasses take plain Python two frames a level
    return [encode(x, depth + 2, strict, budget) for x in values]


def _encode_dict(v, depth, strict, budget=None):
    items = [[encode(k, depth + 1, strict, budget), encode(x, depth + 1, strict, budget)] for k, x in dict.items(v)]
    if isinstance(v, collections.defaultdict):
        factory = v.default_factory
        name = getattr(factory, "__name__", None) if factory in FACTORIES.values() else None
        return {"E": [name, items]}
    tag = next((tag for kind, tag in _TAGGED_DICTS if isinstance(v, kind)), "d")
    return {tag: items}


def _encode_other(v, t, depth, strict, budget=None):
    if strict and isinstance(v, (Stand, ProgramType)):  # the tests hand the program its own object
        return _program_object(v)
    if strict and isinstance(v, type) and (h := _raised_class_handle(v)) is not None:  # its exception class
        return {"P": h}
    if strict and isinstance(v, ProgramFunction) and type(object.__getattribute__(v, "_sm_h")) is int:
        return {"P": object.__getattribute__(v, "_sm_h")}  # and one of its functions the tests bound by name
    if strict and EXC_BUILTIN.get(type.__getattribute__(t, "__name__")) is t:
        return _exception_value(v, t, depth, budget)
    named = stdlib_name(v)
    if named is not None:  # a class or function of the standard library's (int, math.sqrt): itself there too
        return {"S": named[1:]}
    if isinstance(v, complex):
        _spend(budget, 1)  # two floats
        return {"c": [float.hex(v.real), float.hex(v.imag)]}
    if isinstance(v, bytes):
        return {"b": bytes.hex(v)}
    if isinstance(v, bytearray):
        return {"B": bytearray.hex(v)}
    if isinstance(v, memoryview):
        if v.format != "B" or v.ndim != 1 or not v.c_contiguous:
            raise Unencodable("memoryview of format %s" % v.format)
        return {"V": [v.tobytes().hex(), v.readonly]}
    if isinstance(v, fractions.Fraction):
        return {"F": [encode(int(v.numerator), budget=budget), encode(int(v.denominator), budget=budget)]}
    if isinstance(v, decimal.Decimal):
        text = decimal.Decimal.__str__(v)
        _spend(budget, len(text) >> 5)
        return {"M": text}
    if t is range:
        return {"r": [encode(v.start), encode(v.stop), encode(v.step)]}
    when = _when(v) if isinstance(v, _WHEN_TYPES) else None
    if when is not None:
        _spend(budget, len(when))  # about a node a field: a million dates must still fit one message
        return {"W": when}
    if t in _VIEW_TAG:
        return {_VIEW_TAG[t]: _encode_dict(dict(v.mapping), depth + 1, strict, budget)}
    shape = None if isinstance(v, type) else _dataclass_shape(t)
    if shape is not None and strict and not shape[4][1]:  # the judge would not send its changes back
        raise Unencodable("%s (a dataclass that is not frozen)" % shape[0])
    values = None if shape is None else _dataclass_values(v, shape[3], depth, strict, budget)
    if values is not None:
        return {"A": [*shape, values]}
    if not strict and _is_iterator(v):
        handle = len(ITERATORS) + 1
        ITERATORS[handle] = v
        return {"n": [handle, t.__name__ if isinstance(t.__name__, str) else "iterator"]}
    if strict:
        raise Unencodable(t.__name__ if isinstance(t.__name__, str) else "object")
    try:  # a handle the tests act on through the program's process (objects.py)
        made = described(v)
        _spend(budget, 4 * len(made[2]))
        return {"p": made}
    except NoHandle:
        pass
    try:
        truth = bool(v)
    except BaseException:
        truth = None
    return {"o": [t.__name__ if isinstance(t.__name__, str) else "object", truth]}  # seen only as an opaque object


def _exception_value(v, t, depth, budget):
    """{"x": [class name, args, [[name, value], ...]]}: an exception of a builtin class that a test passes
    to the program (`describe(ValueError("bad"))`, one it caught), made again there from its args and its
    public attributes that can cross (until session 23 a TypeError: "a ValueError cannot be passed"). It is
    a copy: its traceback, cause, context and notes stay behind, `same(e) is e` is false, and the program's
    changes to it are not seen here."""
    args = [encode(a, depth + 1, True, budget) for a in BaseException.__getattribute__(v, "args")]
    named = []
    for k, x in dict.items(object.__getattribute__(v, "__dict__")):
        if not attribute_name(k):
            continue
        try:
            named.append([k, encode(x, depth + 1, True, budget)])
        except Unencodable:  # an attribute that cannot cross (a function) stays behind: it may never be read
            continue
    return {"x": [type.__getattribute__(t, "__name__"), args, named]}


def _raised_class_handle(cls):
    """The handle of the program's exception class that `cls` stands for in the tests (raised.py
    `_lineage_class`: its own `_sm_handles`, one handle), else None (a test's own subclass included)."""
    handles = handles_of(cls)
    return sole_handle(handles) if type(handles) is frozenset else None


def _program_object(v):
    """{"P": handle} for a stand-in of one of the program's objects (or classes), passed back to it."""
    h = v._sm_class_h if isinstance(v, ProgramType) else object.__getattribute__(v, "_sm_h")
    if type(h) is not int:
        raise Unencodable("object")
    return {"P": h}


# datetime's value types cross by their fields (a subclass as its base type), with a fixed-offset timezone;
# another tzinfo (zoneinfo) leaves the value opaque.
_WHEN_TYPES = (datetime.date, datetime.time, datetime.timedelta)


WHEN_FIELDS = {
    "datetime": ("year", "month", "day", "hour", "minute", "second", "microsecond", "fold"),
    "date": ("year", "month", "day"),
    "time": ("hour", "minute", "second", "microsecond", "fold"),
    "timedelta": ("days", "seconds", "microseconds"),
}


def _when(v):
    """[kind, fields..., zone] for a date, datetime, time or timedelta, or None (a zone that cannot cross)."""
    kind = next(c for c in (datetime.datetime, datetime.date, datetime.time, datetime.timedelta) if isinstance(v, c))
    fields = [kind.__dict__.get(f) or datetime.date.__dict__[f] for f in WHEN_FIELDS[kind.__name__]]
    out = [kind.__name__, *(int(d.__get__(v)) for d in fields)]
    if kind in (datetime.datetime, datetime.time):
        zone = (datetime.datetime if kind is datetime.datetime else datetime.time).__dict__["tzinfo"].__get__(v)
        if zone is not None and type(zone) is not datetime.timezone:
            return None
        out.append(None if zone is None else _zone(zone))
        if zone is not None and out[-1] is None:
            return None
    return out


ZONE_CHARS = 100  # a timezone with a longer name leaves its value opaque (never cut short)


def _zone(zone):
    """[offset days, seconds, microseconds, name] of a fixed-offset timezone; the name None where it is the
    one `timezone(offset)` gives itself (so `timezone.utc` arrives as itself); None for a long name."""
    offset = zone.utcoffset(None)
    name = zone.tzname(None)
    if datetime.timezone(offset) == zone and datetime.timezone(offset).tzname(None) == name:
        name = None
    elif len(name) > ZONE_CHARS:
        return None
    return [offset.days, offset.seconds, offset.microseconds, None if name is None else _text(name)]


_LARGE = {}  # the program's values too large for one message: handle -> (kind, its items' iterator, position)
_HANDLES = itertools.count(1)  # never reused: a finished value's number may not name a later one


def large(v):
    """A container too large to send whole, kept in the program's process and described as
    {"g": [handle, kind, length, extra]}: its items cross a part at a time (`next_part`). The kind is the
    encoder's tag for the same value (subclasses become their base type), `extra` a deque's maxlen or a
    defaultdict's factory."""
    extra = None
    if isinstance(v, dict) or type(v) in _VIEW_TAG:
        mapping = v if isinstance(v, dict) else dict(v.mapping)
        kind = _VIEW_TAG.get(type(v)) or next((tag for cls, tag in _TAGGED_DICTS if isinstance(v, cls)), "d")
        if kind == "D":
            factory = v.default_factory
            kind, extra = "E", getattr(factory, "__name__", None) if factory in FACTORIES.values() else None
        items = iter(dict.items(mapping))
    elif isinstance(v, collections.deque):
        kind, extra, items = "q", v.maxlen, iter(collections.deque.__iter__(v))
    else:
        base = next((b for b in (list, tuple, frozenset, set) if isinstance(v, b)), None)
        if base is None and _dataclass_shape(type(v)) is not None:  # crosses as it did before it had fields
            return {"o": [type.__getattribute__(type(v), "__name__"), True]}
        if base is None:
            raise Unencodable("value too large to cross (%s)" % type(v).__name__)
        kind, items = {list: "l", tuple: "t", set: "s", frozenset: "z"}[base], iter(base.__iter__(v))
    handle = next(_HANDLES)
    _LARGE[handle] = (kind, items, 0)
    return {"g": [handle, kind, len(v), extra]}


def estimated_nodes(v):
    """Nodes of a large value, estimated from its length and its first items' sizes (rows of a like size are
    the common case; a wrong estimate only picks the slower or the coarser way across, never a wrong value)."""
    try:
        sample = list(itertools.islice(dict.values(v) if isinstance(v, dict) else v, ESTIMATE_SAMPLE))
        kinds = (list, tuple, dict, set, frozenset, collections.deque)
        inner = sum(len(x) for x in sample if isinstance(x, kinds)) / max(1, len(sample))
        return int(len(v) * (1 + inner))
    except Exception:
        return 0


def _one(x):
    """One item of a large value: whole, or itself a large value."""
    budget = [SEND_NODES]
    try:
        return encode(x, 1, False, budget), SEND_NODES - budget[0]
    except TooBig:
        return large(x), 1


def _plain(batch):
    """A part of exact ints (in JSON's exact range) or exact ASCII strs as itself, one of exact floats as
    their hex, without a Python call per item: the common large results. None for anything else."""
    kinds = set(map(type, batch))
    if kinds == {int} and -(1 << 62) < min(batch) and max(batch) < (1 << 62):
        return {"plain": batch}
    if kinds == {str} and sum(map(len, batch)) >> 5 < PART_NODES and "".join(batch).isascii():
        return {"plain": batch}
    if kinds == {float}:
        return {"floats": list(map(float.hex, batch))}
    return None


def next_part(handle, at):
    """The next items of large value `handle` from position `at` (parts are fetched in order), about
    PART_NODES nodes; a mapping's items as [key, value]. {"items": [...], "end": 1} after the last (or
    "plain" / "floats" in place of "items", `_plain`)."""
    kind, items, position = _LARGE[handle]
    if at != position:
        raise ValueError("parts out of order")
    if kind in "ltszq":
        batch = list(itertools.islice(items, PART_NODES))
        fast = _plain(batch) if batch else {"items": []}
        if fast is not None:
            if len(batch) < PART_NODES:
                del _LARGE[handle]
                return {**fast, "end": 1}
            _LARGE[handle] = (kind, items, position + len(batch))
            return fast
        items = itertools.chain(batch, items)
    out, nodes = [], 0
    for x in items:
        if kind in "dCOEkva":
            (key, n1), (value, n2) = _one(x[0]), _one(x[1])
            out.append([key, value])
            nodes += n1 + n2
        else:
            item, n = _one(x)
            out.append(item)
            nodes += n
        if nodes >= PART_NODES:
            break
    else:
        del _LARGE[handle]
        return {"items": out, "end": 1}
    _LARGE[handle] = (kind, items, position + len(out))
    return {"items": out}


def _is_iterator(v):
    """An iterator of the standard library's (a generator, map, zip, a file): it crosses as a handle the
    tests consume in batches. One of the program's own classes crosses as any of its objects does, so its
    attributes and class are there too (session 22: it was an iterator alone), each item a round trip."""
    try:
        module = type.__getattribute__(type(v), "__module__")
        if type(module) is not str or module.partition(".")[0] not in _STANDARD:
            return False
        return callable(getattr(type(v), "__next__", None)) and iter(v) is v
    except BaseException:
        return False
