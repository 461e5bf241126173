"""follow_group on its own: a silent or stalled event stream still ends the wait when the group is done."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from taskgroup_mcp import wire
from taskgroup_mcp.tools._follow import follow_group

pytestmark = pytest.mark.anyio


def _group(active: bool) -> wire.TaskGroup:
    counts = {"running": 2} if active else {"completed": 2}
    return wire.TaskGroup(
        taskgroup_id="tgrp_f",
        created_at=None,
        status=wire.TaskGroupStatus(
            num_task_runs=2,
            task_run_status_counts=counts,
            is_active=active,
            status_message=None,
            modified_at=None,
        ),
    )


class StalledStream:
    """The events stream connects and then says nothing; the API's status flips after a while."""

    def __init__(self, active_reads: int) -> None:
        self.reads = 0
        self.active_reads = active_reads

    async def get_task_group(self, group_id: str) -> wire.TaskGroup:
        self.reads += 1
        return _group(self.reads <= self.active_reads)

    def group_events(
        self, group_id: str, last_event_id: str | None = None, timeout: float | None = None
    ) -> Any:
        async def silent() -> AsyncIterator[wire.Event]:
            await anyio.sleep_forever()
            yield _group(True)  # pragma: no cover - never reached

        return silent()


async def test_a_stalled_stream_does_not_hold_a_finished_group_until_the_timeout() -> None:
    client = StalledStream(active_reads=3)
    progress: list[str | None] = []

    async def report(done: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    started = anyio.current_time()
    with anyio.fail_after(5):
        result = await follow_group(
            client,  # type: ignore[arg-type]
            "tgrp_f",
            timeout=30.0,
            until="done",
            cursors={},
            report=report,
            notice=None,
            heartbeat=0.05,
        )
    assert anyio.current_time() - started < 2.0
    assert result.timed_out is False and result.status.active is False
    assert result.finished_while_waiting == 2
    assert progress[-1] == "2/2 runs done; group finished"


async def test_a_wait_reports_progress_as_runs_finish_not_only_when_the_group_does(sandbox: Any) -> None:
    # The group status event comes only when the whole group finishes; run events must move the bar.
    seen: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen.append(done)

    # speed 10: a lite run takes 1-6 s, so eight runs finish spread over several seconds.
    async with sandbox(speed=10.0, progress_interval_seconds=10.0) as (client, _, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        inputs = [f"company {i}" for i in range(8)]
        await client.call_tool("add_runs", {"task_group_id": gid, "inputs": inputs})
        with anyio.fail_after(30):
            result = await client.call_tool(
                "wait_for_task_group",
                {"task_group_id": gid, "timeout_seconds": 20},
                progress_callback=on_progress,
            )
    assert not result.is_error and result.structured_content["status"]["active"] is False
    between = {d for d in seen if 0 < d < len(inputs)}
    assert len(between) >= 2, f"progress went {seen}"
    assert seen == sorted(seen) and seen[-1] == len(inputs)
