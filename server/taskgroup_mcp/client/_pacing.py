"""Client-side pacing: token buckets for requests per minute and runs per minute.

A bucket starts full (one minute's budget) and refills continuously. Taking tokens that are
there costs no time at all, so code under budget never sleeps; only a caller that would exceed
the budget waits, for exactly as long as the refill needs.
"""

from __future__ import annotations

import anyio


class TokenBucket:
    """``rate_per_minute`` tokens per minute, holding at most ``capacity`` (default: the rate)."""

    def __init__(self, rate_per_minute: float, capacity: float | None = None) -> None:
        if rate_per_minute <= 0:
            raise ValueError("rate_per_minute must be positive")
        self.rate = rate_per_minute / 60.0
        self.capacity = float(capacity if capacity is not None else rate_per_minute)
        self._tokens = self.capacity
        self._stamp: float | None = None
        self._lock = anyio.Lock()

    def _refill(self, now: float) -> None:
        if self._stamp is not None:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_time(self, n: float) -> float:
        """Seconds until ``n`` tokens would be available (0 when they are there now)."""
        self._refill(anyio.current_time())
        need = min(n, self.capacity) - self._tokens
        return 0.0 if need <= 0 else need / self.rate

    async def acquire(self, n: float = 1.0) -> float:
        """Take ``n`` tokens, waiting for them if needed; returns the seconds waited.

        A request larger than the capacity waits for a full bucket and then takes all of it.
        Waiters are served in arrival order.
        """
        waited = 0.0
        async with self._lock:
            while True:
                delay = self.wait_time(n)
                if delay <= 0:
                    self._tokens -= min(n, self.capacity)
                    return waited
                await anyio.sleep(delay)
                waited += delay


class Pacer:
    """The two budgets of run-creating requests, taken together."""

    def __init__(self, requests_per_minute: float, runs_per_minute: float) -> None:
        self.requests = TokenBucket(requests_per_minute)
        self.runs = TokenBucket(runs_per_minute)

    async def acquire(self, runs: int) -> float:
        """Wait until one request carrying ``runs`` runs fits both budgets; returns seconds waited."""
        return await self.requests.acquire(1) + await self.runs.acquire(runs)
