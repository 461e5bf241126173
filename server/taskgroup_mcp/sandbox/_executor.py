"""Background work in the sandbox's event loop: applying due transitions, MCP tool calls, webhooks."""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

import anyio
import httpx2
from anyio.abc import TaskGroup

from taskgroup_mcp.wire import WebhookPayload, sign_webhook

from ._clock import Clock
from ._config import DEFAULT_WEBHOOK_SECRET
from ._lifecycle import Lifecycle, listing_warning, run_view
from ._mcp import call_tools
from ._records import RunRecord
from ._timefmt import rfc3339

if TYPE_CHECKING:
    from ._sandbox import Sandbox

log = logging.getLogger("taskgroup_mcp.sandbox")

WEBHOOK_FIRST_RETRY_SECONDS = 5.0
WEBHOOK_RETRY_WINDOW_SECONDS = 48 * 3600.0
"""Documented [webhook-setup]: first retry after 5 s, doubling per failed attempt, "multiple
attempts over 48 hours"; then delivery of that event ends. Both divided by the sandbox speed."""


def webhook_retry_delays(speed: float) -> list[float]:
    """The waits between a webhook's attempts: 5 s, 10 s, 20 s, ... (divided by ``speed``) for as
    long as the next attempt still falls within 48 hours of the first (16 attempts in all)."""
    delays: list[float] = []
    delay, elapsed = WEBHOOK_FIRST_RETRY_SECONDS, 0.0
    while elapsed + delay <= WEBHOOK_RETRY_WINDOW_SECONDS:
        delays.append(delay / speed)
        elapsed += delay
        delay *= 2
    return delays


async def wait_for_change(lc: Lifecycle, clock: Clock, due: float | None) -> None:
    """Return when runs are added or a transition applied, or when ``due`` arrives on ``clock``."""
    async with anyio.create_task_group() as tg:

        async def changed() -> None:
            await lc.wait_changed()
            tg.cancel_scope.cancel()

        async def timer() -> None:
            if due is None:
                await anyio.sleep_forever()
            else:
                await clock.sleep_until(due)
            tg.cancel_scope.cancel()

        tg.start_soon(changed)
        tg.start_soon(timer)


class Executor:
    """Implements the lifecycle's hooks while ``async with sandbox`` is open."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        self._tg: TaskGroup | None = None
        self._limiter = anyio.CapacityLimiter(16)
        self._http: httpx2.AsyncClient | None = None

    @property
    def running(self) -> bool:
        return self._tg is not None

    async def start(self) -> None:
        self._http = httpx2.AsyncClient(timeout=httpx2.Timeout(10.0, connect=5.0))
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        tg.start_soon(self._loop)

    async def stop(self) -> None:
        tg, self._tg = self._tg, None
        if tg is not None:
            tg.cancel_scope.cancel()
            await tg.__aexit__(None, None, None)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _loop(self) -> None:
        lc, clock = self.sb.lifecycle, self.sb.clock
        while True:
            lc.tick()
            await wait_for_change(lc, clock, lc.next_due())

    # -- hooks --------------------------------------------------------------------------------

    def run_started(self, run: RunRecord) -> bool:
        if self._tg is None or not run.input.mcp_servers:
            return False
        self._tg.start_soon(self._call_tools, run.run_id)
        return True

    def run_finished(self, run: RunRecord) -> None:
        if self._tg is not None and run.input.webhook is not None:
            self._tg.start_soon(self._deliver, run.run_id)

    async def _call_tools(self, run_id: str) -> None:
        run = self.sb.store.get_run(run_id)
        if run is None:
            return
        servers = run.input.mcp_servers or []
        try:
            async with self._limiter:
                calls, warnings = await call_tools(servers, run.run_id, run.input.processor, run.input.input)
        except Exception:  # a bug here must not stop the executor: the run gets the listing warning
            log.exception("MCP tool calls failed for %s", run_id)
            calls, warnings = None, [listing_warning(s.name) for s in servers]
        self.sb.stats.mcp_calls += len(calls or [])
        self.sb.lifecycle.tool_calls_done(run_id, calls, warnings)

    async def _deliver(self, run_id: str) -> None:
        run = self.sb.store.get_run(run_id)
        http = self._http
        if run is None or run.input.webhook is None or http is None:
            return
        url = run.input.webhook.url
        clock = self.sb.clock
        payload = WebhookPayload(timestamp=rfc3339(clock.now()), data=run_view(run))
        body = payload.model_dump_json(by_alias=True).encode()
        webhook_id = "whevent_" + hashlib.blake2b(f"{run_id}:status".encode(), digest_size=12).hexdigest()
        secret = self.sb.config.webhook_secret or DEFAULT_WEBHOOK_SECRET
        waits = webhook_retry_delays(self.sb.config.speed)
        due = clock.now()  # the schedule counts from the first attempt
        for attempt in range(len(waits) + 1):
            timestamp = str(int(clock.now()))
            headers = {
                "content-type": "application/json",
                "webhook-id": webhook_id,
                "webhook-timestamp": timestamp,
                "webhook-signature": sign_webhook(secret, webhook_id, timestamp, body),
            }
            try:
                response = await http.post(url, content=body, headers=headers)
                if 200 <= response.status_code < 300:
                    self.sb.stats.webhooks_delivered += 1
                    return
            except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
                log.info("webhook for %s failed (attempt %d): %s", run_id, attempt + 1, type(exc).__name__)
            if attempt < len(waits):
                due += waits[attempt]
                await clock.sleep_until(due)
        self.sb.stats.webhooks_failed += 1
