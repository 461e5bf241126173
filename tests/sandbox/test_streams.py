"""The group runs snapshot, the group events stream (resumable), and run events."""

from __future__ import annotations

import anyio
import pytest

from taskgroup_mcp.sandbox import ManualClock, Sandbox
from taskgroup_mcp.wire import TaskRunEvent, parse_event

from .conftest import add, api, new_group, run_input, sse_events

pytestmark = pytest.mark.anyio

JSON_SPEC = {
    "output_schema": {
        "type": "json",
        "json_schema": {
            "type": "object",
            "properties": {
                "ceo": {"type": "string"},
                "employees": {"type": "integer"},
                "tier": {"type": "string", "enum": ["small", "large"]},
            },
            "required": ["ceo", "employees", "tier"],
            "additionalProperties": False,
        },
    }
}


async def test_the_runs_stream_is_a_snapshot_with_input_and_output_on_request(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        ids = (await add(c, gid, [run_input(f"q{i}") for i in range(3)], default_task_spec=JSON_SPEC)).json()[
            "run_ids"
        ]
        bare = sse_events((await c.get(f"/v1/tasks/groups/{gid}/runs")).text)
        clock.advance(3600)
        full = sse_events(
            (
                await c.get(
                    f"/v1/tasks/groups/{gid}/runs", params={"include_input": "true", "include_output": "true"}
                )
            ).text
        )
    assert [e["run"]["run_id"] for e in bare] == ids
    assert all(e["input"] is None and e["output"] is None for e in bare)
    events = [TaskRunEvent.model_validate(e) for e in full]
    assert [e.input.input for e in events if e.input] == ["q0", "q1", "q2"]
    assert all(e.output is not None and e.output.type == "json" for e in events)
    for e in events:
        assert e.output is not None and isinstance(e.output.content, dict)
        assert set(e.output.content) == {"ceo", "employees", "tier"}
        assert e.output.content["tier"] in ("small", "large")


async def test_the_runs_stream_filters_by_status_and_resumes_after_a_cursor(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        await add(c, gid, [run_input(f"q{i}") for i in range(600)])
        await add(c, gid, [run_input(f"r{i}") for i in range(600)])
        clock.advance(0.4)
        counts = (await c.get(f"/v1/tasks/groups/{gid}")).json()["status"]["task_run_status_counts"]
        queued = sse_events((await c.get(f"/v1/tasks/groups/{gid}/runs", params={"status": "queued"})).text)
        everything = sse_events((await c.get(f"/v1/tasks/groups/{gid}/runs")).text)
        cut = everything[700]["event_id"]
        rest = sse_events((await c.get(f"/v1/tasks/groups/{gid}/runs", params={"last_event_id": cut})).text)
        bad = await c.get(f"/v1/tasks/groups/{gid}/runs", params={"status": "sleeping"})
    assert len(queued) == counts.get("queued", 0) and all(e["run"]["status"] == "queued" for e in queued)
    assert len(everything) == 1200
    assert rest == everything[701:]
    assert bad.status_code == 422


async def test_the_runs_stream_gives_output_only_for_completed_runs(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        await add(c, gid, [run_input(f"q{i}") for i in range(50)])
        clock.advance(0.5)
        events = sse_events(
            (await c.get(f"/v1/tasks/groups/{gid}/runs", params={"include_output": "true"})).text
        )
    assert any(e["run"]["status"] != "completed" for e in events)
    assert all((e["output"] is not None) == (e["run"]["status"] == "completed") for e in events)


async def _finished_group(sandbox: Sandbox, clock: ManualClock, n: int) -> str:
    async with api(sandbox) as c:
        gid = await new_group(c)
        await add(c, gid, [run_input(f"q{i}") for i in range(n)])
        for _ in range(30):
            clock.advance(3)
        await add(c, gid, [run_input(f"late{i}") for i in range(n // 2)])
        clock.advance(3600)
    return gid


async def test_resuming_group_events_from_any_event_id_yields_exactly_the_events_after_it(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    gid = await _finished_group(sandbox, clock, 40)
    async with api(sandbox) as c:
        full = sse_events((await c.get(f"/v1/tasks/groups/{gid}/events")).text)
        opening, logged = full[0], full[1:]
        assert opening["type"] == "task_group_status"
        assert sum(e["type"] == "task_run.state" for e in logged) == 60
        assert [e["type"] for e in logged].count("task_group_status") == 2  # idle twice
        for i, event in enumerate(full):
            resumed = sse_events(
                (
                    await c.get(f"/v1/tasks/groups/{gid}/events", params={"last_event_id": event["event_id"]})
                ).text
            )
            assert resumed == full[i + 1 :]
    ids = [e["event_id"] for e in full]
    assert len(set(ids)) == len(ids)


async def test_group_events_stay_open_while_active_and_deliver_completions_as_they_happen(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        ids = (await add(c, gid, [run_input(f"q{i}") for i in range(5)])).json()["run_ids"]
        got: list[tuple[str, str]] = []
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:

                async def time_passes() -> None:
                    while True:
                        await anyio.sleep(0.002)  # lets the stream run between ticks of the manual clock
                        clock.advance(0.02)

                tg.start_soon(time_passes)
                async with c.stream("GET", f"/v1/tasks/groups/{gid}/events", params={"timeout": 30}) as r:
                    async for line in r.aiter_lines():
                        if line.startswith("data:"):
                            event = parse_event(line[5:])
                            if isinstance(event, TaskRunEvent):
                                got.append((event.run.run_id, event.run.status))
                tg.cancel_scope.cancel()
    assert sorted(got) == sorted((rid, "completed") for rid in ids)


async def test_group_events_close_when_the_timeout_passes(sandbox: Sandbox) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        await add(c, gid, [run_input()])
        with anyio.fail_after(10):
            r = await c.get(f"/v1/tasks/groups/{gid}/events", params={"timeout": 0.05})
    assert [e["type"] for e in sse_events(r.text)] == ["task_group_status"]


async def test_run_events_replay_state_progress_and_end_with_the_output(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    async with api(sandbox) as c:
        rid = (await c.post("/v1/tasks/runs", json=run_input(task_spec=JSON_SPEC))).json()["run_id"]
        clock.advance(3600)
        for prefix in ("/v1", "/v1beta"):
            events = sse_events((await c.get(f"{prefix}/tasks/runs/{rid}/events")).text)
            types = [e["type"] for e in events]
            assert types[0] == "task_run.state" and types[-1] == "task_run.state"
            assert "task_run.progress_stats" in types
            assert any(t.startswith("task_run.progress_msg.") for t in types)
            assert events[-1]["output"]["type"] == "json"
            assert all(e.get("event_id") is None for e in events if e["type"] == "task_run.state")


async def test_a_client_that_leaves_an_open_events_stream_early_stops_it_cleanly(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        await add(c, gid, [run_input(f"q{i}") for i in range(3)])
        with anyio.fail_after(10):
            async with c.stream("GET", f"/v1/tasks/groups/{gid}/events", params={"timeout": 600}) as r:
                async for line in r.aiter_lines():
                    if line.startswith("data:"):
                        break
            # the sandbox still answers, and the stream it served is gone
            assert (await c.get(f"/v1/tasks/groups/{gid}")).status_code == 200
    assert sandbox.stats_json()["requests"]["group_events"] == {"200": 1}


async def test_a_quiet_open_stream_sends_keep_alive_comments_that_the_sdk_parser_ignores(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    import taskgroup_mcp.sandbox._routes as routes
    import taskgroup_mcp.sandbox._streams as streams

    monkeypatch.setattr(routes, "_POLL_SECONDS", 0.01)
    monkeypatch.setattr(streams, "KEEPALIVE_SECONDS", 0.02)
    async with api(sandbox) as c:
        gid = await new_group(c)
        await add(c, gid, [run_input()])
        with anyio.fail_after(10):
            r = await c.get(f"/v1/tasks/groups/{gid}/events", params={"timeout": 0.2})
    assert ": keep-alive\n\n" in r.text
    assert [e["type"] for e in sse_events(r.text.replace(": keep-alive\n\n", ""))] == ["task_group_status"]
