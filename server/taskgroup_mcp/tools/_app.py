"""Server state held by the lifespan, and the one helper every tool uses to reach the API."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import AsyncGenerator, Callable, Generator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from taskgroup_mcp.client import ParallelClient
from taskgroup_mcp.config import Settings
from taskgroup_mcp.journal import Journal, Scope, open_journal

from ._bounded import BoundedDict
from ._hosts import Resolver, system_resolver
from ._journaling import Journaled
from ._sanitize import SANDBOX_NOTICE, SECRETS
from ._spend import SpendLedger

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
TENANT_HASH_CHARS = 32
"""Hex characters of a caller key's SHA-256 that name its tenant (its exports directory)."""


MAX_KEPT_CURSORS = 10_000
MAX_TENANT_CLIENTS = 256
MAX_REMEMBERED_FAN_OUTS = 1_024


class CallerSlots:
    """Long calls (waits and result streams) in progress, per caller and in total.

    Each holds an API connection for up to a wait window, and the API client's pool is shared:
    without a bound, one caller's burst of waits would hold every connection and stall everyone's
    short calls. Past a bound a call is refused at once (never queued) with a sentence to act on.
    """

    def __init__(self, per_caller: int, total: int) -> None:
        self.per_caller = per_caller
        self.total = total
        self._held: Counter[str] = Counter()

    @property
    def in_progress(self) -> int:
        return self._held.total()

    @contextmanager
    def hold(self, caller: str, tool: str) -> Generator[None]:
        if self._held[caller] >= self.per_caller:
            raise ToolError(
                f"Too many waits at once: this caller already has {self.per_caller} waits or result "
                f"streams in progress (the server's limit per caller). Let one return, then call {tool} "
                "again; nothing was started, so calling again is safe."
            )
        if self.in_progress >= self.total:
            raise ToolError(
                f"The server is running its limit of {self.total} waits and result streams for all "
                f"callers. Call {tool} again in a few seconds; nothing was started, so calling again is safe."
            )
        self._held[caller] += 1
        try:
            yield
        finally:
            self._held[caller] -= 1
            if self._held[caller] <= 0:
                del self._held[caller]


@dataclass
class AppState:
    settings: Settings
    client: ParallelClient | None
    event_cursors: BoundedDict[str, str] = field(default_factory=lambda: BoundedDict(MAX_KEPT_CURSORS))
    """Per group, the last events-stream position seen: a new wait resumes there."""
    fan_out_groups: BoundedDict[str, tuple[ParallelClient, str]] = field(
        default_factory=lambda: BoundedDict(MAX_REMEMBERED_FAN_OUTS)
    )
    """Per fan_out call (a hash of its arguments), the client that ran it and the group it created:
    a repeated identical call (a client that timed out and retried) reuses the group instead of
    paying for every run again."""
    tenants: BoundedDict[str, ParallelClient] = field(default_factory=lambda: BoundedDict(MAX_TENANT_CLIENTS))
    """Per-request-key clients by a hash of the key, so each account keeps one pacing budget."""
    journal: Journal | None = None
    """The durable record of groups and sent client ids (None with TASKGROUP_MCP_STATE=off)."""
    long_calls: CallerSlots = field(init=False)
    resolver: Resolver = system_resolver
    """Looks up the host names of forwarded MCP servers (tests inject answers)."""
    spend: SpendLedger = field(init=False)
    """What this process spent, per account, per group and within the spend window."""

    def __post_init__(self) -> None:
        self.long_calls = CallerSlots(self.settings.max_waits_per_caller, self.settings.max_waits_total)
        self.spend = SpendLedger(self.settings.spend_window_seconds)

    @property
    def notice(self) -> str | None:
        parts = [
            SANDBOX_NOTICE if self.settings.sandbox else None,
            self.journal.notice if self.journal is not None else None,
        ]
        return " ".join(p for p in parts if p) or None


def make_lifespan(
    settings: Settings,
    client_factory: ClientFactory | None,
    states: list[AppState] | None = None,
    resolver: Resolver = system_resolver,
) -> Callable[[Any], AbstractAsyncContextManager[AppState]]:
    """The lifespan: open the journal, and the client once (if there is a key, a sandbox, or
    per-request keys). The state is also published in ``states`` while it lives (for the static
    resources, which get no request context)."""
    published: list[AppState] = states if states is not None else []

    @asynccontextmanager
    async def publish(state: AppState) -> AsyncGenerator[AppState]:
        published.append(state)
        try:
            yield state
        finally:
            published.remove(state)

    @asynccontextmanager
    async def lifespan(_server: Any) -> AsyncGenerator[AppState]:
        if settings.parallel_api_key is not None:
            SECRETS.add(settings.parallel_api_key.get_secret_value())
        if settings.database_url is not None:
            url = settings.database_url.get_secret_value()
            SECRETS.add(url)
            password = urlsplit(url).password
            if password:
                SECRETS.add(password)
        journal = open_journal(settings)
        if journal is not None:
            await journal.start()
        try:
            usable = settings.sandbox or settings.api_key_configured or settings.per_request_api_key
            if not usable:
                async with publish(
                    AppState(settings=settings, client=None, journal=journal, resolver=resolver)
                ) as state:
                    yield state
                return
            factory = client_factory or (lambda: ParallelClient.from_settings(settings))
            async with (
                factory() as client,
                publish(
                    AppState(settings=settings, client=client, journal=journal, resolver=resolver)
                ) as state,
            ):
                yield state
        finally:
            if journal is not None:
                await journal.close()

    return lifespan


def remembered_fan_out(state: AppState, client: ParallelClient, call_hash: str) -> str | None:
    """The group an identical earlier fan_out call made through this same client, if any."""
    entry = state.fan_out_groups.get(call_hash)
    if entry is None or entry[0] is not client:
        return None
    state.fan_out_groups.touch(call_hash)
    return entry[1]


def remember_fan_out(state: AppState, client: ParallelClient, call_hash: str, group_id: str) -> None:
    state.fan_out_groups[call_hash] = (client, group_id)


def _tenant(state: AppState, base: ParallelClient, key: str) -> ParallelClient:
    """The client for one caller's key (they share the pool; each keeps its own pacing)."""
    digest = key_hash(key)
    client = state.tenants.touch(digest)
    if client is None:
        client = state.tenants[digest] = base.with_api_key(key)
    return client


def app_state(ctx: Context[Any, Any]) -> AppState:
    state = ctx.request_context.lifespan_context
    if not isinstance(state, AppState):  # pragma: no cover - wiring error
        raise ToolError("The server is not initialised.")
    return state


def _per_request(settings: Settings) -> bool:
    return settings.per_request_api_key and not settings.sandbox


def caller_key(ctx: Context[Any, Any]) -> str | None:
    """The caller's own Parallel key (``X-Parallel-Api-Key``, per-request mode only), else None."""
    if not _per_request(app_state(ctx).settings):
        return None
    headers = ctx.headers
    if headers is None:
        return None
    return headers.get(API_KEY_HEADER) or headers.get("X-Parallel-Api-Key") or None


def key_hash(key: str) -> str:
    """A stable name for a caller key (its tenant): the key cannot be recovered from it."""
    return hashlib.sha256(b"taskgroup-mcp tenant\x00" + key.encode()).hexdigest()[:TENANT_HASH_CHARS]


def caller_tenant(ctx: Context[Any, Any]) -> str | None:
    """The tenant whose data this request may see: its key's hash in per-request mode, or None
    for the operator's own scope (stdio, a single-key HTTP server, or the explicit fallback)."""
    key = caller_key(ctx)
    return key_hash(key) if key else None


def caller_id(ctx: Context[Any, Any]) -> str:
    """Who is calling, for per-caller limits: the per-request key's hash, else the bearer token's
    principal, else ``local`` (the stdio session, or an HTTP server without auth)."""
    tenant = caller_tenant(ctx)
    if tenant is not None:
        return f"key:{tenant}"
    token = get_access_token()
    if token is not None:
        return f"token:{token.client_id}"
    return "local"


def scope_for(ctx: Context[Any, Any]) -> Scope:
    """Whose groups this request touches: the API, and the tenant (a hash of the caller's own key
    in multi-tenant mode; the server's own key is the tenant ``""``)."""
    return Scope(app_state(ctx).settings.parallel_base_url, caller_tenant(ctx) or "")


def journaled(ctx: Context[Any, Any]) -> Journaled:
    return Journaled(app_state(ctx).journal, scope_for(ctx))


def client_for(ctx: Context[Any, Any]) -> ParallelClient:
    """The client for this request: every API access goes through here.

    With ``per_request_api_key`` the caller's key comes from the ``X-Parallel-Api-Key`` header
    (HTTP). A request without it is refused (the HTTP layer answers 401 before a tool runs); only
    ``per_request_api_key_fallback`` lets it use the operator's key. Without a usable key every
    tool answers with one sentence on how to get one.
    """
    state = app_state(ctx)
    if state.client is None:
        raise ToolError(NO_KEY_MESSAGE)
    if _per_request(state.settings):
        key = caller_key(ctx)
        if key:
            # The caller's key: masked in this call, and in every log line while a call uses it.
            SECRETS.add_key_in_use(key)
            return _tenant(state, state.client, key)
        if not (state.settings.per_request_api_key_fallback and state.settings.api_key_configured):
            raise ToolError(NO_HEADER_MESSAGE)
    return state.client


@contextmanager
def long_call(ctx: Context[Any, Any], tool: str) -> Generator[None]:
    """Count this call against its caller's (and the server's) bound on waits and streams."""
    with app_state(ctx).long_calls.hold(caller_id(ctx), tool):
        yield
