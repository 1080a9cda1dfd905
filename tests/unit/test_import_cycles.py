"""No package imports itself round in a circle (issue #12): a module is read top-down,
from the imports it names to what it defines, and each layer only needs the ones
below it (docs/architecture.md section 1).

The graph is read from the source with ``ast``, so every import counts: top level,
inside a function, and under ``if TYPE_CHECKING:``. An import hidden in a function
or behind TYPE_CHECKING still ties two modules together; it only hides the knot.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Every package of the tree, and none may have a cycle (nor one through another).
PACKAGES = ("lifecycle", "backends", "widgets", "cli", "project", "tui")


def module_name(path: Path) -> str:
    """``shipdeck.lifecycle.engine`` for lifecycle/engine.py: the one namespace."""
    parts = ["shipdeck", *path.relative_to(ROOT).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the packages, by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                found[module_name(path)] = path
    return found


def imported(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The modules of ``known`` that module ``name`` imports, anywhere in its source."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _deepest(alias.name, known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join([*here, base] if base else here)
            for alias in node.names:
                if f"{base}.{alias.name}" in known:  # from package import module
                    yield f"{base}.{alias.name}"
                else:
                    yield from _deepest(base, known)


def _deepest(dotted: str, known: set[str]) -> Iterator[str]:
    """``a.b.c`` as the deepest module of ``known`` it names (nothing if outside)."""
    parts = dotted.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            yield candidate
            return
        parts.pop()


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: set(imported(name, path, known)) for name, path in found.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components, iteratively (a deep package must not hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Components of more than one module, and modules that import themselves."""
    return [c for c in strongly_connected(graph) if len(c) > 1 or c[0] in graph[c[0]]]


def test_the_graph_is_read() -> None:
    graph = import_graph()
    assert len(graph) > 100, "expected every module of the packages"
    # Imports of each kind are seen: a top-level one, the composition root's
    # function-local import of a backend, and one under TYPE_CHECKING.
    assert "shipdeck.lifecycle.stages" in graph["shipdeck.lifecycle.items"]
    assert "shipdeck.backends.git" in graph["shipdeck.project.wiring"]
    assert "shipdeck.lifecycle.config.schema" in graph["shipdeck.lifecycle.runs"]
    # ``from package import module`` names the module, relative imports resolve.
    assert "shipdeck.lifecycle.events" in graph["shipdeck.lifecycle.engine"]


def test_every_kind_of_import_counts(tmp_path: Path) -> None:
    module = tmp_path / "mod.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "import os\n"
        "import pkg.a\n"
        "from pkg import b\n"
        "from . import c\n"
        "from .d import thing\n"
        "if TYPE_CHECKING:\n"
        "    from pkg.e import E\n"
        "def f():\n"
        "    import pkg.f.inner\n"
    )
    known = {"pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.e", "pkg.f", "pkg.mod"}
    found = set(imported("pkg.mod", module, known))
    assert found == {"pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.e", "pkg.f"}


def test_the_component_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert sorted(cycles(graph)) == [["a", "b", "c"], ["e"]]


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert found == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)
