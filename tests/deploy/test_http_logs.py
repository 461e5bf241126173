"""JSON log lines carry one request id per HTTP request, also inside tool calls, and never a secret."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import anyio
import httpx2
import pytest
from deploy_harness import TOKEN, client, serving, toy_server
from pydantic import SecretStr

from taskgroup_mcp.commands._http_logs import (
    EscapeFilter,
    JsonFormatter,
    RepeatFilter,
    RequestIdFilter,
    configure_logging,
    new_request_id,
    request_id_var,
)
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


@pytest.fixture
def stderr_text(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What ``configure_logging`` (text format) writes to stderr; the root logger is restored after."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("INFO", "text")
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


async def _raw_request(port: int, head: bytes) -> bytes:
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(head)
        answer = b""
        with anyio.move_on_after(5):
            while b"\r\n\r\n" not in answer:
                answer += await stream.receive()
    return answer


@pytest.mark.anyio
async def test_terminal_escapes_in_host_and_origin_reach_the_text_log_escaped(
    stderr_text: io.StringIO,
) -> None:
    toy = toy_server()
    app = build_http_app(Settings(auth_tokens=[SecretStr(TOKEN)]), toy.server)
    forged = b"\x1b[2J\x1b[31mevil\x1b]0;title\x07\x9b"
    async with serving(app) as running:
        port = int(running.base.rsplit(":", 1)[1])
        with anyio.fail_after(20):
            bad_host = await _raw_request(
                port, b"POST /mcp HTTP/1.1\r\nHost: " + forged + b"\r\nContent-Length: 0\r\n\r\n"
            )
            bad_origin = await _raw_request(
                port,
                b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://x"
                + forged
                + b"\r\nContent-Length: 0\r\n\r\n",
            )
    assert bad_host.startswith(b"HTTP/1.1 421") and bad_origin.startswith(b"HTTP/1.1 403")
    text = stderr_text.getvalue()
    assert "Invalid Host header" in text and "Invalid Origin header" in text
    assert "\\x1b[2J\\x1b[31mevil" in text  # written escaped, so the reader sees what was sent
    assert not any(ch in text for ch in ("\x1b", "\x07", "\x9b"))


def test_a_flood_of_one_error_with_tracebacks_is_cut_to_a_few_lines_and_counted() -> None:
    now = [0.0]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RepeatFilter(burst=5, window=10.0, clock=lambda: now[0]))
    handler.addFilter(EscapeFilter())
    logger = logging.getLogger("taskgroup_mcp.test_flood")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for fd in range(10_000):
            try:
                raise OSError(24, "Too many open files")
            except OSError:
                logger.error(
                    "socket.accept() out of system resource\nsocket: <socket fd=%d>", fd, exc_info=True
                )
            if fd == 5_000:
                logger.warning("a different line %d", fd)
        now[0] = 11.0
        try:
            raise OSError(24, "Too many open files")
        except OSError:
            logger.error("socket.accept() out of system resource\nsocket: <socket fd=%d>", 1, exc_info=True)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    text = stream.getvalue()
    assert text.count("out of system resource") == 6
    assert text.count("Traceback") == 6
    assert "a different line 5000" in text
    assert "[9995 similar lines suppressed]" in text
    assert len(text) < 5_000
