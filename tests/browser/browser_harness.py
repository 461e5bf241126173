"""The browser tests' parts: Debian's Chromium driven by Playwright, the real server on 127.0.0.1,
and the test host page built on the official AppBridge.

Nothing here is skipped: a missing Chromium or npm test dependency fails with the command that
installs it (``scripts/test-deps.sh``, which ``make test`` runs first).
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from starlette.responses import FileResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from taskgroup_mcp.commands._demo_facts import serve_facts_server
from taskgroup_mcp.commands._wiring import open_backend
from taskgroup_mcp.commands.http import build_http_app
from taskgroup_mcp.config import Settings
from taskgroup_mcp.sandbox import SandboxConfig
from taskgroup_mcp.tools import build_server

HOST_DIR = Path(__file__).with_name("host")
BUNDLE = HOST_DIR / "host.bundle.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "run scripts/test-deps.sh (make test runs it): it installs Debian's chromium and the npm test host"
)
SPEED = 15.0
"""Sandbox speed: a lite run takes 10-60 s / 15, so a group moves for a few seconds, visibly."""


def require_test_parts() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: {INSTALL_HINT}", pytrace=False)
    esbuild = HOST_DIR / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists():
        pytest.fail(f"{esbuild} is missing: {INSTALL_HINT}", pytrace=False)
    source = HOST_DIR / "host.js"
    if not BUNDLE.exists() or BUNDLE.stat().st_mtime < source.stat().st_mtime:
        subprocess.run(
            [str(esbuild), str(source), "--bundle", "--format=iife", "--platform=browser", "--target=chrome120",
             f"--outfile={BUNDLE}", "--log-level=warning"],
            check=True, cwd=HOST_DIR, timeout=120,
        )  # fmt: skip


def with_host_page(app: ASGIApp) -> ASGIApp:
    """``app`` plus the test host page and its bundle, same origin as ``/mcp``."""
    files = {"/host.html": HOST_DIR / "host.html", "/host.bundle.js": BUNDLE}

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in files:
            response: Response = FileResponse(files[scope["path"]], headers={"Cache-Control": "no-store"})
            await response(scope, receive, send)
            return
        await app(scope, receive, send)

    return asgi


@dataclass
class LiveServer:
    """The real MCP server (tools on an embedded sandbox) under uvicorn in a thread of its own."""

    base: str = ""
    facts_url: str = ""
    """A company-facts MCP server on loopback that runs can be given (their tool calls show)."""
    export_dir: Path = Path()
    _thread: threading.Thread | None = None
    _stop: Callable[[], None] | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    @property
    def mcp_url(self) -> str:
        return f"{self.base}/mcp"

    def host_url(self, tool: str, args: dict[str, Any], **extra: str) -> str:
        return f"{self.base}/host.html?" + urlencode({"tool": tool, "args": json.dumps(args), **extra})

    def call(self, fn: Callable[[Client], Coroutine[Any, Any, Any]]) -> Any:
        """Run ``fn`` with an MCP client of this server (from the test's own thread)."""

        async def run() -> Any:
            async with (
                httpx2.AsyncClient(timeout=httpx2.Timeout(60.0)) as http,
                Client(streamable_http_client(self.mcp_url, http_client=http)) as client,  # type: ignore[arg-type]
            ):
                return await fn(client)

        # A thread of its own: Playwright's sync API keeps an event loop running in the test's thread.
        box: list[Any] = []
        errors: list[BaseException] = []

        def target() -> None:
            try:
                box.append(anyio.run(run))
            except BaseException as exc:
                errors.append(exc)

        worker = threading.Thread(target=target, name="mcp-call")
        worker.start()
        worker.join(120)
        if errors:
            raise errors[0]
        return box[0]


@contextmanager
def live_server(tmp: Path, *, fail_rate: float = 0.1, spend_limit_usd: float = 10.0) -> Iterator[LiveServer]:
    live = LiveServer(export_dir=tmp / "exports")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    live.base = f"http://127.0.0.1:{sock.getsockname()[1]}"

    async def serve() -> None:
        settings = Settings.from_env(
            {},
            sandbox=True,
            export_dir=live.export_dir,
            spend_limit_usd=spend_limit_usd,
            host="127.0.0.1",
            port=0,
        )
        config = SandboxConfig(speed=SPEED, seed=11, fail_rate=fail_rate)
        async with serve_facts_server() as facts, open_backend(settings, sandbox_config=config) as backend:
            live.facts_url = facts.url
            server = build_server(backend.settings, backend.client_factory)
            app = with_host_page(build_http_app(backend.settings, server))
            uv = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
            live._stop = lambda: setattr(uv, "should_exit", True)
            live._ready.set()
            await uv.serve([sock])

    def thread_main() -> None:
        try:
            anyio.run(serve)
        except BaseException as exc:  # reported by the fixture
            live.error = exc
            live._ready.set()

    live._thread = threading.Thread(target=thread_main, name="live-mcp-server", daemon=True)
    live._thread.start()
    live._ready.wait(30)
    if live.error is not None:
        raise live.error
    try:
        yield live
    finally:
        if live._stop is not None:
            live._stop()
        live._thread.join(30)
        sock.close()
