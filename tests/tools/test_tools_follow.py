"""follow_group on its own: a silent or stalled event stream still ends the wait when the group is done."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from hand_clock import HandClock, run_on

from taskgroup_mcp import wire
from taskgroup_mcp.tools import _follow
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


async def test_a_stalled_stream_does_not_hold_a_finished_group_until_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = HandClock()
    monkeypatch.setattr(_follow, "clock", clock)
    client = StalledStream(active_reads=3)
    progress: list[str | None] = []

    async def report(done: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    async def wait() -> Any:
        return await follow_group(
            client,  # type: ignore[arg-type]
            "tgrp_f",
            timeout=30.0,
            until="done",
            cursors={},
            report=report,
            notice=None,
            heartbeat=0.05,
        )

    with anyio.fail_after(20):
        result = await run_on(clock, wait)
    assert clock.now() < 2.0
    assert clock.now() == pytest.approx(0.2)  # beats at 0.05 (fresh), 0.1, 0.15 (active), 0.2 (done)
    assert result.timed_out is False and result.status.active is False
    assert result.finished_while_waiting == 2
    assert progress[-1] == "2/2 runs done; group finished"


class SlowQuietGroup:
    """A group that stays active behind a silent stream; each status read takes ``read`` seconds
    of the clock (a slow API, or a busy machine)."""

    def __init__(self, clock: HandClock, read: float) -> None:
        self.clock = clock
        self.read = read
        self.reads: list[float] = []

    async def get_task_group(self, group_id: str) -> wire.TaskGroup:
        self.reads.append(self.clock.now())
        await self.clock.sleep(self.read)
        return _group(True)

    def group_events(
        self, group_id: str, last_event_id: str | None = None, timeout: float | None = None
    ) -> Any:
        return StalledStream(0).group_events(group_id)


async def test_heartbeats_keep_their_schedule_when_each_status_read_is_slow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = HandClock()
    monkeypatch.setattr(_follow, "clock", clock)
    client = SlowQuietGroup(clock, read=0.0625)
    reported: list[float] = []

    async def report(done: float, total: float | None, message: str | None) -> None:
        reported.append(clock.now())

    async def wait() -> Any:
        return await follow_group(
            client,  # type: ignore[arg-type]
            "tgrp_f",
            timeout=1.0,  # a window of 0.9 s
            until="done",
            cursors={},
            report=report,
            notice=None,
            heartbeat=0.125,
        )

    with anyio.fail_after(20):
        result = await run_on(clock, wait)
    # A beat every 0.125 s from the start. The first sends the status just read (no read); the
    # others read first and send when the read returns: a read of half the interval does not push
    # the next beat back. The beat due at 0.875 is still reading when the window closes at 0.9.
    assert reported == [0.0625, 0.125, 0.3125, 0.4375, 0.5625, 0.6875, 0.8125]
    assert client.reads == [0.0, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 0.9]
    assert result.timed_out is True and result.waited_s <= 1.0


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
