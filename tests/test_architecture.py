"""The layer contract: imports only go downward through core's rows (LAYERS), nothing closes a cycle, and no
module reaches into another module's private names (a leading underscore means "only this module relies on
it"). Function-level imports count too, as do attribute reads such as `kpis._frame` on an imported module of
the project."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("core", "ui")


def project_files() -> Iterator[Path]:
    for path in sorted([*ROOT.glob("core/**/*.py"), *ROOT.glob("ui/**/*.py"), *ROOT.glob("pages/*.py")]):
        if "migrations" not in path.parts:  # a revision freezes what it needs; it imports no app code
            yield path
    yield ROOT / "app.py"
    yield ROOT / "serve.py"


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_reaches(source: str) -> list[str]:
    """Every `from project.module import _name` and `module._name` on a module imported from the project."""
    tree = ast.parse(source)
    found: list[str] = []
    imported_modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PROJECT_PACKAGES:
            for alias in node.names:
                if private(alias.name):
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
                elif node.module in PROJECT_PACKAGES:
                    imported_modules.add(alias.asname or alias.name)  # `from core import kpis`
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PROJECT_PACKAGES:
                    imported_modules.add(alias.asname or alias.name.split(".")[-1])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in imported_modules
        ):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_the_detector_finds_each_spelling() -> None:
    source = (
        "from core.funnel.kpis import KpiQuery, _frame\n"
        "from core import kpis\n"
        "def f():\n"
        "    from core.imports.importer import _format_column\n"
        "    return kpis._ratio\n"
        "from streamlit import _private_of_a_library\n"
        "from core.sql import frame\n"
    )
    assert private_reaches(source) == [
        "line 1: from core.funnel.kpis import _frame",
        "line 4: from core.imports.importer import _format_column",
        "line 5: kpis._ratio",
    ]


def test_no_module_reaches_into_another_modules_private_names() -> None:
    reaches = {
        str(path.relative_to(ROOT)): found for path in project_files() if (found := private_reaches(path.read_text()))
    }
    assert reaches == {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Which project module imports which, counting imports inside functions (they still make a cycle)."""
    modules = {module_name(path): path for path in project_files() if path.parent != ROOT and "pages" not in path.parts}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                candidates = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
                targets |= {candidate for candidate in candidates if candidate in modules}
            elif isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names if alias.name in modules}
        graph[name] = targets - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_the_cycle_finder_finds_a_cycle_closed_inside_a_function() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_core_and_ui_import_without_cycles() -> None:
    graph = import_graph()
    assert "core.funnel.derived" in graph and "core.settings" in graph["core.funnel.derived"]  # really read
    assert cycles(graph) == []


# Each row imports only from the rows below it (and from inside its own package). The top-level modules of
# core are what every area shares; ui sits above all of core, pages above ui.
LAYERS: dict[str, int] = {
    "core": 1,
    "core.funnel": 2,
    "core.definitions": 3,
    "core.imports": 3,
    "core.rejections": 4,
    "core.sandbox": 4,
    "core.alignment": 5,
    "core.admin": 6,
    "core.cli": 7,
    "ui": 8,
}


def layer_of(module: str) -> tuple[str, int]:
    """The package a module belongs to for the layer order, and its row."""
    if module == "core.__main__":  # `python -m core` is the CLI's door
        return "core.cli", LAYERS["core.cli"]
    parts = module.split(".")
    package = ".".join(parts[:2]) if len(parts) > 2 or f"{parts[0]}.{parts[-1]}" in LAYERS else parts[0]
    if package not in LAYERS:
        package = parts[0]
    return package, LAYERS[package]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        package, row = layer_of(module)
        for target in sorted(targets):
            target_package, target_row = layer_of(target)
            if target_package != package and target_row >= row:
                found.append(f"{module} (row {row}) imports {target} (row {target_row})")
    return found


def test_the_layer_check_finds_an_upward_or_sideways_import() -> None:
    graph = {
        "core.funnel.kpis": {"core.sql", "core.rejections.catalogue"},
        "core.imports.importer": {"core.definitions.versions", "core.funnel.derived"},
        "core.sql": {"core.periods"},
        "core.admin": {"core.admin.users"},
    }
    assert upward_imports(graph) == [
        "core.funnel.kpis (row 2) imports core.rejections.catalogue (row 4)",
        "core.imports.importer (row 3) imports core.definitions.versions (row 3)",
    ]


def test_imports_go_down_the_layers() -> None:
    graph = import_graph()
    assert {layer_of(module)[0] for module in graph} >= set(LAYERS)  # every row holds modules
    assert upward_imports(graph) == []


def test_no_test_module_imports_another() -> None:
    """Shared fixtures and helpers live in conftest.py, fixtures.py and browser_support.py, never in a test
    module that another one has to import."""
    importing = {
        path.name: module
        for path in sorted((ROOT / "tests").glob("test_*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and (module := node.module or "").startswith("tests.test_")
    }
    assert importing == {}
