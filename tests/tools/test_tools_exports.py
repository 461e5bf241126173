"""Export files: private modes, never a symbolic link, and each tenant sees only its own."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import MCPError

from taskgroup_mcp.tools._export_files import TENANTS_DIR, ExportDir, ExportDirError, read_export

pytestmark = pytest.mark.anyio

SECRET = "outside-secret-0123456789\n"


async def _export(client: Any) -> dict[str, Any]:
    gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
    await client.call_tool("add_runs", {"task_group_id": gid, "inputs": ["a", "b"]})
    with anyio.fail_after(30):
        await client.call_tool("wait_for_task_group", {"task_group_id": gid, "timeout_seconds": 20})
        result = await client.call_tool(
            "export_task_group_results", {"task_group_id": gid, "format": "jsonl"}
        )
    assert not result.is_error, result.content[0].text
    return dict(result.structured_content)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


async def test_an_export_is_a_0600_file_in_a_0700_directory(sandbox: Any) -> None:
    async with sandbox() as (client, backend, _):
        data = await _export(client)
    path = Path(data["path"])
    assert path.parent == backend.settings.export_dir
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700


async def test_an_export_name_that_is_a_link_reads_as_missing_and_its_target_is_never_served(
    sandbox: Any, tmp_path: Path
) -> None:
    outside = tmp_path / "secrets.csv"
    outside.write_text(SECRET, encoding="utf-8")
    async with sandbox() as (client, backend, _):
        await _export(client)  # creates the export directory
        (backend.settings.export_dir / "planted.csv").symlink_to(outside)
        with pytest.raises(MCPError) as linked:
            await client.read_resource("taskgroup://exports/planted.csv")
        with pytest.raises(MCPError) as missing:
            await client.read_resource("taskgroup://exports/absent.csv")
    assert SECRET.strip() not in str(linked.value)
    assert str(linked.value).replace("planted", "absent") == str(missing.value)


def test_a_link_anywhere_under_the_export_root_is_refused_not_followed(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "exports", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (root / TENANTS_DIR).symlink_to(elsewhere)
    with pytest.raises(ExportDirError, match="symbolic link"):
        ExportDir.open(root, "ab12", create=True)
    assert list(elsewhere.iterdir()) == [], "nothing was created through the link"
    (root / TENANTS_DIR).unlink()
    (root / TENANTS_DIR).mkdir(mode=0o700)
    (root / TENANTS_DIR / "ab12").symlink_to(elsewhere)
    with pytest.raises(ExportDirError):
        ExportDir.open(root, "ab12", create=True)
    (elsewhere / "x.csv").write_text(SECRET, encoding="utf-8")
    assert read_export(root, "ab12", "x.csv") is None


def test_a_new_export_file_is_never_written_through_an_existing_file_or_link(tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.write_text("untouched", encoding="utf-8")
    with ExportDir.open(tmp_path / "exports", None, create=True) as directory:  # type: ignore[union-attr]
        os.symlink(target, directory.path / "out.csv")
        with pytest.raises(OSError):
            directory.create("out.csv")
    assert target.read_text(encoding="utf-8") == "untouched"


def test_tenant_directories_are_created_0700(tmp_path: Path) -> None:
    root = tmp_path / "exports"
    with ExportDir.open(root, "ab12", create=True) as directory:  # type: ignore[union-attr]
        assert directory.path == root / TENANTS_DIR / "ab12"
    assert _mode(root) == _mode(root / TENANTS_DIR) == _mode(root / TENANTS_DIR / "ab12") == 0o700
