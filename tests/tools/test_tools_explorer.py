"""The task-group explorer as an MCP App: metadata, the resource, negotiation, degradation."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server import MCPServer

from taskgroup_mcp.commands._wiring import open_backend
from taskgroup_mcp.config import Settings
from taskgroup_mcp.sandbox import SandboxConfig
from taskgroup_mcp.tools import build_server
from taskgroup_mcp.tools._explorer import (
    APP_MIME_TYPE,
    EXPLORER_URI,
    EXTENSION_ID,
    LINKED_TOOLS,
    explorer_html,
    explorer_middleware,
)

pytestmark = pytest.mark.anyio
MODES = pytest.mark.parametrize("mode", ["auto", "legacy"])
APPS = [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]
APP_ONLY = {"read_group_rows", "estimate_retry"}


@asynccontextmanager
async def servers(
    tmp_path: Path, *, fail_rate: float = 0.0, **overrides: Any
) -> AsyncGenerator[tuple[MCPServer[Any], MCPServer[Any]]]:
    """Two servers on one sandbox: the real one, and the same without the explorer's middleware
    (what every client got before the explorer existed)."""
    settings = Settings.from_env({}, sandbox=True, export_dir=tmp_path / "exports", **overrides)
    config = SandboxConfig(speed=2_000.0, seed=7, fail_rate=fail_rate)
    async with open_backend(settings, sandbox_config=config) as backend:
        server = build_server(backend.settings, backend.client_factory)
        before = build_server(backend.settings, backend.client_factory)
        before.middleware.remove(explorer_middleware)
        yield server, before


async def _finished_group(client: Client, n: int, **extra: Any) -> str:
    created = await client.call_tool("create_task_group", {})
    gid = str(created.structured_content["task_group_id"])  # type: ignore[index]
    inputs = [{"company": f"Company {i}", "country": "FR" if i % 2 else "DE"} for i in range(n)]
    added = await client.call_tool("add_runs", {"task_group_id": gid, "inputs": inputs, **extra})
    assert not added.is_error, added.content[0].text  # type: ignore[union-attr]
    with anyio.fail_after(60):
        while True:
            waited = await client.call_tool(
                "wait_for_task_group", {"task_group_id": gid, "timeout_seconds": 10}
            )
            if not waited.structured_content["status"]["active"]:  # type: ignore[index]
                return gid


def _text(result: Any) -> str:
    assert not result.is_error, result.content[0].text
    return str(result.content[0].text)


@MODES
async def test_the_linked_tools_carry_the_explorer_uri_and_the_app_tools_are_app_only(
    tmp_path: Path, mode: str
) -> None:
    async with servers(tmp_path) as (server, _), Client(server, mode=mode, extensions=APPS) as client:  # type: ignore[arg-type]
        tools = {t.name: t for t in (await client.list_tools()).tools}
    for name in LINKED_TOOLS:
        assert tools[name].meta == {"ui": {"resourceUri": EXPLORER_URI}}
    for name in APP_ONLY:
        assert tools[name].meta == {"ui": {"resourceUri": EXPLORER_URI, "visibility": ["app"]}}
        assert tools[name].annotations is not None and tools[name].annotations.read_only_hint
    others = set(tools) - set(LINKED_TOOLS) - APP_ONLY
    assert others and all(not (tools[n].meta or {}).get("ui") for n in others)


@MODES
async def test_the_explorer_resource_is_self_contained_html_served_as_an_mcp_app(
    tmp_path: Path, mode: str
) -> None:
    async with servers(tmp_path) as (server, _), Client(server, mode=mode) as client:  # type: ignore[arg-type]
        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        content = (await client.read_resource(EXPLORER_URI)).contents[0]
    assert listed[EXPLORER_URI].mime_type == APP_MIME_TYPE == "text/html;profile=mcp-app"
    assert content.mime_type == APP_MIME_TYPE
    html = content.text  # type: ignore[union-attr]
    assert html == explorer_html() and html.startswith("<!DOCTYPE html>")
    # Nothing is loaded from elsewhere and nothing reaches the network: the host's default CSP
    # (connect-src 'none', no external script/style/img sources) must be enough.
    for pattern in (r"<script[^>]+src", r"<link\b", r"@import", r"url\(", r"\bfetch\(", r"XMLHttpRequest",
                    r"WebSocket", r"EventSource", r"\beval\(", r"new Function", r"innerHTML", r"outerHTML",
                    r"insertAdjacentHTML", r"document\.write"):  # fmt: skip
        assert not re.search(pattern, html), pattern
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", html)


@MODES
async def test_the_server_advertises_the_apps_extension(tmp_path: Path, mode: str) -> None:
    async with servers(tmp_path) as (server, _), Client(server, mode=mode, extensions=APPS) as client:  # type: ignore[arg-type]
        if mode == "auto":
            assert EXTENSION_ID in (client.server_capabilities.extensions or {})
        tools = {t.name for t in (await client.list_tools()).tools}
    assert tools >= APP_ONLY


@MODES
async def test_a_client_without_apps_does_not_see_the_app_only_tools(tmp_path: Path, mode: str) -> None:
    async with servers(tmp_path) as (server, before):
        async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
            listed = [
                t.model_dump(mode="json", by_alias=True, exclude_none=True)
                for t in (await client.list_tools()).tools
            ]
        async with Client(before, mode=mode) as client:  # type: ignore[arg-type]
            old = [
                t.model_dump(mode="json", by_alias=True, exclude_none=True)
                for t in (await client.list_tools()).tools
            ]
    assert not APP_ONLY & {t["name"] for t in listed}
    # Apart from the (ignorable) _meta.ui on three tools, the listing is the one from before.
    assert [{k: v for k, v in t.items() if k != "_meta"} for t in listed] == [
        {k: v for k, v in t.items() if k != "_meta"} for t in old if t["name"] not in APP_ONLY
    ]


@MODES
async def test_clients_without_apps_get_byte_identical_results(tmp_path: Path, mode: str) -> None:
    async with servers(tmp_path, fail_rate=0.3) as (server, before):
        async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
            gid = await _finished_group(client, 12)
            calls: list[tuple[str, dict[str, Any]]] = [
                ("get_task_group_results", {"task_group_id": gid, "limit": 5}),
                (
                    "get_task_group_results",
                    {"task_group_id": gid, "include_basis": "all", "include_input": True},
                ),
                ("wait_for_task_group", {"task_group_id": gid, "timeout_seconds": 1}),
            ]
            now = [await client.call_tool(name, args) for name, args in calls]
            fan = await client.call_tool("fan_out", {"inputs": ["a", "b", "c"], "wait_seconds": 20})
        async with Client(before, mode=mode) as client:  # type: ignore[arg-type]
            then = [await client.call_tool(name, args) for name, args in calls]
    for (name, _), a, b in zip(calls, now, then, strict=True):
        if name == "wait_for_task_group":  # waited_s and elapsed_s are measured durations
            assert json.loads(_text(a)).keys() == json.loads(_text(b)).keys()
            continue
        assert [c.model_dump(mode="json") for c in a.content] == [
            c.model_dump(mode="json") for c in b.content
        ], name
        assert a.structured_content == b.structured_content
    # Today's shape: the text is the compact JSON of the structured content, whole.
    fan_text = _text(fan)
    assert fan_text == json.dumps(fan.structured_content, ensure_ascii=False, separators=(",", ":"))
    assert "shown_in_explorer" not in fan_text and len(fan.structured_content["results"]["items"]) == 3  # type: ignore[index]


@MODES
async def test_with_apps_the_model_gets_a_short_summary_and_the_app_the_whole_page(
    tmp_path: Path, mode: str
) -> None:
    async with servers(tmp_path) as (server, _), Client(server, mode=mode, extensions=APPS) as client:  # type: ignore[arg-type]
        gid = await _finished_group(client, 40)
        result = await client.call_tool("get_task_group_results", {"task_group_id": gid, "limit": 40})
        fan = await client.call_tool("fan_out", {"inputs": [f"q{i}" for i in range(8)], "wait_seconds": 20})
    summary = json.loads(_text(result))
    page = result.structured_content
    assert page is not None and len(page["items"]) == 40
    assert summary["task_group_id"] == gid and summary["returned"] == 40
    assert len(summary["sample"]) == 5 and summary["by_status"] == {"completed": 40}
    assert "explorer" in summary["shown_in_explorer"] and "next_step" in summary
    assert len(_text(result)) < len(json.dumps(page)) / 4
    fan_summary = json.loads(_text(fan))
    assert len(fan_summary["results"]["sample"]) == 5
    assert len(fan.structured_content["results"]["items"]) == 8  # type: ignore[index]


@MODES
async def test_the_app_reads_a_large_group_in_large_pages_every_run_once(tmp_path: Path, mode: str) -> None:
    async with servers(tmp_path) as (server, _), Client(server, mode=mode, extensions=APPS) as client:  # type: ignore[arg-type]
        gid = await _finished_group(client, 1_200)
        seen: list[str] = []
        pages = 0
        cursor: str | None = None
        while True:
            args: dict[str, Any] = {"task_group_id": gid, "limit": 500}
            if cursor:
                args["cursor"] = cursor
            page = json.loads(_text(await client.call_tool("read_group_rows", args)))
            pages += 1
            assert page["status"]["total"] == 1_200 and page["status"]["done_pct"] == 100.0
            seen.extend(row["run_id"] for row in page["rows"])
            row = page["rows"][0]
            assert row["input"]["company"].startswith("Company ") and "output" in row
            cursor = page.get("next_cursor")
            if not cursor:
                break
    assert pages == 3 and len(seen) == len(set(seen)) == 1_200


@MODES
async def test_the_retry_estimate_counts_the_failed_runs_and_its_confirmation_passes_the_guard(
    tmp_path: Path, mode: str
) -> None:
    async with (
        servers(tmp_path, fail_rate=0.5, spend_limit_usd=0.01) as (server, _),
        Client(server, mode=mode, extensions=APPS) as client,  # type: ignore[arg-type]
    ):
        gid = await _finished_group(client, 20, confirm_cost_usd=1.0)
        status = json.loads(_text(await client.call_tool("get_task_group_status", {"task_group_id": gid})))
        failed = status["counts"]["failed"]
        est = json.loads(_text(await client.call_tool("estimate_retry", {"task_group_id": gid})))
        assert est["failed"] == failed > 0
        assert est["estimate"]["runs"] == failed and est["needs_confirmation"] is True
        assert est["confirm_cost_usd"] >= est["estimate"]["cost_usd"]
        refused = await client.call_tool("retry_failed_runs", {"task_group_id": gid})
        assert refused.is_error and "Nothing was submitted" in refused.content[0].text  # type: ignore[union-attr]
        retried = json.loads(
            _text(
                await client.call_tool(
                    "retry_failed_runs", {"task_group_id": gid, "confirm_cost_usd": est["confirm_cost_usd"]}
                )
            )
        )
    assert retried["added"] == failed


async def test_an_app_tool_names_a_bad_group_id_as_an_argument_error(tmp_path: Path) -> None:
    async with servers(tmp_path) as (server, _), Client(server, extensions=APPS) as client:  # type: ignore[arg-type]
        bad = await client.call_tool("read_group_rows", {"task_group_id": "../x"})
        missing = await client.call_tool("read_group_rows", {"task_group_id": "tgrp_nope"})
    assert bad.is_error and "task_group_id" in bad.content[0].text  # type: ignore[union-attr]
    assert missing.is_error and "tgrp_nope" in missing.content[0].text  # type: ignore[union-attr]
