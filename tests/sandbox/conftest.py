"""Fixtures for the sandbox tests: a sandbox on a manual clock and an in-process client."""

from __future__ import annotations

import contextlib
import functools
import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn

from taskgroup_mcp.sandbox import ManualClock, Sandbox, SandboxConfig

BASE = "http://sandbox"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["memory", "sqlite"])
def sandbox(request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path) -> Iterator[Sandbox]:
    """The same tests run against both stores."""
    db = str(tmp_path / "sandbox.db") if request.param == "sqlite" else None
    sb = Sandbox(SandboxConfig(speed=60.0, seed=0, db_path=db), clock=clock)
    yield sb
    sb.close()


def api(sb: Sandbox, key: str = "test-key") -> httpx2.AsyncClient:
    """An httpx2 client that reaches the sandbox in process."""
    headers = {"x-api-key": key} if key else {}
    return httpx2.AsyncClient(transport=sb.transport, base_url=BASE, headers=headers)


def sse_events(text: str) -> list[dict[str, Any]]:
    """The JSON payloads of an SSE body, checking the framing: ``event:`` equals ``type``, no ``id:``."""
    out: list[dict[str, Any]] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        lines = block.split("\n")
        assert not any(line.startswith("id:") for line in lines)
        event = [line[len("event: ") :] for line in lines if line.startswith("event: ")]
        data = [line[len("data: ") :] for line in lines if line.startswith("data: ")]
        assert len(data) == 1, block
        payload = json.loads(data[0])
        assert event == [payload["type"]]
        out.append(payload)
    return out


def run_input(
    text: str = "What is the capital of France?", processor: str = "lite", **extra: Any
) -> dict[str, Any]:
    return {"input": text, "processor": processor, **extra}


async def new_group(client: httpx2.AsyncClient, prefix: str = "/v1") -> str:
    r = await client.post(f"{prefix}/tasks/groups", json={})
    assert r.status_code == 200, r.text
    return str(r.json()["taskgroup_id"])


async def add(
    client: httpx2.AsyncClient, gid: str, inputs: list[dict[str, Any]], **body: Any
) -> httpx2.Response:
    return await client.post(f"/v1/tasks/groups/{gid}/runs", json={"inputs": inputs, **body})


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = anyio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextlib.asynccontextmanager
async def serve_asgi(app: Any) -> AsyncIterator[int]:
    """Serve an ASGI app with uvicorn on 127.0.0.1, a free port, in this event loop; yields the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY in asyncio
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = _Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(functools.partial(server.serve, sockets=[sock]))
        with anyio.fail_after(10):
            await server.ready.wait()
        try:
            yield port
        finally:
            server.should_exit = True


class HeaderRecorder:
    """ASGI middleware that keeps the headers of every request it sees."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.headers: list[dict[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await self.app(scope, receive, send)


def facts_server() -> HeaderRecorder:
    """A tiny streamable-HTTP MCP server with two tools; its answers are recognisable."""
    from mcp.server import MCPServer

    server = MCPServer("company-facts")

    @server.tool()
    def company_facts(query: str) -> str:
        """Facts about a company."""
        return f"FACTS[{query}]: founded 1999, 42 employees"

    @server.tool()
    def stock_price(ticker: str) -> str:
        """A stock price."""
        return f"PRICE[{ticker}]: 12.34"

    return HeaderRecorder(server.streamable_http_app(stateless_http=True))


@contextlib.contextmanager
def dead_port() -> Iterator[int]:
    """A loopback port with nothing listening on it for the whole block: the port stays bound (not
    listening, so connections are refused) and no other process can take it meanwhile."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])
