"""Architecture rules, checked from the source: imports point downward, no module imports
itself through others, and only the faces (cli, server) read the environment."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "palimpsest"

# Lower number = lower layer. A module may import only from its own layer or below.
LAYERS = {
    "errors": 0, "types": 0, "codec": 0, "wire": 0, "api": 0,
    "storage": 1,
    "versioning": 2,
    "models": 3,
    "query": 4,
    "transaction": 5, "view": 5, "repository": 5, "watch": 5, "maintenance": 5, "sync": 5,
    "__init__": 6, "io": 6, "cli": 6, "server": 6, "remote": 6,
}
FACES = {"cli", "server"}


def _layer_of(module: str) -> str:
    head = module.split(".")[0]
    return head[:-3] if head.endswith(".py") else head


def _modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py")]


def _top(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    name = rel.parts[0]
    name = name[:-3] if name.endswith(".py") else name
    return name.split("_")[0] if name.startswith("cli_") else name


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    depth = len(path.relative_to(PACKAGE).parts) - 1
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 > depth:
                    continue
                base = list(path.relative_to(PACKAGE).parts[:-1])
                base = base[:len(base) - (node.level - 1)]
                target = ".".join([*base, node.module or ""]).strip(".")
                if not target and node.names:
                    target = node.names[0].name
                found.append(target)
            elif node.module and node.module.startswith("palimpsest."):
                found.append(node.module.removeprefix("palimpsest."))
        elif isinstance(node, ast.Import):
            found += [a.name.removeprefix("palimpsest.") for a in node.names
                      if a.name.startswith("palimpsest.")]
    return found


def test_every_top_level_module_has_a_layer() -> None:
    unknown = {_top(p) for p in _modules()} - set(LAYERS)
    assert not unknown, f"add these modules to LAYERS in {__file__}: {unknown}"


def test_imports_only_point_downward() -> None:
    problems = []
    for path in _modules():
        own = _top(path)
        for target in _imports(path):
            other = _layer_of(target)
            if other not in LAYERS:
                continue
            if LAYERS[other] > LAYERS[own]:
                problems.append(f"{path.relative_to(PACKAGE)} imports {target}")
    assert not problems, "upward imports:\n" + "\n".join(problems)


def test_only_faces_read_the_environment() -> None:
    offenders = []
    for path in _modules():
        if _top(path) in FACES:
            continue
        text = path.read_text()
        if "os.environ" in text or "getenv(" in text:
            offenders.append(str(path.relative_to(PACKAGE)))
    assert not offenders, f"only cli and server may read the environment: {offenders}"


def _module_graph() -> dict[str, set[str]]:
    """Which palimpsest modules each module imports: every ``import`` statement anywhere in
    the file (module level, inside functions, under ``TYPE_CHECKING``), relative imports
    resolved; ``from pkg import name`` counts as importing ``pkg.name`` when that is a
    module, else ``pkg``."""
    modules: dict[str, tuple[Path, bool]] = {}
    for path in _modules():
        parts = ["palimpsest", *path.relative_to(PACKAGE).with_suffix("").parts]
        package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if package else parts)] = (path, package)

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, (path, package) in modules.items():
        here = name if package else name.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {known(a.name) for a in node.names if a.name.startswith("palimpsest")}
            elif isinstance(node, ast.ImportFrom):
                base = here.split(".")
                base = base[:len(base) - node.level + 1] if node.level else []
                full = ".".join([*base, *([node.module] if node.module else [])])
                if full == "palimpsest" or full.startswith("palimpsest."):
                    targets |= {f"{full}.{a.name}" if f"{full}.{a.name}" in modules
                                else known(full) for a in node.names}
        graph[name] = {t for t in targets if t is not None and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_module_graph_is_read_correctly() -> None:
    graph = _module_graph()
    assert "palimpsest.storage.visibility" in graph["palimpsest.transaction"]  # from .x.y
    assert "palimpsest.query.engine" in graph["palimpsest.transaction"]  # from .x import y
    assert "palimpsest.versioning.commits" in graph["palimpsest.versioning.refs"]  # from .y
    assert "palimpsest.repository" in graph["palimpsest.server.application"]  # from ..y
    assert "palimpsest.maintenance.archive" in graph["palimpsest.repository"]  # in a function


def test_no_import_cycles() -> None:
    """No module imports itself through others, lazily (in a function) or not."""
    graph = _module_graph()
    cycles = _cycles(graph)
    report = ["; ".join(f"{m} -> {sorted(graph[m] & set(c))}" for m in c) for c in cycles]
    assert not cycles, "import cycles:\n" + "\n".join(report)
