"""The streamable-HTTP app over a real uvicorn on 127.0.0.1, with a toy MCPServer behind it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from deploy_harness import INITIALIZE, MCP_HEADERS, OTHER_TOKEN, TOKEN, client, serving, toy_server
from pydantic import SecretStr

from taskgroup_mcp.commands.http import HttpSetupError, build_http_app, http_settings
from taskgroup_mcp.config import Settings

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"auth_tokens": [SecretStr(TOKEN)], "port": 0}
    base.update(overrides)
    return Settings(**base)


def auth(token: str = TOKEN) -> dict[str, str]:
    return {**MCP_HEADERS, "Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("mode", MODES)
async def test_tools_answer_over_http_in_both_protocol_eras(mode: str) -> None:
    toy = toy_server()
    async with serving(build_http_app(settings(), toy.server)) as running:
        with anyio.fail_after(20):
            async with client(running.mcp_url, mode=mode) as c:
                tools = {t.name for t in (await c.list_tools()).tools}
                result = await c.call_tool("echo", {"text": "hello"})
    assert {"echo", "count"} <= tools
    assert not result.is_error
    assert result.structured_content == {"result": "hello"}


@pytest.mark.parametrize("mode", MODES)
async def test_progress_notifications_arrive_over_http(mode: str) -> None:
    toy = toy_server()
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with serving(build_http_app(settings(), toy.server)) as running:
        with anyio.fail_after(20):
            async with client(running.mcp_url, mode=mode) as c:
                result = await c.call_tool("count", {"steps": 3}, progress_callback=on_progress)
    assert result.structured_content == {"result": 3}
    assert [p for p, _, _ in seen] == [1, 2, 3]
    assert seen[-1][1] == 3


async def test_a_foreign_origin_is_refused_with_403_even_with_a_valid_token() -> None:
    toy = toy_server()
    async with serving(build_http_app(settings(), toy.server)) as running, httpx2.AsyncClient() as http:
        with anyio.fail_after(10):
            foreign = await http.post(
                running.mcp_url, json=INITIALIZE, headers={**auth(), "Origin": "https://evil.example"}
            )
            allowed = await http.post(
                running.mcp_url, json=INITIALIZE, headers={**auth(), "Origin": "http://localhost:3000"}
            )
    assert foreign.status_code == 403
    assert allowed.status_code == 200


async def test_configured_origins_replace_the_loopback_defaults() -> None:
    toy = toy_server()
    app = build_http_app(settings(allowed_origins=["https://app.example.com"]), toy.server)
    async with serving(app) as running, httpx2.AsyncClient() as http:
        with anyio.fail_after(10):
            good = await http.post(
                running.mcp_url, json=INITIALIZE, headers={**auth(), "Origin": "https://app.example.com"}
            )
            local = await http.post(
                running.mcp_url, json=INITIALIZE, headers={**auth(), "Origin": "http://localhost:3000"}
            )
    assert good.status_code == 200
    assert local.status_code == 403


async def test_a_foreign_host_is_refused_and_a_configured_one_accepted() -> None:
    toy = toy_server()
    app = build_http_app(settings(allowed_hosts=["mcp.example.com"]), toy.server)
    async with serving(app) as running, httpx2.AsyncClient() as http:
        with anyio.fail_after(10):
            foreign = await http.post(
                running.mcp_url, json=INITIALIZE, headers={**auth(), "Host": "evil.example"}
            )
            named = await http.post(
                running.mcp_url, json=INITIALIZE, headers={**auth(), "Host": "mcp.example.com"}
            )
    assert 400 <= foreign.status_code < 500
    assert named.status_code == 200
    assert toy.calls == []


@pytest.mark.parametrize("token", [None, "wrong-token-0123456789abcdef"])
async def test_a_missing_or_wrong_token_gets_a_plain_bearer_401_that_sends_no_client_into_oauth(
    token: str | None,
) -> None:
    """Static tokens involve no OAuth server: a challenge naming RFC 9728 metadata made Claude Code
    start OAuth discovery and Dynamic Client Registration, which ended in a 404."""
    toy = toy_server()
    headers = auth(token) if token else dict(MCP_HEADERS)
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "x"}},
    }
    async with serving(build_http_app(settings(), toy.server)) as running, httpx2.AsyncClient() as http:
        with anyio.fail_after(10):
            refused = await http.post(running.mcp_url, json=call, headers=headers)
            discovery = [
                await http.get(running.base + path)
                for path in (
                    "/.well-known/oauth-protected-resource/mcp",
                    "/.well-known/oauth-protected-resource",
                    "/.well-known/oauth-authorization-server",
                )
            ]
    challenge = refused.headers["www-authenticate"]
    assert refused.status_code == 401
    assert challenge.startswith('Bearer realm="taskgroup-mcp"') and 'error="invalid_token"' in challenge
    assert "resource_metadata" not in challenge
    assert "Authorization: Bearer" in refused.json()["error_description"]
    assert [r.status_code for r in discovery] == [404, 404, 404]
    assert toy.calls == [], "nothing ran for an unauthenticated request"


async def test_every_configured_token_is_accepted_and_names_its_own_principal(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(f"# rotated weekly\n\n{OTHER_TOKEN}\n", encoding="utf-8")
    toy = toy_server()
    app = build_http_app(settings(auth_tokens_file=tokens_file), toy.server)
    async with serving(app) as running, httpx2.AsyncClient() as http:
        with anyio.fail_after(10):
            from_settings = await http.post(running.mcp_url, json=INITIALIZE, headers=auth(TOKEN))
            from_file = await http.post(running.mcp_url, json=INITIALIZE, headers=auth(OTHER_TOKEN))
            tokens_file.write_text("rotated-token-0123456789abcdef\n", encoding="utf-8")
            after_rotation = await http.post(running.mcp_url, json=INITIALIZE, headers=auth(OTHER_TOKEN))
            rotated = await http.post(
                running.mcp_url, json=INITIALIZE, headers=auth("rotated-token-0123456789abcdef")
            )
    assert (from_settings.status_code, from_file.status_code) == (200, 200)
    assert after_rotation.status_code == 401
    assert rotated.status_code == 200


async def test_a_body_over_the_limit_gets_413_before_it_is_read_or_authenticated() -> None:
    toy = toy_server()
    app = build_http_app(settings(max_request_body_bytes=1024), toy.server)
    big = json.dumps({**INITIALIZE, "params": {**INITIALIZE["params"], "pad": "x" * 4096}}).encode()

    async def chunks() -> Any:
        for start in range(0, len(big), 512):
            yield big[start : start + 512]

    async with serving(app) as running, httpx2.AsyncClient() as http:
        with anyio.fail_after(10):
            declared = await http.post(running.mcp_url, content=big, headers=dict(MCP_HEADERS))
            streamed = await http.post(running.mcp_url, content=chunks(), headers=auth())
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert toy.calls == []


async def test_healthz_answers_while_readyz_follows_the_upstream_check() -> None:
    toy = toy_server()
    upstream = {"ok": True}

    async def ready() -> bool:
        if upstream["ok"] is None:
            raise ConnectionError("upstream down")
        return bool(upstream["ok"])

    app = build_http_app(settings(), toy.server, ready_check=ready)
    async with serving(app) as running, httpx2.AsyncClient(base_url=running.base) as http:
        with anyio.fail_after(10):
            ready_up = await http.get("/readyz")
            upstream["ok"] = False
            ready_down = await http.get("/readyz")
            upstream["ok"] = None
            ready_raising = await http.get("/readyz")
            health = await http.get("/healthz", headers={"Host": "10.1.2.3:8000"})
    assert ready_up.status_code == 200
    assert ready_down.status_code == 503
    assert ready_raising.status_code == 503
    assert health.status_code == 200, "probes come with the pod IP as Host and carry no token"


def test_a_non_loopback_bind_without_auth_is_refused_at_build_time() -> None:
    toy = toy_server()
    with pytest.raises(HttpSetupError, match=r"refusing to serve HTTP on 0\.0\.0\.0 without authentication"):
        build_http_app(Settings(host="0.0.0.0"), toy.server)


def test_insecure_no_auth_or_a_loopback_bind_serve_without_tokens() -> None:
    build_http_app(Settings(host="0.0.0.0", insecure_no_auth=True), toy_server().server)
    build_http_app(Settings(host="127.0.0.1"), toy_server().server)


@pytest.mark.parametrize("bad", ["abc123xyz", "REPLACE-WITH-A-LONG-RANDOM-TOKEN"])
def test_a_short_or_placeholder_token_is_refused_without_quoting_it(bad: str) -> None:
    with pytest.raises(HttpSetupError) as caught:
        build_http_app(settings(auth_tokens=[SecretStr(bad)]), toy_server().server)
    assert bad not in str(caught.value)


def test_a_missing_tokens_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HttpSetupError, match="cannot read the auth tokens file"):
        build_http_app(Settings(auth_tokens_file=tmp_path / "absent"), toy_server().server)


def test_inputs_file_is_off_over_http_unless_enabled() -> None:
    assert http_settings(Settings()).allow_inputs_file is False
    assert http_settings(Settings(allow_inputs_file=True)).allow_inputs_file is True


@pytest.mark.parametrize("enabled", [True, False])
async def test_the_per_request_key_header_reaches_tools_only_when_enabled(enabled: bool) -> None:
    toy = toy_server()
    app = build_http_app(settings(per_request_api_key=enabled), toy.server)
    key = "caller-key-abcdef0123456789"
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Parallel-Api-Key": key}
    async with serving(app) as running:
        with anyio.fail_after(20):
            async with client(running.mcp_url, headers=headers) as c:
                result = await c.call_tool("caller_key", {})
    assert result.structured_content == {"result": key if enabled else ""}


async def test_concurrent_callers_each_see_only_their_own_key() -> None:
    toy = toy_server()
    app = build_http_app(settings(per_request_api_key=True), toy.server)
    answers: dict[str, list[str]] = {}

    async def caller(name: str, url: str) -> None:
        key = f"key-of-{name}-0123456789"
        headers = {"Authorization": f"Bearer {TOKEN}", "X-Parallel-Api-Key": key}
        async with client(url, headers=headers) as c:
            for _ in range(10):
                result = await c.call_tool("caller_key", {})
                answers.setdefault(key, []).append(str((result.structured_content or {})["result"]))

    async with serving(app) as running:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(caller, "alice", running.mcp_url)
                tg.start_soon(caller, "bob", running.mcp_url)
    assert set(answers) == {"key-of-alice-0123456789", "key-of-bob-0123456789"}
    for key, seen in answers.items():
        assert seen == [key] * 10


async def test_with_per_request_keys_a_call_without_the_key_header_gets_401_and_runs_nothing() -> None:
    toy = toy_server()
    app = build_http_app(
        settings(per_request_api_key=True, parallel_api_key=SecretStr("operator-key-0123456789")), toy.server
    )
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "caller_key", "arguments": {}},
    }
    async with serving(app) as running, httpx2.AsyncClient() as http:
        with anyio.fail_after(10):
            missing = await http.post(running.mcp_url, json=call, headers=auth())
            empty = await http.post(running.mcp_url, json=call, headers={**auth(), "X-Parallel-Api-Key": ""})
            no_bearer = await http.post(running.mcp_url, json=call, headers=dict(MCP_HEADERS))
    assert missing.status_code == 401 and empty.status_code == 401
    assert "X-Parallel-Api-Key" in missing.json()["error_description"]
    assert "operator-key" not in missing.text
    assert no_bearer.status_code == 401 and no_bearer.headers["www-authenticate"].startswith("Bearer ")
    assert toy.calls == []


async def test_the_operator_key_serves_a_caller_without_the_header_only_when_the_fallback_is_set() -> None:
    toy = toy_server()
    app = build_http_app(settings(per_request_api_key=True, per_request_api_key_fallback=True), toy.server)
    async with serving(app) as running:
        with anyio.fail_after(20):
            async with client(running.mcp_url) as c:
                result = await c.call_tool("caller_key", {})
    assert result.structured_content == {"result": ""} and toy.calls == ["caller_key"]


async def test_an_in_flight_call_finishes_after_shutdown_begins() -> None:
    toy = toy_server()
    result_text: list[str] = []
    async with serving(build_http_app(settings(), toy.server), graceful_seconds=10) as running:
        with anyio.fail_after(20):
            async with client(running.mcp_url) as c, anyio.create_task_group() as tg:
                await c.list_tools()  # the client validates results against cached schemas: no request later

                async def call() -> None:
                    result = await c.call_tool("hold", {})
                    result_text.append(str((result.structured_content or {})["result"]))

                tg.start_soon(call)
                await toy.entered.wait()
                # What uvicorn's SIGTERM handler does (handle_exit itself would re-raise the signal at exit).
                running.server.should_exit = True
                with anyio.fail_after(5):
                    # uvicorn offers no event for "stopped accepting": poll its listening sockets.
                    while any(s.is_serving() for s in running.server.servers):  # noqa: ASYNC110
                        await anyio.sleep(0.01)
                toy.release.set()
    assert result_text == ["released"]


async def test_a_configured_browser_origin_passes_cors_preflight_and_a_foreign_one_does_not() -> None:
    toy = toy_server()
    app = build_http_app(
        settings(allowed_origins=["https://app.example.com", "http://localhost:*"]), toy.server
    )
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, mcp-protocol-version",
    }
    async with serving(app) as running, httpx2.AsyncClient() as http:
        with anyio.fail_after(10):
            allowed = await http.options(
                running.mcp_url, headers={**preflight, "Origin": "https://app.example.com"}
            )
            any_port = await http.options(
                running.mcp_url, headers={**preflight, "Origin": "http://localhost:5173"}
            )
            foreign = await http.options(
                running.mcp_url, headers={**preflight, "Origin": "https://evil.example"}
            )
            call = await http.post(
                running.mcp_url, json=INITIALIZE, headers={**auth(), "Origin": "https://app.example.com"}
            )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert any_port.status_code == 200
    assert foreign.status_code == 400 and "access-control-allow-origin" not in foreign.headers
    assert call.status_code == 200
    assert call.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-request-id" in call.headers["access-control-expose-headers"].lower()


@pytest.mark.parametrize("era", [None, "2025-11-25", "2026-07-28"])
async def test_json_nested_100000_deep_gets_400_and_the_server_keeps_answering(era: str | None) -> None:
    toy = toy_server()
    headers = auth() | ({"MCP-Protocol-Version": era} if era else {})
    nested = "[" * 100_000 + "]" * 100_000
    body = (
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":' + nested
    )
    body += "}}}"
    async with serving(build_http_app(settings(), toy.server)) as running, httpx2.AsyncClient() as http:
        with anyio.fail_after(20):
            hostile = await http.post(running.mcp_url, content=body, headers=headers)
            after = await http.post(running.mcp_url, json=INITIALIZE, headers=auth())
    assert hostile.status_code == 400
    assert hostile.json()["error"]["code"] == -32700
    assert after.status_code == 200
    assert toy.calls == []


@pytest.mark.parametrize("era", [None, "2025-11-25"])
async def test_a_protocol_error_never_quotes_the_request_and_carries_its_id(era: str | None) -> None:
    toy = toy_server()
    headers = auth() | ({"MCP-Protocol-Version": era} if era else {})
    canary = "CANARY-params-value-0123456789"
    bad_params = {"jsonrpc": "2.0", "id": 41, "method": "tools/call", "params": canary}
    deep = (
        '{"jsonrpc":"2.0","method":"tools/call","params":' + "[" * 100_000 + "]" * 100_000 + ',"id":"req-42"}'
    )
    async with serving(build_http_app(settings(), toy.server)) as running, httpx2.AsyncClient() as http:
        with anyio.fail_after(20):
            params_error = await http.post(running.mcp_url, json=bad_params, headers=headers)
            parse_error = await http.post(running.mcp_url, content=deep, headers=headers)
    assert params_error.status_code == 400
    assert params_error.json()["error"]["code"] == -32602 and params_error.json()["id"] == 41
    assert canary not in params_error.text and "input_value" not in params_error.text
    assert parse_error.status_code == 400
    assert parse_error.json()["error"]["code"] == -32700 and parse_error.json()["id"] == "req-42"
    assert toy.calls == []


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "localhost:8080"])
async def test_loopback_host_names_are_accepted_with_or_without_a_port(host: str) -> None:
    toy = toy_server()
    async with serving(build_http_app(settings(), toy.server)) as running, httpx2.AsyncClient() as http:
        with anyio.fail_after(10):
            response = await http.post(running.mcp_url, json=INITIALIZE, headers={**auth(), "Host": host})
    assert response.status_code == 200


async def test_a_get_that_does_not_ask_for_an_event_stream_gets_406_instead_of_an_endless_stream() -> None:
    """The SDK counted */* (a browser, curl) as accepting SSE and answered 200 text/event-stream
    forever; the transport spec says a GET must ask for text/event-stream."""
    toy = toy_server()
    async with serving(build_http_app(settings(), toy.server)) as running, httpx2.AsyncClient() as http:
        with anyio.fail_after(10):
            answers = [
                await http.get(running.mcp_url, headers={**auth(), "Accept": accept})
                for accept in ("*/*", "text/html,application/xhtml+xml,*/*;q=0.8", "application/json")
            ]
            bare = await http.get(running.mcp_url, headers={k: v for k, v in auth().items() if k != "Accept"})
            async with http.stream(
                "GET", running.mcp_url, headers={**auth(), "Accept": "text/event-stream"}
            ) as stream:
                sse_status, sse_type = stream.status_code, stream.headers.get("content-type", "")
    assert [a.status_code for a in answers] == [406, 406, 406]
    assert "Accept: text/event-stream" in answers[0].json()["error"]["message"]
    assert bare.status_code == 406
    assert sse_status == 200 and sse_type.startswith("text/event-stream")
