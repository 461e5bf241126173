"""Shared helpers of the adversarial suite: the real MCP server on an in-process sandbox, held
open in a background event loop (a blocking portal) so that sync hypothesis tests and state
machines can drive thousands of tool calls against one long-lived server.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client
from mcp.server import MCPServer

from taskgroup_mcp.client import Backoff, ParallelClient
from taskgroup_mcp.commands._wiring import SANDBOX_BASE_URL
from taskgroup_mcp.config import Settings
from taskgroup_mcp.sandbox import Faults, Sandbox, SandboxConfig
from taskgroup_mcp.sandbox._transport import StreamingASGITransport
from taskgroup_mcp.tools import build_server

LONG = os.environ.get("TASKGROUP_MCP_LONG_TESTS") == "1"
"""`make test-long` sets it: the slow-marked tests then run their long profiles."""

API_KEY = "adv-api-key-0123456789"
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+")


def api_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings of a server facing the real API (its forwarding policy, no sandbox relaxations);
    the client factory below points it at the sandbox instead."""
    values: dict[str, Any] = {
        "parallel_api_key": API_KEY,
        "export_dir": tmp_path / "exports",
        "settle_seconds": 0.2,
        "spend_limit_usd": 1_000.0,
    }
    values.update(overrides)
    return Settings.from_env({}, **values)


def sandbox_factory(settings: Settings, sandbox: Sandbox) -> Any:
    wired = settings.model_copy(update={"parallel_base_url": SANDBOX_BASE_URL})

    def factory() -> ParallelClient:
        return ParallelClient.from_settings(wired, transport=sandbox.transport)

    return factory


def new_sandbox(*, speed: float = 2_000.0, seed: int = 3, faults: Faults | None = None) -> Sandbox:
    return Sandbox(SandboxConfig(speed=speed, seed=seed, faults=faults or Faults()))


@asynccontextmanager
async def mcp_client(settings: Settings, sandbox: Sandbox, mode: str = "auto") -> AsyncIterator[Client]:
    """A fresh ``build_server`` on ``sandbox`` and an in-memory MCP client of it."""
    server: MCPServer[Any] = build_server(settings, sandbox_factory(settings, sandbox))
    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        yield client


@dataclass
class Live:
    """A server and its sandbox running in a background loop; call ``live.call(...)`` from sync code."""

    portal: BlockingPortal
    sandbox: Sandbox
    client: Client

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        return self.portal.call(self.client.call_tool, tool, args)

    def list_tools(self) -> Any:
        return self.portal.call(self.client.list_tools)


@asynccontextmanager
async def _running(settings: Settings, sandbox: Sandbox) -> AsyncIterator[Client]:
    async with sandbox, mcp_client(settings, sandbox) as client:
        yield client


@contextmanager
def live_server(settings: Settings, sandbox: Sandbox) -> Iterator[Live]:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(_running(settings, sandbox)) as client,
    ):
        yield Live(portal, sandbox, client)
    sandbox.close()


def text_of(result: Any) -> str:
    return "\n".join(str(getattr(block, "text", "")) for block in result.content)


def data_of(result: Any) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    data: dict[str, Any] = result.structured_content
    return data


def everything_of(result: Any) -> str:
    """All a model would see of a result: its text blocks and its structured content."""
    return text_of(result) + "\n" + json.dumps(result.structured_content or {}, ensure_ascii=False)


# --------------------------------------------------------------------------- raw stdio

FORCE_DEBUG = (
    "import sys; import taskgroup_mcp.commands._http_logs as logs; logs._PINNED = (); "
    "from taskgroup_mcp.cli import main; sys.exit(main(sys.argv[1:]))"
)
"""The stdio server with EVERY logger at DEBUG: logging pins mcp/httpx2/uvicorn to INFO, and the
adversarial suite lifts that pin to prove nothing leaks even when someone turns them all up."""


def stdio_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "TASKGROUP_MCP_EXPORT_DIR": str(tmp_path / "exports"),
        "TASKGROUP_MCP_SANDBOX_SPEED": "2000",
        "TASKGROUP_MCP_LOG_LEVEL": "DEBUG",
        **extra,
    }


class RawStdio:
    """The stdio server as a subprocess spoken to line by line (no SDK client in between), so a
    test can send malformed frames and see every byte the server writes to stdout."""

    def __init__(self, process: Any) -> None:
        self.process = process
        self.stdout_lines: list[bytes] = []
        self.stderr = bytearray()
        self._answers: dict[Any, dict[str, Any]] = {}
        self._arrived = anyio.Event()

    async def _read_stdout(self) -> None:
        buffer = b""
        async for chunk in self.process.stdout:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                self.stdout_lines.append(line)
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if isinstance(message, dict) and "id" in message and "method" not in message:
                    self._answers[message["id"]] = message
                    self._arrived.set()
                    self._arrived = anyio.Event()
        if buffer:
            self.stdout_lines.append(buffer)

    async def _read_stderr(self) -> None:
        async for chunk in self.process.stderr:
            self.stderr.extend(chunk)

    async def send_raw(self, data: bytes) -> None:
        await self.process.stdin.send(data)

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_raw(json.dumps(message).encode() + b"\n")

    async def answer(self, request_id: Any) -> dict[str, Any]:
        with anyio.fail_after(60):
            while request_id not in self._answers:
                await self._arrived.wait()
        return self._answers.pop(request_id)

    async def request(
        self, request_id: int, method: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)
        return await self.answer(request_id)

    async def initialize(self) -> dict[str, Any]:
        answer = await self.request(
            0,
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "adv", "version": "0"},
            },
        )
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return answer


@asynccontextmanager
async def raw_stdio(
    tmp_path: Path, env: dict[str, str], *, sandbox_flag: bool = True
) -> AsyncIterator[RawStdio]:
    """``taskgroup-mcp [--sandbox]`` with every logger at DEBUG; stdout and stderr fully captured."""
    command = [sys.executable, "-c", FORCE_DEBUG, *(["--sandbox"] if sandbox_flag else [])]
    env = {"TASKGROUP_MCP_STATE_DIR": os.environ["TASKGROUP_MCP_STATE_DIR"], **env}
    async with await anyio.open_process(command, env=env, cwd=str(tmp_path)) as process:
        raw = RawStdio(process)
        async with anyio.create_task_group() as tg:
            tg.start_soon(raw._read_stdout)
            tg.start_soon(raw._read_stderr)
            try:
                yield raw
            finally:
                await process.stdin.aclose()
                with anyio.move_on_after(10):
                    await process.wait()
                if process.returncode is None:
                    process.kill()


# --------------------------------------------------------------------------- upstream recorders


class Recorder:
    """ASGI middleware in front of the sandbox: when each API request started, and an outage
    switch (``down``: every API request answers 503 until it is turned off)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.started: list[tuple[float, str, str]] = []
        self.down = False
        self.refused = 0
        self.arrived = anyio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        self.started.append((anyio.current_time(), scope["method"], str(scope["path"])))
        self.arrived.set()
        self.arrived = anyio.Event()
        if self.down:
            self.refused += 1
            body = b'{"error": {"message": "Service unavailable", "detail": null}}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def posts(self, since: float = 0.0) -> list[tuple[float, str, str]]:
        return [r for r in self.started if r[1] == "POST" and r[0] > since and r[2].endswith("/runs")]

    async def wait_for_posts(self, n: int) -> None:
        with anyio.fail_after(30):
            while len(self.posts()) < n:
                await self.arrived.wait()


@asynccontextmanager
async def recorded_client(
    settings: Settings,
    sandbox: Sandbox,
    recorder: Recorder,
    mode: str = "auto",
    *,
    backoff: Backoff | None = None,
) -> AsyncIterator[Client]:
    """Like :func:`mcp_client`, with every upstream request passing through ``recorder``
    (and, with ``backoff``, the client's retry delays replaced: same policy, shorter waits)."""
    wired = settings.model_copy(update={"parallel_base_url": SANDBOX_BASE_URL})
    transport = StreamingASGITransport(recorder)

    def factory() -> ParallelClient:
        client = ParallelClient.from_settings(wired, transport=transport)
        if backoff is not None:
            client.backoff = backoff
        return client

    server: MCPServer[Any] = build_server(settings, factory)
    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        yield client
