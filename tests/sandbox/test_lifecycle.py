"""Runs move queued -> running -> completed | failed on the sandbox's clock; counts stay exact."""

from __future__ import annotations

import pytest

from taskgroup_mcp.sandbox import ManualClock, Sandbox, SandboxConfig
from taskgroup_mcp.wire import ACTIVE_RUN_STATUSES, TaskGroup, TaskRun, get_processor

from .conftest import add, api, new_group, run_input

pytestmark = pytest.mark.anyio


async def test_runs_go_queued_running_completed_and_the_group_goes_inactive(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        run_ids = (await add(c, gid, [run_input(f"q{i}") for i in range(20)])).json()["run_ids"]
        seen: set[str] = set()
        lite = get_processor("lite")
        assert lite is not None
        for _ in range(70):
            group = TaskGroup.model_validate((await c.get(f"/v1/tasks/groups/{gid}")).json())
            counts = group.status.task_run_status_counts
            assert sum(counts.values()) == group.status.num_task_runs == 20
            assert group.status.is_active == any(counts.get(s, 0) for s in ACTIVE_RUN_STATUSES)
            seen |= set(counts)
            clock.advance(lite.latency_seconds[1] / 60 / 60)
        runs = [TaskRun.model_validate((await c.get(f"/v1/tasks/runs/{rid}")).json()) for rid in run_ids]
    assert {"queued", "running", "completed"} <= seen
    assert all(r.status == "completed" and not r.is_active for r in runs)
    assert group.status.is_active is False
    assert all(r.interaction_id == r.run_id and r.taskgroup_id == gid for r in runs)


async def test_a_lite_run_takes_its_documented_latency_divided_by_the_speed(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        (rid,) = (await add(c, gid, [run_input()])).json()["run_ids"]
        clock.advance(10 / 60 - 0.001)
        assert (await c.get(f"/v1/tasks/runs/{rid}")).json()["is_active"] is True
        clock.advance(50 / 60 + 0.002)
        assert (await c.get(f"/v1/tasks/runs/{rid}")).json()["status"] == "completed"


async def test_the_fail_rate_fails_that_fraction_of_runs_with_an_error(clock: ManualClock) -> None:
    sb = Sandbox(SandboxConfig(fail_rate=0.3, seed=7), clock=clock)
    async with api(sb) as c:
        gid = await new_group(c)
        run_ids = (await add(c, gid, [run_input(f"q{i}") for i in range(400)])).json()["run_ids"]
        clock.advance(3600)
        counts = (await c.get(f"/v1/tasks/groups/{gid}")).json()["status"]["task_run_status_counts"]
        failed = [
            rid for rid in run_ids[:50] if (await c.get(f"/v1/tasks/runs/{rid}")).json()["status"] == "failed"
        ]
        result = await c.get(f"/v1/tasks/runs/{failed[0]}/result")
        run = (await c.get(f"/v1/tasks/runs/{failed[0]}")).json()
    assert 0.2 < counts["failed"] / 400 < 0.4
    assert counts["failed"] + counts["completed"] == 400
    assert result.status_code == 404
    assert run["error"]["message"] and run["error"]["ref_id"]


async def test_the_same_seed_gives_the_same_ids_durations_and_outputs() -> None:
    async def play(seed: int) -> list[object]:
        clock = ManualClock()
        sb = Sandbox(SandboxConfig(seed=seed, fail_rate=0.2), clock=clock)
        async with api(sb) as c:
            gid = await new_group(c)
            ids = (await add(c, gid, [run_input(f"q{i}") for i in range(10)])).json()["run_ids"]
            clock.advance(0.5)
            mid = (await c.get(f"/v1/tasks/groups/{gid}")).json()["status"]["task_run_status_counts"]
            clock.advance(3600)
            results = [await c.get(f"/v1/tasks/runs/{rid}/result") for rid in ids]
            outputs = [r.text if r.status_code == 200 else r.status_code for r in results]
            return [gid, ids, mid, outputs]

    assert await play(3) == await play(3)
    assert (await play(3))[1] != (await play(4))[1]


async def test_result_waits_for_completion_and_times_out_with_408_while_active(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    async with api(sandbox) as c:
        r = await c.post("/v1/tasks/runs", json=run_input())
        assert r.status_code == 202
        rid = r.json()["run_id"]
        assert r.json()["status"] == "queued" and r.json()["taskgroup_id"] is None
        timed_out = await c.get(f"/v1/tasks/runs/{rid}/result", params={"timeout": 0})
        clock.advance(3600)
        done = await c.get(f"/v1/tasks/runs/{rid}/result", params={"timeout": 5})
    assert timed_out.status_code == 408
    assert timed_out.json()["error"]["message"] == "Request timed out; run still active"
    assert done.status_code == 200 and done.json()["run"]["status"] == "completed"


async def test_an_unknown_run_is_404_everywhere(sandbox: Sandbox) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        for path in ("", "/input", "/result", "/events"):
            assert (await c.get(f"/v1/tasks/runs/trun_nope{path}")).status_code == 404
        assert (await c.get(f"/v1/tasks/groups/{gid}/runs/trun_nope")).status_code == 404


async def test_a_run_is_retrievable_through_its_group_only(sandbox: Sandbox) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        other = await new_group(c)
        (rid,) = (await add(c, gid, [run_input()])).json()["run_ids"]
        mine = await c.get(f"/v1/tasks/groups/{gid}/runs/{rid}")
        theirs = await c.get(f"/v1/tasks/groups/{other}/runs/{rid}")
    assert mine.status_code == 200 and mine.json()["run_id"] == rid
    assert theirs.status_code == 404
