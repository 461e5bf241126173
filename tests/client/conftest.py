"""Fixtures for client tests: a sandbox in process and a client pointed at it."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx2

from taskgroup_mcp.client import RESERVED_METADATA_KEY, Backoff, ParallelClient
from taskgroup_mcp.sandbox import Faults, Sandbox, SandboxConfig
from taskgroup_mcp.wire import RunInput

FAST_BACKOFF = Backoff(base=0.001, cap=0.01)


def inputs(n: int, prefix: str = "company") -> list[RunInput]:
    return [RunInput(input=f"{prefix} {i}", processor="lite") for i in range(n)]


def cid_counts(sb: Sandbox, group_id: str) -> Counter[str]:
    """Runs per client id as the sandbox's store holds them (independent of the client's own scans)."""
    sb.lifecycle.tick()
    counts: Counter[str] = Counter()
    position = -1
    while page := sb.store.group_runs(group_id, position, None, 1_000):
        for run in page:
            counts[str((run.input.metadata or {}).get(RESERVED_METADATA_KEY))] += 1
        position = page[-1].index
    return counts


@asynccontextmanager
async def sandbox_client(
    faults: Faults | None = None,
    *,
    seed: int = 0,
    speed: float = 1.0,
    start: bool = True,
    transport: Callable[[httpx2.AsyncBaseTransport], httpx2.AsyncBaseTransport] | None = None,
    sandbox_config: dict[str, Any] | None = None,
    **client_options: Any,
) -> AsyncIterator[tuple[Sandbox, ParallelClient]]:
    """A sandbox (its executor running when ``start``) and a client reaching it with no socket.

    Pacing is lifted and backoff shortened unless given: these tests are about correctness.
    """
    sb = Sandbox(SandboxConfig(speed=speed, seed=seed, faults=faults or Faults(), **(sandbox_config or {})))
    options: dict[str, Any] = {
        "api_key": "test-key",
        "base_url": "http://sandbox",
        "settle_seconds": 0.0,
        "requests_per_minute": 10**9,
        "runs_per_minute": 10**9,
        "backoff": FAST_BACKOFF,
        "seed": seed,
    }
    options.update(client_options)
    wire = sb.transport if transport is None else transport(sb.transport)
    client = ParallelClient(transport=wire, **options)
    try:
        if start:
            async with sb, client:
                yield sb, client
        else:
            async with client:
                yield sb, client
    finally:
        sb.close()
