"""Imports go one way and never in a circle (DESIGN.md, Layout; STYLE.md habits 13 and 14).

Every module under smartcard_route/ (the plumbing, smartcard_route.mail with it), directory/ and
issues/ is read with `ast`, and every import in it counts, at module level or in a function body:
an import moved into a function does not break a circle, it hides it. Not counted: imports under
`if TYPE_CHECKING:` (never run), and the AppConfig.ready() imports of an app's own signal
receivers listed in READY_IMPORTS. Naming a module by string (`include("issues.urls")`, a dotted
path in settings, `import_string`) is not an import: that is how the plumbing refers to the apps.

Three checks, each per package so that a failure says whose it is: no module is part of an import
circle (the failure names the circle's modules and every import between them, with its line and
names); none imports upwards; none imports another module of the project inside a function body.
The layers, lowest first: smartcard_route < directory < issues. A module may import its own layer
and the ones below it, never one above (so smartcard_route.urls and settings name the apps by
string only).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS: dict[str, int] = {"smartcard_route": 0, "directory": 1, "issues": 2}

# (the app's apps module, the module of its own signal receivers that AppConfig.ready() imports).
READY_IMPORTS: frozenset[tuple[str, str]] = frozenset(
    {
        ("issues.apps", "issues.correspondence.hooks"),
    }
)


@dataclass(frozen=True)
class Import:
    """One module importing another: where, and what it takes."""

    importer: str
    imported: str
    line: int
    written: str  # the module as the statement names it: "a.b" in `import a.b`, ".b" in `from .b import c`
    names: tuple[str, ...]  # the names it takes (`from ... import <names>`); empty for `import a.b`
    function: str | None  # the function body it sits in, if any

    def __str__(self) -> str:
        what = f"from {self.written} import {', '.join(self.names)}" if self.names else f"import {self.written}"
        resolved = f" [{self.imported}]" if self.written != self.imported else ""
        where = f" (inside {self.function}())" if self.function else ""
        return f"{self.importer} line {self.line}: {what}{resolved}{where}"


def find_modules(root: Path, packages: Mapping[str, int]) -> dict[str, Path]:
    """Every module of these packages by dotted name (a package by the name of its __init__)."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _ImportCollector(ast.NodeVisitor):
    """The imports of one module, resolved to modules of the graph."""

    def __init__(
        self, module: str, is_package: bool, modules: Mapping[str, Path], ready_imports: frozenset[tuple[str, str]]
    ) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.modules = modules
        self.ready_imports = ready_imports
        self.functions: list[str] = []
        self.classes: list[str] = []
        self.imports: list[Import] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.classes.append(node.name)
        self.generic_visit(node)
        self.classes.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def _add(self, imported: str, line: int, written: str, names: tuple[str, ...]) -> None:
        function = self.functions[-1] if self.functions else None
        in_ready = function == "ready" and bool(self.classes) and len(self.functions) == 1
        if in_ready and (self.module, imported) in self.ready_imports:
            return
        self.imports.append(Import(self.module, imported, line, written, names, function))

    def _deepest_module(self, dotted: str) -> str | None:
        parts = dotted.split(".")
        while parts:
            if ".".join(parts) in self.modules:
                return ".".join(parts)
            parts.pop()
        return None

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            imported = self._deepest_module(alias.name)
            if imported is not None:
                self._add(imported, node.lineno, alias.name, ())

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base_parts = self.package.split(".")
            base_parts = base_parts[: len(base_parts) - (node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        taken: dict[str, list[str]] = {}
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            if alias.name != "*" and submodule in self.modules:
                taken.setdefault(submodule, []).append(alias.name)
            else:
                imported = self._deepest_module(base)
                if imported is not None:
                    taken.setdefault(imported, []).append(alias.name)
        written = "." * node.level + (node.module or "")
        for imported, names in taken.items():
            self._add(imported, node.lineno, written, tuple(names))


def import_graph(
    root: Path, packages: Mapping[str, int], ready_imports: frozenset[tuple[str, str]] = READY_IMPORTS
) -> dict[str, list[Import]]:
    """Each module of these packages with its imports of the others (and of itself)."""
    modules = find_modules(root, packages)
    graph: dict[str, list[Import]] = {}
    for module, path in modules.items():
        collector = _ImportCollector(module, path.name == "__init__.py", modules, ready_imports)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        graph[module] = collector.imports
    return graph


def _position(edge: Import) -> tuple[str, int, str]:
    return (edge.importer, edge.line, edge.imported)


def _strongly_connected(graph: Mapping[str, list[Import]]) -> Iterator[list[str]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit to meet)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = 0
    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter({i.imported for i in graph[start]}))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter({i.imported for i in graph[successor]})))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    yield sorted(component)


def _shortest_cycle(graph: Mapping[str, list[Import]], members: set[str]) -> list[str]:
    """A shortest path from the first member back to itself, within the circle."""
    start = min(members)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for edge in graph[node]:
                if edge.imported == start:
                    return [*paths[node], start]
                if edge.imported in members and edge.imported not in paths:
                    paths[edge.imported] = [*paths[node], edge.imported]
                    following.append(edge.imported)
        frontier = following
    return [start]


@dataclass(frozen=True)
class Circle:
    modules: tuple[str, ...]
    cycle: tuple[str, ...]  # one way round, for the headline
    imports: tuple[Import, ...]  # every import between its modules: cut enough of them

    def __str__(self) -> str:
        lines = [f"import circle: {' -> '.join(self.cycle)} (modules: {', '.join(self.modules)})"]
        lines += [f"    {edge}" for edge in self.imports]
        return "\n".join(lines)


def import_circles(graph: Mapping[str, list[Import]]) -> list[Circle]:
    circles: list[Circle] = []
    for component in _strongly_connected(graph):
        members = set(component)
        inside = [edge for module in component for edge in graph[module] if edge.imported in members]
        if len(component) == 1 and not inside:
            continue
        cycle = _shortest_cycle(graph, members)
        circles.append(Circle(tuple(component), tuple(cycle), tuple(sorted(inside, key=_position))))
    return sorted(circles, key=lambda circle: circle.modules)


def _layer(module: str, layers: Mapping[str, int]) -> int:
    return layers[module.partition(".")[0]]


def upward_imports(graph: Mapping[str, list[Import]], layers: Mapping[str, int]) -> list[Import]:
    """Imports of a module in a higher layer than the importer's."""
    return sorted(
        (
            edge
            for edges in graph.values()
            for edge in edges
            if _layer(edge.imported, layers) > _layer(edge.importer, layers)
        ),
        key=_position,
    )


def _in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@functools.cache
def _project_graph() -> dict[str, list[Import]]:
    graph = import_graph(ROOT, LAYERS)
    for module in ("smartcard_route.settings", "directory.models", "issues.models"):
        assert module in graph, f"{module} not found under {ROOT}: the test would check nothing"
    return graph


# The project


@pytest.mark.parametrize("package", list(LAYERS))
def test_no_module_is_part_of_an_import_circle(package):
    circles = [c for c in import_circles(_project_graph()) if any(_in_package(m, package) for m in c.modules)]

    assert not circles, "\n\n".join(str(circle) for circle in circles)


@pytest.mark.parametrize("package", list(LAYERS))
def test_no_module_imports_upwards(package):
    upward = [edge for edge in upward_imports(_project_graph(), LAYERS) if _in_package(edge.importer, package)]

    assert not upward, "imports upwards (smartcard_route < directory < issues):\n" + "\n".join(map(str, upward))


@pytest.mark.parametrize("package", list(LAYERS))
def test_no_module_imports_another_inside_a_function(package):
    """Such an import either hides a circle (found above) or has no reason to be there."""
    hidden = sorted(
        (
            edge
            for module, edges in _project_graph().items()
            if _in_package(module, package)
            for edge in edges
            if edge.function is not None
        ),
        key=_position,
    )

    assert not hidden, "imports inside a function body:\n" + "\n".join(map(str, hidden))


def test_ready_imports_are_an_apps_own_modules():
    for apps_module, receivers in READY_IMPORTS:
        assert apps_module.endswith(".apps") and apps_module in _project_graph()
        assert receivers.partition(".")[0] == apps_module.partition(".")[0], (apps_module, receivers)


# The test itself, on packages made for the purpose


def _package(root: Path, name: str, files: dict[str, str]) -> None:
    (root / name).mkdir()
    (root / name / "__init__.py").write_text(files.pop("__init__", ""))
    for module, source in files.items():
        path = root / name / f"{module.replace('.', '/')}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not (path.parent / "__init__.py").exists():
            (path.parent / "__init__.py").write_text("")
        path.write_text(source)


def test_it_finds_a_circle_hidden_in_a_function_body(tmp_path):
    _package(
        tmp_path,
        "shop",
        {
            "services": "from shop.tasks import send_receipt\n",
            "tasks": "def send_receipt():\n    from shop import services\n    from .models import Order\n",
            "models": "Order = object\n",
        },
    )

    (circle,) = import_circles(import_graph(tmp_path, {"shop": 0}))

    assert circle.modules == ("shop.services", "shop.tasks")
    assert circle.cycle == ("shop.services", "shop.tasks", "shop.services")
    assert [str(edge) for edge in circle.imports] == [
        "shop.services line 1: from shop.tasks import send_receipt",
        "shop.tasks line 2: from shop import services [shop.services] (inside send_receipt())",
    ]


def test_it_resolves_relative_imports_and_packages_into_a_circle(tmp_path):
    _package(
        tmp_path,
        "shop",
        {
            "__init__": "from .orders import place\n",
            "orders.__init__": "from .place import place\n",
            "orders.place": "from ..pricing import price\n",
            "pricing": "import shop.orders.place\nfrom shop.orders import place as placed\n",
        },
    )

    (circle,) = import_circles(import_graph(tmp_path, {"shop": 0}))

    # `import shop.orders.place` and `from shop.orders import place` (a module) both lead to
    # shop.orders.place; shop and shop.orders import from the circle without being part of it.
    assert circle.modules == ("shop.orders.place", "shop.pricing")
    assert [str(edge) for edge in circle.imports] == [
        "shop.orders.place line 1: from ..pricing import price [shop.pricing]",
        "shop.pricing line 1: import shop.orders.place",
        "shop.pricing line 2: from shop.orders import place [shop.orders.place]",
    ]


def test_it_leaves_out_type_checking_imports_and_allowed_ready_imports(tmp_path):
    _package(
        tmp_path,
        "shop",
        {
            "models": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from shop.receivers import x\n",
            "receivers": "from shop.models import Order\n",
            "apps": "class ShopConfig:\n    def ready(self):\n        from shop import receivers, models\n",
        },
    )

    graph = import_graph(tmp_path, {"shop": 0}, ready_imports=frozenset({("shop.apps", "shop.receivers")}))

    assert import_circles(graph) == []
    assert [str(edge) for edge in graph["shop.apps"]] == [
        "shop.apps line 3: from shop import models [shop.models] (inside ready())"
    ]


def test_it_finds_an_import_upwards_and_a_circle_across_layers(tmp_path):
    _package(tmp_path, "plumbing", {"urls": "from app.views import home\n"})
    _package(tmp_path, "app", {"views": "import plumbing.urls\n"})

    graph = import_graph(tmp_path, {"plumbing": 0, "app": 1})

    assert [str(edge) for edge in upward_imports(graph, {"plumbing": 0, "app": 1})] == [
        "plumbing.urls line 1: from app.views import home"
    ]
    assert [circle.modules for circle in import_circles(graph)] == [("app.views", "plumbing.urls")]
