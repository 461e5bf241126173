"""The table of known divergences is complete and each row holds in the sandbox."""

from __future__ import annotations

import pytest

import taskgroup_mcp.sandbox as sandbox_pkg
from taskgroup_mcp.sandbox import DIVERGENCES, ManualClock, Sandbox

from .conftest import add, api, new_group, run_input, sse_events

pytestmark = pytest.mark.anyio


def test_every_divergence_names_the_api_and_the_sandbox_behaviour() -> None:
    topics = [d.topic for d in DIVERGENCES]
    assert len(topics) == len(set(topics)) >= 8
    assert all(d.api.strip() and d.sandbox.strip() and d.reason.strip() for d in DIVERGENCES)


def test_the_package_exports_exactly_its_public_names() -> None:
    public = {n for n in dir(sandbox_pkg) if not n.startswith("_")} - {"annotations"}
    modules = {n for n in public if isinstance(getattr(sandbox_pkg, n), type(sandbox_pkg))}
    assert set(sandbox_pkg.__all__) == public - modules


async def test_the_group_events_divergences_hold(sandbox: Sandbox, clock: ManualClock) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        await add(c, gid, [run_input("a")])
        clock.advance(3600)
        events = sse_events((await c.get(f"/v1/tasks/groups/{gid}/events")).text)
        bad = await c.get(f"/v1/tasks/groups/{gid}/events", params={"last_event_id": "not-a-cursor"})
    assert events[0]["type"] == "task_group_status" and events[0]["event_id"].startswith("0.")
    assert [e["type"] for e in events[1:]] == ["task_run.state", "task_group_status"]
    assert events[0]["status"]["status_message"] == ""
    assert bad.status_code == 422


async def test_status_message_says_how_many_runs_are_active_and_is_empty_once_idle(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        empty = (await c.get(f"/v1/tasks/groups/{gid}")).json()["status"]
        await add(c, gid, [run_input("a"), run_input("b")])
        active = (await c.get(f"/v1/tasks/groups/{gid}")).json()["status"]
        clock.advance(3600)
        idle = (await c.get(f"/v1/tasks/groups/{gid}")).json()["status"]
    assert empty["status_message"] is None
    assert active["status_message"] == "2 of 2 runs active"
    assert idle["status_message"] == "" and idle["is_active"] is False


async def test_mcp_header_values_are_never_echoed(sandbox: Sandbox) -> None:
    server = {
        "name": "s",
        "url": "http://127.0.0.1:9/mcp",
        "headers": {"authorization": "Bearer never-echoed"},
    }
    async with api(sandbox) as c:
        gid = await new_group(c)
        (rid,) = (await add(c, gid, [run_input("a", mcp_servers=[server])])).json()["run_ids"]
        echoed = await c.get(f"/v1/tasks/runs/{rid}/input")
        streamed = await c.get(f"/v1/tasks/groups/{gid}/runs", params={"include_input": "true"})
    assert "never-echoed" not in echoed.text and "never-echoed" not in streamed.text
    assert echoed.json()["mcp_servers"][0]["headers"] is None
