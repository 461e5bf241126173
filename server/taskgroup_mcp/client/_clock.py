"""The client's sense of time: monotonic seconds and a way to wait some of them.

Pacing, the in-flight bound and the tools' waits read time through a :class:`Clock`; the default
is the event loop's. Tests pass a clock they move by hand, so every timing decision is checked
exactly, whatever the machine's load.
"""

from __future__ import annotations

from typing import Protocol

import anyio


class Clock(Protocol):
    """Monotonic seconds, and a way to wait some of them."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class LoopClock:
    """The event loop's monotonic clock (``anyio.current_time`` and ``anyio.sleep``)."""

    def now(self) -> float:
        return anyio.current_time()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


LOOP_CLOCK = LoopClock()
