"""The layer arrows of DESIGN.md hold: wire <- client, wire <- sandbox, client <- tools."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "server" / "taskgroup_mcp"

# For each layer, the layers of ours it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "wire": set(),
    "client": {"wire", "config"},
    "sandbox": {"wire"},
    "tools": {"client", "wire", "config"},
    "config": set(),
}


def _imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "taskgroup_mcp" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    target = PKG / layer
    files = sorted(target.rglob("*.py")) if target.is_dir() else [PKG / f"{layer}.py"]
    assert files, f"no source files for layer {layer}"
    for path in files:
        bad = _imports_of(path) - ALLOWED[layer] - {layer, "__version__"}
        assert not bad, (
            f"{path.relative_to(PKG)} imports {sorted(bad)}; {layer} may import only {ALLOWED[layer]}"
        )
