"""How many run-creating requests may be in flight at once: an AIMD bound that adapts.

Starts at ``maximum`` (the POSTs of a batch go out together, as a user of the SDK would send them
with ``asyncio.gather``), then: each answer that came back about as fast as the fastest recent one
adds ``1 / limit`` (one more request per round trip); an answer more than ``slow`` times slower
than that multiplies the bound by ``slow_factor``, and a 429 halves it, at most once per round
trip. The bound never drops below 1 nor rises above ``maximum``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import anyio

from ._clock import LOOP_CLOCK, Clock

RECENT = 20
"""Answers the latency baseline is taken from (the fastest of the last ones, so it can recover)."""


class AdaptiveLimit:
    def __init__(
        self, maximum: int, *, slow: float = 2.0, slow_factor: float = 0.75, clock: Clock = LOOP_CLOCK
    ) -> None:
        if maximum < 1:
            raise ValueError("maximum must be at least 1")
        self.maximum = maximum
        self.limit = float(maximum)
        self.in_flight = 0
        self._slow = slow
        self._slow_factor = slow_factor
        self._recent: deque[float] = deque(maxlen=RECENT)
        self._largest = 0
        self._calm_at = float("-inf")
        self._freed = anyio.Event()
        self._clock = clock

    def _allowed(self) -> int:
        return max(1, int(self.limit))

    @asynccontextmanager
    async def slot(self) -> AsyncGenerator[None]:
        """Hold one of the in-flight places for the duration of a request."""
        while self.in_flight >= self._allowed():
            await self._freed.wait()
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self._wake()

    def _wake(self) -> None:
        freed, self._freed = self._freed, anyio.Event()
        freed.set()

    def succeeded(self, latency: float, runs: int) -> None:
        """An answer after ``latency`` seconds for a request of ``runs`` runs."""
        if runs * 2 < self._largest:
            return  # a small remainder chunk says little about the API's pace
        self._largest = max(self._largest, runs)
        self._recent.append(latency)
        if latency > self._slow * min(self._recent):
            self._decrease(self._slow_factor, latency)
        else:
            self.limit = min(float(self.maximum), self.limit + 1.0 / self.limit)
            self._wake()

    def throttled(self) -> None:
        """The API answered 429."""
        self._decrease(0.5, min(self._recent, default=0.0))

    def _decrease(self, factor: float, round_trip: float) -> None:
        now = self._clock.now()
        if now < self._calm_at:
            return  # one decrease per round trip: the answers in flight predate the last one
        self.limit = max(1.0, self.limit * factor)
        self._calm_at = now + round_trip
