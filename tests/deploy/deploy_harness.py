"""Helpers for the HTTP transport tests: a uvicorn on 127.0.0.1 (port 0), clients with headers, a toy server."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from starlette.types import ASGIApp

TOKEN = "test-token-0123456789abcdef"
OTHER_TOKEN = "other-token-0123456789abcdef"

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def bound_socket() -> socket.socket:
    """A listening socket on 127.0.0.1 with a free port: connections queue until uvicorn accepts them."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@dataclass
class Running:
    base: str
    server: uvicorn.Server

    @property
    def mcp_url(self) -> str:
        return f"{self.base}/mcp"


@asynccontextmanager
async def serving(
    app: ASGIApp, *, graceful_seconds: int | None = None, config: uvicorn.Config | None = None
) -> AsyncIterator[Running]:
    """Run ``app`` under uvicorn in this event loop until the block ends (``config``: as served)."""
    sock = bound_socket()
    port = sock.getsockname()[1]
    config = config or uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=graceful_seconds
    )
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        try:
            yield Running(f"http://127.0.0.1:{port}", server)
        finally:
            server.should_exit = True
    sock.close()


@asynccontextmanager
async def client(
    url: str, *, mode: str = "auto", headers: dict[str, str] | None = None, **kwargs: Any
) -> AsyncIterator[Client]:
    """A connected MCP client for ``url`` sending ``headers`` (a bearer token by default)."""
    sent = {"Authorization": f"Bearer {TOKEN}"} if headers is None else headers
    async with httpx2.AsyncClient(headers=sent, timeout=httpx2.Timeout(30.0)) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode, **kwargs) as connected:  # type: ignore[arg-type]
            yield connected


@dataclass
class Toy:
    """A small MCPServer whose tools record what reached them."""

    server: MCPServer
    calls: list[str] = field(default_factory=list)
    keys_seen: list[str | None] = field(default_factory=list)
    release: anyio.Event = field(default_factory=anyio.Event)
    entered: anyio.Event = field(default_factory=anyio.Event)


def toy_server() -> Toy:
    server = MCPServer("toy", version="0")
    toy = Toy(server)

    @server.tool()
    async def echo(text: str) -> str:
        """Echo the text."""
        toy.calls.append("echo")
        return text

    @server.tool()
    async def count(steps: int, ctx: Context) -> int:
        """Report progress once per step."""
        toy.calls.append("count")
        for i in range(steps):
            await ctx.report_progress(i + 1, total=steps, message=f"step {i + 1}")
        return steps

    @server.tool()
    async def caller_key(ctx: Context) -> str:
        """The X-Parallel-Api-Key this request carried ('' when none)."""
        toy.calls.append("caller_key")
        key = (ctx.headers or {}).get("x-parallel-api-key")
        toy.keys_seen.append(key)
        import logging

        logging.getLogger("toy.tool").info("caller_key ran")
        return key or ""

    @server.tool()
    async def hold() -> str:
        """Wait until the test releases it."""
        toy.calls.append("hold")
        toy.entered.set()
        await toy.release.wait()
        return "released"

    return toy
