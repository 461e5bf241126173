"""scripts/build_mcpb.py stages a bundle whose manifest points at files that are in it."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _stage(target: Path) -> Path:
    spec = importlib.util.spec_from_file_location("build_mcpb", ROOT / "scripts" / "build_mcpb.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.stage(target)


def test_the_staged_bundle_holds_its_manifest_entry_point_and_project_but_no_bytecode(tmp_path: Path) -> None:
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "stale.txt").write_text("left from an earlier build")
    staged = _stage(tmp_path / "bundle")
    manifest = json.loads((staged / "manifest.json").read_text(encoding="utf-8"))
    assert (staged / manifest["server"]["entry_point"]).is_file()
    assert (staged / "pyproject.toml").is_file() and (staged / "README.md").is_file()
    assert (staged / "server" / "taskgroup_mcp" / "cli.py").is_file()
    assert not list(staged.rglob("__pycache__"))
    assert not (staged / "stale.txt").exists()
