"""Pacing and concurrency: under budget nothing waits; over it a caller waits for the window;
the in-flight bound adapts to 429s and slow answers."""

from __future__ import annotations

import anyio
import pytest

from taskgroup_mcp.client import Backoff, RetryBudget
from taskgroup_mcp.client._limit import AdaptiveLimit
from taskgroup_mcp.client._pacing import Pacer, SlidingWindow, TokenBucket


class _HandClock:
    """Time moves only when the test advances it, or when a waiter sleeps: the sleep ends at its
    wake-up time at once. Every pacing decision is then exact, however loaded the machine."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        wake_at = self.t + seconds
        await anyio.lowlevel.checkpoint()
        self.t = max(self.t, wake_at)


@pytest.mark.anyio
async def test_taking_tokens_under_budget_does_not_wait() -> None:
    pacer = Pacer(requests_per_minute=2_000, runs_per_minute=2_000)
    with anyio.fail_after(1):
        waited = [await pacer.acquire(250) for _ in range(8)]
    assert waited == [0.0] * 8


@pytest.mark.anyio
async def test_a_caller_over_budget_waits_for_the_refill() -> None:
    clock = _HandClock()
    bucket = TokenBucket(rate_per_minute=6_000, clock=clock)  # 100 per second, capacity 6,000
    assert await bucket.acquire(6_000) == 0.0
    assert bucket.wait_time(5) == pytest.approx(0.05)
    clock.advance(0.02)  # two tokens back
    assert bucket.wait_time(5) == pytest.approx(0.03)
    with anyio.fail_after(2):
        waited = await bucket.acquire(5)
    assert waited == pytest.approx(0.03) and clock.slept == [pytest.approx(0.03)]
    assert bucket.wait_time(1) == pytest.approx(0.01)  # the five were taken


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
    clock = _HandClock()
    window = SlidingWindow(limit=3, window=0.2, clock=clock)
    with anyio.fail_after(2):
        waits: list[float] = []
        for _ in range(3):  # admitted at 0.0, 0.05 and 0.1
            waits.append(await window.acquire())
            clock.advance(0.05)
        assert waits == [0.0, 0.0, 0.0]
        assert window.wait_time() == pytest.approx(0.05)
        fourth = await window.acquire()  # at 0.2, when the first leaves the window
        fifth = await window.acquire()  # at 0.25, when the second leaves it
    assert fourth == pytest.approx(0.05) and fifth == pytest.approx(0.05)
    assert clock.now() == pytest.approx(0.25)


@pytest.mark.anyio
async def test_by_default_only_requests_are_paced_and_a_429_holds_every_sender() -> None:
    clock = _HandClock()
    pacer = Pacer(requests_per_minute=2_000, clock=clock)
    assert pacer.runs is None and pacer.runs_per_minute is None
    waited: list[float] = []

    async def send() -> None:
        waited.append(await pacer.acquire(1))

    with anyio.fail_after(2):
        assert await pacer.acquire(1_000) == 0.0  # 1,000 runs in one request: no runs budget
        pacer.pause(0.1)
        clock.advance(0.04)
        async with anyio.create_task_group() as senders:
            for _ in range(3):
                senders.start_soon(send)
    assert waited == [pytest.approx(0.06)] * 3
    assert clock.now() == pytest.approx(0.1)


@pytest.mark.anyio
async def test_the_concurrency_bound_halves_on_a_429_once_per_round_trip_and_grows_back() -> None:
    clock = _HandClock()
    limit = AdaptiveLimit(8, clock=clock)
    assert limit.limit == 8
    limit.succeeded(0.1, 1_000)
    limit.throttled()
    assert limit.limit == 4
    limit.throttled()  # answers already in flight when the first 429 came: no second cut
    assert limit.limit == 4
    clock.advance(0.12)
    for _ in range(4):
        limit.succeeded(0.1, 1_000)
    assert 4.8 < limit.limit < 5.2  # about one more per round trip of answers


@pytest.mark.anyio
async def test_the_concurrency_bound_shrinks_while_answers_slow_down_and_never_below_one() -> None:
    clock = _HandClock()
    limit = AdaptiveLimit(4, clock=clock)
    limit.succeeded(0.1, 1_000)
    limit.succeeded(0.5, 1_000)  # five times slower than the best recent answer
    assert limit.limit == 3
    limit.succeeded(0.5, 100)  # a small last chunk says nothing
    assert limit.limit == 3
    for _ in range(20):
        clock.advance(1.0)  # past the one-cut-per-round-trip wait
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
