"""JSON log lines carry one request id per HTTP request, also inside tool calls, and never a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import anyio
import httpx2
import pytest
from deploy_harness import TOKEN, client, serving, toy_server
from pydantic import SecretStr

from taskgroup_mcp.commands._http_logs import JsonFormatter, RequestIdFilter, new_request_id, request_id_var
from taskgroup_mcp.commands.http import build_http_app
from taskgroup_mcp.config import Settings

CALLER_KEY = "caller-key-CANARY-0123456789"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """JSON lines of our access log and the toy tool's log, without touching the root logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(name) for name in ("taskgroup_mcp.http.access", "toy.tool")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield stream
    for logger in loggers:
        logger.removeHandler(handler)


def test_a_json_line_holds_the_request_id_and_known_extras_only() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("taskgroup_mcp.test_json")
    logger.addHandler(handler)
    token = request_id_var.set("req-1")
    try:
        logger.warning("hello %s", "world", extra={"status": 201, "authorization": "Bearer nope"})
    finally:
        request_id_var.reset(token)
        logger.removeHandler(handler)
    entry = json.loads(stream.getvalue())
    assert entry["message"] == "hello world"
    assert entry["request_id"] == "req-1"
    assert entry["status"] == 201
    assert entry["level"] == "WARNING"
    assert "authorization" not in entry


def test_an_incoming_request_id_is_kept_only_when_plain() -> None:
    assert new_request_id("abc-123") == "abc-123"
    generated = new_request_id("has spaces and\nnewlines")
    assert len(generated) == 32 and "\n" not in generated


@pytest.mark.anyio
async def test_each_request_logs_one_id_shared_by_its_tool_lines_and_no_secret(
    json_lines: io.StringIO,
) -> None:
    toy = toy_server()
    app = build_http_app(Settings(auth_tokens=[SecretStr(TOKEN)], per_request_api_key=True), toy.server)
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "X-Parallel-Api-Key": CALLER_KEY,
        "X-Request-Id": "trace-42",
    }
    async with serving(app) as running:
        with anyio.fail_after(20):
            async with client(running.mcp_url, headers=headers) as c:
                await c.call_tool("caller_key", {})
    entries = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    tool_lines = [e for e in entries if e["logger"] == "toy.tool"]
    access = [e for e in entries if e["logger"] == "taskgroup_mcp.http.access"]
    assert tool_lines and access
    assert {e["request_id"] for e in tool_lines} == {"trace-42"}
    assert all(e["path"] == "/mcp" and e["status"] == 200 for e in access)
    text = json_lines.getvalue()
    assert TOKEN not in text and CALLER_KEY not in text


def test_a_traceback_stays_on_its_json_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("taskgroup_mcp.test_json_exc")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert "RuntimeError: boom" in entry["exc"]


@pytest.mark.anyio
async def test_a_path_with_control_characters_is_logged_escaped(json_lines: io.StringIO) -> None:
    toy = toy_server()
    app = build_http_app(Settings(auth_tokens=[SecretStr(TOKEN)]), toy.server)
    async with serving(app) as running, httpx2.AsyncClient() as http:
        with anyio.fail_after(10):
            response = await http.get(f"{running.base}/healthz%0A2026-01-01 INFO forged line")
    assert response.status_code == 404
    entries = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert [e["path"] for e in entries] == ["/healthz\\n2026-01-01 INFO forged line"]
