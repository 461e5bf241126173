"""Every tool through the in-memory MCP client against the sandbox, in both protocol eras."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from taskgroup_mcp.config import Settings
from taskgroup_mcp.tools import NO_KEY_MESSAGE, build_server
from taskgroup_mcp.tools._sanitize import SANDBOX_NOTICE, THIRD_PARTY_NOTICE
from taskgroup_mcp.tools._shaping import estimate_tokens

pytestmark = pytest.mark.anyio
MODES = pytest.mark.parametrize("mode", ["auto", "legacy"])
SCHEMA = {
    "type": "object",
    "properties": {
        "hq": {"type": "string", "description": "headquarters city"},
        "founded": {"type": "integer"},
    },
}
TOOL_NAMES = {
    "create_task_group",
    "add_runs",
    "fan_out",
    "get_task_group_status",
    "wait_for_task_group",
    "get_task_group_results",
    "get_task_run",
    "export_task_group_results",
    "retry_failed_runs",
    "list_task_groups",
}


def _data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    data: dict[str, Any] = result.structured_content
    assert json.loads(result.content[0].text) == data
    return data


def _error(result: Any) -> str:
    assert result.is_error
    return str(result.content[0].text)


async def _group_with_runs(client: Client, n: int, **extra: Any) -> str:
    gid = _data(await client.call_tool("create_task_group", {}))["task_group_id"]
    inputs = [f"Company number {i}" for i in range(n)]
    _data(
        await client.call_tool(
            "add_runs", {"task_group_id": gid, "inputs": inputs, "output": SCHEMA, **extra}
        )
    )
    return gid


async def _wait_done(client: Client, gid: str) -> dict[str, Any]:
    with anyio.fail_after(30):
        while True:
            data = _data(
                await client.call_tool("wait_for_task_group", {"task_group_id": gid, "timeout_seconds": 10})
            )
            if not data["status"]["active"]:
                return data


@MODES
async def test_every_tool_is_listed_with_a_description_annotations_and_an_output_schema(
    sandbox: Any, mode: str
) -> None:
    async with sandbox(mode=mode) as (client, _, _):
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == TOOL_NAMES
        for tool in tools.values():
            assert tool.description and tool.title and tool.annotations is not None
            assert tool.output_schema is not None
            for name, prop in tool.input_schema.get("properties", {}).items():
                assert "description" in prop, f"{tool.name}.{name} has no description"
        assert tools["add_runs"].annotations.idempotent_hint is True  # type: ignore[union-attr]
        assert tools["add_runs"].annotations.destructive_hint is False  # type: ignore[union-attr]
        for name in (
            "get_task_group_status",
            "wait_for_task_group",
            "get_task_group_results",
            "get_task_run",
        ):
            assert tools[name].annotations.read_only_hint is True  # type: ignore[union-attr]


@MODES
async def test_a_small_job_fans_out_waits_with_progress_and_returns_the_first_page(
    sandbox: Any, mode: str
) -> None:
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async with sandbox(mode=mode) as (client, _, _):
        result = await client.call_tool(
            "fan_out",
            {"inputs": ["Acme Corp", {"company": "Globex"}, "Initech"], "output": SCHEMA, "wait_seconds": 20},
            progress_callback=on_progress,
        )
        data = _data(result)
        assert data["notice"] == SANDBOX_NOTICE
        assert data["added"]["added"] == 3
        assert data["wait"]["status"]["active"] is False
        page = data["results"]
        assert page["returned"] == 3 and page["content_notice"] == THIRD_PARTY_NOTICE
        assert {i["key"] for i in page["items"]} == {"Acme Corp", "Globex", "Initech"}
        assert all(set(i["output"]) <= {"hq", "founded"} for i in page["items"])
        assert progress and progress[-1][0] == progress[-1][1] == 3


@MODES
async def test_a_repeated_add_runs_call_adds_nothing_twice(sandbox: Any, mode: str) -> None:
    async with sandbox(mode=mode) as (client, backend, _):
        gid = _data(await client.call_tool("create_task_group", {}))["task_group_id"]
        args = {
            "task_group_id": gid,
            "inputs": ["a question", "another question"],
            "output": "a short answer",
        }
        first = _data(await client.call_tool("add_runs", args))
        second = _data(await client.call_tool("add_runs", args))
        assert (first["added"], first["already_present"]) == (2, 0)
        assert (second["added"], second["already_present"]) == (0, 2)
        assert "wait_for_task_group" in second["next_step"] or "get_task_group_results" in second["next_step"]
        assert backend.sandbox is not None and backend.sandbox.store.counts()[1] == 2


@MODES
async def test_status_wait_results_run_and_export_work_on_one_group(sandbox: Any, mode: str) -> None:
    async with sandbox(mode=mode) as (client, _, _):
        gid = await _group_with_runs(client, 5)
        status = _data(await client.call_tool("get_task_group_status", {"task_group_id": gid}))
        assert status["total"] == 5 and status["notice"] == SANDBOX_NOTICE
        assert estimate_tokens(status) <= 100  # compact, the sandbox notice included
        await _wait_done(client, gid)
        page = _data(
            await client.call_tool(
                "get_task_group_results",
                {
                    "task_group_id": gid,
                    "limit": 2,
                    "fields": ["hq"],
                    "include_basis": "all",
                    "include_input": True,
                },
            )
        )
        assert page["returned"] == 2 and page["next_cursor"]
        assert all(set(i["output"]) == {"hq"} and "input" in i and "basis" in i for i in page["items"])
        run = _data(await client.call_tool("get_task_run", {"run_id": page["items"][0]["run_id"]}))
        assert run["status"] == "completed" and run["output"] and run["content_notice"] == THIRD_PARTY_NOTICE
        export = await client.call_tool(
            "export_task_group_results", {"task_group_id": gid, "format": "jsonl"}
        )
        data = _data(export)
        assert data["rows"] == 5 and data["no_duplicates"] is True and data["distinct_inputs"] == 5
        link = export.content[1]
        assert link.type == "resource_link" and str(link.uri) == data["uri"]
        read = await client.read_resource(data["uri"])
        lines = read.contents[0].text.splitlines()  # type: ignore[union-attr]
        assert len(lines) == 5 and all(json.loads(line)["status"] == "completed" for line in lines)
        assert Path(data["path"]).parent.name == "exports"


@MODES
async def test_retry_failed_runs_adds_the_failed_inputs_again_once(sandbox: Any, mode: str) -> None:
    async with sandbox(mode=mode, fail_rate=0.5) as (client, _, _):
        gid = await _group_with_runs(client, 12)
        await _wait_done(client, gid)
        status = _data(await client.call_tool("get_task_group_status", {"task_group_id": gid}))
        failed = status["counts"].get("failed", 0)
        assert failed > 0
        first = _data(await client.call_tool("retry_failed_runs", {"task_group_id": gid}))
        again = _data(await client.call_tool("retry_failed_runs", {"task_group_id": gid}))
        assert first["failed_found"] == failed and first["added"] == failed
        # The originals are not added twice; only retries that have failed in turn are new.
        assert again["already_present"] == failed
        assert again["added"] == again["failed_found"] - failed


@MODES
async def test_dry_run_estimates_and_a_costly_batch_is_refused_until_confirmed(
    sandbox: Any, mode: str
) -> None:
    async with sandbox(mode=mode) as (client, backend, _):
        gid = _data(await client.call_tool("create_task_group", {}))["task_group_id"]
        args = {"task_group_id": gid, "inputs": [f"q{i}" for i in range(40)], "processor": "ultra"}
        dry = _data(await client.call_tool("add_runs", {**args, "dry_run": True}))
        assert dry["dry_run"] is True and dry["estimate"]["cost_usd"] == pytest.approx(12.0)
        refused = _error(await client.call_tool("add_runs", args))
        assert "confirm_cost_usd=12.00" in refused and "Nothing was submitted" in refused
        assert backend.sandbox is not None and backend.sandbox.store.counts()[1] == 0
        ok = _data(await client.call_tool("add_runs", {**args, "confirm_cost_usd": 12}))
        assert ok["added"] == 40


@MODES
async def test_an_unknown_group_tells_the_model_to_create_one(sandbox: Any, mode: str) -> None:
    async with sandbox(mode=mode) as (client, _, _):
        text = _error(await client.call_tool("get_task_group_status", {"task_group_id": "tgrp_nope"}))
        assert "tgrp_nope" in text and "create_task_group" in text


@MODES
async def test_invalid_arguments_name_the_field_without_echoing_the_value(sandbox: Any, mode: str) -> None:
    canary = "CANARY-arg-71c2e9d4aa"
    async with sandbox(mode=mode) as (client, _, _):
        gid = _data(await client.call_tool("create_task_group", {}))["task_group_id"]
        bad = [
            {
                "task_group_id": gid,
                "inputs": ["x"],
                "mcp_servers": [{"url": "https://m.example.com", "headers": 5}],
            },
            {"task_group_id": gid, "inputs": ["x"], "metadata": {"k": {"deep": canary}}},
            {"task_group_id": gid, "inputs": ["x"], "processor": canary},
            {"task_group_id": gid, "inputs": ["x"], "dry_run": canary},
        ]
        for args in bad:
            text = _error(await client.call_tool("add_runs", args))
            assert canary not in text
        text = _error(await client.call_tool("add_runs", bad[0]))
        assert "mcp_servers[0].headers" in text
        text = _error(await client.call_tool("add_runs", {"task_group_id": gid, "inputs": [3]}))
        assert "inputs[0]: must be a valid string or a valid dictionary" in text
        assert "Invalid argument: " in text and "validation error" not in text


@MODES
async def test_resources_and_the_prompt_are_served(sandbox: Any, mode: str) -> None:
    async with sandbox(mode=mode) as (client, _, _):
        table = json.loads((await client.read_resource("taskgroup://processors")).contents[0].text)  # type: ignore[union-attr]
        assert {p["name"] for p in table["processors"]} >= {"lite", "core", "ultra8x-fast"}
        gid = await _group_with_runs(client, 2)
        status = await client.read_resource(f"taskgroup://groups/{gid}/status")
        assert json.loads(status.contents[0].text)["total"] == 2  # type: ignore[union-attr]
        prompt = await client.get_prompt("plan_fan_out", {"goal": "find HQ cities"})
        text = prompt.messages[0].content.text  # type: ignore[union-attr]
        assert "3-5" in text and "dry_run" in text and "find HQ cities" in text


@MODES
async def test_without_a_key_every_tool_answers_how_to_get_one(tmp_path: Path, mode: str) -> None:
    server = build_server(Settings.from_env({}, export_dir=tmp_path))
    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        for name, args in [
            ("create_task_group", {}),
            ("get_task_group_status", {"task_group_id": "tgrp_x"}),
            ("add_runs", {"task_group_id": "tgrp_x", "inputs": ["q"]}),
            ("wait_for_task_group", {"task_group_id": "tgrp_x"}),
        ]:
            text = _error(await client.call_tool(name, args))
            assert NO_KEY_MESSAGE in text and "PARALLEL_API_KEY" in text and "--sandbox" in text
        instructions = (await client.list_tools()).tools
        assert instructions


async def test_every_tool_result_from_the_sandbox_says_the_data_is_synthetic(sandbox: Any) -> None:
    async with sandbox(fail_rate=0.5) as (client, _, _):
        results: dict[str, dict[str, Any]] = {}
        results["fan_out"] = _data(
            await client.call_tool("fan_out", {"inputs": ["a", "b", "c", "d"], "wait_seconds": 20})
        )
        gid = results["fan_out"]["task_group_id"]
        results["create_task_group"] = _data(await client.call_tool("create_task_group", {}))
        results["add_runs"] = _data(
            await client.call_tool("add_runs", {"task_group_id": gid, "inputs": ["e"]})
        )
        results["get_task_group_status"] = _data(
            await client.call_tool("get_task_group_status", {"task_group_id": gid})
        )
        results["wait_for_task_group"] = await _wait_done(client, gid)
        page = _data(await client.call_tool("get_task_group_results", {"task_group_id": gid}))
        results["get_task_group_results"] = page
        results["get_task_run"] = _data(
            await client.call_tool("get_task_run", {"run_id": page["items"][0]["run_id"]})
        )
        results["export_task_group_results"] = _data(
            await client.call_tool("export_task_group_results", {"task_group_id": gid})
        )
        results["retry_failed_runs"] = _data(
            await client.call_tool("retry_failed_runs", {"task_group_id": gid})
        )
        results["list_task_groups"] = _data(await client.call_tool("list_task_groups", {}))
        assert set(results) == TOOL_NAMES
        for name, data in results.items():
            assert data.get("notice") == SANDBOX_NOTICE, name


INJECTION_PHRASES = (
    "ignore previous",
    "ignore all",
    "system prompt",
    "<important>",
    "disregard",
    "do not tell",
)


async def test_tool_definitions_are_plain_bounded_text_without_injection_phrases(sandbox: Any) -> None:
    async with sandbox() as (client, _, _):
        for tool in (await client.list_tools()).tools:
            text = json.dumps(tool.model_dump(mode="json")).lower()
            assert not any(p in text for p in INJECTION_PHRASES), tool.name
            assert tool.description is not None and len(tool.description) < 1_000, tool.name
            assert "<" not in tool.description and "](" not in tool.description, tool.name
            assert len(json.dumps(tool.input_schema)) < 5_000, tool.name


def test_building_the_server_warns_about_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        build_server(Settings(sandbox=True, export_dir=tmp_path))
    assert not caplog.records, [r.getMessage() for r in caplog.records]


async def test_retrying_failed_runs_above_the_spend_limit_is_refused_until_confirmed(sandbox: Any) -> None:
    # A limit of a tenth of a cent: any retry of lite runs ($0.005 each) needs confirming.
    async with sandbox(fail_rate=0.5, spend_limit_usd=0.001) as (client, backend, _):
        gid = await _group_with_runs(client, 12, confirm_cost_usd=1.0)
        await _wait_done(client, gid)
        failed = _data(await client.call_tool("get_task_group_status", {"task_group_id": gid}))["counts"][
            "failed"
        ]
        assert failed > 0 and backend.sandbox is not None
        before = backend.sandbox.store.counts()[1]
        refused = _error(await client.call_tool("retry_failed_runs", {"task_group_id": gid}))
        after_refusal = backend.sandbox.store.counts()[1]
        cost = failed * 0.005
        ok = _data(
            await client.call_tool("retry_failed_runs", {"task_group_id": gid, "confirm_cost_usd": cost})
        )
        after_confirm = backend.sandbox.store.counts()[1]
    assert "Refused" in refused and "confirm_cost_usd=" in refused and "dry_run" not in refused
    assert after_refusal == before
    assert ok["added"] == failed and after_confirm == before + failed
