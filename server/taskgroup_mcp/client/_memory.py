"""What a client remembers between submissions: groups it created, run ids the API answered,
and which calls are running (so the same call made twice at once in one process runs once).

Shared by the clients ``with_api_key`` derives (one connection pool, one memory). Bounded: when a
table is full it is cleared, which only ever costs a scan of the group on the next submit.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager

import anyio

MAX_FRESH_GROUPS = 10_000
"""Groups remembered as created here and not yet submitted to (a submit to one skips its scan)."""
MAX_ANSWERED_GROUPS = 1_000
"""Groups whose answered run ids are remembered."""
MAX_ANSWERED_RUNS = 200_000
"""Answered run ids remembered in all (some 40 MB): a repeat matters only within the read lag, so
the latest calls' runs are what counts; a single larger call is still remembered whole."""


class SubmitMemory:
    def __init__(self) -> None:
        self._fresh: set[str] = set()
        self._answered: dict[str, dict[str, str]] = {}
        self._runs = 0
        self._locks: dict[tuple[str, str], anyio.Lock] = {}

    def created(self, group_id: str) -> None:
        """This client created the group: it holds no run yet."""
        if len(self._fresh) >= MAX_FRESH_GROUPS:
            self._fresh.clear()
        self._fresh.add(group_id)

    def touched(self, group_id: str) -> bool:
        """Runs may be added to the group now; returns whether it was still known to be empty."""
        if group_id in self._fresh:
            self._fresh.discard(group_id)
            return True
        return False

    def answered(self, group_id: str) -> Mapping[str, str]:
        """cid -> run id the API answered for this group, in earlier calls of this process.
        Reads may list a committed run only a moment later: a repeat inside that lag must not
        send it again."""
        return self._answered.get(group_id, {})

    def remember(self, group_id: str, runs: Mapping[str, str]) -> None:
        if not runs:
            return
        full = group_id not in self._answered and len(self._answered) >= MAX_ANSWERED_GROUPS
        if full or self._runs + len(runs) > MAX_ANSWERED_RUNS:
            self._answered.clear()
            self._runs = 0
        table = self._answered.setdefault(group_id, {})
        before = len(table)
        table.update(runs)
        self._runs += len(table) - before

    @asynccontextmanager
    async def call(self, group_id: str, call_key: str) -> AsyncGenerator[None]:
        """Held for the whole of one submission: the same call waits for the first to finish."""
        key = (group_id, call_key)
        lock = self._locks.setdefault(key, anyio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and lock.statistics().tasks_waiting == 0:
                self._locks.pop(key, None)
