"""Server state held by the lifespan, and the one helper every tool uses to reach the API."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from taskgroup_mcp.client import ParallelClient
from taskgroup_mcp.config import Settings

from ._sanitize import SANDBOX_NOTICE, SECRETS

ClientFactory = Callable[[], ParallelClient]
"""Builds the (not yet entered) client the lifespan opens once per process."""

API_KEY_HEADER = "x-parallel-api-key"

NO_KEY_MESSAGE = (
    "No Parallel API key is configured: set PARALLEL_API_KEY in this MCP server's environment "
    "(keys at platform.parallel.ai), or start the server with --sandbox (TASKGROUP_MCP_SANDBOX=1) "
    "to try every tool offline with synthetic data."
)
NO_HEADER_MESSAGE = (
    "This server takes each caller's Parallel API key from the X-Parallel-Api-Key request header, "
    "and this request has none: configure your MCP client to send that header."
)


MAX_KEPT_CURSORS = 10_000


class BoundedDict(OrderedDict[str, str]):
    """A dict that forgets its oldest entries beyond ``limit`` (a long-lived server sees many groups)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


@dataclass
class AppState:
    settings: Settings
    client: ParallelClient | None
    event_cursors: dict[str, str] = field(default_factory=lambda: BoundedDict(MAX_KEPT_CURSORS))
    """Per group, the last events-stream position seen: a new wait resumes there."""
    fan_out_groups: OrderedDict[str, tuple[ParallelClient, str]] = field(
        default_factory=lambda: OrderedDict()
    )
    """Per fan_out call (a hash of its arguments), the client that ran it and the group it created:
    a repeated identical call (a client that timed out and retried) reuses the group instead of
    paying for every run again."""
    tenants: OrderedDict[str, ParallelClient] = field(default_factory=lambda: OrderedDict())
    """Per-request-key clients by a hash of the key, so each account keeps one pacing budget."""

    @property
    def notice(self) -> str | None:
        return SANDBOX_NOTICE if self.settings.sandbox else None


def make_lifespan(
    settings: Settings, client_factory: ClientFactory | None
) -> Callable[[Any], AbstractAsyncContextManager[AppState]]:
    """The lifespan: open the client once (if there is a key, a sandbox, or per-request keys)."""

    @asynccontextmanager
    async def lifespan(_server: Any) -> AsyncGenerator[AppState]:
        if settings.parallel_api_key is not None:
            SECRETS.add(settings.parallel_api_key.get_secret_value())
        usable = settings.sandbox or settings.api_key_configured or settings.per_request_api_key
        if not usable:
            yield AppState(settings=settings, client=None)
            return
        factory = client_factory or (lambda: ParallelClient.from_settings(settings))
        async with factory() as client:
            yield AppState(settings=settings, client=client)

    return lifespan


MAX_TENANT_CLIENTS = 256
MAX_REMEMBERED_FAN_OUTS = 1_024


def remembered_fan_out(state: AppState, client: ParallelClient, call_hash: str) -> str | None:
    """The group an identical earlier fan_out call made through this same client, if any."""
    entry = state.fan_out_groups.get(call_hash)
    if entry is None or entry[0] is not client:
        return None
    state.fan_out_groups.move_to_end(call_hash)
    return entry[1]


def remember_fan_out(state: AppState, client: ParallelClient, call_hash: str, group_id: str) -> None:
    state.fan_out_groups[call_hash] = (client, group_id)
    state.fan_out_groups.move_to_end(call_hash)
    while len(state.fan_out_groups) > MAX_REMEMBERED_FAN_OUTS:
        state.fan_out_groups.popitem(last=False)


def _tenant(state: AppState, base: ParallelClient, key: str) -> ParallelClient:
    """The client for one caller's key (they share the pool; each keeps its own pacing)."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    client = state.tenants.get(digest)
    if client is None:
        client = base.with_api_key(key)
        state.tenants[digest] = client
        while len(state.tenants) > MAX_TENANT_CLIENTS:
            state.tenants.popitem(last=False)
    state.tenants.move_to_end(digest)
    return client


def app_state(ctx: Context[Any, Any]) -> AppState:
    state = ctx.request_context.lifespan_context
    if not isinstance(state, AppState):  # pragma: no cover - wiring error
        raise ToolError("The server is not initialised.")
    return state


def client_for(ctx: Context[Any, Any]) -> ParallelClient:
    """The client for this request: every API access goes through here.

    With ``per_request_api_key`` the caller's key comes from the ``X-Parallel-Api-Key`` header
    (HTTP); without a usable key every tool answers with one sentence on how to get one.
    """
    state = app_state(ctx)
    if state.client is None:
        raise ToolError(NO_KEY_MESSAGE)
    if state.settings.per_request_api_key and not state.settings.sandbox:
        headers = ctx.headers
        key = None
        if headers is not None:
            key = headers.get(API_KEY_HEADER) or headers.get("X-Parallel-Api-Key")
        if key:
            SECRETS.add(key)
            return _tenant(state, state.client, key)
        if not state.settings.api_key_configured:
            raise ToolError(NO_HEADER_MESSAGE)
    return state.client
