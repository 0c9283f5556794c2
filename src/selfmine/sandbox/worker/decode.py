"""Values across the socket, the tests' side: plain data back into Python values, the program's iterators
read lazily, and the classes its namedtuples and dataclasses are rebuilt as."""

import collections
import dataclasses
import datetime
import decimal
import fractions
import typing

from .digest import Digest
from .encode import (
    FACTORIES,
    MAX_DEPTH,
    WHEN_FIELDS,
    ZONE_CHARS,
    dataclass_field,
    field_name,
    is_qualname,
    shape_name,
)
from .errors import EXC_BUILTIN, attribute_name
from .objects import DATACLASS_OF, OBJECTS, NoHandle, in_the_tests, stand_in
from .stdlib import stdlib_object


def _when_value(v):
    """The value `_when` described (its constructors check every field)."""
    if type(v) is not list or not v or type(v[0]) is not str or v[0] not in WHEN_FIELDS:
        raise ValueError("not a value the judge understands")
    kind, n = v[0], len(WHEN_FIELDS[v[0]])
    fields, rest = v[1 : 1 + n], v[1 + n :]
    if len(fields) != n or not all(type(f) is int for f in fields):
        raise ValueError("not a value the judge understands")
    if kind in ("date", "timedelta"):
        return getattr(datetime, kind)(*fields)
    if len(rest) != 1:
        raise ValueError("not a value the judge understands")
    zone = rest[0]
    if zone is not None:
        ok = type(zone) is list and len(zone) == 4 and all(type(f) is int for f in zone[:3])
        name = decode(zone[3]) if ok and zone[3] is not None else None
        if not ok or name is not None and (type(name) is not str or len(name) > ZONE_CHARS):
            raise ValueError("not a value the judge understands")
        offset = datetime.timedelta(*zone[:3])
        zone = datetime.timezone(offset) if name is None else datetime.timezone(offset, name)
    *values, fold = fields
    return getattr(datetime, kind)(*values, tzinfo=zone, fold=fold)


class Opaque:
    """An object the program returned that is not plain data: it equals nothing but itself."""

    def __init__(self, kind, truth):
        self.kind, self.truth = kind, truth

    def __bool__(self):
        if self.truth is None:
            raise TypeError("the program's %s has no truth value" % self.kind)
        return self.truth

    def __repr__(self):
        return "<%s object from the program>" % self.kind


class RemoteIterator:
    """One of the program's iterators (a generator, a map, ...), consumed lazily as in plain Python: the
    first `next` asks for one item, later ones for batches that double up to 4096, so `list()` of a long
    map costs few round trips while `next()` of an infinite generator takes only what it needs."""

    def __init__(self, link, handle, kind):
        self._link, self._handle, self._kind = link, handle, kind
        self._ready, self._batch, self._end = collections.deque(), 1, None

    def __iter__(self):
        return self

    def __next__(self):
        if not self._ready and self._end is None:
            items, self._end = self._link.advance(self._handle, self._batch)
            self._ready.extend(items)
            self._batch = min(self._batch * 2, 4096)
        if self._ready:
            return self._ready.popleft()
        end, self._end = self._end, StopIteration()
        if isinstance(end, NotAValue):
            self._link.unsendable = str(end)
        raise end

    def __repr__(self):
        return "<%s object from the program>" % self._kind


def decode(x, depth=0, link=None):
    if depth > MAX_DEPTH + 1:
        raise ValueError("nested too deep")
    t = type(x)
    if x is None or t is bool or t is int:
        return x
    if t is str:
        return x if link is None or link.shared is None else link.shared.setdefault(x, x)
    if t is list:
        return [decode(i, depth + 1, link) for i in x]
    if t is dict and len(x) == 1:
        ((k, v),) = x.items()
        return _decode_tagged(k, v, depth, link)
    raise ValueError("not a value the judge understands")


def _decode_tagged(k, v, depth, link):
    if len(k) != 1:  # every tag is one character (`k in "tsz"` would take "" and "ts")
        raise ValueError("not a value the judge understands")
    tv = type(v)
    if k == "f" and tv is str:
        if link is not None and link.shared is not None:
            return link.shared.setdefault(("f", v), float.fromhex(v))
        return float.fromhex(v)
    if k == "i" and tv is str:
        return int(v, 16)
    if k == "u" and tv is str:
        return bytes.fromhex(v).decode("utf-32-le", "surrogatepass")
    if k in "tszqdCO" and tv is list:
        items = [decode(i, depth + 1, link) for i in v]
        if k in "tszq":
            return {"t": tuple, "s": set, "z": frozenset, "q": collections.deque}[k](items)
        return {"d": dict, "C": collections.Counter, "O": collections.OrderedDict}[k]({a: b for a, b in items})
    if k == "N" and tv is list and len(v) == 3 and type(v[2]) is list:
        items = [decode(i, depth + 1, link) for i in v[2]]
        kind = _namedtuple_class(v[0], v[1], len(items))
        return tuple(items) if kind is None else kind(*items)
    if k == "W" and tv is list:
        return _when_value(v)
    if k == "A" and tv is list and len(v) == 6 and type(v[5]) is list:
        return _dataclass_value(v, depth, link)
    if k == "Q" and tv is list and len(v) == 2 and type(v[0]) is int:
        return collections.deque([decode(i, depth + 1, link) for i in v[1]], v[0])
    if k == "E" and tv is list and len(v) == 2 and (v[0] is None or v[0] in FACTORIES):
        pairs = {a: b for a, b in (decode(i, depth + 1, link) for i in v[1])}
        return collections.defaultdict(FACTORIES.get(v[0]), pairs)
    if k == "c" and tv is list and len(v) == 2:
        return complex(float.fromhex(v[0]), float.fromhex(v[1]))
    if k in "bB" and tv is str:
        return (bytes if k == "b" else bytearray).fromhex(v)
    if k == "V" and tv is list and len(v) == 2 and type(v[0]) is str:
        data = bytes.fromhex(v[0])
        return memoryview(data if v[1] else bytearray(data))
    if k == "F" and tv is list and len(v) == 2:
        return fractions.Fraction(decode(v[0]), decode(v[1]))
    if k == "M" and tv is str:
        return decimal.Decimal(v)
    if k == "r" and tv is list and len(v) == 3:
        return range(*(decode(i) for i in v))
    if k in "kva" and tv is dict:
        mapping = decode(v, depth + 1, link)
        return {"k": dict.keys, "v": dict.values, "a": dict.items}[k](mapping)
    if k == "n" and tv is list and len(v) == 2 and type(v[0]) is int and type(v[1]) is str and link is not None:
        return RemoteIterator(link, v[0], v[1][:100])
    if k in "pPx":
        return _program_object(k, v, link, depth)
    if k == "S" and tv is list and len(v) == 2:  # a class or function of the standard library's, by name
        found = stdlib_object(["stdlib", *v])
        if found is not None:
            return found
    if k == "o" and tv is list and len(v) == 2 and type(v[0]) is str and v[1] in (True, False, None):
        return Opaque(v[0][:100], v[1])
    if k == "h" and tv is list and len(v) == 3 and type(v[0]) is str and type(v[1]) is str:
        return Digest(v[0], v[1][:100], v[2] if type(v[2]) is int else None)
    if k == "g" and tv is list and len(v) == 4 and type(v[0]) is int and v[1] in _WHOLE and link is not None:
        return link.whole(v[0], v[1], v[3])
    raise ValueError("not a value the judge understands")


def _exception_value(v, depth):
    """An exception of a builtin class a test passed (encode.py `_exception_value`), made from its args as
    its class makes it (OSError(2, "gone") sets errno), else given them; then its public attributes."""
    name, args, named = v
    kind = EXC_BUILTIN.get(name) if type(name) is str else None
    if kind is None or type(args) is not list or type(named) is not list:
        raise ValueError("not a value the judge understands")
    args = tuple(decode(a, depth + 1, None) for a in args)
    try:
        exc = kind(*args)
    except Exception:  # a class whose constructor wants other args than its instance keeps
        exc = BaseException.__new__(kind)
        exc.args = args
    for pair in named:
        if type(pair) is list and len(pair) == 2 and attribute_name(pair[0]):
            try:
                setattr(exc, pair[0], decode(pair[1], depth + 1, None))
            except AttributeError:  # a field its class keeps read-only: as its class made it
                continue
    return exc


def _program_object(k, v, link, depth):
    """ "p": one of the program's objects as a handle (objects.py), in the tests process; "P": in the
    program's process (no link), its own object passed back to it; "x" there: an exception of a test's."""
    if k == "x" and type(v) is list and len(v) == 3 and link is None and not in_the_tests():
        return _exception_value(v, depth)
    if k == "p" and type(v) is list and len(v) == 3:
        if link is None:  # where no link can act on it (an exception's argument): opaque, as before handles
            return Opaque(_last_name(v[2]), True)
        try:
            return stand_in(link, *v, valid_name=shape_name, valid_qualname=is_qualname)
        except NoHandle:  # past the classes the tests process mirrors: opaque, as before handles
            return Opaque(_last_name(v[2]), True)
    if k == "P" and type(v) is int and link is None and v in OBJECTS:
        return OBJECTS[v]
    raise ValueError("not a value the judge understands")


def _last_name(chain):
    last = chain[-1] if type(chain) is list and chain else None
    name = last[1] if type(last) is list and len(last) >= 5 else None
    return name[:100] if type(name) is str else "object"


_NAMEDTUPLES = {}


def _namedtuple_class(name, fields, length):
    """A namedtuple class of that name and those fields, made once per shape (so two values of one shape
    compare as the program's would), or None where the shape is not one, or after 256 shapes (a program
    inventing one per value builds no classes): the value is then a plain tuple, which it also equals."""
    if not shape_name(name) or type(fields) is not list or len(fields) != length or not 0 < length <= 255:
        return None
    if not all(field_name(f, i) for i, f in enumerate(fields)):
        return None
    key = (name, tuple(fields))
    if key not in _NAMEDTUPLES:
        if len(_NAMEDTUPLES) >= 256:
            return None
        try:  # the factory refuses a keyword or a repeated name (rename=True keeps `_3` at position 3 only)
            _NAMEDTUPLES[key] = collections.namedtuple(name, key[1], rename=True, module="program")
        except (ValueError, TypeError, SyntaxError):
            return None
    made = _NAMEDTUPLES[key]
    return made if made._fields == key[1] else None


_DATACLASSES = {}


def _dataclass_value(v, depth, link):
    """A dataclass instance of the shape `_dataclass_shape` sent: its class made once per program class
    (so two values of one class compare as there, two classes stay apart), its fields set as they were
    (even when frozen); an opaque value past 256 classes. In the program's process, a value the tests pass
    back is an instance of the program's own class, found by its handle (`number`)."""
    name, qualname, number, fields, flags, values = v
    made = _dataclass_class(name, qualname, number, fields, flags)
    if made is None or len(values) != len(fields):
        raise ValueError("not a value the judge understands")
    items = [decode(x, depth + 1, link) for x in values]
    if made is Opaque:
        return Opaque(name, True)
    if link is None and isinstance(OBJECTS.get(number), type):  # the program's process: its own class again
        made = OBJECTS[number]
    value = object.__new__(made)
    for (field, *_), x in zip(fields, items):
        object.__setattr__(value, field, x)
    return value


def _dataclass_class(name, qualname, number, fields, flags):
    """The class for one program class; None for a shape that is not one, `Opaque` past 256 classes."""
    if not (shape_name(name) and is_qualname(qualname) and type(number) is int):
        return None
    if type(fields) is not list or len(fields) > 255 or type(flags) is not list:
        return None
    ok = len(flags) == 4 and all(type(x) is bool for x in flags)
    for f in fields:
        ok = ok and type(f) is list and len(f) == 4 and dataclass_field(f[0])
        ok = ok and type(f[1]) is type(f[2]) is bool and f[3] in (None, True, False)
    if not ok or len({f[0] for f in fields}) != len(fields):
        return None
    key = (name, qualname, number, tuple(tuple(f) for f in fields), tuple(flags))
    if key not in _DATACLASSES:
        if len(_DATACLASSES) >= 256:
            return Opaque
        spec = [(f, typing.Any, dataclasses.field(compare=c, repr=r, hash=h)) for f, c, r, h in fields]
        order, frozen, unsafe_hash, show = flags
        try:
            made = dataclasses.make_dataclass(
                name, spec, eq=True, order=order, frozen=frozen, unsafe_hash=unsafe_hash, repr=show
            )
        except (TypeError, ValueError, SyntaxError):  # a keyword for a field name
            return None
        made.__module__, made.__qualname__ = "program", qualname
        _DATACLASSES[key] = made
        DATACLASS_OF[made] = number  # the program class's handle: `isinstance(value, C)` with C's mirror
    return _DATACLASSES[key]


def mapping_builder(kind, extra):
    def build(pairs):
        if kind == "E":
            if not (extra is None or extra in FACTORIES):
                raise ValueError("not a value the judge understands")
            return collections.defaultdict(FACTORIES.get(extra), pairs)
        made = collections.OrderedDict(pairs) if kind == "O" else dict(pairs)
        made = collections.Counter(made) if kind == "C" else made
        return {"k": dict.keys, "v": dict.values, "a": dict.items}[kind](made) if kind in "kva" else made

    return build


def sequence_builder(kind, extra):
    def build(items):
        if kind == "q":
            if not (extra is None or type(extra) is int):
                raise ValueError("not a value the judge understands")
            return collections.deque(items, extra)
        return {"l": list, "t": tuple, "s": set, "z": frozenset}[kind](items)

    return build


_WHOLE = frozenset("ltszqdCOEkva")  # the kinds of a large value (`large`)


class NotAValue(BaseException):
    """A test's value that could not cross from the program (its kind in `.kind`). Not a TypeError: the
    judge's failure to compare is not an exception the program raised, for a test's `except` to expect."""
