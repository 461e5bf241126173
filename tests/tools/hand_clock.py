"""A clock the test moves: waits on it end only when the test says time has passed.

``follow_group`` measures its window and heartbeats on ``tools._follow.clock``; a test that puts a
:class:`HandClock` there checks the schedule exactly, however loaded the machine is (real work
takes no time on this clock). :func:`run_on` runs a call and moves the clock to the next wake-up
each time everything else is waiting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import anyio.lowlevel

T = TypeVar("T")


class HandClock:
    def __init__(self) -> None:
        self.t = 0.0
        self._waiting: list[float] = []
        self._moved = anyio.Event()

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        wake_at = self.t + max(seconds, 0.0)
        self._waiting.append(wake_at)
        try:
            while self.t < wake_at:
                await self._moved.wait()
            await anyio.lowlevel.checkpoint()
        finally:
            self._waiting.remove(wake_at)

    def next_wake(self) -> float | None:
        return min(self._waiting, default=None)

    def advance_to(self, t: float) -> None:
        if t < self.t:
            raise ValueError("a clock cannot go back")
        self.t = t
        moved, self._moved = self._moved, anyio.Event()
        moved.set()


async def run_on(clock: HandClock, call: Callable[[], Awaitable[T]], *, steps: int = 200) -> T:
    """``await call()``, moving ``clock`` to its next wake-up whenever every other task waits."""
    done: list[T] = []

    async def run() -> None:
        done.append(await call())

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        for _ in range(steps):
            await anyio.wait_all_tasks_blocked()
            if done:
                break
            if (wake := clock.next_wake()) is not None:
                clock.advance_to(wake)
        else:
            tg.cancel_scope.cancel()
    assert done, f"the call did not return within {steps} steps of the clock (now {clock.t})"
    return done[0]
