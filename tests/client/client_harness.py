"""Client test harness: a sandbox in process, a client pointed at it, and network doubles
(record requests, cut response streams) that never stand in for our own code."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx2

from taskgroup_mcp.client import RESERVED_METADATA_KEY, Backoff, ParallelClient
from taskgroup_mcp.sandbox import Faults, Sandbox, SandboxConfig
from taskgroup_mcp.wire import RunInput

FAST_BACKOFF = Backoff(base=0.001, cap=0.01)
FAULT_MIX = Faults(drop_after_commit=0.2, fail_before_commit=0.1, throttle=0.05, retry_after=0)
"""Dropped connections after commit, 503s before commit and 429s, for exactly-once tests."""


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


class _CutStream(httpx2.AsyncByteStream):
    """Ends the body after ``limit`` bytes: abruptly (a protocol error mid-event), or, when
    ``clean``, at the next event boundary, as a server closing a stream on purpose would."""

    def __init__(self, inner: httpx2.AsyncByteStream, limit: int, clean: bool) -> None:
        self._inner = inner
        self._limit = limit
        self._clean = clean

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        async for chunk in self._inner:
            if sent + len(chunk) > self._limit:
                if not self._clean:
                    yield chunk[: self._limit - sent]
                    raise httpx2.RemoteProtocolError(
                        "peer closed connection without sending complete message body"
                    )
                end = chunk.find(b"\n\n", max(0, self._limit - sent))
                if end >= 0:
                    yield chunk[: end + 2]
                    return
            sent += len(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class Wiretap(httpx2.AsyncBaseTransport):
    """Records every request; cuts the bodies of matching responses after a random byte count."""

    def __init__(
        self,
        inner: httpx2.AsyncBaseTransport,
        *,
        cut: Callable[[httpx2.Request], bool] | None = None,
        mean_cut_bytes: int = 10_000,
        seed: int = 0,
        clean: bool = False,
    ) -> None:
        self.inner = inner
        self.cut = cut
        self.mean_cut_bytes = mean_cut_bytes
        self.rng = random.Random(seed)
        self.requests: list[httpx2.Request] = []
        self.cuts = 0
        self.clean = clean
        self.log: list[dict[str, Any]] = []
        """Every request in order: at, method, path, body, outcome (status or "dropped"), retry_after."""

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        entry = {
            "at": time.monotonic(),
            "method": request.method,
            "path": request.url.path,
            "body": request.content,
        }
        self.log.append(entry)
        try:
            response = await self.inner.handle_async_request(request)
        except httpx2.TransportError:
            entry["outcome"] = "dropped"
            raise
        entry["outcome"] = response.status_code
        entry["retry_after"] = response.headers.get("retry-after")
        entry["answered"] = time.monotonic()
        if self.cut is None or not self.cut(request) or response.status_code != 200:
            return response
        self.cuts += 1
        limit = self.rng.randint(1, 2 * self.mean_cut_bytes)
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_CutStream(response.stream, limit, self.clean),
            request=request,
        )


class EchoingUpstream(httpx2.AsyncBaseTransport):
    """A careless upstream: every ``every``-th run-creating request is answered with an error
    whose text echoes the request's headers and body (alternating 500 and 422 shapes)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, every: int = 3) -> None:
        self.inner = inner
        self.every = every
        self.seen = 0
        self.echoed = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method != "POST" or not request.url.path.endswith("/runs"):
            return await self.inner.handle_async_request(request)
        self.seen += 1
        if self.seen % self.every:
            return await self.inner.handle_async_request(request)
        self.echoed += 1
        body = (await request.aread()).decode()
        echo = f"headers={dict(request.headers)!r} body={body}"
        if self.echoed % 2:
            payload = {
                "type": "error",
                "error": {"ref_id": "echo", "message": echo, "detail": {"echo": echo}},
            }
            return httpx2.Response(500, json=payload, request=request)
        payload = {
            "detail": [{"loc": ["body", "inputs", 0, "mcp_servers"], "msg": echo, "type": "x", "input": echo}]
        }
        return httpx2.Response(422, json=payload, request=request)


class FlakyGets(httpx2.AsyncBaseTransport):
    """Answers the first ``failures`` GETs with 503 (and a Retry-After of 0), then passes through."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.gets = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "GET":
            self.gets += 1
            if self.gets <= self.failures:
                payload = {"type": "error", "error": {"ref_id": "flaky", "message": "Service unavailable"}}
                return httpx2.Response(503, json=payload, headers={"retry-after": "0"}, request=request)
        return await self.inner.handle_async_request(request)


class BadGatewayAfterCommit(httpx2.AsyncBaseTransport):
    """A load balancer that answers 502 to every ``every``-th run-creating request after the API
    behind it committed the runs (an answered error may have been applied)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, every: int = 3) -> None:
        self.inner = inner
        self.every = every
        self.posts = 0
        self.hidden = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if request.method != "POST" or not request.url.path.endswith("/runs"):
            return response
        self.posts += 1
        if self.posts % self.every or response.status_code != 200:
            return response
        await response.aread()
        self.hidden += 1
        payload = {"type": "error", "error": {"ref_id": "lb", "message": "Bad gateway"}}
        return httpx2.Response(502, json=payload, request=request)


class InFlight(httpx2.AsyncBaseTransport):
    """Counts the run-creating requests in flight at once (the most seen)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.now = 0
        self.most = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method != "POST" or not request.url.path.endswith("/runs"):
            return await self.inner.handle_async_request(request)
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            response = await self.inner.handle_async_request(request)
            await response.aread()
            return response
        finally:
            self.now -= 1
