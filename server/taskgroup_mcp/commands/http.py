"""The streamable-HTTP transport: ``taskgroup-mcp serve --transport http``.

``build_http_app(settings, server)`` wraps the MCP server's own
``streamable_http_app(stateless_http=True)`` (SSE responses, so progress notifications arrive;
no session state, so any replica answers any request in both protocol eras) in a Starlette app::

    /healthz                                   200 while the process runs (liveness)
    /readyz                                    200 when the upstream API (or sandbox) answers;
                                               also says how the journal is (ok, read-only,
                                               unavailable, off) and which setting chose it
    /mcp                                       RequestLog -> CORS (configured origins only)
                                               -> McpGuard (413, Host/Origin) -> bearer auth
                                               -> per-request key required (401)
                                               -> protocol errors made safe -> SDK

Startup refuses a non-loopback bind without bearer tokens unless ``insecure_no_auth`` is set.
``serve_http`` (the ``serve --transport http`` command) opens the backend and serves with
uvicorn; on SIGTERM it stops accepting, lets in-flight calls finish for
``shutdown_grace_seconds``, closes the backend and exits 0.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import re
import signal
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import httpx2
import uvicorn
from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from taskgroup_mcp.commands._http_auth import AuthSetupError, BearerRequired, StaticTokenVerifier
from taskgroup_mcp.commands._http_errors import SafeProtocolErrors
from taskgroup_mcp.commands._http_guard import (
    API_KEY_HEADER,
    CallerKeyRequired,
    McpGuard,
    RequestLogMiddleware,
)
from taskgroup_mcp.commands._http_limits import accept_backlog, default_max_connections, limited_h11
from taskgroup_mcp.commands._http_logs import configure_logging
from taskgroup_mcp.commands._listen import ListenError, bound_port, listen
from taskgroup_mcp.commands._wiring import open_backend
from taskgroup_mcp.config import Settings
from taskgroup_mcp.journal import Journal, open_journal
from taskgroup_mcp.tools import build_server, install_log_redaction

__all__ = [
    "API_KEY_HEADER",
    "MCP_PATH",
    "HttpSetupError",
    "JournalCheck",
    "ReadyCheck",
    "build_http_app",
    "check_http_settings",
    "http_settings",
    "is_loopback",
    "journal_ready_check",
    "run",
    "run_http",
    "serve_http",
    "upstream_ready_check",
]

logger = logging.getLogger("taskgroup_mcp.http")

MCP_PATH = "/mcp"
READY_TIMEOUT_SECONDS = 5.0
LOOPBACK_HOSTS = ["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]

ReadyCheck = Callable[[], Awaitable[bool]]
"""Answers True when the upstream API (or the sandbox) responds."""
JournalCheck = Callable[[], Awaitable[dict[str, str]]]
"""The journal's state for /readyz: ``journal`` (ok, read-only, unavailable, off) and
``journal_setting`` (the setting that chose it, never its value)."""


class HttpSetupError(ValueError):
    """The HTTP settings are unsafe or inconsistent; the message tells the operator what to change."""


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def http_settings(settings: Settings) -> Settings:
    """Settings as the HTTP transport uses them: ``inputs_file`` off unless explicitly enabled."""
    if settings.allow_inputs_file is None:
        return settings.model_copy(update={"allow_inputs_file": False})
    return settings


def _public_url(settings: Settings) -> AnyHttpUrl:
    if settings.public_url:
        return AnyHttpUrl(settings.public_url)
    host = "localhost" if settings.host in ("0.0.0.0", "::", "") else settings.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return AnyHttpUrl(f"http://{host}:{settings.port}{MCP_PATH}")


def _verifier(settings: Settings) -> StaticTokenVerifier | None:
    """The token verifier, or None when auth is off; raises when that would be unsafe."""
    if settings.auth_tokens or settings.auth_tokens_file is not None:
        return StaticTokenVerifier(settings.auth_tokens, settings.auth_tokens_file)
    if is_loopback(settings.host):
        return None
    if settings.insecure_no_auth:
        return None
    raise HttpSetupError(
        f"refusing to serve HTTP on {settings.host} without authentication: set TASKGROUP_MCP_AUTH_TOKENS "
        "or TASKGROUP_MCP_AUTH_TOKENS_FILE (bearer tokens), bind to 127.0.0.1, or pass --insecure-no-auth "
        "if something in front of this server already authenticates every request"
    )


def _transport_security(settings: Settings) -> TransportSecuritySettings:
    hosts = [*LOOPBACK_HOSTS, *(h for h in settings.allowed_hosts if h not in LOOPBACK_HOSTS)]
    origins = list(settings.allowed_origins) or list(LOOPBACK_ORIGINS)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def _cors(origins: list[str]) -> Middleware:
    """CORS for the configured browser origins only (``host:*`` entries match any port)."""
    patterns = [re.escape(o.removesuffix(":*")) + (r":\d+" if o.endswith(":*") else "") for o in origins]
    return Middleware(
        CORSMiddleware,
        allow_origin_regex="|".join(f"(?:{p})" for p in patterns),
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=[
            "authorization",
            "content-type",
            "accept",
            "last-event-id",
            "mcp-protocol-version",
            "mcp-session-id",
            API_KEY_HEADER,
            "x-request-id",
        ],
        expose_headers=["mcp-session-id", "mcp-protocol-version", "www-authenticate", "x-request-id"],
        max_age=600,
    )


def build_http_app(
    settings: Settings,
    server: MCPServer[Any],
    *,
    ready_check: ReadyCheck | None = None,
    journal_check: JournalCheck | None = None,
) -> Starlette:
    """The ASGI app serving ``server`` at ``/mcp``; raises ``HttpSetupError`` for unsafe settings.
    ``/readyz`` answers from ``ready_check`` (the upstream API) and reports ``journal_check``."""
    try:
        verifier = _verifier(settings)
    except AuthSetupError as exc:
        raise HttpSetupError(str(exc)) from None
    if verifier is None and not is_loopback(settings.host):
        logger.warning(
            "serving %s on %s without authentication (--insecure-no-auth): anyone who can reach it can spend your key",
            MCP_PATH,
            settings.host,
        )
    security = _transport_security(settings)
    mcp_app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=False,
        transport_security=security,
        max_request_body_size=settings.max_request_body_bytes,
        host=settings.host,
    )
    endpoint: ASGIApp = SafeProtocolErrors(mcp_app)  # protocol errors never quote the request
    if settings.per_request_api_key and not settings.per_request_api_key_fallback:
        endpoint = CallerKeyRequired(endpoint)  # after auth: an unauthenticated caller gets the bearer 401
    routes: list[Route] = []
    if verifier is not None:
        # Static tokens, no OAuth: a plain Bearer challenge and no RFC 9728 metadata, so clients
        # ask for a header instead of starting OAuth discovery against no authorization server.
        endpoint = BearerRequired(endpoint)
    endpoint = McpGuard(
        endpoint,
        max_body_bytes=settings.max_request_body_bytes,
        security=security,
        forward_api_key=settings.per_request_api_key,
    )

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def upstream_ok() -> bool:
        if ready_check is None:
            return True
        with anyio.move_on_after(READY_TIMEOUT_SECONDS):
            try:
                return await ready_check()
            except Exception as exc:  # any failure to answer means not ready
                logger.warning("readiness check failed: %s", type(exc).__name__)
        return False

    async def readyz(_: Request) -> JSONResponse:
        # The journal is reported, not required: with it read-only or unavailable the tools keep
        # working against the API (and say so), so the pod still takes traffic.
        journal: dict[str, str] = {}
        ok = [False]

        async def check_upstream() -> None:
            ok[0] = await upstream_ok()

        async with anyio.create_task_group() as tg:
            tg.start_soon(check_upstream)
            if journal_check is not None:
                journal.update(await journal_check())
        if ok[0]:
            return JSONResponse({"status": "ready", **journal})
        return JSONResponse({"status": "upstream not answering", **journal}, status_code=503)

    routes += [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route(MCP_PATH, endpoint),
    ]
    middleware = [Middleware(RequestLogMiddleware)]
    if settings.allowed_origins:
        middleware.append(_cors(settings.allowed_origins))
    if verifier is not None:
        middleware += [
            Middleware(AuthenticationMiddleware, backend=BearerAuthBackend(verifier)),
            Middleware(AuthContextMiddleware),
        ]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncGenerator[None]:
        async with server.session_manager.run():
            logger.info(
                "serving MCP at %s (stateless, auth %s, per-request keys %s)",
                _public_url(settings),
                f"on: {verifier.token_count} token(s)" if verifier else "off",
                ("on, with fallback to PARALLEL_API_KEY" if settings.per_request_api_key_fallback else "on")
                if settings.per_request_api_key
                else "off",
            )
            yield

    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


class _Server(uvicorn.Server):
    """uvicorn, minus one habit: after a graceful shutdown on SIGTERM/SIGINT it re-raises the
    signal, which would end the process before the backend (sandbox, HTTP pool) closes. Here the
    signal ends serving, cleanup runs, and the command exits 0."""

    @contextmanager
    def capture_signals(self) -> Generator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def uvicorn_config(app: ASGIApp, settings: Settings) -> uvicorn.Config:
    """uvicorn as we serve: our logging, no server header, graceful shutdown, and connection
    limits (a header timeout and a cap below the open-file limit; see ``_http_limits``)."""
    max_connections = settings.http_max_connections or default_max_connections()
    protocol = limited_h11(
        max_connections=max_connections, header_timeout=settings.http_header_timeout_seconds
    )
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=protocol,
        ws="none",  # MCP needs no WebSocket; an upgraded connection would escape the limits above
        backlog=accept_backlog(max_connections),
        log_config=None,  # our handlers (configure_logging) own the output
        access_log=False,  # RequestLogMiddleware logs requests, without query strings
        server_header=False,
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_seconds)),
        lifespan="on",
    )


def check_http_settings(settings: Settings) -> None:
    """Raise ``HttpSetupError`` for settings the HTTP transport refuses (before anything starts)."""
    try:
        _verifier(settings)
    except AuthSetupError as exc:
        raise HttpSetupError(str(exc)) from None


def upstream_ready_check(settings: Settings, http: httpx2.AsyncClient) -> ReadyCheck:
    """True when the API (or the sandbox behind ``http``'s transport) answers below 500.

    One GET of a group that does not exist, without a key: a 404 or 401 proves the API answers,
    and no secret is involved. ``http`` is opened once and reused by every probe.
    """
    url = f"{settings.parallel_base_url}/{settings.api_prefix}/tasks/groups/tgrp_readiness_probe"

    async def ready() -> bool:
        response = await http.get(url, timeout=READY_TIMEOUT_SECONDS)
        return response.status_code < 500

    return ready


def journal_ready_check(journal: Journal | None) -> JournalCheck:
    """The journal's state for /readyz, from ``journal`` (None: the state is off): a write tried
    now (a read when it is read-only), bounded by the readiness timeout. Names the setting that
    chose the database, never its value (a database URL holds a password)."""

    async def check() -> dict[str, str]:
        if journal is None:
            return {"journal": "off", "journal_setting": "TASKGROUP_MCP_STATE"}
        problem: str | None = "timed out"
        with anyio.move_on_after(READY_TIMEOUT_SECONDS):
            problem = await journal.probe()
        state = "ok" if problem is None else "read-only" if journal.read_only else "unavailable"
        return {"journal": state, "journal_setting": journal.setting}

    return check


async def serve_http(settings: Settings) -> int:
    """Open the backend (real API or sandbox), build the server, and serve until SIGTERM/SIGINT.

    The address is bound first: with port 0 the system picks a free port, and the settings (the
    startup line ``serving MCP at http://HOST:PORT/mcp``, the 401 challenge) carry the bound one."""
    settings = http_settings(settings)
    check_http_settings(settings)
    with listen(settings.host, settings.port) as sock:
        settings = settings.model_copy(update={"port": bound_port(sock)})
        async with open_backend(settings) as backend:
            transport = backend.sandbox.transport if backend.sandbox is not None else None
            # /readyz probes the journal through a connection of its own (the server's journal
            # lives in the MCP lifespan): the same database, the same settings.
            journal = open_journal(backend.settings)
            try:
                async with httpx2.AsyncClient(transport=transport) as probe:
                    server = build_server(backend.settings, backend.client_factory)
                    ready = upstream_ready_check(backend.settings, probe)
                    app = build_http_app(
                        backend.settings,
                        server,
                        ready_check=ready,
                        journal_check=journal_ready_check(journal),
                    )
                    await _Server(uvicorn_config(app, settings)).serve(sockets=[sock])
            finally:
                if journal is not None:
                    await journal.close()
    return 0


def run_http(settings: Settings, server: MCPServer[Any], *, ready_check: ReadyCheck | None = None) -> int:
    """Serve ``server`` until SIGINT/SIGTERM; 2 when the settings are refused (the reason is logged)."""
    try:
        app = build_http_app(settings, server, ready_check=ready_check)
    except HttpSetupError as exc:
        logger.error("%s", exc)
        return 2
    _Server(uvicorn_config(app, settings)).run()
    return 0


def run(args: argparse.Namespace) -> int:
    """``taskgroup-mcp serve --transport http``: 0 after a clean shutdown, 2 for refused settings."""
    from taskgroup_mcp.commands.serve import quiet_duplicate_request_lines, settings_from_args

    settings = http_settings(settings_from_args(args))
    configure_logging(settings.log_level, settings.log_format)
    install_log_redaction()
    quiet_duplicate_request_lines(settings)
    try:
        return anyio.run(serve_http, settings)
    except HttpSetupError as exc:
        logger.error("%s", exc)
        return 2
    except ListenError as exc:
        logger.error("%s; pick another --port (0 picks a free one)", exc)
        return 1
