"""The standard library's classes and functions, recognised by identity: a program that binds one (`from
fractions import Fraction`) gives the tests that very object, never a proxy, and nothing else by name."""

import importlib
import sys

# The standard library modules the worker imports before any program: their classes and functions are
# recognised by identity when a program imported them.
STDLIB_SEEN = (
    "builtins",
    "bisect",
    "collections",
    "copy",
    "decimal",
    "fractions",
    "functools",
    "heapq",
    "itertools",
    "json",
    "math",
    "operator",
    "random",
    "re",
    "statistics",
    "string",
    "typing",
)


def _stdlib_callables():
    """id -> (object, [module, name]) of every public class and function of STDLIB_SEEN, taken before any
    program exists (the table holds the objects, so no id is reused)."""
    table = {}
    for mod in STDLIB_SEEN:
        table.update(_callables_of(mod))
    return table


# Builtins that run code from somewhere other than their arguments, or read the terminal, files or the
# interpreter's own namespaces: called in the tests process they would do so there (`f = breakpoint` makes
# `f()` run the commands of a `.pdbrc` the program wrote in the working directory). A program that binds
# one of them gets a proxy instead: the call runs in the program's process, as any function of its own.
_NOT_SHARED = ("breakpoint", "help", "input", "open", "exec", "eval", "compile", "globals", "locals", "vars")
_NOT_SHARED += ("exit", "quit", "copyright", "credits", "license")


def _callables_of(mod):
    # imported here: in the sandbox this module runs before server.py's imports (pool.worker_script runs
    # the modules in order), and a module not yet imported gave an empty table (session 22: statistics)
    module = importlib.import_module(mod)
    out = {}
    for attr, value in list(vars(module).items()) if module is not None else []:
        if mod == "builtins" and attr in _NOT_SHARED:
            continue
        if not attr.startswith("_") and callable(value) and getattr(module, attr) is value:
            out[id(value)] = (value, [mod, attr])
    return out


_STDLIB_CALLABLES = _stdlib_callables()
_STDLIB_BY_NAME = {tuple(name): value for value, name in _STDLIB_CALLABLES.values()}


def stdlib_name(value):
    """["stdlib", module, name] when `value` is itself a class or function of the standard library (the
    program imported it: `from fractions import Fraction`), so that the tests see that object, not a
    proxy; None for anything else. By identity with objects taken before the program ran: a function of
    the program's own dressed up with another `__module__` is not one of them."""
    entry = _STDLIB_CALLABLES.get(id(value))
    return ["stdlib", *entry[1]] if entry is not None and entry[0] is value else None


def stdlib_object(kind):
    """The standard library's object that the program says it bound, only where it is one the program's
    side can name (the same table): the program writes what crosses the socket, and anything else it
    names (unittest.mock's always-equal `_ANY`, `os._exit`) would run in the tests process."""
    if len(kind) != 3 or not all(type(x) is str for x in kind[1:]):
        return None
    return _STDLIB_BY_NAME.get((kind[1], kind[2]))


# Modules whose import does something: starts IDLE or a demo, runs a test suite, prints, opens a browser.
_NEVER_IMPORTED = ("antigravity", "idlelib", "test", "this", "tkinter", "turtle", "turtledemo")


def importable(name):
    """Whether the tests process may import a module the program says it imported. Importing runs the
    module's code there, and the program chooses the name (a module object of its own can carry any
    `__name__`): no `__main__` (unittest's runs test discovery in the working directory, which the program
    writes) nor any other private module, and none of the few that act when imported."""
    if type(name) is not str:
        return False
    parts = name.split(".")
    return (
        parts[0] in sys.stdlib_module_names
        and parts[0] not in _NEVER_IMPORTED
        and all(p.isidentifier() and not p.startswith("_") for p in parts)
    )
