"""The program's objects that are not plain data (an instance of its own class, a function it returns, a
class), as handles. The program's process keeps each such object in `OBJECTS` and sends a handle with a
description of its class; the tests process stands it in with an instance of a *mirror* class, one per
program class, named as it is and deriving from the mirrors of its bases, so `isinstance`, `issubclass`
and `type(x) is C` read as in one interpreter. What a test does with a stand-in (an attribute, a method
call, `len`, iteration, arithmetic, `str`...) crosses back as an operation (`OPS`) the program's process
applies to the real object, and the result crosses as any value does.

One thing never crosses: a comparison (`==`, `<`, `in`...) between a program's object and a test's own
value. It is decided as an opaque object's would be (equal only to itself; an order is a TypeError;
`x in obj` looks for x among what obj yields), so an object whose `__eq__` or `__contains__` says yes to
everything cannot pass `assert f(x) == expected` or `assert expected in f(x)`. Two of the program's
objects compare by the program's own methods, as in plain Python: a test that builds its expected value
with the program's own class trusts that class's `==`, in the judge as in one interpreter."""

import builtins
import copy
import dataclasses
import keyword
import math
import operator
import typing

from .errors import EXC_BUILTIN, FORMATTING, STAND_INS

OBJECTS = {}  # the program's process: handle -> object, kept alive (so an id is never reused) until it ends
_HANDLES = {}  # id(object) -> handle: one object, one handle, so identity holds across the boundary
MAX_OBJECTS = 1 << 20
CHAIN = 32  # classes described per object at most (its class and the program classes it derives from)


class NoHandle(Exception):
    """More objects or classes than the judge keeps handles for: the value crosses opaque."""


def handle_of(v):
    """The handle of one of the program's objects (registered on first sight)."""
    h = _HANDLES.get(id(v))
    if h is None:
        if len(OBJECTS) >= MAX_OBJECTS:
            raise NoHandle()
        h = len(OBJECTS) + 1
        OBJECTS[h], _HANDLES[id(v)] = v, h
    return h


def handles_mark():
    return len(OBJECTS)


def roll_back_handles(mark):
    """Forget the handles handed out since `mark`: an encoding that failed (a value too large for its
    message crosses in parts, or not at all) sent none of them, and they must not use up MAX_OBJECTS."""
    for h in range(len(OBJECTS), mark, -1):
        _HANDLES.pop(id(OBJECTS.pop(h)), None)


_SIDE = {"tests": False}  # set in the tests process, which holds no handles of its own


def on_the_tests_side():
    OBJECTS.clear()
    _HANDLES.clear()
    _SIDE["tests"] = True


def in_the_tests():
    """Whether this is the tests process."""
    return _SIDE["tests"]


def class_number(cls):
    """The number a dataclass's values cross with: in the program's process its handle (the tests' mirror
    knows its instances by it); in the tests process, the program's number again for a class rebuilt from
    the program's values (so they go back as the program's class), a number of its own for the tests' own."""
    if _SIDE["tests"]:
        return DATACLASS_OF.get(cls) or -id(cls)
    return handle_of(cls)


def described(v):
    """[handle, kind, chain] for `v`: kind 1 for an instance (its class is the chain's last entry), 2 for a
    class (itself the last entry); chain lists [handle, name, qualname, bases (`_in_order`), special
    methods, builtin exception classes, dataclass fields, `__match_args__`] of the classes, bases first
    (`object` left out)."""
    cls = v if isinstance(v, type) else type(v)
    chain, seen = [], set()
    _describe(cls, chain, seen)
    return [handle_of(v), 2 if cls is v else 1, chain]


def _describe(cls, chain, seen):
    if id(cls) in seen:
        return
    seen.add(id(cls))
    if len(seen) > CHAIN:
        raise NoHandle()
    # type's own descriptors: a metaclass of the program's cannot answer for them. A builtin base (object,
    # Exception) is no class of the program's: it is not mirrored (its special methods are, below)
    # a class whose metaclass computes another MRO than Python's own (one leaving a base out: isinstance
    # walks the real MRO) is described with no program bases, so its mirror claims none it may not have
    mro = _MRO.__get__(cls)
    if type(mro) is not tuple:  # a class whose metaclass's mro() raised while it was made: none to describe
        raise NoHandle()
    plain = _plain_mro(cls, mro)
    bases = [b for b in _BASES.__get__(cls) if _BUILTIN_TYPES.get(id(b)) is not b and _MODULE(b) != "builtins"]
    bases = bases if plain else []
    for b in bases:
        _describe(b, chain, seen)
    order = _in_order(cls, bases) if plain else []
    name, qualname = _NAME.__get__(cls), _QUALNAME.__get__(cls)
    has = sorted({n for k in mro if k is not object for n in _DICT.__get__(k) if n in SPECIAL})
    if next(_DICT.__get__(k)["__hash__"] for k in mro if "__hash__" in _DICT.__get__(k)) is None:
        has.append("__hash__")  # set to None (an __eq__ without a __hash__): unhashable, as there
    if _own_checks(type(cls)):
        has.append("__instancecheck__")  # its metaclass decides isinstance (ABCMeta, Protocol): ask it
    entry = [handle_of(cls), name[:200], qualname[:400], order, has, _exceptions(mro)]
    chain.append(entry + [_fields_of(mro), _match_args(mro)])


def _in_order(cls, bases):
    """The class's bases in their order, each program class (`bases`) by its handle and each builtin
    exception class by its name: the tests build an exception class on them in this order (raised.py
    `_lineage_class`; in another order, a hierarchy Python accepts may have no consistent MRO)."""
    ids = {id(b) for b in bases}
    named = [b for b in _BASES.__get__(cls) if id(b) in ids or _BUILTIN_EXCEPTIONS.get(id(b)) is b]
    return [handle_of(b) if id(b) in ids else _NAME.__get__(b) for b in named]


def _fields_of(mro):
    """[[name, init], ...] for a dataclass's fields (its mirror then has `__dataclass_fields__`, so
    `dataclasses.fields`, `asdict` and `replace` work on a stand-in as on the object), else None."""
    try:
        found = next(
            (_DICT.__get__(k)["__dataclass_fields__"] for k in mro if "__dataclass_fields__" in _DICT.__get__(k)), None
        )
        if type(found) is not dict or len(found) > 255:
            return None
        kept = [f for f in dict.values(found) if type(f) is dataclasses.Field and f._field_type is _FIELD]
        return [[f.name, f.init is True] for f in kept if type(f.name) is str and len(f.name) <= 200]
    except BaseException:
        return None


def _match_args(mro):
    """The class's `__match_args__` (a `case C(x, y)` pattern's names) where it is a tuple of names, else
    None."""
    found = next((_DICT.__get__(k)["__match_args__"] for k in mro if "__match_args__" in _DICT.__get__(k)), None)
    if type(found) is not tuple or len(found) > 255 or not all(type(n) is str and len(n) <= 200 for n in found):
        return None
    return list(found)


_FIELD = dataclasses._FIELD  # a field proper (not a ClassVar or an InitVar), as dataclasses.fields keeps


def _own_checks(meta):
    """Whether a metaclass decides isinstance/issubclass itself (ABCMeta's registry and __subclasshook__,
    Protocol's runtime check, a program's own), rather than type's walk of the MRO."""
    chain = _MRO.__get__(meta) if isinstance(meta, type) else ()
    hooks = ("__instancecheck__", "__subclasscheck__")
    return any(k is not type and k is not object and any(h in _DICT.__get__(k) for h in hooks) for k in chain)


def _plain_mro(cls, mro):
    """Whether `mro` is the one Python computes from the class's bases (`type.mro`, at the C level)."""
    try:
        default = type.mro(cls)
    except BaseException:
        return False
    return len(default) == len(mro) and all(a is b for a, b in zip(default, mro))


_BUILTIN_EXCEPTIONS = {id(c): c for c in EXC_BUILTIN.values()}  # by identity: a program class may fake `==`
# builtins' classes (their __dict__ holds no __module__): never mirrored as classes of the program's
_BUILTIN_TYPES = {id(c): c for c in vars(builtins).values() if isinstance(c, type)}


def _exceptions(mro):
    """The names of the builtin exception classes a class is or derives from, the most derived only (at most
    4): ValueError for ValueError and for a program's `class Bad(ValueError)`; [] for any other class."""
    found = [c for c in mro if _BUILTIN_EXCEPTIONS.get(id(c)) is c]
    return [_NAME.__get__(c) for c in found if not any(d is not c and issubclass(d, c) for d in found)][:4]


_BASES, _NAME, _QUALNAME, _MRO, _DICT = (
    type.__dict__[k] for k in ("__bases__", "__name__", "__qualname__", "__mro__", "__dict__")
)


def _MODULE(cls):
    module = _DICT.__get__(cls).get("__module__")
    return module if type(module) is str else None


def _call(fn, /, *args, **kwargs):
    return fn(*args, **kwargs)


# What the tests process may ask of the program's objects (taken before the program runs: it may replace
# builtins or the operator module's functions, which changes only its own process's answers).
OPS = {
    "getattr": getattr,
    "setattr": setattr,
    "delattr": delattr,
    "call": _call,
    "isinstance": isinstance,
    "issubclass": issubclass,
    "len": len,
    "bool": bool,
    "iter": iter,
    "str": str,
    "repr": repr,
    "format": format,
    "hash": hash,
    "int": int,
    "float": float,
    "complex": complex,
    "index": operator.index,
    "round": round,
    "abs": abs,
    "neg": operator.neg,
    "pos": operator.pos,
    "invert": operator.invert,
    "getitem": operator.getitem,
    "setitem": operator.setitem,
    "delitem": operator.delitem,
    "contains": operator.contains,
    "reversed": reversed,
    "next": next,
    "floor": math.floor,
    "ceil": math.ceil,
    "trunc": math.trunc,
    "divmod": divmod,
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
_BINARY = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor", "lshift", "rshift")
OPS.update({name: getattr(operator, name + "_" if name in ("and", "or") else name) for name in _BINARY})
OPS.update({"i" + name: getattr(operator, "i" + name) for name in _BINARY})  # iand, ior: no underscore
OPS["pow"] = pow  # three arguments too: pow(x, y, mod)


# -- the tests process --

# Attribute names with dunders a stand-in forwards (what a test reads of a function, a class, a bound
# method); any other special name stays local, so a library probing the stand-in (numpy's
# `__array_interface__`) never takes the program's answer for its own.
_DUNDER_ATTRIBUTES = frozenset(
    ("__dict__", "__name__", "__qualname__", "__doc__", "__module__", "__self__", "__func__", "__wrapped__")
)


class Stand:
    """Stands for one of the program's objects in the tests process (see the module's docstring). Only
    what every object has is here; a mirror gets the special methods its program class has (`SPECIAL`),
    so `callable`, `len`, `iter` and the `collections.abc` checks read as in one interpreter. No layout of
    its own, so an exception's mirror can derive from it and from ValueError alike."""

    __slots__ = ()

    def __getattr__(self, name):
        if _local(name):
            raise AttributeError(name)
        return _op(self, "getattr", self, name)

    def __setattr__(self, name, value):
        _op(self, "setattr", self, name, value)

    def __delattr__(self, name):
        _op(self, "delattr", self, name)

    def __str__(self):
        return _op(self, "str", self)

    def __repr__(self):
        return _op(self, "repr", self)

    def __format__(self, spec):
        return _op(self, "format", self, spec)

    def __hash__(self):
        return _op(self, "hash", self)

    def __copy__(self):
        return _op(self, "copy", self)

    def __deepcopy__(self, memo):
        return _op(self, "deepcopy", self)


STAND_INS.append(Stand)  # errors.describe formats them from their local state only


class ProgramFunction:
    """The tests' proxy for a function the program defined, bound by name (tests.py `_Proxy`): a test that
    passes it to the program passes the program's own function, by its handle (`_sm_h`, None past the
    judge's handles)."""

    __slots__ = ("_sm_h",)


class ProgramObject(Stand):
    """The stand-in of an object that is no exception."""

    __slots__ = ("_sm_h", "_sm_link")


class ProgramException(Stand, BaseException):
    """The stand-in of an exception the program returned (not raised): an instance of the builtin exception
    classes its class derives from, so `isinstance(x, ValueError)` reads as in one interpreter, while every
    attribute (args, errno, value, its own) is read from the real object, never from the stand-in's own
    exception state, which is empty."""

    def __getattribute__(self, name):
        # special names stay local, `__cause__`, `__traceback__` and `__notes__` too: the tests process
        # formats a raised stand-in's chain, and the program's frames there would have it read the
        # program's files (a FIFO hangs it)
        if _local(name):
            return object.__getattribute__(self, name)
        return _op(self, "getattr", self, name)


def attribute_of(link, h, name):
    """Attribute `name` of the program's object `h` (a class the tests know by its handle alone), read as a
    stand-in's is; an AttributeError for a name that stays local, or while a traceback is formatted."""
    if _local(name) or FORMATTING:
        raise AttributeError(name)
    stand = object.__new__(ProgramObject)
    object.__setattr__(stand, "_sm_h", h)
    object.__setattr__(stand, "_sm_link", link)
    return _op(stand, "getattr", stand, name)


def _op(obj, name, /, *args, **kwargs):  # positional-only: a call's own `name=` or `obj=` passes through
    _not_while_formatting()
    return object.__getattribute__(obj, "_sm_link").op(name, args, kwargs)


def _class_op(cls, name, /, *args, **kwargs):
    _not_while_formatting()
    return cls._sm_class_link.op(name, args, kwargs)


def _not_while_formatting():
    """Nothing reaches the program while the tests process formats a test's traceback (errors.describe):
    a test's own property may hand the formatter a stand-in, whose group members could be endless."""
    if FORMATTING:
        raise RuntimeError("the judge asks the program nothing while it formats a traceback")


def _local(name):
    """Whether an attribute name stays in the tests process (the judge's own, or a special name)."""
    return name.startswith("_sm_") or name[:2] == name[-2:] == "__" and name not in _DUNDER_ATTRIBUTES


def _contains(obj, item, op):
    """`item in obj`: the program's own answer where the item is one of its objects too; a test's own value
    is looked for among what `obj` yields, compared here (as `in` does for an object without
    `__contains__`), so a `__contains__` that says yes to everything never answers for the test."""
    if isinstance(item, (Stand, ProgramType)):
        return op("contains", obj, item)
    return any(x is item or x == item for x in op("iter", obj))


def _compare(name):
    def compare(self, other):
        if not isinstance(other, (Stand, ProgramType)):  # a test's own value: never the program's say
            return NotImplemented
        return _op(self, name, self, other)

    compare.__name__ = "__%s__" % name
    return compare


for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(Stand, "__%s__" % _name, _compare(_name))


def _forward(op, arity, *, reflected=False):
    """A special method that applies `op` in the program's process (`arity` arguments after self, or any)."""
    if reflected:
        return lambda self, other: _op(self, op, other, self)
    if arity is None:
        return lambda self, *args: _op(self, op, self, *args)
    return [lambda self: _op(self, op, self), lambda self, a: _op(self, op, self, a)][arity]


# The special methods a mirror gets where its program class has them: name -> the forwarding method.
FORWARDERS = {
    "__call__": lambda self, *args, **kwargs: _op(self, "call", self, *args, **kwargs),
    "__contains__": lambda self, item: _contains(self, item, lambda *args: _op(self, *args)),
    "__setitem__": lambda self, key, value: _op(self, "setitem", self, key, value),
    "__round__": _forward("round", None),
    "__pow__": _forward("pow", None),
}
for _name in (
    "len",
    "bool",
    "iter",
    "next",
    "reversed",
    "int",
    "float",
    "complex",
    "index",
    "abs",
    "neg",
    "pos",
    "invert",
):
    FORWARDERS["__%s__" % _name] = _forward(_name, 0)
for _name in ("floor", "ceil", "trunc"):
    FORWARDERS["__%s__" % _name] = _forward(_name, 0)
for _name in ("getitem", "delitem", "divmod"):
    FORWARDERS["__%s__" % _name] = _forward(_name, 1)
FORWARDERS["__rdivmod__"] = _forward("divmod", 1, reflected=True)
for _name in _BINARY:
    FORWARDERS.setdefault("__%s__" % _name, _forward(_name, 1))
    FORWARDERS["__r%s__" % _name] = _forward(_name, 1, reflected=True)
    FORWARDERS["__i%s__" % _name] = _forward("i" + _name, 1)
del _name
SPECIAL = frozenset(FORWARDERS)  # the program's process names, per class, which of these it has


class ProgramType(type):
    """The metaclass of the mirrors: calling a mirror class constructs in the program's process, and an
    attribute the mirror does not hold (a method, a class attribute, an Enum member) is the program's."""

    def __call__(cls, *args, **kwargs):
        if "_sm_class_h" not in type.__getattribute__(cls, "__dict__"):  # it would build the program's base
            raise TypeError("the judge cannot build a test's subclass of the program's class %s" % cls.__name__)
        return _class_op(cls, "call", cls, *args, **kwargs)

    def __getattr__(cls, name):
        if _local(name):
            raise AttributeError(name)  # what Python itself looks up on a class stays local
        return _class_op(cls, "getattr", cls, name)

    def __setattr__(cls, name, value):
        _class_op(cls, "setattr", cls, name, value)

    def __delattr__(cls, name):
        _class_op(cls, "delattr", cls, name)

    def __iter__(cls):  # an Enum class's members
        return _class_op(cls, "iter", cls)

    def __len__(cls):
        return _class_op(cls, "len", cls)

    def __contains__(cls, item):
        return _contains(cls, item, lambda *args: _class_op(cls, *args))

    def __getitem__(cls, key):
        return _class_op(cls, "getitem", cls, key)

    def __bool__(cls):
        return True

    def __instancecheck__(cls, value):  # the program's dataclass instances cross as values (decode.py)
        if _asks(cls) and isinstance(value, (Stand, ProgramType)):
            return bool(_class_op(cls, "isinstance", value, cls))  # its metaclass's answer, as in one interpreter
        return type.__instancecheck__(cls, value) or cls.__subclasscheck__(type(value))

    def __subclasscheck__(cls, sub):
        if _asks(cls) and isinstance(sub, ProgramType):
            return bool(_class_op(cls, "issubclass", sub, cls))
        # the class's own handle, never one inherited: a test's `class Leaf(Node)` is no mirror of Node
        own = type.__getattribute__(cls, "__dict__").get("_sm_class_h")
        return type.__subclasscheck__(cls, sub) or own is not None and own in program_classes(sub)

    def __repr__(cls):
        return "<class 'solution.%s'>" % type.__getattribute__(cls, "__qualname__")


def _asks(cls):
    """Whether the program class `cls` mirrors has a metaclass that decides isinstance itself (its own
    mirror only: a test's subclass is the test's)."""
    return type.__getattribute__(cls, "__dict__").get("_sm_asks", False)


def program_classes(cls):
    """The handles of the program classes `cls` stands for, its bases' included: for a mirror, those its
    program class derives from (a base its mirror could not take, such as a mixin beside ValueError,
    included); for the class a raised exception arrives as, those of its lineage; for a dataclass rebuilt
    from the program's values, its class's; else none."""
    if isinstance(cls, ProgramType):
        return type.__getattribute__(cls, "_sm_chain")
    try:  # the class a raised exception arrives as (raised.py `_lineage_class`), or a test's subclass of it
        lineage = type.__getattribute__(cls, "_sm_lineage")
    except BaseException:
        lineage = None
    if type(lineage) is frozenset:
        return lineage
    h = DATACLASS_OF.get(cls)
    return (h,) if h is not None else ()


_MIRRORS = {}  # the tests process: the program's class handle -> its mirror
DATACLASS_OF = {}  # the tests process: a dataclass rebuilt for the program's values -> that class's handle
MAX_MIRRORS = 256


def stand_in(link, h, kind, chain, *, valid_name, valid_qualname):
    """The tests process's stand-in for the object `described` sent: the mirror class itself (kind 2), or an
    instance of it (kind 1), one per handle so `is` holds. Raises ValueError on a malformed description,
    NoHandle past MAX_MIRRORS classes (the value is then opaque)."""
    if type(h) is not int or type(kind) is not int or kind not in (1, 2):
        raise ValueError("not a value the judge understands")
    if type(chain) is not list or not 0 < len(chain) <= CHAIN:
        raise ValueError("not a value the judge understands")
    known = link.objects.get(h)
    if known is not None:
        return known
    for entry in chain:
        mirror = _mirror(link, entry, valid_name, valid_qualname)
    if kind == 2:
        if chain[-1][0] != h:
            raise ValueError("not a value the judge understands")
        made = mirror
    else:
        made = _instance(mirror)
        object.__setattr__(made, "_sm_h", h)
        object.__setattr__(made, "_sm_link", link)
    if len(link.objects) < MAX_OBJECTS:
        link.objects[h] = made
    return made


def _instance(mirror):
    """A bare instance of a mirror: for an exception's, through its builtin base's constructor (OSError's
    layout is not BaseException's; an exception group's wants a message and exceptions, never read here)."""
    if not issubclass(mirror, BaseException):
        return object.__new__(mirror)
    if issubclass(mirror, BaseExceptionGroup):
        return BaseExceptionGroup.__new__(mirror, "", [Exception()])
    solid = next(c for c in mirror.__mro__ if _BUILTIN_EXCEPTIONS.get(id(c)) is c)
    return solid.__new__(mirror)


def _mirror(link, entry, valid_name, valid_qualname):
    if type(entry) is not list or len(entry) not in (5, 6, 7, 8) or type(entry[0]) is not int:
        raise ValueError("not a value the judge understands")
    h, name, qualname, bases, has = entry[:5]
    if type(bases) is not list or type(has) is not list:
        raise ValueError("not a value the judge understands")
    if h in _MIRRORS:
        return _MIRRORS[h]
    if len(_MIRRORS) >= MAX_MIRRORS:  # a program inventing a class per value builds no more classes here
        raise NoHandle()
    name = name if type(name) is str and valid_name(name) else "object"
    qualname = qualname if type(qualname) is str and valid_qualname(qualname) else name
    # the class's own handle and link under names of their own: a class attribute named as the instances'
    # slot (`_sm_h`) would hide the slot from them
    namespace = {"__slots__": (), "__module__": "solution", "__qualname__": qualname}
    namespace.update({n: FORWARDERS[n] for n in has if type(n) is str and n in FORWARDERS})
    if "__hash__" in has:
        namespace["__hash__"] = None
    namespace["_sm_asks"] = "__instancecheck__" in has
    namespace.update(_dataclass_names(entry[6] if len(entry) >= 7 else None))
    namespace.update(match_args(entry[7] if len(entry) == 8 else None))
    chain = {h}.union(*(_MIRRORS[b]._sm_chain for b in bases if type(b) is int and b in _MIRRORS))
    namespace.update(_sm_class_h=h, _sm_class_link=link, _sm_chain=frozenset(chain))
    made = None
    for parents in _parents(bases, entry[5] if len(entry) >= 6 else []):
        try:
            made = ProgramType(name, parents, namespace)
            _instance(made)  # a layout Python accepts but cannot build (a forged description) fails here
            break
        except (TypeError, ValueError):  # bases whose order or layouts Python refuses: the next choice
            made = None
    _MIRRORS[h] = made or ProgramType(name, (ProgramObject,), namespace)
    return _MIRRORS[h]


def _dataclass_names(fields):
    """`__dataclass_fields__` for the mirror of a program's dataclass (`_fields_of`), taken from a class
    made again with its fields' names alone: its methods are the program's, forwarded."""
    if type(fields) is not list or not 0 < len(fields) <= 255:
        return {}
    ok = all(type(f) is list and len(f) == 2 and type(f[0]) is str and type(f[1]) is bool for f in fields)
    names = [f[0] for f in fields] if ok else []
    if not ok or len(set(names)) != len(names) or not all(_field_name(n) for n in names):
        return {}
    try:
        spec = [(n, typing.Any, dataclasses.field(init=i)) for n, i in fields]
        made = dataclasses.make_dataclass("fields", spec)
    except (TypeError, ValueError, SyntaxError):
        return {}
    return {"__dataclass_fields__": made.__dict__["__dataclass_fields__"]}


def match_args(names):
    """{"__match_args__": names} for a class made here from the program's `__match_args__` (`_match_args`:
    `case NotFound(key)` reads as in the program), where `names` are attribute names, else {}."""
    if type(names) is list and len(names) <= 255 and all(type(n) is str and _field_name(n) for n in names):
        return {"__match_args__": tuple(names)}
    return {}


def handles_of(cls):
    """The handles of the program classes that `cls` stands for, where it is a class the tests process
    raises the program's exceptions as (raised.py: a frozenset, or a set claimed by name), else None (a
    test's own subclass included: it holds none of its own)."""
    return type.__getattribute__(cls, "__dict__").get("_sm_handles")


def sole_handle(handles):
    """The one handle in `handles`, else None (none, or several: the class stands for no single class)."""
    if handles is not None and len(handles) == 1:
        (h,) = handles
        return h if type(h) is int else None
    return None


def _field_name(name):
    return str.isidentifier(name) and not keyword.iskeyword(name) and not name.startswith("__") and len(name) <= 200


def _parents(bases, exceptions):
    """The bases a mirror may take, best first: the mirrors of the program class's bases with the builtin
    exception classes it derives from (`exceptions`, names), then those classes alone under the exception
    stand-in; the plain stand-in base last."""
    mirrored = tuple(_MIRRORS[b] for b in bases if type(b) is int and b in _MIRRORS)
    found = (
        [EXC_BUILTIN[n] for n in exceptions if type(n) is str and n in EXC_BUILTIN][:4]
        if type(exceptions) is list
        else []
    )
    builtin = tuple(c for c in found if not any(issubclass(k, c) for k in mirrored))
    choices = [mirrored + builtin] if mirrored else []
    if found:
        choices.append((ProgramException, *found))
    return [c for c in choices if c] + [(ProgramObject,)]
