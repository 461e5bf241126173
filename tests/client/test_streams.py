"""Streams: resumed from the last event id after a cut, nothing lost, nothing delivered twice."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import pytest
from client_harness import Wiretap, inputs, sandbox_client

from taskgroup_mcp.client import Backoff, ParallelClient
from taskgroup_mcp.wire import RunInput, TaskGroupStatusEvent, TaskRunEvent


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
async def test_group_events_of_a_finished_group_closed_mid_replay_deliver_every_completion() -> None:
    """A fresh stream opens with the group's status now (inactive here), then replays every
    completion: a close by the server mid-replay is not the end, whatever that status said."""
    taps: list[Wiretap] = []
    armed = [False]

    def cut(request: httpx2.Request) -> bool:
        return armed[0] and _is_group_events(request)

    def tap(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        taps.append(Wiretap(inner, cut=cut, mean_cut_bytes=2_000, seed=5, clean=True))
        return taps[0]

    async with sandbox_client(seed=5, speed=1_000.0, transport=tap) as (_, client):
        group = await client.create_task_group()
        result = await client.submit(group.taskgroup_id, inputs(300))
        with anyio.fail_after(30):
            async for _ in client.group_events(group.taskgroup_id):  # uncut, to the group's end
                pass
            armed[0] = True
            events = [e async for e in client.group_events(group.taskgroup_id)]
    completions = Counter(e.run.run_id for e in events if isinstance(e, TaskRunEvent))
    assert set(completions) == set(result.run_ids.values())
    assert max(completions.values()) == 1
    statuses = [e for e in events if isinstance(e, TaskGroupStatusEvent)]
    assert not statuses[0].status.is_active  # the opening snapshot: already finished
    assert taps[0].cuts >= 10


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


@pytest.mark.anyio
async def test_run_events_of_a_finished_run_replay_the_trace_and_end_with_the_output() -> None:
    async with sandbox_client(speed=600.0) as (_, client):
        run = await client.create_run(RunInput(input="What is Acme?", processor="lite"))
        with anyio.fail_after(30):
            await client.get_run_result(run.run_id, timeout=20)
            events = [e async for e in client.run_events(run.run_id)]
    kinds = [e.type for e in events]
    assert "task_run.progress_stats" in kinds
    assert any(k.startswith("task_run.progress_msg.") for k in kinds)
    final = events[-1]
    assert isinstance(final, TaskRunEvent) and final.run.status == "completed"
    assert final.output is not None


class _DocsRunStream:
    """A run's events as the docs' SSE sample shows them (run objects without ``interaction_id``):
    the first ``active_connections`` connections replay a running run and close; later ones
    replay it to the end. Counts connections."""

    def __init__(self, active_connections: int) -> None:
        self.active_connections = active_connections
        self.connections = 0

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.connections += 1
        run = {"run_id": "trun_docs", "status": "running", "is_active": True, "processor": "core"}
        events: list[dict[str, Any]] = [
            {"type": "task_run.state", "run": run},
            {
                "type": "task_run.progress_msg.plan",
                "message": "Planning",
                "timestamp": "2025-01-01T00:00:00Z",
            },
        ]
        if self.connections > self.active_connections:
            done = {**run, "status": "completed", "is_active": False}
            output = {"type": "text", "content": "Acme makes anvils.", "basis": []}
            events.append({"type": "task_run.state", "run": done, "output": output})
        body = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, text=body)


@dataclass(frozen=True)
class _RecordingBackoff(Backoff):
    """No real waiting; records which attempt each wait was asked for."""

    asked: list[int] = field(default_factory=list[int])

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        self.asked.append(attempt)
        return 0.0


@pytest.mark.anyio
async def test_run_events_end_on_a_final_state_the_models_cannot_parse() -> None:
    docs = _DocsRunStream(active_connections=0)
    transport = httpx2.MockTransport(docs.handle)
    async with ParallelClient(api_key="k", base_url="http://api", transport=transport) as client:
        with anyio.fail_after(5):
            events = [e async for e in client.run_events("trun_docs")]
    assert docs.connections == 1
    assert [e.type for e in events] == ["task_run.state", "task_run.progress_msg.plan", "task_run.state"]


@pytest.mark.anyio
async def test_a_run_stream_that_closes_without_news_is_reopened_with_growing_backoff() -> None:
    docs = _DocsRunStream(active_connections=8)
    backoff = _RecordingBackoff()
    transport = httpx2.MockTransport(docs.handle)
    async with ParallelClient(
        api_key="k", base_url="http://api", transport=transport, backoff=backoff
    ) as client:
        with anyio.fail_after(5):
            events = [e async for e in client.run_events("trun_docs")]
    assert docs.connections == 9
    assert len(events) == 3  # the replays added nothing
    # The first close brought news (wait 0); each replay without news waits longer, up to the cap.
    assert backoff.asked == [0, 1, 2, 3, 4, 5, 6, 6]
