"""The executor's clock: real time for the CLI and demo, a manual clock that tests advance."""

from __future__ import annotations

import time
from typing import Protocol

import anyio

MANUAL_CLOCK_EPOCH = 1_767_225_600.0
"""2026-01-01T00:00:00Z: where a :class:`ManualClock` starts, so timestamps are reproducible."""


class Clock(Protocol):
    """Seconds since the Unix epoch, and a way to wait until a moment on this clock."""

    def now(self) -> float: ...

    async def sleep_until(self, deadline: float) -> None: ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> float:
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        await anyio.sleep(max(0.0, deadline - time.time()))


class ManualClock:
    """A clock that moves only when :meth:`advance` is called; waiters wake when it passes them."""

    def __init__(self, start: float = MANUAL_CLOCK_EPOCH) -> None:
        self._now = start
        self._moved: anyio.Event | None = None

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward (never back) and wake everything waiting on this clock."""
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        self._now += seconds
        moved, self._moved = self._moved, None
        if moved is not None:
            moved.set()
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        while self._now < deadline:
            if self._moved is None:
                self._moved = anyio.Event()
            await self._moved.wait()
