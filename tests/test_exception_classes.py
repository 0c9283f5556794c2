"""The classes the tests process raises the program's exceptions as (sandbox/worker/raised.py
`_lineage_class`), built from what the program's process describes (objects.py `described`): for every
hierarchy of up to three program exception classes over a few builtin bases, in every order of bases
Python accepts, each class must have the same ancestors as the program's, and the same subclass relations
between them, or an `except` clause catches what one interpreter would not (or misses what it would).

In one process, without a sandbox: the two sides' functions are plain functions of the data they pass."""

import itertools

import pytest

from selfmine.sandbox.worker import objects, raised

BUILTINS = (ValueError, KeyError, LookupError, Exception)


def _bases_choices(pool):
    for k in (1, 2, 3):
        yield from itertools.permutations(pool, k)


def _hierarchies(depth, classes=()):
    """Every list of up to `depth` exception classes, each on bases among the ones before it and BUILTINS."""
    if classes:
        yield list(classes)
    if depth == 0:
        return
    for bases in _bases_choices(list(classes) + list(BUILTINS)):
        try:
            made = type("P%d" % len(classes), bases, {})
        except TypeError:  # an order or layout Python refuses: no program can have it
            continue
        yield from _hierarchies(depth - 1, (*classes, made))


@pytest.fixture
def fresh_handles():
    saved = [dict(d) for d in (objects.OBJECTS, objects._HANDLES, raised._BY_HANDLE, raised._ANCESTORS)]
    yield
    for d, before in zip((objects.OBJECTS, objects._HANDLES, raised._BY_HANDLE, raised._ANCESTORS), saved):
        d.clear()
        d.update(before)


def _built(classes):
    for d in (objects.OBJECTS, objects._HANDLES, raised._BY_HANDLE, raised._ANCESTORS):
        d.clear()
    return [raised._lineage_class(objects.described(c)[2]) for c in classes]


def test_every_hierarchy_keeps_its_ancestors_and_subclass_relations(fresh_handles):
    checked, wrong = 0, []
    for classes in _hierarchies(3):
        made = _built(classes)
        checked += 1
        for program_class, ours in zip(classes, made):
            if ours is None or [k.__name__ for k in program_class.__mro__] != [k.__name__ for k in ours.__mro__]:
                wrong.append([(k.__name__, [b.__name__ for b in k.__bases__]) for k in classes])
                break
        else:
            pairs = itertools.product(range(len(classes)), repeat=2)
            if any(issubclass(classes[i], classes[j]) != issubclass(made[i], made[j]) for i, j in pairs):
                wrong.append([(k.__name__, [b.__name__ for b in k.__bases__]) for k in classes])
    assert checked > 1000  # the grid is not empty
    assert not wrong, wrong[:5]


def test_a_forged_lineage_builds_no_class_python_refuses(fresh_handles):
    """Entries the program writes: a base listed twice, bases out of order, names type() refuses, builtins
    whose layouts conflict. Each ends as some class or None, never an exception in the tests process."""
    forged = [
        [[1, "A", "A", [], [], ["Exception"]], [2, "B", "B", [1, 1], [], ["Exception"]]],
        [[1, "A", "A", [], [], ["Exception"]], [2, "B", "B", [9, "ValueError", 1], [], ["ValueError"]]],
        [[3, "bad\x00name", "x", [], [], ["Exception"]]],
        [[4, "C", "C", ["OSError", "UnicodeDecodeError"], [], ["OSError", "UnicodeDecodeError"]]],
        [[5, "D", "D", "not a list", [], ["KeyError"]]],
    ]
    for lineage in forged:
        made = raised._lineage_class(lineage)
        assert made is None or issubclass(made, BaseException)
