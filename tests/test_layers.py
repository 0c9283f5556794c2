"""The package's layering, read from the source: a module imports only its own layer or lower ones, the
graph between parts has no cycle, and every part sits in a layer on purpose. Imports inside functions and
relative imports count; nothing is imported to check it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src" / "selfmine"

# top to bottom; a part is the first name under selfmine (selfmine.tasks.code_domain is part "tasks")
LAYERS = [
    ("cli",),
    ("pipeline", "study"),
    ("report",),
    ("mine", "train", "evaluate", "transfer"),
    ("tasks", "scale", "funnel"),
    ("ledger", "sandbox", "engine", "config", "datasets", "provenance"),
    ("data", "hub", "intervals", "errors", "seeds"),
]
LAYER = {part: i for i, parts in enumerate(LAYERS) for part in parts}
NO_PYTHON = {"data"}  # benchmark files only, for now: placed so that a module there lands in its layer


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(rel[:-1] if rel[-1] == "__init__" else rel)


def _part(module: str) -> str | None:
    """The part a dotted name belongs to; None for the root package and for anything outside selfmine."""
    names = module.split(".")
    return names[1] if names[0] == "selfmine" and len(names) > 1 else None


def _targets(node: ast.AST, module: str, *, is_package: bool, modules: set[str]) -> list[str]:
    """The selfmine modules one import statement reaches (a name imported from a package counts as that
    package's submodule when one of that name exists)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        here = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
    return subs if len(subs) == len(node.names) else [base, *subs]


def imports() -> list[tuple[str, int, str, str]]:
    """(file, line, importing module, imported module) for every import of a selfmine module."""
    files = sorted(ROOT.rglob("*.py"))
    modules = {_module(f) for f in files}
    out = []
    for f in files:
        module = _module(f)
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            for target in _targets(node, module, is_package=f.name == "__init__.py", modules=modules):
                if target.split(".")[0] == "selfmine":
                    out.append((str(f.relative_to(ROOT.parent)), node.lineno, module, target))
    return out


def part_edges(found: list[tuple[str, int, str, str]]) -> dict[tuple[str, str], tuple[str, int]]:
    """(importing part, imported part) -> the first (file, line) that makes the edge."""
    edges: dict[tuple[str, str], tuple[str, int]] = {}
    for file, line, src, dst in found:
        a, b = _part(src), _part(dst)
        if a and b and a != b:
            edges.setdefault((a, b), (file, line))
    return edges


def upward_imports(found: list[tuple[str, int, str, str]]) -> list[str]:
    """Every import, as `file:line: ...`, of a part in a higher layer than the importing module's."""
    out = []
    for file, line, src, dst in found:
        a, b = _part(src), _part(dst)
        if a in LAYER and b in LAYER and LAYER[b] < LAYER[a]:
            out.append(f"{file}:{line}: {src} (layer {LAYER[a] + 1}) imports {dst} (layer {LAYER[b] + 1})")
    return out


def find_cycle(edges) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None."""
    graph: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        graph.setdefault(a, []).append(b)
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def existing_parts() -> set[str]:
    """Every package and top-level module under selfmine that holds Python."""
    return {_part(_module(f)) for f in ROOT.rglob("*.py")} - {None}


def test_no_module_imports_a_higher_layer():
    assert not (bad := upward_imports(imports())), "imports of a higher layer:\n" + "\n".join(bad)


def test_the_part_graph_has_no_cycle():
    edges = part_edges(imports())
    cycle = find_cycle(edges)
    where = cycle and [f"{a} -> {b} ({':'.join(map(str, edges[a, b]))})" for a, b in zip(cycle, cycle[1:])]
    assert cycle is None, "import cycle between parts: " + " -> ".join(cycle) + "\n" + "\n".join(where)


def test_the_root_package_imports_no_part():
    # `import selfmine` stays cheap and below every layer
    assert not [t for _, _, src, t in imports() if src == "selfmine" and _part(t)]


def test_every_part_is_placed_in_a_layer():
    parts = existing_parts()
    assert not (parts - LAYER.keys()), f"parts in no layer (place them in LAYERS): {sorted(parts - LAYER.keys())}"
    gone = LAYER.keys() - parts - NO_PYTHON
    assert not gone, f"LAYERS names parts that do not exist: {sorted(gone)}"


def test_the_checks_see_what_they_must():
    """The checker itself: relative and in-function imports resolved, an upward import and a cycle named."""
    modules = {"selfmine.scale", "selfmine.scale.cluster", "selfmine.study.on_ray", "selfmine.tasks.grounding"}
    tree = ast.parse("def f():\n    from .on_ray import run_arms\n    from ..tasks import grounding, base\n")
    got = [t for n in ast.walk(tree) for t in _targets(n, "selfmine.study.run", is_package=False, modules=modules)]
    assert got == ["selfmine.study.on_ray", "selfmine.tasks", "selfmine.tasks.grounding"]
    init = ast.parse("from .cluster import RayMissing\nfrom . import cluster\nimport selfmine.ledger.store")
    got = [t for n in ast.walk(init) for t in _targets(n, "selfmine.scale", is_package=True, modules=modules)]
    assert got == ["selfmine.scale.cluster", "selfmine.scale.cluster", "selfmine.ledger.store"]
    up = [("selfmine/tasks/x.py", 3, "selfmine.tasks.x", "selfmine.mine.gates")]
    assert upward_imports(up) == [
        "selfmine/tasks/x.py:3: selfmine.tasks.x (layer 5) imports selfmine.mine.gates (layer 4)"
    ]
    edges = {("tasks", "mine"): ("selfmine/tasks/x.py", 3), ("mine", "tasks"): ("selfmine/mine/y.py", 5)}
    assert find_cycle(edges) == ["mine", "tasks", "mine"]
    assert find_cycle({("mine", "tasks"): ("f", 1), ("tasks", "ledger"): ("g", 2)}) is None


def test_the_modules_inside_each_part_form_no_cycle():
    """Within a part, too (tasks.base holds the Domain interface, tasks.registry picks a domain by name):
    a package's __init__ re-exporting its own submodules is the one edge left out."""
    edges: dict[tuple[str, str], tuple[str, int]] = {}
    for file, line, src, dst in imports():
        if src != dst and _part(src) and _part(src) == _part(dst) and not dst.startswith(src + "."):
            edges.setdefault((src, dst), (file, line))
    cycle = find_cycle(edges)
    where = cycle and [f"{a} -> {b} ({':'.join(map(str, edges[a, b]))})" for a, b in zip(cycle, cycle[1:])]
    assert cycle is None, "import cycle between modules: " + " -> ".join(cycle) + "\n" + "\n".join(where)


def test_the_ledger_is_opened_only_through_the_run_dir():
    """`RunDir.ledger()` is the one way a module opens a run's ledger: a context manager, so it is closed
    on every path. A module that opens it by hand (`Ledger(...)`, `Ledger.in_run_dir(...)`) is named."""
    by_hand = []
    for f in sorted(ROOT.rglob("*.py")):
        if f == ROOT / "ledger" / "rundir.py":
            continue
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if not isinstance(node, ast.Call):
                continue
            fn = node.func
            name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else ""
            owner = fn.value.id if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) else ""
            if name == "Ledger" or (owner == "Ledger" and name == "in_run_dir"):
                by_hand.append(f"{f.relative_to(ROOT.parent)}:{node.lineno}")
    assert not by_hand, "the ledger opened by hand (use RunDir(path).ledger()):\n" + "\n".join(by_hand)


NAMING_LEFT: set[str] = set()  # nothing is left: engine/types.py is engine/records.py


def test_no_module_is_named_after_a_standard_library_module():
    import sys

    named = {
        str(f.relative_to(ROOT))
        for f in ROOT.rglob("*.py")
        if f.stem in sys.stdlib_module_names and f.stem != "__init__"
    }
    assert not (named - NAMING_LEFT), f"modules named after the standard library's: {sorted(named - NAMING_LEFT)}"


def _bound_to_m(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) for every binding of the name `m`: assignments, loop targets, arguments, `as m`."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                values = (
                    node.value.elts if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple) else None
                )
                for i, t in enumerate(target.elts if isinstance(target, ast.Tuple) else [target]):
                    if isinstance(t, ast.Name) and t.id == "m":
                        out.append((node.lineno, ast.unparse(values[i] if values else node.value)))
        elif isinstance(node, (ast.For, ast.comprehension, ast.NamedExpr)):
            target = node.target
            if any(isinstance(t, ast.Name) and t.id == "m" for t in ast.walk(target)):
                out.append((getattr(node, "lineno", target.lineno), "a loop or walrus target"))
        elif isinstance(node, ast.arg) and node.arg == "m":
            out.append((node.lineno, "an argument"))
        elif isinstance(node, ast.alias) and (node.asname or node.name) == "m":
            out.append((node.lineno, "an import"))
        elif isinstance(node, ast.withitem) and isinstance(node.optional_vars, ast.Name):
            if node.optional_vars.id == "m":
                out.append((node.optional_vars.lineno, "a with target"))
    return out


def test_m_is_only_ever_the_mine_config():
    """`m = cfg.mine` (or `self.cfg.mine`) is the one meaning of `m`: a regex match, a model or a metric has
    a name of its own."""
    bad = []
    for f in sorted(ROOT.rglob("*.py")):
        if str(f.relative_to(ROOT)) in NAMING_LEFT:
            continue
        for line, what in _bound_to_m(ast.parse(f.read_text(), str(f))):
            if not what.endswith(".mine"):
                bad.append(f"{f.relative_to(ROOT.parent)}:{line}: m = {what}")
    assert not bad, "`m` bound to something other than the mine config:\n" + "\n".join(bad)
    sample = ast.parse("m = cfg.mine\nfor m in xs: pass\nf(lambda m: m)\nimport re as m\n")
    assert sorted(_bound_to_m(sample)) == [
        (1, "cfg.mine"),
        (2, "a loop or walrus target"),
        (3, "an argument"),
        (4, "an import"),
    ]


MAX_BODY_LINES = 60
LONG_LEFT: set[str] = set()  # nothing is left aside: the judge's and the engine's were split too


def test_no_function_is_longer_than_about_sixty_lines():
    """A function's body (its docstring included, its signature not: a command's options are declarations)
    holds at most MAX_BODY_LINES lines; a longer one is split into named steps."""
    long = []
    for f in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.body[0].lineno + 1
                where = f"{f.relative_to(ROOT)}:{node.name}"
                if lines > MAX_BODY_LINES and where not in LONG_LEFT:
                    long.append(f"{where} ({lines} lines)")
    assert not long, f"functions over {MAX_BODY_LINES} lines:\n" + "\n".join(long)


# what a stage may import of the domain layer: the registry, the interfaces, and the domain-free helpers
DOMAIN_DOORS = {"selfmine.tasks.registry", "selfmine.tasks.base", "selfmine.tasks.gates", "selfmine.tasks.propose"}


def test_stages_reach_a_domain_only_through_the_registry_and_its_interfaces():
    above = {part for parts in LAYERS[: LAYER["tasks"]] for part in parts}
    bad = [
        f"{file}:{line}: {src} imports {dst}"
        for file, line, src, dst in imports()
        if _part(src) in above and _part(dst) == "tasks" and dst not in DOMAIN_DOORS
    ]
    assert not bad, "a stage importing one domain's module (go through tasks.registry):\n" + "\n".join(bad)
