"""The program's exceptions as the tests process needs them: type name, message and traceback tail, the
builtin classes they derive from, their args and their own attributes, as plain data."""

import builtins
import traceback

from .confine import TAIL_CHARS

STAND_INS = []  # the classes of objects.py's stand-ins for the program's objects (added there)
FORMATTING = []  # not empty while a traceback is formatted here: a stand-in then asks the program nothing


def describe(info):
    """(type name, message, traceback) of the exception being handled; the program chooses the exception,
    and its __str__ or __repr__ may raise or loop: never let that escape. Where a stand-in for an exception
    the program returned is anywhere in what a test raised (the value, its chain, a group's members), the
    traceback is the test's frames and the class name alone: formatted through the stand-in, a group's
    `exceptions` came from the program, which could make them endless."""
    etype, value, tb = info
    tail = tb.tb_next if tb is not None else None
    FORMATTING.append(True)
    try:
        if _holds_stand_in(value):
            text = "".join(traceback.format_tb(tail)) + "%s (its exception holds one the program returned)\n" % (
                etype.__name__
            )
        else:
            text = "".join(traceback.format_exception(etype, value, tail))
    except BaseException:
        text = "(traceback could not be formatted)"
    finally:
        FORMATTING.clear()
    try:
        msg = str(value)[:TAIL_CHARS]
    except BaseException:
        msg = "(message could not be formatted)"
    try:
        name = str(etype.__name__)
    except BaseException:
        name = "BaseException"
    return name, msg, text[-TAIL_CHARS:]


# an exception's links read at the C level (a stand-in's own, never the program's)
_CAUSE, _CONTEXT = (BaseException.__dict__[k] for k in ("__cause__", "__context__"))
_MEMBERS = BaseExceptionGroup.__dict__["exceptions"]


def _holds_stand_in(value, most=10_000):
    """Whether a stand-in (objects.py) is `value` or anywhere in its cause, context or group members."""
    stand_ins, todo, seen = tuple(STAND_INS), [value], set()
    while todo and len(seen) < most:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        if isinstance(e, stand_ins):
            return True
        seen.add(id(e))
        todo += [_CAUSE.__get__(e), _CONTEXT.__get__(e)]
        if isinstance(e, BaseExceptionGroup):
            todo += list(_MEMBERS.__get__(e))
    return bool(todo)  # past `most` links: as if one were there


# The builtin exception classes by name, taken when the worker starts (before any program can change
# builtins): what an exception from the program may be rebuilt as in the tests process.
EXC_BUILTIN = {
    n: getattr(builtins, n)
    for n in dir(builtins)
    if isinstance(getattr(builtins, n), type) and issubclass(getattr(builtins, n), BaseException)
}


_EXC_KEEP = set(EXC_BUILTIN)


def exc_class_bases(value):
    """The builtin exception classes a program's own exception class derives from (most derived, as
    `raised_exception` sends them for its instances), or None for anything else (a builtin class included)."""
    try:
        if not isinstance(value, type) or not issubclass(value, BaseException):
            return None
        if EXC_BUILTIN.get(type.__getattribute__(value, "__name__")) is value:
            return None
        return _builtin_bases(value) or None
    except BaseException:
        return None


def _builtin_bases(cls):
    """The most derived builtin exception classes `cls` derives from, by name (at most 4)."""
    mro = [c for c in type.__getattribute__(cls, "__mro__")[1:] if EXC_BUILTIN.get(c.__name__) is c]
    return [c.__name__ for c in mro if not any(d is not c and issubclass(d, c) for d in mro)][:4]


def raised_exception(t, value=None):
    """What the tests process needs to raise the program's exception (the one being handled, or `value`,
    a member of a group) as one interpreter would: its type name, message and traceback (`describe`), the
    most derived builtin exception classes its class derives from (so `except ValueError` catches a
    json.JSONDecodeError), its args as plain data, or None, and its own attributes."""
    info = t.info() if value is None else (type(value), value, _TRACEBACK.__get__(value))
    value = info[1]
    bases = []
    try:
        bases = _builtin_bases(type(value))
    except BaseException:
        bases = []
    return [*t.describe(info), bases, _args(value, t), _attributes(value, t)]


_TRACEBACK = BaseException.__dict__["__traceback__"]  # read at the C level (never the program's property)


def _args(value, t):
    """The exception's args as any value crosses (the program's objects and iterators as handles, since
    session 22: strictly encoded, a dataclass with methods arrived opaque), each one that cannot cross
    opaque: `raise ValueError("bad", node)` keeps "bad" and both args. None (the message alone) past
    ARGS_NODES nodes or ARGS items."""
    try:
        items = list(BaseException.__getattribute__(value, "args"))
    except BaseException:
        return None
    if len(items) > ARGS:
        return None
    out, budget = [], [ARGS_NODES]
    for x in items:
        try:
            out.append(t.enc(x, 0, False, budget))
        except BaseException:
            if budget[0] < 0:  # too large to cross, not unencodable: the message alone, as before
                return None
            out.append(_opaque(x))
    return out


def _opaque(x):
    try:
        kind = type.__getattribute__(type(x), "__name__")
    except BaseException:
        kind = None
    return {"o": [kind[:100] if type(kind) is str else "object", None]}


ARGS_NODES = 2000  # an exception's args past this size travel as its message alone
ARGS = 64  # and past this many args (the tests process refuses more)
ATTRIBUTES = 64  # at most this many of an exception's own attributes cross (the rest are not set)


OS_ATTRIBUTES = ("filename", "filename2")  # an OSError's, kept outside its args


def attribute_name(name):
    return type(name) is str and str.isidentifier(name) and not name.startswith("_") and len(name) <= 100


def _attributes(value, t):
    """The exception's own attributes as [[name, plain data], ...] (`self.needed = n` in the program's
    class, an OSError's filename when set): public names only, each value as an argument crosses (an
    object or an iterator as a handle). One that cannot (past ARGS_NODES nodes in all) arrives opaque: it
    exists and equals nothing but itself."""
    pairs, out, budget = [], [], [ARGS_NODES]
    try:
        own = object.__getattribute__(value, "__dict__")
        pairs = list(dict.items(own))[:ATTRIBUTES] if type(own) is dict else []
    except BaseException:
        pairs = []
    try:
        if isinstance(value, OSError):
            found = [(n, object.__getattribute__(value, n)) for n in OS_ATTRIBUTES]
            pairs += [(n, x) for n, x in found if x is not None]
    except BaseException:
        pass
    for name, x in pairs:
        if not attribute_name(name):
            continue
        try:
            out.append([name, t.enc(x, 0, False, budget)])
        except BaseException:
            out.append([name, _opaque(x)])
    return out
