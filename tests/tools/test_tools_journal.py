"""The tools with the journal: labels, list_task_groups, fan_out reuse and exactly-once that hold
across servers sharing one journal (each server here stands for a process or a replica)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from taskgroup_mcp.client import ParallelClient
from taskgroup_mcp.config import Settings
from taskgroup_mcp.journal import open_journal
from taskgroup_mcp.sandbox import Faults, Sandbox, SandboxConfig
from taskgroup_mcp.tools import build_server

pytestmark = pytest.mark.anyio

API = "http://api.test.invalid"


def api_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "parallel_api_key": "journal-test-key-0123456789",
        "parallel_base_url": API,
        "export_dir": tmp_path / "exports",
        "settle_seconds": 0.2,
        "spend_limit_usd": 1_000.0,
    }
    values.update(overrides)
    return Settings.from_env({}, **values)


@asynccontextmanager
async def server_on(settings: Settings, sandbox: Sandbox) -> AsyncIterator[Client]:
    """One server (a process, as far as the journal can tell) on the shared sandbox (the API)."""

    def factory() -> ParallelClient:
        return ParallelClient.from_settings(settings, transport=sandbox.transport)

    async with Client(build_server(settings, factory)) as client:
        yield client


def data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    value: dict[str, Any] = result.structured_content
    return value


def error(result: Any) -> str:
    assert result.is_error
    return str(result.content[0].text)


async def test_a_label_is_kept_in_the_group_metadata_and_shown_by_status_and_list(tmp_path: Path) -> None:
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=11))
    settings = api_settings(tmp_path)
    async with sandbox, server_on(settings, sandbox) as client:
        gid = data(await client.call_tool("create_task_group", {"label": "  HQ\u200b cities\n of 2026 "}))[
            "task_group_id"
        ]
        status = data(await client.call_tool("get_task_group_status", {"task_group_id": gid}))
        listed = data(await client.call_tool("list_task_groups", {}))
        clash = error(await client.call_tool("create_task_group", {"label": "x", "metadata": {"label": "y"}}))
    assert status["label"] == "HQ cities of 2026", "invisible characters and runs of spaces are cleaned"
    assert sandbox.store.get_group(gid).metadata == {"label": "HQ cities of 2026"}  # type: ignore[union-attr]
    assert [(g["task_group_id"], g["label"]) for g in listed["groups"]] == [(gid, "HQ cities of 2026")]
    assert "label" in clash and "metadata" in clash
    sandbox.close()


async def test_groups_are_listed_newest_first_with_counts_cost_and_filters_and_paged(tmp_path: Path) -> None:
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=12))
    settings = api_settings(tmp_path)
    async with sandbox, server_on(settings, sandbox) as client:
        ids: list[str] = []
        for label in ("alpha founders", "beta cities", "gamma founders"):
            gid = data(await client.call_tool("create_task_group", {"label": label}))["task_group_id"]
            ids.append(gid)
            await anyio.sleep(0.01)  # distinct creation times
        await client.call_tool(
            "add_runs", {"task_group_id": ids[0], "inputs": ["a", "b", "c"], "processor": "base"}
        )
        with anyio.fail_after(30):
            await client.call_tool("wait_for_task_group", {"task_group_id": ids[0]})
        every = data(await client.call_tool("list_task_groups", {}))
        founders = data(await client.call_tool("list_task_groups", {"label": "FOUNDERS"}))
        finished = data(await client.call_tool("list_task_groups", {"active": False}))
        first = data(await client.call_tool("list_task_groups", {"limit": 2}))
        rest = data(await client.call_tool("list_task_groups", {"limit": 2, "cursor": first["next_cursor"]}))
        wrong = error(
            await client.call_tool(
                "list_task_groups", {"limit": 2, "cursor": first["next_cursor"], "label": "x"}
            )
        )
    assert [g["task_group_id"] for g in every["groups"]] == ids[::-1]
    done = every["groups"][-1]
    assert (done["active"], done["total"], done["counts"], done["inputs_added"]) == (
        False,
        3,
        {"completed": 3},
        3,
    )
    assert done["cost_usd"] == pytest.approx(3 * 0.01) and done["processors"] == ["base"]
    assert [g["label"] for g in founders["groups"]] == ["gamma founders", "alpha founders"]
    assert ids[0] in [g["task_group_id"] for g in finished["groups"]]
    assert [g["task_group_id"] for g in first["groups"]] == [ids[2], ids[1]] and first["next_cursor"]
    assert [g["task_group_id"] for g in rest["groups"]] == [ids[0]] and "next_cursor" not in rest
    assert "cursor" in wrong
    sandbox.close()


async def test_groups_created_by_one_server_are_listed_by_another_sharing_the_journal(tmp_path: Path) -> None:
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=13))
    settings = api_settings(tmp_path)
    async with sandbox:
        async with server_on(settings, sandbox) as one:
            gid = data(await one.call_tool("create_task_group", {"label": "made by one"}))["task_group_id"]
        async with server_on(settings, sandbox) as two:
            listed = data(await two.call_tool("list_task_groups", {}))
            resource = await two.read_resource("taskgroup://groups")
    assert [g["task_group_id"] for g in listed["groups"]] == [gid]
    assert json.loads(resource.contents[0].text)["groups"][0]["label"] == "made by one"  # type: ignore[union-attr]
    sandbox.close()


async def test_an_identical_fan_out_on_another_server_reuses_the_group_and_adds_nothing(
    tmp_path: Path,
) -> None:
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=14))
    settings = api_settings(tmp_path)
    args = {"inputs": ["Acme", "Hooli"], "output": "Founding year", "wait_seconds": 0, "label": "fan"}
    async with sandbox:
        async with server_on(settings, sandbox) as one:
            first = data(await one.call_tool("fan_out", args))
        async with server_on(settings, sandbox) as two:
            again = data(await two.call_tool("fan_out", args))
    assert again["task_group_id"] == first["task_group_id"] and again["reused_group"] is True
    assert (again["added"]["added"], again["added"]["already_present"]) == (0, 2)
    assert sandbox.store.counts() == (1, 2), "one group, one run per input"
    sandbox.close()


async def test_a_restart_inside_the_read_lag_reconciles_instead_of_sending_again(tmp_path: Path) -> None:
    """The README's first known limit, gone: a new server (a restarted process) repeating a call
    inside the API's read-after-write lag knows from the journal what the first one sent."""
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=15, faults=Faults(commit_delay_ms=400.0)))
    settings = api_settings(tmp_path, settle_seconds=1.0)  # the settle window covers the lag
    async with sandbox:
        async with server_on(settings, sandbox) as one:
            gid = data(await one.call_tool("create_task_group", {}))["task_group_id"]
            args = {"task_group_id": gid, "inputs": ["Hooli", "Acme", "Acme"]}
            with anyio.fail_after(30):
                first = data(await one.call_tool("add_runs", args))
        async with server_on(settings, sandbox) as restarted:
            with anyio.fail_after(30):
                again = data(await restarted.call_tool("add_runs", args))
        await anyio.sleep(0.5)
        sandbox.lifecycle.tick()
    assert (first["added"], first["failed_total"]) == (3, 0), first
    assert (again["added"], again["already_present"], again["failed_total"]) == (0, 3, 0), again
    runs = sandbox.store.group_runs(gid, -1, None, 100)
    assert len(runs) == 3, "nothing was added twice"
    sandbox.close()


async def test_with_the_state_off_list_task_groups_says_how_to_keep_group_ids(tmp_path: Path) -> None:
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=16))
    settings = api_settings(tmp_path, state=False)
    async with sandbox, server_on(settings, sandbox) as client:
        text = error(await client.call_tool("list_task_groups", {}))
        created = data(await client.call_tool("create_task_group", {"label": "still works"}))
    assert "TASKGROUP_MCP_STATE=off" in text and "task_group_id" in text
    assert created["task_group_id"].startswith("tgrp_")
    assert not (tmp_path / "state").exists()
    sandbox.close()


async def test_with_a_corrupt_journal_the_tools_keep_working_and_say_so(tmp_path: Path) -> None:
    state = tmp_path / "broken-state"
    state.mkdir()
    (state / "journal.db").write_bytes(b"not a database" * 100)
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=17))
    settings = api_settings(tmp_path, state_dir=state)
    async with sandbox, server_on(settings, sandbox) as client:
        gid = data(await client.call_tool("create_task_group", {}))["task_group_id"]
        added = data(await client.call_tool("add_runs", {"task_group_id": gid, "inputs": ["a", "b"]}))
        listing = error(await client.call_tool("list_task_groups", {}))
    assert added["added"] == 2
    assert "TASKGROUP_MCP_STATE_DIR" in added["notice"] and "keep working" in added["notice"]
    assert "journal" in listing.lower() and "TASKGROUP_MCP_STATE_DIR" in listing
    assert "Traceback" not in listing and "Traceback" not in added["notice"]
    sandbox.close()


async def test_the_export_counts_inputs_the_journal_saw_sent_that_have_no_run_in_the_group(
    tmp_path: Path,
) -> None:
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=19))
    settings = api_settings(tmp_path)
    without_journal = api_settings(tmp_path / "off", state=False)
    async with sandbox:
        async with server_on(settings, sandbox) as client:
            gid = data(await client.call_tool("create_task_group", {}))["task_group_id"]
            data(
                await client.call_tool(
                    "add_runs", {"task_group_id": gid, "inputs": ["Hooli", "Acme", "Initech"]}
                )
            )
            complete = data(await client.call_tool("export_task_group_results", {"task_group_id": gid}))
            # A request written ahead whose runs never landed (the process died before sending it).
            journal = open_journal(settings)
            assert journal is not None
            await journal.start()
            assert await journal.write_ahead(API, gid, "lost-call", ["cid-lost-1", "cid-lost-2"])
            await journal.close()
            short = data(await client.call_tool("export_task_group_results", {"task_group_id": gid}))
        async with server_on(without_journal, sandbox) as client:
            unknown = data(await client.call_tool("export_task_group_results", {"task_group_id": gid}))
    sandbox.close()
    assert (complete["rows"], complete["no_duplicates"], complete["missing_inputs"]) == (3, True, 0)
    assert (short["rows"], short["no_duplicates"], short["missing_inputs"]) == (3, True, 2)
    assert "2 inputs this server sent have no run" in short["next_step"]
    assert "missing_inputs" not in unknown and unknown["no_duplicates"] is True
