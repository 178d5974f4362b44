"""The modules of src/ import each other without a circle, lazily imported modules included."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "src"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in (SOURCE / "twinbridge").rglob("*.py"):
        if "node_modules" in path.parts or "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(SOURCE).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    return modules


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the twinbridge modules it imports anywhere in its body (type-checking imports too)."""

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            for target in targets:
                found = owner(target) if target.startswith("twinbridge") else None
                if found is not None and found != name:
                    graph[name].add(found)
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return circles


def test_no_module_of_src_is_part_of_an_import_circle() -> None:
    graph = _imports(_modules())
    assert len(graph) > 100
    assert _circles(graph) == []


def test_the_run_machinery_imports_no_feature() -> None:
    graph = _imports(_modules())
    features = ("twinbridge.export", "twinbridge.synchronization", "twinbridge.features", "twinbridge.app")
    for module, targets in graph.items():
        if module.startswith(
            ("twinbridge.runs", "twinbridge.runtime", "twinbridge.db", "twinbridge.platform")
        ):
            assert not [target for target in targets if target.startswith(features)], module
