"""Pacing and concurrency: under budget nothing waits; over it a caller waits for the window;
the in-flight bound adapts to 429s and slow answers."""

from __future__ import annotations

import anyio
import pytest

from taskgroup_mcp.client import Backoff, RetryBudget
from taskgroup_mcp.client._limit import AdaptiveLimit
from taskgroup_mcp.client._pacing import Pacer, SlidingWindow, TokenBucket


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


@pytest.mark.anyio
async def test_requests_are_paced_to_a_sliding_window_not_beyond_it() -> None:
    window = SlidingWindow(limit=3, window=0.2)
    with anyio.fail_after(2):
        waits = [await window.acquire() for _ in range(3)]
        assert waits == [0.0, 0.0, 0.0]
        assert 0.1 <= window.wait_time() <= 0.2
        fourth = await window.acquire()
    assert 0.1 <= fourth <= 0.3


@pytest.mark.anyio
async def test_by_default_only_requests_are_paced_and_a_429_holds_every_sender() -> None:
    pacer = Pacer(requests_per_minute=2_000)
    assert pacer.runs is None and pacer.runs_per_minute is None
    with anyio.fail_after(2):
        assert await pacer.acquire(1_000) == 0.0  # 1,000 runs in one request: no runs budget
        pacer.pause(0.1)
        waited = await pacer.acquire(1)
    assert 0.05 <= waited <= 0.3


@pytest.mark.anyio
async def test_the_concurrency_bound_halves_on_a_429_once_per_round_trip_and_grows_back() -> None:
    limit = AdaptiveLimit(8)
    assert limit.limit == 8
    limit.succeeded(0.1, 1_000)
    limit.throttled()
    assert limit.limit == 4
    limit.throttled()  # answers already in flight when the first 429 came: no second cut
    assert limit.limit == 4
    await anyio.sleep(0.12)
    for _ in range(4):
        limit.succeeded(0.1, 1_000)
    assert 4.8 < limit.limit < 5.2  # about one more per round trip of answers


@pytest.mark.anyio
async def test_the_concurrency_bound_shrinks_while_answers_slow_down_and_never_below_one() -> None:
    limit = AdaptiveLimit(4)
    limit.succeeded(0.1, 1_000)
    limit.succeeded(0.5, 1_000)  # five times slower than the best recent answer
    assert limit.limit == 3
    limit.succeeded(0.5, 100)  # a small last chunk says nothing
    assert limit.limit == 3
    for _ in range(20):
        await anyio.sleep(0.001)
        limit._calm_at = 0.0  # pyright: ignore[reportPrivateUsage]  (test: skip the one-cut-per-round-trip wait)
        limit.throttled()
    assert limit.limit == 1.0


@pytest.mark.anyio
async def test_slots_are_held_up_to_the_bound() -> None:
    limit = AdaptiveLimit(2)
    most = 0

    async def hold() -> None:
        nonlocal most
        async with limit.slot():
            most = max(most, limit.in_flight)
            await anyio.sleep(0.01)

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(hold)
    assert most == 2 and limit.in_flight == 0
