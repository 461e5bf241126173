"""``taskgroup-mcp ui [GROUP]``: the task-group explorer for people outside a chat.

Serves a local page on 127.0.0.1 (a random port, a random token in the URL) that hosts the
explorer (the server's ``ui://taskgroup/explorer`` MCP App) against this server: a small host page
(``ui_host.html``) implements the host side of the App protocol in the browser and relays the app's
``tools/call`` and ``resources/read`` to ``POST /rpc``, where an in-process MCP client (that
negotiated the Apps extension) calls the real tools. Nothing listens beyond loopback; every request
needs the token; the app runs in a sandboxed iframe under the extension's default CSP.

This is a user-facing command: it prints the URL on stdout.
"""

from __future__ import annotations

import argparse
import functools
import importlib.resources
import json
import logging
import os
import secrets
import socket
import sys
import webbrowser
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

import anyio
import uvicorn
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from taskgroup_mcp.commands._wiring import open_backend
from taskgroup_mcp.config import Settings
from taskgroup_mcp.tools import build_server

__all__ = ["UiApp", "build_ui_app", "explorer_url", "host_page", "open_ui", "run"]

logger = logging.getLogger("taskgroup_mcp.ui")

TOKEN_HEADER = "x-explorer-token"
MAX_RPC_BYTES = 1_000_000
RESOURCE_PREFIXES = ("ui://", "taskgroup://exports/")
"""What the page may read: the app itself and export files (for downloads)."""
HOST_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
    "connect-src 'self'; frame-src 'self' about:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@functools.cache
def host_page() -> str:
    return (
        importlib.resources.files("taskgroup_mcp.commands")
        .joinpath("ui_host.html")
        .read_text(encoding="utf-8")
    )


def explorer_url(base: str, token: str, group: str | None) -> str:
    query = {"token": token, **({"group": group} if group else {})}
    return f"{base}/?{urlencode(query)}"


@dataclass
class UiApp:
    """The page's ASGI app and the token it requires."""

    app: Starlette
    token: str


def _object(value: Any) -> dict[str, Any] | None:
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": {"message": message}}, status_code=status)


def build_ui_app(client: Client, *, token: str | None = None) -> UiApp:
    """The host page and its relay to ``client`` (an MCP client of the server, with Apps)."""
    secret = token or secrets.token_urlsafe(24)

    def authorised(value: str | None) -> bool:
        return value is not None and secrets.compare_digest(value.encode(), secret.encode())

    async def page(request: Request) -> Response:
        if not authorised(request.query_params.get("token")):
            return HTMLResponse("This page needs the link that `taskgroup-mcp ui` printed.", status_code=403)
        return HTMLResponse(
            host_page(),
            headers={
                "Content-Security-Policy": HOST_CSP,
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
            },
        )

    async def rpc(request: Request) -> Response:
        if not authorised(request.headers.get(TOKEN_HEADER)):
            return _error("missing or wrong token", 403)
        raw = await request.body()
        if len(raw) > MAX_RPC_BYTES:
            return _error("request too large", 413)
        try:
            body = _object(json.loads(raw))
        except ValueError:
            body = None
        if body is None:
            return _error("the body must be a JSON object")
        method = body.get("method")
        params = _object(body.get("params") or {})
        if params is None:
            return _error("params must be an object")
        try:
            if method == "tools/call":
                name = params.get("name")
                arguments = _object(params.get("arguments") or {})
                if not isinstance(name, str) or arguments is None:
                    return _error("tools/call needs a name and an arguments object")
                result: BaseModel = await client.call_tool(name, arguments)
            elif method == "resources/read":
                uri = params.get("uri")
                if not isinstance(uri, str) or not uri.startswith(RESOURCE_PREFIXES):
                    return _error("only the explorer and export files can be read here")
                result = await client.read_resource(uri)
            else:
                return _error(f"method not allowed here: {str(method)[:40]}")
        except MCPError as exc:
            return _error(exc.error.message, 502)
        return JSONResponse({"result": result.model_dump(mode="json", by_alias=True, exclude_none=True)})

    app = Starlette(
        routes=[Route("/", page, methods=["GET"]), Route("/rpc", rpc, methods=["POST"])],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])],
    )
    return UiApp(app=app, token=secret)


def bound_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    return sock


APPS = [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]


@asynccontextmanager
async def open_ui(settings: Settings, *, port: int = 0) -> AsyncGenerator[tuple[str, UiApp]]:
    """Serve the explorer page for ``settings`` on 127.0.0.1 until the block ends; yields the base
    URL and the app (with its token)."""
    async with open_backend(settings) as backend:
        server = build_server(backend.settings, backend.client_factory)
        async with Client(server, extensions=APPS) as client:  # pyright: ignore[reportArgumentType]
            ui = build_ui_app(client)
            sock = bound_socket(port)
            base = f"http://127.0.0.1:{sock.getsockname()[1]}"
            config = uvicorn.Config(ui.app, log_config=None, access_log=False, lifespan="off")
            uv = uvicorn.Server(config)
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(uv.serve, [sock])
                    try:
                        yield base, ui
                    finally:
                        uv.should_exit = True
            finally:
                sock.close()


def _can_open_browser() -> bool:
    """A graphical browser is likely (on Linux without a display, webbrowser may start a text one)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


async def _serve(settings: Settings, group: str | None, port: int, browser: bool) -> None:
    async with open_ui(settings, port=port) as (base, ui):
        url = explorer_url(base, ui.token, group)
        sys.stdout.write(f"Task-group explorer: {url}\n(only this machine can reach it; Ctrl-C stops it)\n")
        sys.stdout.flush()
        if browser and _can_open_browser():
            await anyio.to_thread.run_sync(webbrowser.open, url)
        await anyio.sleep_forever()


def run(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    if args.sandbox:
        overrides["sandbox"] = True
    settings = Settings.from_env(**overrides)
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr)
    group: str | None = args.group
    if group is not None and not group.replace("_", "").replace("-", "").isalnum():
        sys.stderr.write("taskgroup-mcp ui: GROUP must be a task group id such as tgrp_...\n")
        return 2
    anyio.run(_serve, settings, group, int(args.port), not args.no_browser)
    return 0
