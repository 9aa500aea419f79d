"""Architecture rules, checked from the source: imports point downward, and only the faces
(cli, server) read the environment."""

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
    "transaction": 5, "view": 5, "repository": 5, "watch": 5, "maintenance": 5,
    "__init__": 6, "io": 6, "cli": 6, "server": 6, "client": 6, "remote_tx": 6, "remote_kv": 6,
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
