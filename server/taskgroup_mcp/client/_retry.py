"""Retry policy for safe calls: bounded attempts, full-jitter backoff, and a retry budget.

The budget is AWS-style (botocore ``retries/quota.py``): a bucket of tokens per client; a retry
costs tokens (a timeout or dropped connection costs more), a success refunds one. When the
bucket is empty, failures surface at once instead of multiplying traffic during an outage.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio

from ._errors import APIStatusError, APITimeoutError, ParallelError, RateLimitError
from ._http import logger

T = TypeVar("T")


@dataclass
class RetryBudget:
    capacity: int = 500
    retry_cost: int = 5
    timeout_cost: int = 10
    success_refund: int = 1
    tokens: int = field(default=-1)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def try_spend(self, *, timeout: bool = False) -> bool:
        """Take the cost of one retry; False (and nothing taken) when the budget cannot pay it."""
        cost = self.timeout_cost if timeout else self.retry_cost
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True

    def refund(self) -> None:
        self.tokens = min(self.capacity, self.tokens + self.success_refund)


@dataclass(frozen=True)
class Backoff:
    """``delay(n) = uniform(0, min(cap, base * 2**n))``; a server's Retry-After wins when given."""

    base: float = 0.5
    cap: float = 8.0
    max_retry_after: float = 60.0

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        r = rng.random() if rng is not None else random.random()
        return r * min(self.cap, self.base * (2**attempt))


@dataclass
class RetryPolicy:
    """The one retry policy of a client: how long to back off, how many retries a call gets, and
    the budget every retry is paid from (shared by safe calls, streams and ``submit``)."""

    backoff: Backoff
    budget: RetryBudget
    max_retries: int
    rng: random.Random

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        return self.backoff.delay(attempt, retry_after, self.rng)

    async def call(
        self,
        what: str,
        attempt_fn: Callable[[], Awaitable[T]],
        *,
        final_statuses: frozenset[int] = frozenset(),
    ) -> T:
        """Run a safe call, retrying retryable failures with backoff within the retry budget
        (``final_statuses``: retryable statuses this call hands back to its caller at once)."""
        attempt = 0
        while True:
            try:
                result = await attempt_fn()
            except ParallelError as exc:
                final = isinstance(exc, APIStatusError) and exc.status_code in final_statuses
                if not exc.retryable or final or attempt >= self.max_retries:
                    raise
                if not self.budget.try_spend(timeout=isinstance(exc, APITimeoutError)):
                    logger.debug("%s: retry budget exhausted", what)
                    raise
                retry_after = exc.retry_after if isinstance(exc, RateLimitError) else None
                delay = self.delay(attempt, retry_after)
                logger.debug("%s: %s, retry %d in %.3f s", what, type(exc).__name__, attempt + 1, delay)
                attempt += 1
                await anyio.sleep(delay)
                continue
            self.budget.refund()
            return result
