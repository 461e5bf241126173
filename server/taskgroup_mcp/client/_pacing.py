"""Client-side pacing of run-creating requests: at the API's documented limit, never beyond it.

The API allows 2,000 run-creating POSTs per minute per key, each carrying up to 1,000 runs.
:class:`SlidingWindow` admits a request only while fewer than ``limit`` were admitted in the last
``window`` seconds: exactly the documented limit, whichever way the server counts it (rolling or
per minute). Under the limit nothing waits. :class:`TokenBucket` is the opt-in runs-per-minute
budget (an operator's own quota). :meth:`Pacer.pause` holds every sender back after a 429 until
its ``Retry-After`` has passed.

Time is read from a :class:`~._clock.Clock` (by default the event loop's), so tests can move it
by hand and check each pacing decision exactly, whatever the machine's load.
"""

from __future__ import annotations

from collections import deque

import anyio

from ._clock import LOOP_CLOCK, Clock


class TokenBucket:
    """``rate_per_minute`` tokens per minute, holding at most ``capacity`` (default: the rate)."""

    def __init__(
        self, rate_per_minute: float, capacity: float | None = None, *, clock: Clock = LOOP_CLOCK
    ) -> None:
        if rate_per_minute <= 0:
            raise ValueError("rate_per_minute must be positive")
        self.rate = rate_per_minute / 60.0
        self.capacity = float(capacity if capacity is not None else rate_per_minute)
        self._tokens = self.capacity
        self._stamp: float | None = None
        self._lock = anyio.Lock()
        self._clock = clock

    def _refill(self, now: float) -> None:
        if self._stamp is not None:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_time(self, n: float) -> float:
        """Seconds until ``n`` tokens would be available (0 when they are there now)."""
        self._refill(self._clock.now())
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
                await self._clock.sleep(delay)
                waited += delay


class SlidingWindow:
    """At most ``limit`` admissions in any ``window`` seconds (remembers at most ``limit`` times)."""

    def __init__(self, limit: int, window: float = 60.0, *, clock: Clock = LOOP_CLOCK) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()
        self._lock = anyio.Lock()
        self._clock = clock

    def wait_time(self) -> float:
        """Seconds until one more admission would fit (0 when it fits now)."""
        now = self._clock.now()
        times = self._times
        while times and times[0] <= now - self.window:
            times.popleft()
        return 0.0 if len(times) < self.limit else times[0] + self.window - now

    async def acquire(self) -> float:
        """Admit one; waits while the window is full (in arrival order); returns seconds waited."""
        waited = 0.0
        async with self._lock:
            while (delay := self.wait_time()) > 0:
                await self._clock.sleep(delay)
                waited += delay
            self._times.append(self._clock.now())
        return waited


class Pacer:
    """The budgets of run-creating requests: requests per minute (the API's limit), and, when
    set, runs per minute. Shared by every submission of one client (one key)."""

    def __init__(
        self,
        requests_per_minute: int,
        runs_per_minute: float | None = None,
        *,
        clock: Clock = LOOP_CLOCK,
    ) -> None:
        self.requests = SlidingWindow(requests_per_minute, clock=clock)
        self.runs = TokenBucket(runs_per_minute, clock=clock) if runs_per_minute else None
        self._resume_at = float("-inf")
        self._clock = clock

    @property
    def requests_per_minute(self) -> int:
        return self.requests.limit

    @property
    def runs_per_minute(self) -> float | None:
        return None if self.runs is None else self.runs.rate * 60.0

    def pause(self, seconds: float) -> None:
        """The API said to wait (a 429's ``Retry-After``): no request goes out before then."""
        self._resume_at = max(self._resume_at, self._clock.now() + seconds)

    async def acquire(self, runs: int) -> float:
        """Wait until one request carrying ``runs`` runs fits every budget; returns seconds waited."""
        waited = 0.0
        while (hold := self._resume_at - self._clock.now()) > 0:
            await self._clock.sleep(hold)
            waited += hold
        waited += await self.requests.acquire()
        if self.runs is not None:
            waited += await self.runs.acquire(runs)
        return waited
