"""The package's imports flow one way: no module reaches, however indirectly, back to itself."""

from __future__ import annotations

import ast
from pathlib import Path

import shiftvae

PACKAGE = Path(shiftvae.__file__).resolve().parent


def _module(path: Path) -> str:
    parts = ("shiftvae", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Every shiftvae module -> the shiftvae modules it imports, at any depth of its code
    (an import inside a function still ties the two together)."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle between modules (packages' __init__ left out: they only gather)."""
    nodes = {n for n in graph if not (PACKAGE.joinpath(*n.split(".")[1:]) / "__init__.py").exists()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n] & nodes):
            if state.get(m) == 1:
                return [*stack[stack.index(m) :], m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(nodes):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_no_module_imports_itself_back():
    cycle = _cycle(_imports())
    assert cycle is None, " -> ".join(cycle)


# The package's layers, lowest first: a module imports its own folder and lower layers only.
LAYERS = [
    {"_version", "errors", "types"},
    {"io"},
    {"data"},
    {"lattice"},
    {"synthetic", "analysis"},
    {"model"},
    {"pipeline", "studies", "explore"},
    {"results"},
    {"report"},
    {"runs", "reproduce"},
    {"commands"},
    {"cli", "shiftvae"},
    {"__main__"},
]


def _layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "shiftvae"
    return next(i for i, layer in enumerate(LAYERS) if top in layer)


def test_imports_go_down_the_layers_only():
    upward = [
        f"{a} -> {b}"
        for a, targets in _imports().items()
        for b in targets
        if _layer(b) >= _layer(a) and a.split(".")[:2] != b.split(".")[:2] and a != "shiftvae"
    ]
    assert upward == [], "imports that go up or sideways: " + "; ".join(sorted(upward))
