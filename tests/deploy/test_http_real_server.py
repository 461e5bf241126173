"""The real MCP server (tools + embedded sandbox) over HTTP on a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from deploy_harness import INITIALIZE, MCP_HEADERS, TOKEN, Running, client, serving
from mcp import MCPError
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskgroup_mcp.client import ParallelClient
from taskgroup_mcp.commands._wiring import open_backend
from taskgroup_mcp.commands.http import build_http_app, upstream_ready_check
from taskgroup_mcp.config import Settings
from taskgroup_mcp.sandbox import Sandbox, SandboxConfig
from taskgroup_mcp.tools import build_server

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]


def api_requests(sandbox: Sandbox) -> int:
    """API requests the sandbox has answered (control routes excluded)."""
    requests: dict[str, dict[str, int]] = sandbox.stats_json()["requests"]
    return sum(
        sum(outcomes.values()) for endpoint, outcomes in requests.items() if "_sandbox" not in endpoint
    )


@asynccontextmanager
async def real_server(**overrides: Any) -> AsyncIterator[tuple[Running, Sandbox]]:
    settings = Settings(
        sandbox=True, sandbox_speed=600.0, auth_tokens=[SecretStr(TOKEN)], port=0, state=False, **overrides
    )
    async with open_backend(settings) as backend:
        assert backend.sandbox is not None
        server = build_server(backend.settings, backend.client_factory)
        async with httpx2.AsyncClient(transport=backend.sandbox.transport) as probe:
            ready = upstream_ready_check(backend.settings, probe)
            async with serving(build_http_app(backend.settings, server, ready_check=ready)) as running:
                yield running, backend.sandbox


@pytest.mark.parametrize("mode", MODES)
async def test_the_real_tools_answer_over_http_in_both_protocol_eras(mode: str) -> None:
    async with real_server() as (running, _):
        with anyio.fail_after(30):
            async with client(running.mcp_url, mode=mode) as c:
                tools = {t.name for t in (await c.list_tools()).tools}
                created = await c.call_tool("create_task_group", {})
                group_id = (created.structured_content or {})["task_group_id"]
                status = await c.call_tool("get_task_group_status", {"task_group_id": group_id})
    assert {"create_task_group", "add_runs", "get_task_group_status", "wait_for_task_group"} <= tools
    assert not status.is_error
    assert (status.structured_content or {})["task_group_id"] == group_id


@pytest.mark.parametrize("mode", MODES)
async def test_progress_notifications_of_a_fan_out_arrive_over_http(mode: str) -> None:
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with real_server() as (running, _):
        with anyio.fail_after(60):
            async with client(running.mcp_url, mode=mode) as c:
                result = await c.call_tool(
                    "fan_out",
                    {
                        "inputs": ["Who founded Acme?", "Who founded Globex?", "Who founded Initech?"],
                        "wait_seconds": 30,
                    },
                    progress_callback=on_progress,
                )
    assert not result.is_error, result.content
    assert seen, "at least one progress notification"


async def test_the_readiness_probe_reaches_the_sandbox() -> None:
    async with real_server() as (running, sandbox), httpx2.AsyncClient() as http:
        with anyio.fail_after(10):
            before = api_requests(sandbox)
            ready = await http.get(f"{running.base}/readyz")
    assert ready.status_code == 200
    assert api_requests(sandbox) == before + 1


@pytest.mark.parametrize("token", [None, "wrong-token-0123456789abcdef"])
async def test_without_a_valid_token_nothing_reaches_the_upstream_api(token: str | None) -> None:
    headers = dict(MCP_HEADERS) | ({"Authorization": f"Bearer {token}"} if token else {})
    create = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "create_task_group"}}
    async with real_server() as (running, sandbox), httpx2.AsyncClient() as http:
        with anyio.fail_after(10):
            before = api_requests(sandbox)
            statuses = [
                (await http.post(running.mcp_url, json=body, headers=headers)).status_code
                for body in (INITIALIZE, create)
            ]
            legacy_call = await http.post(
                running.mcp_url, json=create, headers={**headers, "MCP-Protocol-Version": "2025-11-25"}
            )
            modern_call = await http.post(
                running.mcp_url, json=create, headers={**headers, "MCP-Protocol-Version": "2026-07-28"}
            )
    assert statuses == [401, 401]
    assert legacy_call.status_code == 401 and modern_call.status_code == 401
    assert api_requests(sandbox) == before == 0


class KeyRecorder:
    """ASGI middleware in front of the sandbox: for every API request, its x-api-key and the group
    it concerns (from the path, or from the body of the answer that created the group)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[tuple[str, str]] = []  # (x-api-key, task group id)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        key = dict(scope["headers"]).get(b"x-api-key", b"").decode()
        in_path = [part for part in path.split("/") if part.startswith("tgrp_")]
        body = bytearray()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        if in_path:
            self.seen.append((key, in_path[0]))
        elif scope.get("method") == "POST" and path.endswith("/tasks/groups"):
            self.seen.append((key, json.loads(bytes(body))["taskgroup_id"]))
        else:
            self.seen.append((key, ""))


async def test_concurrent_callers_with_their_own_keys_reach_the_api_with_that_key_only() -> None:
    """Multi-tenant: the real tools against a recording sandbox, reached as if it were the API."""
    keys = ["tenant-alpha-key-0123456789", "tenant-beta-key-0123456789"]
    owner: dict[str, str] = {}  # task group id -> the key of the caller that created it
    async with Sandbox(SandboxConfig(speed=600.0)) as sandbox:
        recorder = KeyRecorder(sandbox.app)
        transport = httpx2.ASGITransport(app=recorder)
        settings = Settings(
            per_request_api_key=True,
            auth_tokens=[SecretStr(TOKEN)],
            parallel_base_url="http://api.test",
            port=0,
        )

        def factory() -> ParallelClient:
            return ParallelClient.from_settings(settings, transport=transport)

        async def caller(key: str, url: str) -> None:
            headers = {"Authorization": f"Bearer {TOKEN}", "X-Parallel-Api-Key": key}
            async with client(url, headers=headers) as c:
                for _ in range(5):
                    created = await c.call_tool("create_task_group", {})
                    assert not created.is_error, created.content
                    group_id = str((created.structured_content or {})["task_group_id"])
                    owner[group_id] = key
                    status = await c.call_tool("get_task_group_status", {"task_group_id": group_id})
                    assert not status.is_error, status.content

        async with serving(build_http_app(settings, build_server(settings, factory))) as running:
            with anyio.fail_after(60):
                async with anyio.create_task_group() as tg:
                    for key in keys:
                        tg.start_soon(caller, key, running.mcp_url)
        sandbox.close()
    assert len(owner) == 10
    assert len(recorder.seen) >= 20, "each call reached the API"
    for key, group_id in recorder.seen:
        assert group_id in owner, "every API request concerned a group of one of the callers"
        assert key == owner[group_id], "an API request carried another caller's key"
    assert TOKEN not in {key for key, _ in recorder.seen}


async def test_inputs_file_is_refused_over_http_unless_enabled(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('"Who founded Acme?"\n', encoding="utf-8")
    async with real_server() as (running, sandbox):
        with anyio.fail_after(30):
            async with client(running.mcp_url) as c:
                created = await c.call_tool("create_task_group", {})
                group_id = (created.structured_content or {})["task_group_id"]
                before = api_requests(sandbox)
                refused = await c.call_tool(
                    "add_runs", {"task_group_id": group_id, "inputs_file": str(inputs)}
                )
    assert refused.is_error
    assert "inputs_file" in str(refused.content)
    assert api_requests(sandbox) == before


async def test_with_per_request_keys_each_caller_reads_only_its_own_exports(tmp_path: Path) -> None:
    keys = {"alpha": "tenant-alpha-key-0123456789", "beta": "tenant-beta-key-0123456789"}
    async with Sandbox(SandboxConfig(speed=600.0)) as sandbox:
        transport = httpx2.ASGITransport(app=sandbox.app)
        settings = Settings(
            per_request_api_key=True,
            auth_tokens=[SecretStr(TOKEN)],
            parallel_base_url="http://api.test",
            export_dir=tmp_path / "exports",
            port=0,
        )

        def factory() -> ParallelClient:
            return ParallelClient.from_settings(settings, transport=transport)

        def as_caller(name: str, url: str) -> Any:
            return client(url, headers={"Authorization": f"Bearer {TOKEN}", "X-Parallel-Api-Key": keys[name]})

        async with serving(build_http_app(settings, build_server(settings, factory))) as running:
            with anyio.fail_after(60):
                async with as_caller("alpha", running.mcp_url) as alpha:
                    created = await alpha.call_tool("create_task_group", {})
                    gid = str((created.structured_content or {})["task_group_id"])
                    await alpha.call_tool("add_runs", {"task_group_id": gid, "inputs": ["a", "b"]})
                    await alpha.call_tool(
                        "wait_for_task_group", {"task_group_id": gid, "timeout_seconds": 20}
                    )
                    exported = await alpha.call_tool("export_task_group_results", {"task_group_id": gid})
                    assert not exported.is_error, exported.content
                    data = exported.structured_content or {}
                    own = await alpha.read_resource(str(data["uri"]))
                async with as_caller("beta", running.mcp_url) as beta:
                    with pytest.raises(MCPError) as other:
                        await beta.read_resource(str(data["uri"]))
                    missing_uri = str(data["uri"]).replace(gid, "tgrp_nothing")
                    with pytest.raises(MCPError) as missing:
                        await beta.read_resource(missing_uri)
        sandbox.close()
    path = Path(str(data["path"]))
    assert path.parent.parent == tmp_path / "exports" / "tenants"
    assert keys["alpha"] not in str(path)
    assert "a" in own.contents[0].text  # type: ignore[union-attr]
    assert str(other.value).replace(gid, "tgrp_nothing") == str(missing.value)
