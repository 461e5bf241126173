"""Secret canary sweep across the product.

Canaries stand in for the Parallel API key, forwarded MCP header values (raw, and as ``${ENV}``
references of a server the operator configured, resolved on the server), an HTTP bearer token, and
an environment variable that an agent-written header names as ``${NAME}`` (refused: its value must
reach no output and not even the upstream). Every logger runs at DEBUG, the
upstream injects faults and echoes what it was sent (request bodies in a 422, headers in a 500),
and no 8-character piece of any canary, raw or JSON-, URL-, base64- (3 alignments) or
hex-encoded, may appear in stdout, stderr, logs, tool results, JSON-RPC errors, exported files
or HTTP responses. In process, over stdio (a subprocess) and over HTTP (a real uvicorn).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from adv_canary import CanaryScan, EchoingUpstream, all_loggers_at_debug, serving
from adv_harness import RawStdio, api_settings, everything_of, raw_stdio, stdio_env
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr

from taskgroup_mcp.client import ParallelClient
from taskgroup_mcp.commands._wiring import SANDBOX_BASE_URL
from taskgroup_mcp.commands.http import build_http_app, uvicorn_config
from taskgroup_mcp.sandbox import Faults, Sandbox, SandboxConfig
from taskgroup_mcp.sandbox._transport import StreamingASGITransport
from taskgroup_mcp.tools import build_server

pytestmark = pytest.mark.anyio

KEY = "CANARY-key-Q8v2Lm4Zt7Rw"
HEADER = "CANARY-hdr-N3x9Pk5Ws1Jd"
ENV_VALUE = "CANARY-env-H6c4Tf8Yb2Gn"
BEARER = "CANARY-brr-J5d7Xq1Vc9Ls"
AGENT_ENV_VALUE = "CANARY-agt-R4m8Vz2Kq6Hs"
ENV_NAME = "TGMCP_ADV_CANARY"
AGENT_ENV_NAME = "TGMCP_ADV_AGENT_CANARY"
"""Set on the server, and named by an agent-written header: the server must never resolve it."""
SCAN = CanaryScan(KEY, HEADER, ENV_VALUE, BEARER, AGENT_ENV_VALUE)
FAULTS = Faults(fail_before_commit=0.15, throttle=0.1, retry_after=0.05, drop_after_commit=0.1)
DEAD_MCP = "http://127.0.0.1:9/mcp"
"""A forwarded MCP server that refuses connections: the sandbox tries it with the canary headers."""


CONFIGURED = "envsrv"
CONFIGURED_JSON = json.dumps({CONFIGURED: {"url": DEAD_MCP, "headers": {"X-Env": f"${{{ENV_NAME}}}"}}})
"""The operator's configured server whose header is a ``${ENV}`` reference (TASKGROUP_MCP_MCP_SERVERS)."""


def forwarded(n: int = 0) -> list[dict[str, Any] | str]:
    return [
        {
            "url": DEAD_MCP,
            "name": f"dead{n}",
            "headers": {"Authorization": f"Bearer {HEADER}", "X-Raw": HEADER},
        },
        CONFIGURED,
    ]


def agent_reference() -> list[dict[str, Any]]:
    return [{"url": DEAD_MCP, "name": "agt", "headers": {"Authorization": f"Bearer ${{{AGENT_ENV_NAME}}}"}}]


def hostile_calls(gid: str) -> list[tuple[str, dict[str, Any]]]:
    """Calls carrying the canaries in every secret-bearing position, valid and invalid."""
    inputs = [f"Company {i}" for i in range(6)]
    return [
        ("add_runs", {"task_group_id": gid, "inputs": inputs, "mcp_servers": forwarded()}),
        ("add_runs", {"task_group_id": gid, "inputs": inputs, "mcp_servers": forwarded()}),
        ("add_runs", {"task_group_id": gid, "inputs": inputs, "mcp_servers": forwarded()}),
        (
            "add_runs",
            {"task_group_id": gid, "inputs": ["a", "b"], "runs": [{"index": 1, "mcp_servers": forwarded(1)}]},
        ),
        (
            "add_runs",
            {
                "task_group_id": gid,
                "inputs": ["x"],
                "mcp_servers": [{"url": DEAD_MCP, "headers": {"A": 12345, "B": HEADER}}],
            },
        ),
        (
            "add_runs",
            {
                "task_group_id": gid,
                "inputs": ["x"],
                "mcp_servers": [{"url": DEAD_MCP, "headers": {"A": HEADER * 200}}],
            },
        ),
        (
            "add_runs",
            {"task_group_id": gid, "inputs": ["x"], "mcp_servers": [{"url": DEAD_MCP, "headers": [HEADER]}]},
        ),
        (
            "add_runs",
            {
                "task_group_id": gid,
                "inputs": ["x"],
                "mcp_servers": [{"url": f"https://u:{HEADER}@mcp.example.com/"}],
            },
        ),
        (
            "add_runs",
            {
                "task_group_id": gid,
                "inputs": ["x"],
                "mcp_servers": [{"url": DEAD_MCP, "headers": {"A": HEADER}, "extra": HEADER}],
            },
        ),
        (
            "add_runs",
            {
                "task_group_id": gid,
                "inputs": ["x"],
                "mcp_servers": [{"url": DEAD_MCP, "headers": {"A": HEADER}}] * 11,
            },
        ),
        ("add_runs", {"task_group_id": gid, "inputs": ["z"], "mcp_servers": agent_reference()}),
        (
            "add_runs",
            {
                "task_group_id": gid,
                "inputs": ["z", "w"],
                "runs": [{"index": 0, "mcp_servers": agent_reference()}],
            },
        ),
        ("fan_out", {"inputs": ["y"], "mcp_servers": agent_reference(), "wait_seconds": 0}),
        ("fan_out", {"inputs": ["y"], "mcp_servers": forwarded(), "wait_seconds": 1}),
        ("fan_out", {"inputs": ["y"], "mcp_servers": [{"url": 5, "headers": {"A": HEADER}}]}),
        ("get_task_group_status", {"task_group_id": gid}),
        ("wait_for_task_group", {"task_group_id": gid, "timeout_seconds": 5}),
        ("get_task_group_results", {"task_group_id": gid, "include_input": True, "include_basis": "all"}),
        ("export_task_group_results", {"task_group_id": gid, "format": "jsonl", "include_basis": "all"}),
        ("export_task_group_results", {"task_group_id": gid, "format": "csv"}),
        ("retry_failed_runs", {"task_group_id": gid}),
        ("retry_failed_runs", {"task_group_id": gid, "mcp_servers": agent_reference()}),
    ]


async def drive(call: Callable[[str, dict[str, Any]], Awaitable[Any]], texts: list[tuple[str, str]]) -> None:
    """Every hostile call, then every run in full; results and protocol errors go to ``texts``."""
    created = await call("create_task_group", {})
    texts.append(("create", everything_of(created)))
    gid = created.structured_content["task_group_id"]
    for tool, args in hostile_calls(gid):
        try:
            result = await call(tool, args)
        except Exception as exc:  # a JSON-RPC error: its text is an output channel too
            texts.append((f"{tool} error", f"{type(exc).__name__}: {exc}"))
            continue
        texts.append((tool, everything_of(result)))
        data = result.structured_content or {}
        if tool == "export_task_group_results" and "path" in data:
            texts.append(("export file", await anyio.Path(data["path"]).read_text(encoding="utf-8")))
        for item in data.get("items", []):
            run = await call("get_task_run", {"run_id": item["run_id"], "include_tool_calls": True})
            texts.append(("get_task_run", everything_of(run)))


def upstream_never_saw(upstream: EchoingUpstream, canary: str) -> bool:
    return not any(
        canary in json.dumps(headers) or canary.encode() in body for _, headers, body in upstream.requests
    )


def assert_no_canary(texts: list[tuple[str, str | bytes]]) -> None:
    leaks = [leak for where, text in texts for leak in SCAN.leaks(where, text)]
    assert not leaks, "\n".join(leaks[:10])


async def test_no_piece_of_any_canary_leaks_in_process_with_every_logger_at_debug_and_an_echoing_upstream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_NAME, ENV_VALUE)
    monkeypatch.setenv(AGENT_ENV_NAME, AGENT_ENV_VALUE)
    settings = api_settings(
        tmp_path,
        parallel_api_key=KEY,
        allow_http_mcp_urls=True,
        allow_private_mcp_urls=True,
        settle_seconds=0.05,
        mcp_servers=json.loads(CONFIGURED_JSON),
    )
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=11, faults=FAULTS))
    upstream = EchoingUpstream(sandbox.app)
    wired = settings.model_copy(update={"parallel_base_url": SANDBOX_BASE_URL})
    texts: list[tuple[str, str | bytes]] = []
    with all_loggers_at_debug() as logs:
        async with sandbox:
            server = build_server(
                settings,
                lambda: ParallelClient.from_settings(wired, transport=StreamingASGITransport(upstream)),
            )
            for mode in ("auto", "legacy"):
                async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
                    found: list[tuple[str, str]] = []
                    with anyio.fail_after(120):
                        await drive(client.call_tool, found)
                    texts += found
        sandbox.close()
    texts += [("log", line) for line in logs.lines]
    assert upstream.posts >= 3, "the echoing upstream saw the run-creating requests"
    sent = [body for _, _, body in upstream.requests]
    assert any(HEADER.encode() in body for body in sent), "the raw header value reached the upstream"
    assert any(ENV_VALUE.encode() in body for body in sent), "the ${ENV} reference was resolved on the server"
    assert upstream_never_saw(upstream, AGENT_ENV_VALUE), "an agent-written ${NAME} was resolved"
    assert any(h.get("x-api-key") == KEY for _, h, _ in upstream.requests)
    assert any("422" in text for _, text in texts), "an echoing 422 reached a tool"
    assert_no_canary(texts)


async def stdio_session(raw: RawStdio) -> None:
    await raw.initialize()
    n = 100

    async def call(tool: str, args: dict[str, Any]) -> Any:
        nonlocal n
        n += 1
        answer = await raw.request(n, "tools/call", {"name": tool, "arguments": args})
        if "error" in answer:
            raise RuntimeError(json.dumps(answer["error"]))

        class Result:
            structured_content = answer["result"].get("structuredContent")
            content = [
                type("T", (), {"text": c.get("text", "")})() for c in answer["result"].get("content", [])
            ]

        return Result()

    await drive(call, [])
    await raw.send_raw(
        b'{"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "add_runs", "arguments": {"task_group_id": "'
        + HEADER.encode()
        + b'"}}\n'
    )
    await raw.send_raw(b"{" + KEY.encode() + b"\n")
    await raw.request(6, "ping")


async def test_no_piece_of_any_canary_leaks_from_the_stdio_server_process_at_debug(tmp_path: Path) -> None:
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=12, faults=FAULTS))
    upstream = EchoingUpstream(sandbox.app)
    async with sandbox, serving(upstream) as base:
        env = stdio_env(
            tmp_path,
            PARALLEL_API_KEY=KEY,
            PARALLEL_BASE_URL=base,
            TASKGROUP_MCP_ALLOW_HTTP_MCP_URLS="1",
            TASKGROUP_MCP_ALLOW_PRIVATE_MCP_URLS="1",
            TASKGROUP_MCP_SETTLE_SECONDS="0.05",
            TASKGROUP_MCP_SPEND_LIMIT_USD="1000",
            TASKGROUP_MCP_MCP_SERVERS=CONFIGURED_JSON,
            **{ENV_NAME: ENV_VALUE, AGENT_ENV_NAME: AGENT_ENV_VALUE},
        )
        async with raw_stdio(tmp_path, env, sandbox_flag=False) as raw:
            with anyio.fail_after(180):
                await stdio_session(raw)
    sandbox.close()
    assert any(h.get("x-api-key") == KEY for _, h, _ in upstream.requests), "the key went on the wire"
    assert upstream.posts >= 3
    assert not upstream_never_saw(upstream, ENV_VALUE), "the configured ${ENV} reference was resolved"
    assert upstream_never_saw(upstream, AGENT_ENV_VALUE), "an agent-written ${NAME} was resolved"
    stderr = bytes(raw.stderr)
    assert b" DEBUG " in stderr
    assert_no_canary([("stdout", line) for line in raw.stdout_lines] + [("stderr", stderr)])


async def test_no_piece_of_the_bearer_token_or_other_canaries_leaks_over_http_or_reaches_the_upstream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_NAME, ENV_VALUE)
    monkeypatch.setenv(AGENT_ENV_NAME, AGENT_ENV_VALUE)
    settings = api_settings(
        tmp_path,
        parallel_api_key=KEY,
        allow_http_mcp_urls=True,
        allow_private_mcp_urls=True,
        settle_seconds=0.05,
        mcp_servers=json.loads(CONFIGURED_JSON),
        auth_tokens=[SecretStr(BEARER)],
        port=0,
    )
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=13, faults=FAULTS))
    upstream = EchoingUpstream(sandbox.app)
    wired = settings.model_copy(update={"parallel_base_url": SANDBOX_BASE_URL})
    server = build_server(
        settings, lambda: ParallelClient.from_settings(wired, transport=StreamingASGITransport(upstream))
    )
    texts: list[tuple[str, str | bytes]] = []
    with all_loggers_at_debug() as logs:
        app = build_http_app(settings, server)
        async with sandbox, serving(app, uvicorn_config(app, settings)) as base:
            url = f"{base}/mcp"
            with anyio.fail_after(180):
                async with httpx2.AsyncClient(
                    headers={"Authorization": f"Bearer {BEARER}"}, timeout=60
                ) as http:
                    for mode in ("auto", "legacy"):
                        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:  # type: ignore[arg-type]
                            found: list[tuple[str, str]] = []
                            await drive(client.call_tool, found)
                            texts += found
                async with httpx2.AsyncClient(timeout=30) as http:
                    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
                    headers = {
                        "Accept": "application/json, text/event-stream",
                        "Content-Type": "application/json",
                    }
                    probes = [
                        {"Authorization": f"Bearer {BEARER[:-1]}x"},
                        {"Authorization": f"Bearer x{BEARER}"},
                        {"Authorization": f"Basic {BEARER}"},
                        {"Authorization": BEARER},
                        {"Authorization": f"Bearer {BEARER}", "Origin": f"https://{BEARER.lower()}.example"},
                        {"Authorization": f"Bearer {BEARER}", "Host": f"{BEARER.lower()}.example"},
                        {"Authorization": f"Bearer {BEARER}", "MCP-Protocol-Version": BEARER},
                        {"Authorization": f"Bearer {BEARER}", "X-Parallel-Api-Key": BEARER},
                    ]
                    for extra in probes:
                        response = await http.post(url, json=body, headers={**headers, **extra})
                        texts.append(
                            (
                                f"http {response.status_code}",
                                response.text + json.dumps(dict(response.headers)),
                            )
                        )
                    for query in (f"?access_token={BEARER}", f"?token={BEARER[:12]}"):
                        response = await http.post(url + query, json=body, headers=headers)
                        texts.append(
                            (
                                f"http query {response.status_code}",
                                response.text + json.dumps(dict(response.headers)),
                            )
                        )
                    response = await http.post(
                        url,
                        content=b"{" + BEARER.encode(),
                        headers={**headers, "Authorization": f"Bearer {BEARER}"},
                    )
                    texts.append(
                        (
                            f"http bad json {response.status_code}",
                            response.text + json.dumps(dict(response.headers)),
                        )
                    )
    sandbox.close()
    # The test's own HTTP client logs its requests (query tokens included) through the same
    # httpx2 logger; those lines are the client's, not the server's.
    # The SDK's MCP client logs every message it sends (mcp.client.*): also the client's, not the
    # server's. (A server-side log line must not carry them: they are masked there.)
    client_side = f"HTTP Request: POST {base}/mcp"
    texts += [
        ("log", line)
        for line in logs.lines
        if client_side not in line and not line.split(" ", 2)[1].startswith("mcp.client.")
    ]
    assert_no_canary(texts)
    passthrough = [
        path
        for path, headers, body in upstream.requests
        if BEARER in json.dumps(headers) or BEARER.encode() in body
    ]
    assert not passthrough, f"the MCP client's bearer token reached the upstream: {passthrough[:3]}"
    assert upstream_never_saw(upstream, AGENT_ENV_VALUE), "an agent-written ${NAME} was resolved"


ALPHA_KEY = "CANARY-tka-B7n3Wq9Lx5Pe"
BETA_KEY = "CANARY-tkb-F2h8Jm4Rc6Ty"
EXPORTED = "CANARY-exp-K9s1Dv7Gb3Nu"
"""A value in tenant alpha's export: tenant beta must not see any piece of it."""
TENANT_SCAN = CanaryScan(ALPHA_KEY, BETA_KEY, HEADER, ENV_VALUE, BEARER, AGENT_ENV_VALUE)


async def alpha_export(call: Callable[[str, dict[str, Any]], Awaitable[Any]]) -> str:
    """A group of alpha's whose export holds :data:`EXPORTED`; its resource URI."""
    gid = (await call("create_task_group", {})).structured_content["task_group_id"]
    for _ in range(8):  # the echoing upstream refuses some POSTs; repeating adds nothing twice
        added = (
            await call("add_runs", {"task_group_id": gid, "inputs": [f"Company {EXPORTED}"]})
        ).structured_content
        if added and added.get("added", 0) + added.get("already_present", 0) == 1:
            break
    for _ in range(20):
        waited = (
            await call("wait_for_task_group", {"task_group_id": gid, "timeout_seconds": 5})
        ).structured_content
        if waited and not waited["status"]["active"]:
            break
    for _ in range(8):  # reads may meet the upstream's injected 500s
        exported = await call("export_task_group_results", {"task_group_id": gid, "format": "jsonl"})
        if not exported.is_error:
            data = exported.structured_content
            assert EXPORTED in await anyio.Path(data["path"]).read_text(encoding="utf-8")
            return str(data["uri"])
    raise AssertionError("alpha's export never succeeded")


async def test_with_per_request_keys_no_tenant_key_leaks_and_no_tenant_reads_anothers_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per-request-key mode over HTTP: each tenant's key (the upstream echoes it in its errors)
    reaches no output, not even the tenant's own; tenant beta gets no piece of alpha's export."""
    monkeypatch.setenv(ENV_NAME, ENV_VALUE)
    monkeypatch.setenv(AGENT_ENV_NAME, AGENT_ENV_VALUE)
    settings = api_settings(
        tmp_path,
        parallel_api_key=None,
        per_request_api_key=True,
        allow_http_mcp_urls=True,
        allow_private_mcp_urls=True,
        settle_seconds=0.05,
        mcp_servers=json.loads(CONFIGURED_JSON),
        auth_tokens=[SecretStr(BEARER)],
        port=0,
    )
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=14, faults=FAULTS))
    upstream = EchoingUpstream(sandbox.app)
    wired = settings.model_copy(update={"parallel_base_url": SANDBOX_BASE_URL})
    server = build_server(
        settings, lambda: ParallelClient.from_settings(wired, transport=StreamingASGITransport(upstream))
    )
    texts: list[tuple[str, str | bytes]] = []
    beta_texts: list[tuple[str, str | bytes]] = []
    with all_loggers_at_debug() as logs:
        app = build_http_app(settings, server)
        async with sandbox, serving(app, uvicorn_config(app, settings)) as base:
            url = f"{base}/mcp"
            with anyio.fail_after(240):
                for name, key, found in (("alpha", ALPHA_KEY, texts), ("beta", BETA_KEY, beta_texts)):
                    headers = {"Authorization": f"Bearer {BEARER}", "X-Parallel-Api-Key": key}
                    async with (
                        httpx2.AsyncClient(headers=headers, timeout=60) as http,
                        Client(streamable_http_client(url, http_client=http)) as client,
                    ):
                        calls: list[tuple[str, str]] = []
                        await drive(client.call_tool, calls)
                        found += [(f"{name} {where}", text) for where, text in calls]
                        if name == "alpha":
                            uri = await alpha_export(client.call_tool)
                            continue
                        try:
                            other = await client.read_resource(uri)
                            found.append(
                                ("beta reads alpha's export", json.dumps(other.model_dump(mode="json")))
                            )
                        except MCPError as exc:
                            found.append(("beta reads alpha's export", f"{type(exc).__name__}: {exc}"))
                        listed = await client.list_resources()
                        found.append(("beta lists resources", json.dumps(listed.model_dump(mode="json"))))
    sandbox.close()
    client_side = f"HTTP Request: POST {base}/mcp"
    logs_text = [
        ("log", line)
        for line in logs.lines
        if client_side not in line and not line.split(" ", 2)[1].startswith("mcp.client.")
    ]
    leaks = [
        leak for where, text in [*texts, *beta_texts, *logs_text] for leak in TENANT_SCAN.leaks(where, text)
    ]
    leaks += [leak for where, text in beta_texts for leak in CanaryScan(EXPORTED).leaks(where, text)]
    assert not leaks, "\n".join(leaks[:10])
    for key in (ALPHA_KEY, BETA_KEY):
        assert any(h.get("x-api-key") == key for _, h, _ in upstream.requests), "each key went on the wire"
    assert upstream.posts >= 3 and upstream.gets >= 5, "the upstream echoed requests and keys in its errors"
    assert any("reads alpha's export" in where and "MCPError" in str(text) for where, text in beta_texts)
    assert upstream_never_saw(upstream, AGENT_ENV_VALUE), "an agent-written ${NAME} was resolved"
