"""The submission engine: settling by evidence, reads by cursor while chunks land, adaptive
concurrency, the journal hook, and duplicates made by someone else reported."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
import httpx2
import pytest
from client_harness import (
    BadGatewayAfterCommit,
    InFlight,
    Wiretap,
    cid_counts,
    inputs,
    sandbox_client,
)

from taskgroup_mcp.client import RESERVED_METADATA_KEY, ParallelClient
from taskgroup_mcp.client._engine import AHEAD_PER_SLOT
from taskgroup_mcp.client._submit import PreparedCall
from taskgroup_mcp.client._tail import GroupTail
from taskgroup_mcp.sandbox import Faults

pytestmark = pytest.mark.anyio
LAG_MS = 1_500.0
"""Read-after-write lag of the lag tests: long beside a loaded machine's scheduling delays."""


def _is_run_post(entry: Mapping[str, Any]) -> bool:
    return entry["method"] == "POST" and str(entry["path"]).endswith("/runs")


def _is_runs_read(entry: Mapping[str, Any]) -> bool:
    return entry["method"] == "GET" and str(entry["path"]).endswith("/runs")


@pytest.mark.parametrize("seed", range(3))
async def test_an_answered_failure_is_settled_by_reads_long_before_the_settle_bound(seed: int) -> None:
    # 503s commit nothing; once reads have shown the answered runs (the read lag is known), two
    # reads without the missing ids settle it. A fixed 60 s settle window would hit the fail_after.
    faults = Faults(fail_before_commit=0.3)
    async with sandbox_client(faults, seed=seed, chunk_size=100, settle_seconds=60.0) as (sb, client):
        group = await client.create_task_group()
        with anyio.fail_after(20):
            result = await client.submit(group.taskgroup_id, inputs(1_000))
        assert result.ok and result.added == 1_000 and result.ambiguous > 0
        counts = cid_counts(sb, group.taskgroup_id)
        assert sum(counts.values()) == 1_000 and max(counts.values()) == 1


async def _through_a_lagging_gateway(seed: int) -> tuple[Any, BadGatewayAfterCommit, Any]:
    gateways: list[BadGatewayAfterCommit] = []

    def gateway(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        gateways.append(BadGatewayAfterCommit(inner, every=3))
        return gateways[0]

    lag = Faults(commit_delay_ms=LAG_MS)
    async with sandbox_client(lag, seed=seed, chunk_size=100, settle_seconds=10.0, transport=gateway) as (
        sb,
        client,
    ):
        group = await client.create_task_group()
        with anyio.fail_after(30):
            result = await client.submit(group.taskgroup_id, inputs(1_000))
        await anyio.sleep(LAG_MS / 1000 + 0.1)  # every late commit visible
        return result, gateways[0], cid_counts(sb, group.taskgroup_id)


async def test_under_read_lag_an_answered_failure_that_committed_is_found_not_resent() -> None:
    # A 502 from a gateway after the API committed, and reads that show commits 1.5 s late:
    # two quick empty reads prove nothing while reads still miss runs the API confirmed.
    result, gateway, counts = await _through_a_lagging_gateway(seed=1)
    seen = f"{result.requests_sent} POSTs, {result.ambiguous} ambiguous, {gateway.hidden} 502s, {result.failed[:2]}"
    assert gateway.hidden > 0 and result.ambiguous == gateway.hidden, seen
    assert sum(counts.values()) == 1_000 and max(counts.values()) == 1, seen
    assert result.ok and result.requests_sent == 10, seen


async def test_ignoring_the_read_lag_the_same_502s_become_duplicates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation check of the test above: a quiet gap blind to the lag resends committed runs."""
    monkeypatch.setattr(GroupTail, "quiet_gap", lambda self, floor: floor)  # pyright: ignore[reportUnknownLambdaType]
    _, gateway, counts = await _through_a_lagging_gateway(seed=1)
    assert gateway.hidden > 0
    assert max(counts.values()) > 1, "the mutation must create duplicates the test can see"


async def test_reads_of_the_group_overlap_the_posts_and_continue_from_a_cursor() -> None:
    taps: list[Wiretap] = []

    def tap(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        taps.append(Wiretap(inner))
        return taps[0]

    slow_posts = Faults(latency_ms=(40.0, 40.0))
    async with sandbox_client(slow_posts, chunk_size=100, concurrency=2, transport=tap) as (sb, client):
        group = await client.create_task_group()
        with anyio.fail_after(30):
            result = await client.submit(group.taskgroup_id, inputs(1_000))
        assert result.ok and result.audited and not result.duplicates
        assert sum(cid_counts(sb, group.taskgroup_id).values()) == 1_000
    log = taps[0].log
    posts = [e for e in log if _is_run_post(e)]
    reads = [e for e in log if _is_runs_read(e)]
    assert len(posts) == 10 and len(reads) >= 2
    assert reads[0]["at"] < posts[-1]["at"], "the audit did not start before the last chunk was sent"


async def test_every_read_after_the_first_continues_from_the_last_run_seen() -> None:
    taps: list[Wiretap] = []

    def tap(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        taps.append(Wiretap(inner))
        return taps[0]

    async with sandbox_client(
        Faults(latency_ms=(30.0, 30.0)), chunk_size=100, concurrency=2, transport=tap
    ) as (
        _,
        client,
    ):
        group = await client.create_task_group()
        with anyio.fail_after(30):
            result = await client.submit(group.taskgroup_id, inputs(1_000))
    assert result.ok
    reads = [r for r in taps[0].requests if r.method == "GET" and r.url.path.endswith("/runs")]
    cursors = [r.url.params.get("last_event_id") for r in reads]
    first = next(i for i, c in enumerate(cursors) if c is not None)
    assert first >= 1 and all(c is not None for c in cursors[first:]), cursors
    positions = [int(c) for c in cursors[first:] if c is not None]
    assert positions == sorted(positions), "a read went back instead of on"


async def test_chunks_go_out_together_up_to_the_concurrency_bound() -> None:
    counters: list[InFlight] = []

    def count(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        counters.append(InFlight(inner))
        return counters[0]

    async with sandbox_client(
        Faults(latency_ms=(50.0, 50.0)), chunk_size=100, concurrency=6, transport=count
    ) as (_, client):
        group = await client.create_task_group()
        with anyio.fail_after(30):
            result = await client.submit(group.taskgroup_id, inputs(1_000))
    assert result.ok
    assert counters[0].most == 6


class _Journal:
    """Records, in one shared log with the wire, what the engine tells a journal."""

    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.log = log

    async def sending(self, group_id: str, call_key: str, cids: Sequence[str]) -> None:
        self.log.append(("sending", set(cids)))

    async def confirmed(self, group_id: str, runs: Mapping[str, str]) -> None:
        self.log.append(("confirmed", dict(runs)))


class _LoggedWire(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport, log: list[tuple[str, Any]]) -> None:
        self.inner = inner
        self.log = log

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST" and request.url.path.endswith("/runs"):
            body = json.loads(request.content)
            self.log.append(("post", {i["metadata"][RESERVED_METADATA_KEY] for i in body["inputs"]}))
        return await self.inner.handle_async_request(request)


@pytest.mark.parametrize("seed", range(3))
async def test_the_journal_sees_each_cid_before_its_request_and_every_run_the_api_confirmed(
    seed: int,
) -> None:
    log: list[tuple[str, Any]] = []
    faults = Faults(drop_after_commit=0.2, fail_before_commit=0.1, throttle=0.05, retry_after=0)
    async with sandbox_client(
        faults,
        seed=seed,
        chunk_size=100,
        transport=lambda inner: _LoggedWire(inner, log),
        journal=_Journal(log),
    ) as (sb, client):
        group = await client.create_task_group()
        with anyio.fail_after(30):
            result = await client.submit(group.taskgroup_id, inputs(1_000))
        stored = cid_counts(sb, group.taskgroup_id)
    assert result.ok and sum(stored.values()) == 1_000
    journaled: set[str] = set()
    for i, (kind, what) in enumerate(log):
        if kind == "post":
            assert log[i - 1] == ("sending", what), "a request went out without its write-ahead record"
        if kind == "sending":
            journaled |= what
    confirmed: dict[str, str] = {}
    for kind, what in log:
        if kind == "confirmed":
            confirmed.update(what)
    assert set(confirmed) == set(result.cids) <= journaled
    assert confirmed == result.run_ids


async def test_the_same_call_made_at_once_by_two_processes_reports_the_duplicates_it_made() -> None:
    """Two processes (two clients without shared memory) each see the group empty and add every
    input: the runs are paid twice, and at least the later call says so, naming each input."""
    async with sandbox_client() as (sb, first):
        group = await first.create_task_group()
        async with ParallelClient(
            api_key="test-key", base_url="http://sandbox", transport=sb.transport, settle_seconds=0.0
        ) as second:
            other = ParallelClient(
                api_key="test-key", base_url="http://sandbox", transport=sb.transport, settle_seconds=0.0
            )
            results: list[Any] = []

            async def call(client: ParallelClient) -> None:
                results.append(await client.submit(group.taskgroup_id, inputs(300)))

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(call, second)
                    tg.start_soon(call, other)
            await other.aclose()
        counts = cid_counts(sb, group.taskgroup_id)
    doubled = {cid for cid, n in counts.items() if n > 1}
    assert len(doubled) == 300
    reported = [set(r.duplicates) for r in results]
    assert doubled in reported, f"no call reported the {len(doubled)} duplicated inputs"
    assert all(d <= doubled for d in reported)
    assert all(not r.ok for r in results if r.duplicates)


class _HeldPosts(httpx2.AsyncBaseTransport):
    """Holds every run-creating POST until ``release`` is set."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.release = anyio.Event()
        self.two_held = anyio.Event()
        self.held = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST" and request.url.path.endswith("/runs"):
            self.held += 1
            if self.held == 2:
                self.two_held.set()
            await self.release.wait()
        return await self.inner.handle_async_request(request)


async def test_inputs_are_tagged_and_encoded_only_a_few_chunks_ahead_of_the_requests_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 100 chunks of 10 and 2 in flight: while the API holds the requests, only the chunks that
    # may go out next are prepared (their JSON in memory), not the 1,000 inputs.
    prepared = [0]
    tag_next = PreparedCall.tag_next

    def counting(self: PreparedCall, n: int) -> dict[str, bytes]:
        items = tag_next(self, n)
        prepared[0] += len(items)
        return items

    monkeypatch.setattr(PreparedCall, "tag_next", counting)
    gates: list[_HeldPosts] = []

    def hold(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        gates.append(_HeldPosts(inner))
        return gates[0]

    async with sandbox_client(chunk_size=10, concurrency=2, transport=hold) as (sb, client):
        group = await client.create_task_group()
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                results: list[Any] = []

                async def submit() -> None:
                    results.append(await client.submit(group.taskgroup_id, inputs(1_000)))

                tg.start_soon(submit)
                await gates[0].two_held.wait()
                await anyio.wait_all_tasks_blocked()  # every chunk that can be prepared now is
                held_back = prepared[0]
                gates[0].release.set()
        counts = cid_counts(sb, group.taskgroup_id)
    assert held_back <= (AHEAD_PER_SLOT * 2 + 1) * 10, held_back
    assert results[0].ok and prepared[0] == 1_000
    assert sum(counts.values()) == 1_000 and max(counts.values()) == 1


def _is_group_read(entry: Mapping[str, Any], group_id: str) -> bool:
    return entry["method"] == "GET" and str(entry["path"]).endswith(f"/tasks/groups/{group_id}")


async def test_a_clean_submit_takes_the_group_status_from_the_last_answer_without_reading_the_group() -> None:
    taps: list[Wiretap] = []

    def tap(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        taps.append(Wiretap(inner))
        return taps[0]

    async with sandbox_client(chunk_size=100, concurrency=4, transport=tap) as (_, client):
        group = await client.create_task_group()
        with anyio.fail_after(30):
            result = await client.submit(group.taskgroup_id, inputs(1_000))
    assert result.ok and result.group_status is not None
    assert result.group_status.num_task_runs == 1_000
    assert not [e for e in taps[0].log if _is_group_read(e, group.taskgroup_id)]
    posts = [r for r in taps[0].requests if r.method == "POST" and r.url.path.endswith("/runs")]
    assert len(posts) == 10 and not [r for r in posts if "refresh_status" in r.url.params]  # fresh statuses


class _StaleStatus(httpx2.AsyncBaseTransport):
    """Every add-runs answer's status counts one run fewer than the group holds (as a status
    computed before a concurrent commit would)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.log: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.log.append({"method": request.method, "path": request.url.path})
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith("/runs") and response.status_code == 200:
            body = json.loads(await response.aread())
            body["status"]["num_task_runs"] -= 1
            return httpx2.Response(200, json=body)
        return response


async def test_an_answer_whose_status_misses_a_run_is_not_trusted_and_the_group_is_read() -> None:
    stale: list[_StaleStatus] = []

    def wrap(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        stale.append(_StaleStatus(inner))
        return stale[0]

    async with sandbox_client(chunk_size=10, concurrency=2, transport=wrap) as (_, client):
        group = await client.create_task_group()
        with anyio.fail_after(30):
            result = await client.submit(group.taskgroup_id, inputs(20))
    assert result.ok and result.group_status is not None
    assert result.group_status.num_task_runs == 20
    assert [e for e in stale[0].log if _is_group_read(e, group.taskgroup_id)]
