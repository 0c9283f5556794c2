"""Large values cross as a digest where the tests only compare them: a canonical form that is the same
text for two values only where Python finds them equal."""

import collections
import hashlib
import itertools
import json
import math

from .encode import DIGEST_NODES

# The digest's canonical form: plain JSON data whose text is the same for two values only where Python
# finds them equal. That direction is the one that matters: the program chooses the digest it sends (it
# writes the socket), so two unequal values of one encoding would let a wrong answer pass: a list of lists
# for a list of tuples, {"1": x} for {1: x}, a deque for a list, a lone surrogate pair for the character
# it spells, NaN for NaN. So every container but the list is a one-key object naming its kind, dicts and
# sets are sorted, numbers are compared as numbers (0 == 0.0 == False; an integral float is its exact
# integer) and a NaN, which equals nothing (never the same object across the boundary), cannot be
# encoded, nor can any other type: a digest compared with one is unequal. Where Python's equality is
# looser still (an OrderedDict and a dict, a Fraction and a float), a digest is only unequal.
_SET_LIKE = (set, frozenset, type({}.keys()), type({}.items()))
_DICT_LIKE = (dict, collections.Counter, collections.defaultdict)
_CANON_TYPES = frozenset(
    (type(None), bool, int, float, str, list, tuple, collections.deque, collections.OrderedDict, bytes)
    + (bytearray, memoryview, complex, range)
    + _SET_LIKE
    + _DICT_LIKE
)


def _base(v):
    """The type `v` is compared as: its own where it is one of the canonical types, a subclass's base where
    the subclass keeps the base's == (a namedtuple), else None."""
    t = type(v)
    if t in _CANON_TYPES:
        return t
    for base in (int, float, str, tuple, list):
        if isinstance(v, base):
            return base if t.__eq__ is base.__eq__ and t.__ne__ is base.__ne__ else None
    return None


def _float(x):
    if x != x:
        raise ValueError("NaN equals nothing")
    if x in (math.inf, -math.inf):
        return {"inf": 1 if x > 0 else -1}
    return int(x) if x.is_integer() else x


_OWN_FORM = {str, int}  # exact types (not bool, not a subclass) whose JSON is their canonical form


def _canon(v):
    t = type(v)
    if (t is list or t is tuple) and set(map(type, v)) <= _OWN_FORM:
        # the common large result (a list of tuples of strings or ints) without a Python call per element:
        # exact str and int (never bool, never a subclass) are their own canonical form
        items = list(v)
        return items if t is list else {"t": items}
    t = _base(v)
    if t is str or v is None:
        return str.__str__(v) if t is str else None
    if t is int or t is bool:
        return int.__int__(v)
    if t is float:
        return _float(float.__float__(v))
    if t is list:
        return [_canon(x) for x in list.__iter__(v)]
    if t is tuple:
        return {"t": [_canon(x) for x in tuple.__iter__(v)]}
    if t is collections.deque:
        return {"q": [_canon(x) for x in v]}
    if t in _SET_LIKE:
        return {"s": sorted(_dumps(x) for x in v)}
    if t in _DICT_LIKE:
        return {"d": sorted(_dumps([k, x]) for k, x in dict.items(v))}
    if t is collections.OrderedDict:  # two OrderedDicts are equal only in the same order
        return {"o": [[_canon(k), _canon(x)] for k, x in dict.items(v)]}
    if t in (bytes, bytearray) or t is memoryview and v.format == "B" and v.ndim == 1:
        return {"b": bytes(v).hex()}
    if t is complex:
        return _float(v.real) if v.imag == 0 else {"c": [_float(v.real), _float(v.imag)]}
    if t is range:
        n = len(v)
        return {"r": [n, v.start if n else 0, v.step if n > 1 else 0]}
    raise TypeError("not plain data")


# Not ASCII-escaped: "\ud83d\ude00" would be both a lone surrogate pair and the character it spells.
_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, check_circular=False, separators=(",", ":"))


def _dumps(x):
    return _JSON.encode(_canon(x))


def digest(v):
    """sha256 of the canonical encoding, for values too large to send: a long top-level sequence is encoded
    element by element (each with the C encoder)."""
    h = hashlib.sha256()
    t = _base(v)
    if t in (list, tuple, collections.deque):
        h.update({list: b"L[", tuple: b"T[", collections.deque: b"Q["}[t])
        items = v if t is collections.deque else (list.__iter__ if t is list else tuple.__iter__)(v)
        if type(v) in (list, tuple) and _flat_rows(v):
            _hash_rows(h, v)
            return h.hexdigest()
        for x in items:
            h.update(_dumps(x).encode("utf-8", "surrogatepass") + b",")
    else:
        h.update(b"V" + _dumps(v).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _flat_rows(v) -> bool:
    """Every element an exact tuple (or every one an exact list) of exact str and int: the common large
    result (combinations, pairs), whose elements are their own canonical form (`_canon`'s first case)."""
    kinds = set(map(type, v))
    return len(kinds) == 1 and kinds <= {tuple, list} and set(map(type, itertools.chain.from_iterable(v))) <= _OWN_FORM


def _hash_rows(h, v, chunk: int = 65536) -> None:
    """The bytes `digest` hashes element by element (`_dumps(x) + ","`), a chunk at a time: one C encoding
    of the chunk as a JSON array is those elements joined by commas, between brackets."""
    wrap = bool(v) and type(v[0]) is tuple
    for i in range(0, len(v), chunk):
        part = v[i : i + chunk]
        text = _JSON.encode([{"t": x} for x in part] if wrap else part)
        h.update(text[1:-1].encode("utf-8", "surrogatepass") + b",")


class Digest:
    """A value too large to build again (over DIGEST_NODES nodes): equal to a value of the same canonical
    encoding, with its length."""

    def __init__(self, hexdigest, kind, length):
        self.hexdigest, self.kind, self.length = hexdigest, kind, length

    def __eq__(self, other):
        try:
            return digest(other) == self.hexdigest
        except Exception:
            return False

    def __ne__(self, other):
        return not self.__eq__(other)

    def __len__(self):
        if self.length is None:
            raise TypeError("the program's large %s has no length" % self.kind)
        return self.length

    def __getattr__(self, name):
        raise TypeError(
            "the program's %s is too large to cross (over %d nodes): only == and len()" % (self.kind, DIGEST_NODES)
        )

    __hash__ = None

    def __repr__(self):
        return "<a large %s from the program, sha256 %s>" % (self.kind, self.hexdigest[:16])
