"""Pacing: under budget nothing waits; over budget a caller waits exactly for the refill."""

from __future__ import annotations

import anyio
import pytest

from taskgroup_mcp.client import Backoff, Pacer, RetryBudget, TokenBucket


@pytest.mark.anyio
async def test_taking_tokens_under_budget_does_not_wait() -> None:
    pacer = Pacer(requests_per_minute=2_000, runs_per_minute=2_000)
    with anyio.fail_after(1):
        waited = [await pacer.acquire(250) for _ in range(8)]
    assert waited == [0.0] * 8


@pytest.mark.anyio
async def test_a_caller_over_budget_waits_for_the_refill() -> None:
    bucket = TokenBucket(rate_per_minute=6_000)  # 100 per second, capacity 6,000
    await bucket.acquire(6_000)
    assert bucket.wait_time(5) == pytest.approx(0.05, abs=0.01)
    with anyio.fail_after(2):
        waited = await bucket.acquire(5)
    assert 0.03 <= waited <= 0.2


def test_the_retry_budget_stops_paying_when_empty_and_refunds_successes() -> None:
    budget = RetryBudget(capacity=20, retry_cost=5, timeout_cost=10)
    assert budget.try_spend(timeout=True) and budget.try_spend()
    assert budget.try_spend()
    assert not budget.try_spend()
    budget.refund()
    assert budget.tokens == 1


def test_backoff_is_full_jitter_capped_and_honours_retry_after() -> None:
    b = Backoff(base=0.5, cap=8.0)
    assert all(0 <= b.delay(10) <= 8.0 for _ in range(100))
    assert b.delay(3, retry_after=1.5) == 1.5
    assert b.delay(3, retry_after=600) == 60.0
