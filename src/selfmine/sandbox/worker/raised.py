"""The classes the program's exceptions are raised as in the tests process, built from what the program's
process describes (program.py `_raised`, `_exception_kind`): one class per program class, by handle, on the
classes of its program bases and the builtin ones (`except AppError` catches a raised NotFound(AppError)),
its class attributes read from the program's class; groups with their members; the standard library's own
classes as themselves."""

from .confine import TAIL_CHARS
from .decode import decode
from .encode import is_qualname
from .errors import ARGS, ATTRIBUTES, EXC_BUILTIN, OS_ATTRIBUTES, attribute_name
from .objects import CHAIN, MAX_MIRRORS, attribute_of, handles_of, match_args, program_classes, sole_handle
from .stdlib import stdlib_object


class RemoteError(Exception):
    pass


_REMOTE_CLASSES = {}


class _RemoteType(type):
    """The metaclass of the classes the program's exceptions are raised as. One of them returned (not
    raised) is a stand-in (objects.py): it is an instance of the class the tests bound for the program's
    class of that name only where the stand-in's class is that very class or derives from it (by handle:
    another class of the same name is not)."""

    def __instancecheck__(cls, value):
        return type.__instancecheck__(cls, value) or cls.__subclasscheck__(type(value))

    def __subclasscheck__(cls, sub):
        mine = handles_of(cls) or ()  # a test's subclass has none
        return type.__subclasscheck__(cls, sub) or any(h in mine for h in program_classes(sub))

    def __getattr__(cls, name):
        """A class attribute of the program's class that did not cross (`status = 404`, a method): read
        from the program's class, found by handle (for a test's subclass, the program class it derives
        from); none where the class stands for no single program class."""
        h = _class_handle(cls)
        if h is None or not LINK:
            raise AttributeError(name)
        return attribute_of(LINK[0], h, name)


LINK = []  # the tests process's link to the program (tests.run_tests): `_RemoteType.__getattr__` asks through it


def _class_handle(cls):
    """The program class that `cls` or the nearest class it derives from stands for alone, else None."""
    for k in type.__getattribute__(cls, "__mro__"):
        handles = handles_of(k)
        if handles is not None:
            return sole_handle(handles)
    return None


def _instance_attribute(self, name):
    """An attribute an exception the program raised has neither in what crossed nor in its class here:
    its class's in the program (`_RemoteType.__getattr__`), as one interpreter would find it there. Never
    a special name (a class's `__name__` is no instance's)."""
    if name[:2] == "__":
        raise AttributeError(name)
    return _RemoteType.__getattr__(type(self), name)


def _claim(cls, handle):
    """Bind the program's exception class `handle` to `cls`, the class the tests know it by. Classes are
    shared by name and bases (`_remote_class`): where a second program class of the same name lands on
    it (`Lexer.Error` and `Parser.Error`), no returned instance is claimed by either."""
    handles = type.__getattribute__(cls, "__dict__")["_sm_handles"]
    if handle is None or handles and handle not in handles:  # None: a class past the judge's handles
        type.__setattr__(cls, "_sm_handles", frozenset())  # ambiguous for good: frozen empty
    elif isinstance(handles, set):
        handles.add(handle)


def _remote_class(name, bases):
    """A class named as the program's exception class, deriving from the builtin classes it derives from
    (the tests' `except` clauses see it as they would), its message the program's own; None without any."""
    if not isinstance(bases, list) or not bases or len(bases) > 4:
        return None
    if not all(isinstance(b, str) and b in EXC_BUILTIN for b in bases):
        return None
    key = (name, tuple(bases))
    if key in _REMOTE_CLASSES:
        return _REMOTE_CLASSES[key]
    made = None
    for chosen in (bases, bases[:1]):  # bases whose layouts conflict: the first alone
        try:
            made = _RemoteType(name, tuple(EXC_BUILTIN[b] for b in chosen), _namespace(_sm_handles=set()))
            break
        except BaseException:  # a name type() refuses (a NUL, a lone surrogate): a RemoteError
            continue
    if made is not None and len(_REMOTE_CLASSES) < 256:  # a program naming a new class per call grows nothing
        _REMOTE_CLASSES[key] = made
    return made


_BY_HANDLE = {}  # the program's exception class handle -> the class it is raised as here (`_lineage_class`)


def _lineage_class(lineage):
    """The class the program's exception class (the lineage's last entry, `program._lineage`) is raised and
    bound as: one per handle, built on first sight and never changed, deriving from the classes of its
    program bases (built first) and the builtin exception classes it derives from, in its own order, so
    `except AppError` catches a NotFound(AppError) and `issubclass` reads as in one interpreter. None for
    what is no lineage (the class by name and builtin bases then, `_remote_class`). Past MAX_MIRRORS
    classes, one is built for each raise and kept for none."""
    if type(lineage) is not list or not 0 < len(lineage) <= CHAIN:
        return None
    made, unkept, ancestors = None, {}, {}
    for entry in lineage:
        if type(entry) is not list or len(entry) not in (6, 7, 8) or type(entry[0]) is not int:
            return None
        h = entry[0]
        ancestors[h] = _ancestors(h, entry[3], ancestors)
        if h in _BY_HANDLE or h in unkept:
            made = _BY_HANDLE[h] if h in _BY_HANDLE else unkept[h]
            continue
        known = {**_BY_HANDLE, **unkept} if unkept else _BY_HANDLE
        made = _handle_class(
            *entry[:6], known=known, ancestors=ancestors[h], match=entry[7] if len(entry) == 8 else None
        )
        (_BY_HANDLE if len(_BY_HANDLE) < MAX_MIRRORS else unkept)[h] = made  # a failure too: never retried
    return made


_ANCESTORS = {}  # a program class's handle -> the handles of the program classes it derives from, itself too


def _ancestors(h, bases, seen):
    """The handles of program class `h` and of the program classes it derives from, as first seen (a
    non-exception mixin included: `objects.program_classes` reads them, so a raised exception is an
    instance of the program's `Mixin` where the tests hold its mirror)."""
    if h in _ANCESTORS:
        return _ANCESTORS[h]
    found = [b for b in bases if type(b) is int] if type(bases) is list else []
    made = frozenset((h,)).union(*(seen.get(b) or _ANCESTORS.get(b, ()) for b in found))
    if len(_ANCESTORS) < 4 * MAX_MIRRORS:
        _ANCESTORS[h] = made
    return made


def _handle_class(h, name, qualname, bases, has, exceptions, *, known, ancestors, match):
    """The class for one lineage entry, on the classes of its bases (`known` by handle): in the program's
    order of bases, else program bases before builtin ones, else its first builtin base alone; None where
    Python refuses them all."""
    if type(name) is not str or type(bases) is not list or type(exceptions) is not list:
        return None
    found = [EXC_BUILTIN[n] for n in exceptions[:4] if type(n) is str and n in EXC_BUILTIN]
    ordered = [known[b] if type(b) is int else EXC_BUILTIN[b] for b in bases if _base_known(b, known)]
    program = [known[b] for b in bases if type(b) is int and known.get(b) is not None]
    namespace = _namespace(_sm_handles=frozenset((h,)), _sm_lineage=ancestors, **match_args(match))
    namespace["__qualname__"] = qualname if is_qualname(qualname) else name[:200]
    for chosen in (_with(ordered, found), _with(program, found), tuple(found[:1])):
        try:
            if chosen and any(issubclass(c, BaseException) for c in chosen):
                return _RemoteType(name[:200], chosen, namespace)
        except BaseException:  # a name type() refuses, an order or layouts it refuses: the next choice
            continue
    return None


def _namespace(**extra):
    """A raised class's namespace: its message and the attributes that did not cross are the program's."""
    return {"__str__": _remote_str, "__getattr__": _instance_attribute, "__module__": "program", **extra}


def _base_known(b, known):
    return known.get(b) is not None if type(b) is int else type(b) is str and b in EXC_BUILTIN


def _with(bases, found):
    """`bases`, then the builtin classes in `found` that none of them derives from."""
    return tuple(bases) + tuple(c for c in found if not any(issubclass(k, c) for k in bases))


def _remote_str(self):
    """The program's message for one it raised; for one the tests made (`BadInput("x")`), its own."""
    if isinstance(getattr(self, "_sm_remote", None), tuple):
        return self._sm_remote[1]
    return BaseException.__str__(self)


MEMBERS = 256  # an exception group's members built at most, its nested groups' included (program.MEMBERS)


def _exception_from(err, budget, link):
    """The exception the program raised, from what `program._raised` sent: [type, message, traceback,
    builtin bases, args, attributes, lineage, group members, standard-library name]; None for what is no
    such description."""
    if not (isinstance(err, list) and len(err) in (3, 5, 6, 7, 8, 9) and all(isinstance(x, str) for x in err[:3])):
        return None
    bases, args = (err[3], err[4]) if len(err) >= 5 else ([], None)
    attributes = err[5] if len(err) >= 6 else None
    lineage = err[6] if len(err) >= 7 else None
    members = _members_from(err[7], budget, link) if len(err) >= 8 else None
    library = _library_class(err[8]) if len(err) == 9 else None
    described = bounded(err[:3])
    try:
        ok = type(args) is list and len(args) <= ARGS
        args = tuple(decode(a, link=link) for a in args) if ok else None
    except (ValueError, TypeError, RecursionError, OverflowError, ArithmeticError, MemoryError):
        args = None
    exc = _rebuilt(described[0], described[1], bases, args, lineage, members, library)
    exc._sm_remote = tuple(described)
    _give_attributes(exc, attributes, link)
    return exc


def _members_from(members, budget, link):
    """A raised exception group's members, built as raised exceptions are; None past MEMBERS in all, or
    where one is not a description."""
    if type(members) is not list or not members:
        return None
    out = []
    for member in members:
        budget[0] -= 1
        made = _exception_from(member, budget, link) if budget[0] >= 0 else None
        if made is None:
            return None
        out.append(made)
    return out


def _library_class(named):
    """The standard library's exception class the program's exception is an instance of (`stdlib_name`),
    where it is one the tests can name (`json.JSONDecodeError`, `statistics.StatisticsError`), else None."""
    found = stdlib_object(named) if type(named) is list else None
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


def _rebuilt(name, message, bases, args, lineage=None, members=None, library=None):
    """The program's exception as the tests process raises it: its class's (`_lineage_class`; a program
    class named as a builtin one is its own), else a builtin class by name, else a class deriving from its
    builtin bases, else a RemoteError; with its args where they crossed; a group with its members."""
    kind = library or _lineage_class(lineage) or EXC_BUILTIN.get(name) or _remote_class(name, bases)
    if kind is None:
        return RemoteError("%s: %s" % (name, message))
    tries = [args] if args is not None else []
    if members and issubclass(kind, BaseExceptionGroup):  # its message is its first arg, its members its own
        tries.insert(0, (args[0] if args and type(args[0]) is str else message, members))
    for given in tries + [(message,)]:
        try:
            return kind(*given)
        except BaseException:
            continue
    try:  # a class whose constructor wants more than a message (UnicodeDecodeError): the instance alone
        exc = BaseException.__new__(kind)
        exc.args = (message,) if args is None else args
        return exc
    except BaseException:
        return RemoteError("%s: %s" % (name, message))


def _give_attributes(exc, attributes, link):
    """Set the attributes the program's exception had (`_attributes`) on the one the tests catch. Never a
    name its class defines (a method, `args`), except an OSError's filename; nothing that does not decode."""
    if type(attributes) is not list:
        return
    for pair in attributes[:ATTRIBUTES]:
        if type(pair) is not list or len(pair) != 2 or not attribute_name(pair[0]):
            continue
        name = pair[0]
        if _defines(type(exc), name) and not (name in OS_ATTRIBUTES and isinstance(exc, OSError)):
            continue
        try:
            setattr(exc, name, decode(pair[1], link=link))
        except Exception:  # a value that does not decode: not set
            continue


def _defines(cls, name):
    """Whether the class or one of its bases here defines `name` (never asking the program)."""
    return any(name in type.__getattribute__(k, "__dict__") for k in type.__getattribute__(cls, "__mro__"))


def bounded(described):
    """(type, message, traceback) as the program sent them, cut to the sizes the tests process reports:
    nothing the program writes reaches a report at a length it chose."""
    kind, message, tb = described
    return [kind[:200], message[:TAIL_CHARS], tb[-TAIL_CHARS:]]


def raised_exception(err, link):
    """The exception the program raised (`_exception_from`), or None where `err` describes none."""
    return _exception_from(err, [MEMBERS], link)


def exception_class(kind):
    """The class the tests bind for the program's exception class `kind` (program._exception_kind): its
    lineage's, else one shared by name and builtin bases that claims returned instances by handle."""
    made = _lineage_class(kind[4]) if len(kind) == 5 else None
    if made is not None:
        return made
    made = len(kind) in (3, 4, 5) and isinstance(kind[2], str) and _remote_class(kind[2][:200], kind[1])
    if made and len(kind) >= 4:  # its returned instances are this class's (`_RemoteType`)
        _claim(made, kind[3] if type(kind[3]) is int else None)
    return made
