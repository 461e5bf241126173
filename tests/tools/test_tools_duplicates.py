"""Runs added twice by someone else are reported, not hidden: in add_runs and in the export check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from taskgroup_mcp.client import ParallelClient
from taskgroup_mcp.commands._wiring import SANDBOX_BASE_URL
from taskgroup_mcp.config import Settings
from taskgroup_mcp.sandbox import Faults, ManualClock, Sandbox, SandboxConfig
from taskgroup_mcp.tools import build_server

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def _process(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[Client]:
    """One server process of its own: its own client memory, no journal shared with another."""
    settings = Settings.from_env(
        {},
        parallel_api_key="dup-key-0123456789",
        export_dir=tmp_path / "exports",
        settle_seconds=0.05,
        state=False,
    )
    wired = settings.model_copy(update={"parallel_base_url": SANDBOX_BASE_URL})
    server = build_server(settings, lambda: ParallelClient.from_settings(wired, transport=sandbox.transport))
    async with Client(server) as client:
        yield client


def _data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    return data


async def test_inputs_another_process_added_again_are_reported_by_add_runs_and_the_export(
    tmp_path: Path,
) -> None:
    # Two processes without a shared journal, one call each, while the API's reads lag behind
    # its commits (a frozen clock: the lag lasts until the test moves it): both add every input.
    clock = ManualClock()
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=5, faults=Faults(commit_delay_ms=500.0)), clock=clock)
    args: dict[str, Any] = {"inputs": ["Hooli", "Acme", "Initech"]}
    async with (
        sandbox,
        _process(tmp_path / "a", sandbox) as first,
        _process(tmp_path / "b", sandbox) as second,
    ):
        with anyio.fail_after(30):
            args["task_group_id"] = _data(await first.call_tool("create_task_group", {}))["task_group_id"]
            assert _data(await first.call_tool("add_runs", args))["added"] == 3
            assert _data(await second.call_tool("add_runs", args))["added"] == 3
            clock.advance(1.0)
            sandbox.lifecycle.tick()
            again = _data(await second.call_tool("add_runs", args))
            export = _data(
                await second.call_tool(
                    "export_task_group_results", {"task_group_id": args["task_group_id"], "format": "jsonl"}
                )
            )
    sandbox.close()
    assert (again["added"], again["already_present"], again["duplicates"]) == (0, 3, 3), again
    assert "more than once" in again["next_step"] and "billed" in again["next_step"]
    assert (export["duplicate_inputs"], export["duplicate_runs"], export["no_duplicates"]) == (3, 3, False)
    assert "3 extra runs" in export["next_step"]


async def test_a_clean_add_runs_reports_no_duplicates(tmp_path: Path) -> None:
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=6))
    async with sandbox, _process(tmp_path, sandbox) as client:
        with anyio.fail_after(30):
            gid = _data(await client.call_tool("create_task_group", {}))["task_group_id"]
            added = _data(await client.call_tool("add_runs", {"task_group_id": gid, "inputs": ["a", "b"]}))
    sandbox.close()
    assert added["added"] == 2 and added["duplicates"] == 0
    assert "more than once" not in added["next_step"]
