"""One resumable SSE stream: the single place where the client reconnects.

A :class:`ResumableStream` follows one endpoint across connections. After a cut (a transport
error, or a 5xx on connect) it reconnects with backoff, resuming from the last ``event_id`` when
the endpoint takes a cursor; when the server closes the stream on purpose it asks its ``follow``
callback whether there is more to come, and reconnects if so. One deadline bounds the whole
thing (connections, waits for events and backoff sleeps); one policy decides the waits:

* a connection that delivered something new costs nothing: the next one starts after the
  shortest backoff;
* a connection that delivered nothing new counts as a failure: its wait doubles (full jitter,
  capped), an error is paid from the retry budget, and ``max_retries`` failed connections in a
  row end the stream with the last error. Planned closes without news never raise: they back off
  up to the cap and continue until ``follow`` says stop or the deadline passes.

Endpoints without a cursor replay everything on every connect (a run's events): ``resume=False``
with a ``fresh`` filter drops what was already delivered, so a replay is not news.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
from pydantic_core import from_json

from taskgroup_mcp.wire import is_object

from ._errors import APITimeoutError, ParallelError, RateLimitError
from ._retry import RetryPolicy

logger = logging.getLogger("taskgroup_mcp.client")

Opener = Callable[[Mapping[str, str]], AbstractAsyncContextManager[AsyncIterator[list[str]]]]
"""Opens one connection with the given query; yields the events' ``data``, a batch per read."""
IDLE_BACKOFF_STEPS = 6
"""A quiet stream's reconnect waits stop growing after this many empty connections (the cap)."""


class ResumableStream:
    """The raw event objects of one SSE endpoint, across as many connections as it takes.

    ``query()`` is evaluated on every connect (e.g. the time left as the server's ``timeout``);
    ``cursor`` is where to resume from (``last_event_id``); ``follow()`` is asked after a planned
    close and returns whether to reconnect (None: a finite listing, done when closed);
    ``deadline`` (``anyio.current_time()`` based) ends the stream quietly when reached.
    """

    def __init__(
        self,
        open_connection: Opener,
        path: str,
        policy: RetryPolicy,
        *,
        query: Callable[[], Mapping[str, str]] = dict,
        cursor: str | None = None,
        resume: bool = True,
        fresh: Callable[[dict[str, Any]], bool] | None = None,
        follow: Callable[[], Awaitable[bool]] | None = None,
        deadline: float | None = None,
    ) -> None:
        self._open = open_connection
        self._path = path
        self._policy = policy
        self._query = query
        self.cursor = cursor
        """The last ``event_id`` delivered (where a new stream would resume)."""
        self._resume = resume
        self._fresh = fresh
        self._follow = follow
        self._deadline = deadline
        self.connections = 0

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._events()

    async def _events(self) -> AsyncIterator[dict[str, Any]]:
        async for batch in self.batches():
            for event in batch:
                yield event

    def _left(self) -> float:
        return float("inf") if self._deadline is None else self._deadline - anyio.current_time()

    async def _pause(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, min(seconds, self._left())))

    async def batches(self) -> AsyncIterator[list[dict[str, Any]]]:
        """The events in batches (one per network read): the cheap way through long listings."""
        failures = 0
        while self._left() > 0:
            query = dict(self._query())
            if self._resume and self.cursor:
                query["last_event_id"] = self.cursor
            delivered = 0
            self.connections += 1
            try:
                async with self._open(query) as reads:
                    async for batch in self._read(reads):
                        delivered += len(batch)
                        yield batch
            except ParallelError as exc:
                if delivered:
                    failures = 0
                elif not exc.retryable or failures >= self._policy.max_retries:
                    raise
                elif not self._policy.budget.try_spend(timeout=isinstance(exc, APITimeoutError)):
                    logger.debug("GET %s: retry budget exhausted", self._path)
                    raise
                else:
                    failures += 1
                retry_after = exc.retry_after if isinstance(exc, RateLimitError) else None
                delay = self._policy.delay(max(failures - 1, 0), retry_after)
                logger.debug("GET %s: %s, reconnecting in %.3f s", self._path, type(exc).__name__, delay)
                await self._pause(delay)
                continue
            if self._left() <= 0 or self._follow is None or not await self._follow():
                return
            failures = 0 if delivered else min(failures + 1, IDLE_BACKOFF_STEPS)
            delay = self._policy.delay(failures)
            logger.debug("GET %s: closed by the server; reconnecting in %.3f s", self._path, delay)
            await self._pause(delay)

    async def _read(self, reads: AsyncIterator[list[str]]) -> AsyncIterator[list[dict[str, Any]]]:
        """The new events of one connection, a batch per read (bounded by the deadline if any)."""
        iterator = aiter(reads)
        while True:
            if self._deadline is None:
                datas = await anext(iterator, None)
            else:
                datas = None
                with anyio.move_on_after(self._left()):
                    datas = await anext(iterator, None)
            if datas is None:
                return
            if batch := self._decode(datas):
                yield batch

    def _decode(self, datas: list[str]) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        for data in datas:
            try:
                obj: Any = from_json(data)
            except ValueError:
                logger.debug("GET %s: skipped an event that is not JSON", self._path)
                continue
            if not is_object(obj):
                continue
            event: dict[str, Any] = obj
            eid = event.get("event_id")
            if isinstance(eid, str) and eid:
                if self._resume and eid == self.cursor:
                    continue  # a server that resends the cursor's own event
                self.cursor = eid
            if self._fresh is not None and not self._fresh(event):
                continue
            batch.append(event)
        return batch
