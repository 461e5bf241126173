"""Streams: resumed from the last event id after a cut, nothing lost, nothing delivered twice."""

from __future__ import annotations

from collections import Counter

import anyio
import httpx2
import pytest
from client_harness import Wiretap, inputs, sandbox_client

from taskgroup_mcp.wire import TaskGroupStatusEvent, TaskRunEvent


def _is_group_events(request: httpx2.Request) -> bool:
    return request.url.path.endswith("/events") and "/groups/" in request.url.path


@pytest.mark.anyio
@pytest.mark.parametrize(("seed", "clean"), [(0, False), (1, False), (2, False), (3, True), (4, True)])
async def test_group_events_cut_at_random_points_deliver_every_completion_exactly_once(
    seed: int, clean: bool
) -> None:
    """Abrupt cuts (mid-event), and clean closes by the server while the group is still active."""
    taps: list[Wiretap] = []

    def tap(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        taps.append(Wiretap(inner, cut=_is_group_events, mean_cut_bytes=8_000, seed=seed, clean=clean))
        return taps[0]

    async with sandbox_client(seed=seed, speed=40.0, transport=tap) as (_, client):
        group = await client.create_task_group()
        result = await client.submit(group.taskgroup_id, inputs(1_000))
        assert result.ok
        completions: Counter[str] = Counter()
        last_status: TaskGroupStatusEvent | None = None
        with anyio.fail_after(60):
            async for event in client.group_events(group.taskgroup_id):
                if isinstance(event, TaskRunEvent):
                    completions[event.run.run_id] += 1
                elif isinstance(event, TaskGroupStatusEvent):
                    last_status = event
    assert set(completions) == set(result.run_ids.values())
    assert max(completions.values()) == 1
    assert last_status is not None and not last_status.status.is_active
    stream_requests = [r for r in taps[0].requests if _is_group_events(r)]
    assert taps[0].cuts >= 20
    assert all("last_event_id" in r.url.params for r in stream_requests[1:])


@pytest.mark.anyio
async def test_the_runs_stream_cut_at_random_points_yields_each_run_once() -> None:
    taps: list[Wiretap] = []

    def tap(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        taps.append(Wiretap(inner, cut=lambda r: r.url.path.endswith("/runs") and r.method == "GET", seed=7))
        return taps[0]

    async with sandbox_client(seed=1, transport=tap, max_retries=5) as (_, client):
        group = await client.create_task_group()
        result = await client.submit(group.taskgroup_id, inputs(1_000))
        with anyio.fail_after(30):
            seen = [e.run.run_id async for e in client.group_runs(group.taskgroup_id)]
    assert sorted(seen) == sorted(result.run_ids.values())
    assert taps[0].cuts > 5


@pytest.mark.anyio
async def test_iter_results_resumes_from_a_cursor_without_repeating_a_run() -> None:
    async with sandbox_client(seed=2, speed=1_000.0) as (_, client):
        group = await client.create_task_group()
        result = await client.submit(group.taskgroup_id, inputs(30))
        first: list[TaskRunEvent] = []
        async for event in client.iter_results(group.taskgroup_id):
            first.append(event)
            if len(first) == 12:
                break
        cursor = first[-1].event_id
        rest = [e async for e in client.iter_results(group.taskgroup_id, cursor=cursor)]
    ids = [e.run.run_id for e in first + rest]
    assert sorted(ids) == sorted(result.run_ids.values()) and len(ids) == 30
    assert all(e.input is not None for e in first + rest)
