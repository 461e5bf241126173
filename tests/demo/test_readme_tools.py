"""README's tools table and the bundle manifest's tool list match what the server really lists."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_tools_table", ROOT / "scripts" / "gen_tools_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = _load_script()


@pytest.mark.anyio
async def test_the_readme_tools_table_is_the_one_list_tools_renders() -> None:
    tools = await gen.list_tools()
    current = gen.readme_table((ROOT / "README.md").read_text(encoding="utf-8"))
    assert current is not None, "README.md lost its tools-table markers"
    assert current == gen.render_table(tools), "stale: run python scripts/gen_tools_table.py --write"


@pytest.mark.anyio
async def test_the_bundle_manifest_lists_exactly_the_servers_tools() -> None:
    tools = await gen.list_tools()
    manifest = json.loads((ROOT / "manifests" / "mcpb" / "manifest.json").read_text(encoding="utf-8"))
    assert [t["name"] for t in manifest["tools"]] == [t.name for t in tools]


def test_the_table_escapes_pipes_and_keeps_only_the_first_paragraph() -> None:
    from mcp.types import Tool, ToolAnnotations

    tool = Tool(
        name="t",
        description="Does a | b.\n\nMore detail.",
        input_schema={"type": "object"},
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True),
    )
    assert gen.render_table([tool]).splitlines()[2] == "| `t` | Does a \\| b. | read-only, idempotent |"


def test_writing_the_table_replaces_only_the_marked_section() -> None:
    text = "intro\n<!-- tools-table:start -->\nold\n<!-- tools-table:end -->\noutro\n"
    assert (
        gen.with_table(text, "new\n")
        == "intro\n<!-- tools-table:start -->\nnew\n<!-- tools-table:end -->\noutro\n"
    )
