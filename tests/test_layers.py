"""The layer arrows hold: wire <- client <- journal <- tools <- commands <- cli, wire <- sandbox <- commands.

The journal sits between the client and the tools: the submission engine in ``client`` takes a
write-ahead collaborator by protocol (defined in ``client``), which the journal implements; the
tools reach the journal through the server's state.

Absolute and relative imports are both resolved to the layer they name, including imports inside
functions and `if TYPE_CHECKING:` blocks (an arrow is an arrow, whenever it is followed).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "server" / "taskgroup_mcp"

# For each layer, the layers of ours it may import (besides itself and the package's __version__).
ALLOWED: dict[str, set[str]] = {
    "wire": set(),
    "config": set(),
    "client": {"wire", "config"},
    "sandbox": {"wire"},
    "journal": {"client", "wire", "config"},
    "tools": {"client", "wire", "config", "journal"},
    "commands": {"tools", "client", "journal", "sandbox", "wire", "config", "cli"},
    "cli": {"commands", "config"},
    "__main__": {"cli"},
}


def _module_parts(path: Path, pkg: Path = PKG) -> list[str]:
    """`server/taskgroup_mcp/tools/_app.py` -> ["taskgroup_mcp", "tools", "_app"]."""
    rel = path.relative_to(pkg.parent).with_suffix("")
    parts = list(rel.parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _absolute(path: Path, node: ast.ImportFrom, pkg: Path) -> list[str]:
    """The absolute dotted names an ImportFrom brings in (module, or module.name for each name)."""
    if node.level == 0:
        base = (node.module or "").split(".")
    else:
        package = _module_parts(path, pkg)
        if path.name != "__init__.py":
            package = package[:-1]  # a module's relative imports start at its package
        keep = len(package) - (node.level - 1)
        assert keep >= 1, f"{path}: relative import climbs above the package"
        base = package[:keep] + (node.module.split(".") if node.module else [])
    if node.module and node.level == 0:
        return [".".join(base)]
    # `from . import x` / `from .. import sandbox`: each name may itself be a module.
    return [".".join([*base, alias.name]) for alias in node.names] or [".".join(base)]


def imported_layers(path: Path, pkg: Path = PKG) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names = _absolute(path, node, pkg)
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "taskgroup_mcp" and len(parts) > 1:
                found.add(parts[1])
    return found


def _layer_of(path: Path) -> str:
    return _module_parts(path)[1] if len(_module_parts(path)) > 1 else "__init__"


def test_every_module_belongs_to_a_known_layer() -> None:
    unknown = {
        str(p.relative_to(PKG)) for p in PKG.rglob("*.py") if _layer_of(p) not in {*ALLOWED, "__init__"}
    }
    assert not unknown, f"modules outside every layer (add the layer to ALLOWED): {sorted(unknown)}"


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    target = PKG / layer
    files = sorted(target.rglob("*.py")) if target.is_dir() else [PKG / f"{layer}.py"]
    assert files, f"no source files for layer {layer}"
    for path in files:
        bad = imported_layers(path) - ALLOWED[layer] - {layer, "__version__"}
        assert not bad, (
            f"{path.relative_to(PKG)} imports {sorted(bad)}; {layer} may import only {sorted(ALLOWED[layer])}"
        )


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("from ..sandbox import Sandbox\n", "tools/_x.py", {"sandbox"}),
        ("from .. import sandbox\n", "tools/_x.py", {"sandbox"}),
        ("from ...sandbox import Sandbox\n", "tools/sub/_y.py", {"sandbox"}),
        ("from . import _app\n", "tools/_x.py", {"tools"}),
        ("from ._app import AppState\n", "tools/_x.py", {"tools"}),
        ("def f():\n    from taskgroup_mcp.sandbox import Sandbox\n", "tools/_x.py", {"sandbox"}),
        ("import taskgroup_mcp.sandbox\n", "tools/_x.py", {"sandbox"}),
        ("from .client import ParallelClient\n", "__init__.py", {"client"}),
        ("from ..wire import Run\n", "client/__init__.py", {"wire"}),
    ],
)
def test_relative_and_absolute_imports_resolve_to_the_layer_they_name(
    tmp_path: Path, source: str, module: str, expected: set[str]
) -> None:
    pkg = tmp_path / "taskgroup_mcp"
    fake = pkg / module
    fake.parent.mkdir(parents=True, exist_ok=True)
    fake.write_text(source, encoding="utf-8")
    assert imported_layers(fake, pkg) == expected
