"""The sandbox: one object holding the store, the lifecycle, the executor and the ASGI app."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from ._clock import Clock, SystemClock
from ._config import SandboxConfig
from ._edge import EdgeMiddleware
from ._executor import Executor
from ._faults import FaultInjector, Faults
from ._lifecycle import Lifecycle
from ._memory import MemoryStore
from ._ratelimit import RateLimiter
from ._routes import build_app
from ._stats import Stats
from ._store import Store
from ._transport import StreamingASGITransport


def open_store(db_path: str | None) -> Store:
    """SQLite at ``db_path``, or memory when it is None."""
    if db_path is None:
        return MemoryStore()
    from ._sqlite import SqliteStore

    return SqliteStore(db_path)


class Sandbox:
    """A wire-faithful emulator of the Task Group API.

    ``sb.app`` is the ASGI app (for uvicorn); ``sb.transport`` reaches it in process with no
    socket (an ``httpx2.AsyncBaseTransport`` that streams). ``async with sb:`` runs the executor's
    background work (transitions in real time, MCP tool calls, webhooks) in the current loop.
    ``sb.set_faults(...)``, ``sb.reset()`` and ``sb.stats()`` do what the control routes do.
    Without it, transitions still happen whenever a request looks, and MCP runs complete with
    the documented listing warning.
    """

    def __init__(
        self, config: SandboxConfig | None = None, clock: Clock | None = None, store: Store | None = None
    ):
        self.config = config or SandboxConfig()
        self.clock: Clock = clock or SystemClock()
        self.store: Store = store or open_store(self.config.db_path)
        self.lifecycle = Lifecycle(self.store, self.clock, self.config)
        self.fault_injector = FaultInjector(self.config.faults, self.config.seed)
        self.rate_limiter = RateLimiter(self.config.rate_limit_per_minute, now=self.clock.now)
        self.stats = Stats(held=self.store.counts)
        self.executor = Executor(self)
        self.lifecycle.hooks = self.executor
        self.app = EdgeMiddleware(build_app(self), self)
        self.transport = StreamingASGITransport(self.app)

    async def __aenter__(self) -> Self:
        await self.executor.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.executor.stop()

    def set_faults(self, faults: Faults) -> None:
        """Replace the faults injected into run-creating requests (same as ``POST /_sandbox/faults``)."""
        self.fault_injector.faults = faults

    def reset(self) -> None:
        """Forget every group, run, counter and rate-limit window; faults and the rate stay as set
        (same as ``POST /_sandbox/reset``)."""
        self.store.clear()
        self.rate_limiter = RateLimiter(self.rate_limiter.per_minute, now=self.clock.now)
        self.lifecycle.rebuild()
        self.stats = Stats(held=self.store.counts)
        self.fault_injector = FaultInjector(self.fault_injector.faults, self.config.seed)

    def stats_json(self) -> dict[str, Any]:
        """Same as ``sb.stats()`` and ``GET /_sandbox/stats``."""
        return self.stats()

    def close(self) -> None:
        self.store.close()
