"""Forwarding policy and secret canaries, end to end through the MCP client and the sandbox."""

from __future__ import annotations

import json
import logging
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from pydantic import SecretStr

from taskgroup_mcp.client import ParallelClient
from taskgroup_mcp.commands._wiring import SANDBOX_BASE_URL
from taskgroup_mcp.config import NamedMcpServer, Settings
from taskgroup_mcp.sandbox import Sandbox, SandboxConfig
from taskgroup_mcp.tools import build_server

pytestmark = pytest.mark.anyio

HEADER_CANARY = "CANARY-hdr-0b1c2d3e4f5a"
ENV_CANARY = "CANARY-env-9a8b7c6d5e4f"
KEY_CANARY = "CANARY-key-1f2e3d4c5b6a"


def _texts(result: Any) -> str:
    parts = [getattr(c, "text", "") or str(getattr(c, "uri", "")) for c in result.content]
    return "\n".join(parts) + json.dumps(result.structured_content or {})


@pytest.mark.parametrize(
    "server",
    [
        {"url": "http://mcp.example.com/mcp"},
        {"url": "https://10.0.0.7/mcp"},
        {"url": "https://169.254.169.254/latest"},
        {"url": "https://[::1]:8443/mcp"},
        {"url": "https://0x7f000001/mcp"},
        {"url": "https://user:secret@mcp.example.com/mcp"},
    ],
)
async def test_a_rejected_mcp_url_is_an_error_naming_the_field_and_no_run_is_created(
    tmp_path: Path, server: dict[str, Any]
) -> None:
    # The real API's policy (not the sandbox's loopback allowance) with the sandbox behind it.
    settings = Settings.from_env({}, parallel_api_key="k-123456", export_dir=tmp_path)
    sandbox = Sandbox(SandboxConfig(speed=2000.0))
    async with sandbox:
        factory = lambda: ParallelClient.from_settings(  # noqa: E731
            settings.model_copy(update={"parallel_base_url": SANDBOX_BASE_URL}), transport=sandbox.transport
        )
        async with Client(build_server(settings, factory)) as client:
            gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]  # type: ignore[index]
            for args in (
                {"task_group_id": gid, "inputs": ["q"], "mcp_servers": [server]},
                {"task_group_id": gid, "inputs": ["q", "r"], "runs": [{"index": 1, "mcp_servers": [server]}]},
            ):
                result = await client.call_tool("add_runs", args)
                assert result.is_error
                text = result.content[0].text  # type: ignore[union-attr]
                assert "mcp_servers[0].url" in text
                assert "secret" not in text.replace("secrets", "")
            too_many = [{"url": f"https://m{i}.example.com/mcp"} for i in range(11)]
            result = await client.call_tool(
                "add_runs", {"task_group_id": gid, "inputs": ["q"], "mcp_servers": too_many}
            )
            assert result.is_error and "mcp_servers:" in result.content[0].text  # type: ignore[union-attr]
    assert sandbox.store.counts()[1] == 0
    sandbox.close()


async def test_canary_header_values_and_api_key_appear_in_no_result_log_or_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TGMCP_TEST_TOKEN", ENV_CANARY)
    # The ${ENV} reference lives in a server the operator configured (agents may only name it).
    configured = NamedMcpServer(
        url="http://127.0.0.1:9/mcp", headers={"X-Key": SecretStr("${TGMCP_TEST_TOKEN}")}
    )
    settings = Settings.from_env(
        {},
        parallel_api_key=KEY_CANARY,
        export_dir=tmp_path,
        allow_http_mcp_urls=True,
        allow_private_mcp_urls=True,
        mcp_servers={"env": configured},
    )
    sandbox = Sandbox(SandboxConfig(speed=2000.0))
    seen: list[str] = []
    caplog.set_level(logging.DEBUG)
    async with sandbox:

        def factory() -> ParallelClient:
            return ParallelClient.from_settings(
                settings.model_copy(update={"parallel_base_url": SANDBOX_BASE_URL}),
                transport=sandbox.transport,
            )

        async with Client(build_server(settings, factory)) as client:
            servers = [
                {
                    "url": "http://127.0.0.1:9/mcp",
                    "name": "lit",
                    "headers": {"Authorization": f"Bearer {HEADER_CANARY}"},
                },
                "env",
            ]
            fan = await client.call_tool(
                "fan_out",
                {"inputs": ["a", "b"], "output": "one line", "mcp_servers": servers, "wait_seconds": 20},
            )
            seen.append(_texts(fan))
            gid = fan.structured_content["task_group_id"]  # type: ignore[index]
            page = await client.call_tool(
                "get_task_group_results",
                {"task_group_id": gid, "include_input": True, "include_basis": "all"},
            )
            seen.append(_texts(page))
            run_id = page.structured_content["items"][0]["run_id"]  # type: ignore[index]
            seen.append(
                _texts(await client.call_tool("get_task_run", {"run_id": run_id, "include_tool_calls": True}))
            )
            export = await client.call_tool(
                "export_task_group_results", {"task_group_id": gid, "format": "csv"}
            )
            seen.append(_texts(export))
            seen.append(await anyio.Path(export.structured_content["path"]).read_text())  # type: ignore[index]
            # Wrongly typed and invalid arguments carrying the canary.
            for args in (
                {
                    "task_group_id": gid,
                    "inputs": ["x"],
                    "mcp_servers": [{"url": HEADER_CANARY, "headers": {"A": HEADER_CANARY}}],
                },
                {
                    "task_group_id": gid,
                    "inputs": ["x"],
                    "mcp_servers": [{"url": "https://x.example.com", "headers": {"A": [HEADER_CANARY]}}],
                },
                {
                    "task_group_id": gid,
                    "inputs": ["x"],
                    "mcp_servers": [
                        {
                            "url": "https://x.example.com",
                            "headers": {"A": HEADER_CANARY},
                            "bogus": HEADER_CANARY,
                        }
                    ],
                },
                {"task_group_id": HEADER_CANARY, "inputs": 7, "mcp_servers": {"headers": HEADER_CANARY}},
            ):
                result = await client.call_tool("add_runs", args)
                assert result.is_error
                seen.append(_texts(result))
        # A 401 from the API: the key must not be in the error either.
        sandbox_strict = Sandbox(SandboxConfig(speed=2000.0, api_key="the-right-key-000"))
        async with sandbox_strict:

            def strict_factory() -> ParallelClient:
                return ParallelClient.from_settings(
                    settings.model_copy(update={"parallel_base_url": SANDBOX_BASE_URL}),
                    transport=sandbox_strict.transport,
                )

            async with Client(build_server(settings, strict_factory)) as client:
                denied = await client.call_tool("create_task_group", {})
                assert denied.is_error and "401" in denied.content[0].text  # type: ignore[union-attr]
                seen.append(_texts(denied))
        sandbox_strict.close()
    sandbox.close()
    everything = "\n".join(seen) + "\n" + caplog.text + "\n".join(repr(r.__dict__) for r in caplog.records)
    for canary in (HEADER_CANARY, ENV_CANARY, KEY_CANARY):
        for i in range(len(canary) - 8):
            assert canary[i : i + 9] not in everything, f"part of {canary[:10]}... leaked"
    assert SecretStr(KEY_CANARY).get_secret_value() == KEY_CANARY  # the canary really was in play


AGENT_ENV_CANARY = "CANARY-agentenv-7c1d9e2f"
PUBLIC_ADDRESS = "93.184.215.14"


async def test_an_agent_written_env_reference_is_refused_on_every_path_the_same_whether_set_or_not(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller must not be able to send the server's environment anywhere."""
    monkeypatch.setenv("TGMCP_AGENT_SET", AGENT_ENV_CANARY)
    monkeypatch.delenv("TGMCP_AGENT_UNSET", raising=False)

    def servers(name: str) -> list[dict[str, Any]]:
        return [{"url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": f"Bearer ${{{name}}}"}}]

    async with sandbox(fail_rate=1.0) as (client, backend, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        await client.call_tool("add_runs", {"task_group_id": gid, "inputs": ["a"]})
        with anyio.fail_after(30):
            while (await client.call_tool("wait_for_task_group", {"task_group_id": gid})).structured_content[
                "status"
            ]["active"]:
                pass
        before = backend.sandbox.store.counts()
        answers: dict[str, set[str]] = {}
        for name in ("TGMCP_AGENT_SET", "TGMCP_AGENT_UNSET"):
            calls: list[tuple[str, dict[str, Any], str]] = [
                (
                    "add_runs",
                    {"task_group_id": gid, "inputs": ["q"], "mcp_servers": servers(name)},
                    "mcp_servers",
                ),
                (
                    "add_runs",
                    {"task_group_id": gid, "inputs": ["q"], "mcp_servers": servers(name), "dry_run": True},
                    "mcp_servers",
                ),
                (
                    "add_runs",
                    {
                        "task_group_id": gid,
                        "inputs": ["q", "r"],
                        "runs": [{"index": 1, "mcp_servers": servers(name)}],
                    },
                    "runs[0].mcp_servers",
                ),
                (
                    "fan_out",
                    {"inputs": ["q"], "mcp_servers": servers(name), "wait_seconds": 0},
                    "mcp_servers",
                ),
                ("retry_failed_runs", {"task_group_id": gid, "mcp_servers": servers(name)}, "mcp_servers"),
            ]
            for tool, args, where in calls:
                result = await client.call_tool(tool, args)
                assert result.is_error, tool
                text = result.content[0].text  # type: ignore[union-attr]
                assert f"{where}[0].headers.Authorization" in text and "TASKGROUP_MCP_MCP_SERVERS" in text
                assert AGENT_ENV_CANARY[:9] not in text and name not in text
                answers.setdefault(f"{tool} {where} {args.get('dry_run')}", set()).add(text)
        assert all(len(texts) == 1 for texts in answers.values()), answers
        assert backend.sandbox.store.counts() == before, "a refused call created a group or a run"


@asynccontextmanager
async def _api_server(tmp_path: Path, **overrides: Any) -> AsyncIterator[tuple[Client, Sandbox]]:
    """A server with the real API's policy and an operator key canary, on an in-process sandbox."""
    values: dict[str, Any] = {
        "parallel_api_key": KEY_CANARY,
        "export_dir": tmp_path,
        "spend_limit_usd": 1000.0,
    }
    settings = Settings.from_env({}, **{**values, **overrides})
    sandbox = Sandbox(SandboxConfig(speed=2000.0))
    async with sandbox:
        wired = settings.model_copy(update={"parallel_base_url": SANDBOX_BASE_URL})
        server = build_server(
            settings,
            lambda: ParallelClient.from_settings(wired, transport=sandbox.transport),
            resolver=lambda host, timeout: [PUBLIC_ADDRESS],  # every name public; no DNS in tests
        )
        async with Client(server) as client:
            yield client, sandbox
    sandbox.close()


async def _finished_group(client: Client, inputs: list[str]) -> str:
    gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]  # type: ignore[index]
    await client.call_tool("add_runs", {"task_group_id": gid, "inputs": inputs})
    with anyio.fail_after(30):
        while (await client.call_tool("wait_for_task_group", {"task_group_id": gid})).structured_content[  # type: ignore[index]
            "status"
        ]["active"]:
            pass
    return gid


async def test_one_callers_header_values_never_change_what_a_later_call_sees(tmp_path: Path) -> None:
    """Once, a dry_run whose header values were "completed" and a group id made every
    later result show "status": "[REDACTED]" for every caller."""
    async with _api_server(tmp_path) as (client, _):
        gid = await _finished_group(client, ["a"])
        poison = [
            {
                "url": "https://mcp.example.com/mcp",
                "headers": {"X-A": "completed", "X-B": gid, "X-C": "task_group_id"},
            }
        ]
        dry = await client.call_tool(
            "add_runs", {"task_group_id": gid, "inputs": ["q"], "mcp_servers": poison, "dry_run": True}
        )
        assert not dry.is_error
        status = await client.call_tool("get_task_group_status", {"task_group_id": gid})
        data = status.structured_content or {}
        assert data["task_group_id"] == gid and data["counts"] == {"completed": 1}
        page = await client.call_tool("get_task_group_results", {"task_group_id": gid})
        assert [item["status"] for item in (page.structured_content or {})["items"]] == ["completed"]
        assert "[REDACTED]" not in _texts(status) + _texts(page)


async def test_throwaway_header_values_never_evict_the_api_key_from_redaction(tmp_path: Path) -> None:
    """Once, 2,000 throw-away header values evicted the real key, which then showed."""
    async with _api_server(tmp_path) as (client, _):
        gid = await _finished_group(client, [f"the key is {KEY_CANARY}"])
        for call in range(40):
            servers = [
                {
                    "url": f"https://m{s}.example.com/mcp",
                    "headers": {f"X-{h}": f"throwaway-{call}-{s}-{h}" for h in range(5)},
                }
                for s in range(10)
            ]
            result = await client.call_tool(
                "add_runs", {"task_group_id": gid, "inputs": ["q"], "mcp_servers": servers, "dry_run": True}
            )
            assert not result.is_error
        page = await client.call_tool("get_task_group_results", {"task_group_id": gid, "include_input": True})
        text = _texts(page)
        assert "the key is [REDACTED]" in text and KEY_CANARY[:10] not in text


async def test_a_huge_header_value_is_refused_at_once_naming_the_field_and_costs_no_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Once, one 1.5 MB header value blocked the event loop 20 s and grew RSS by
    700 MiB. Now it is refused before any other work; the bound here is loose on purpose."""
    huge = "h" * 1_500_000
    async with _api_server(tmp_path) as (client, sandbox):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]  # type: ignore[index]
        args = {
            "task_group_id": gid,
            "inputs": ["q"],
            "mcp_servers": [{"url": "https://mcp.example.com/mcp", "headers": {"Authorization": huge}}],
            "dry_run": True,
        }
        caplog.set_level(logging.INFO)  # log lines are redacted too: let them be written
        tracemalloc.start()
        try:
            with anyio.fail_after(10):
                result = await client.call_tool("add_runs", args)
                await client.call_tool("get_task_group_status", {"task_group_id": gid})
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        text = result.content[0].text  # type: ignore[union-attr]
        assert result.is_error and "mcp_servers[0].headers.Authorization" in text and "8,192" in text
        assert "hhhhhhhh" not in text
        assert peak < 32 * 1024 * 1024, f"{peak / 2**20:.0f} MiB traced"
        assert sandbox.store.counts()[1] == 0


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"X-A\r\nX-Injected": "v"}, "mcp_servers[0].headers"),
        ({"X-A\nB": "v"}, "mcp_servers[0].headers"),
        ({"X A": "v"}, "mcp_servers[0].headers"),
        ({"X-A:": "v"}, "mcp_servers[0].headers"),
        ({"": "v"}, "mcp_servers[0].headers"),
        ({"X-\u00e9": "v"}, "mcp_servers[0].headers"),
        ({"X-A": "v\r\nX-Injected: 1"}, "mcp_servers[0].headers.X-A"),
        ({"X-A": "v\x00"}, "mcp_servers[0].headers.X-A"),
        ({"Content-Length": "5"}, "mcp_servers[0].headers.Content-Length"),
        ({f"X-{i}": "v" for i in range(17)}, "mcp_servers[0].headers"),
    ],
)
async def test_an_invalid_header_name_or_value_is_refused_naming_the_field(
    tmp_path: Path, headers: dict[str, str], field: str
) -> None:
    async with _api_server(tmp_path) as (client, sandbox):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]  # type: ignore[index]
        for args in (
            {
                "task_group_id": gid,
                "inputs": ["q"],
                "mcp_servers": [{"url": "https://m.example.com/mcp", "headers": headers}],
            },
            {
                "task_group_id": gid,
                "inputs": ["q"],
                "runs": [
                    {"index": 0, "mcp_servers": [{"url": "https://m.example.com/mcp", "headers": headers}]}
                ],
            },
        ):
            result = await client.call_tool("add_runs", args)
            text = result.content[0].text  # type: ignore[union-attr]
            prefix = "runs[0]." if "runs" in args else ""
            assert result.is_error and f"{prefix}{field}:" in text, text
            assert "Injected" not in text and "\r" not in text and "\n" not in text
        assert sandbox.store.counts()[1] == 0


async def test_more_header_values_in_one_call_than_the_bound_are_refused(tmp_path: Path) -> None:
    servers = [
        {
            "url": f"https://m{s}.example.com/mcp",
            "name": f"m{s}",
            "headers": {f"X-{h}": f"value-{s}-{h}" for h in range(7)},
        }
        for s in range(10)
    ]
    async with _api_server(tmp_path) as (client, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]  # type: ignore[index]
        result = await client.call_tool(
            "add_runs", {"task_group_id": gid, "inputs": ["q"], "mcp_servers": servers}
        )
        text = result.content[0].text  # type: ignore[union-attr]
        assert result.is_error and "mcp_servers:" in text and "64 distinct header values" in text
        assert "TASKGROUP_MCP_MCP_SERVERS" in text
