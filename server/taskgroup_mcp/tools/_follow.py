"""Waiting for a group: follow its events, report progress, return inside a bounded window."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal

import anyio

from taskgroup_mcp import wire
from taskgroup_mcp.client import LOOP_CLOCK, Clock, ParallelClient, ParallelError

from ._answer import Progress, closing
from ._models import GroupStatus, WaitResult
from ._status import summarize

logger = logging.getLogger("taskgroup_mcp.tools")

HEARTBEAT_SECONDS = 5.0
"""Progress is reported at least this often while waiting, by default (clients need one every <= 10 s)."""
RUN_EVENT_REFRESH_SECONDS = 0.25
"""When runs finish, re-read the group's status at most this often (the API sends a group status
event only when the group itself changes state, so run events drive the progress in between)."""

clock: Clock = LOOP_CLOCK
"""What waits are measured on: the window, the heartbeats, the refresh rate (tests move it by hand)."""

Until = Literal["done", "change"]


def finished(status: wire.TaskGroupStatus) -> int:
    active = sum(n for s, n in status.task_run_status_counts.items() if s in wire.ACTIVE_RUN_STATUSES)
    return max(status.num_task_runs - active, 0)


async def _consume(
    events: AsyncIterator[wire.Event],
    group_id: str,
    cursors: dict[str, str],
    send: Callable[[wire.TaskGroupStatus], Awaitable[None]],
    satisfied: Callable[[wire.TaskGroupStatus], bool],
    refresh: Callable[[], Awaitable[wire.TaskGroupStatus | None]],
) -> wire.TaskGroupStatus | None:
    """Read events until one satisfies the wait (returned) or the stream ends (None).

    A group status event carries the status; a run that finished makes ``refresh`` re-read it
    (rate-limited: None when skipped). Only the last status seen matters to the caller."""
    last: wire.TaskGroupStatus | None = None
    async for event in events:
        event_id = getattr(event, "event_id", None)
        if isinstance(event_id, str) and event_id:
            cursors[group_id] = event_id
        current: wire.TaskGroupStatus | None = None
        if isinstance(event, wire.TaskGroupStatusEvent):
            current = event.status
        elif isinstance(event, wire.TaskRunEvent) and not event.run.is_active:
            current = await refresh()
        if current is not None:
            last = current
            await send(last)
            if satisfied(last):
                return last
    return None if last is None or not satisfied(last) else last


def progress_message(status: wire.TaskGroupStatus) -> str:
    done = finished(status)
    total = status.num_task_runs
    failed = status.task_run_status_counts.get("failed", 0)
    tail = f", {failed} failed" if failed else ""
    state = "running" if status.is_active else "finished"
    return f"{done}/{total} runs done{tail}; group {state}"


async def follow_group(
    client: ParallelClient,
    group_id: str,
    *,
    timeout: float,  # noqa: ASYNC109 - a wait window, not a deadline for the caller to enforce
    until: Until,
    cursors: dict[str, str],
    report: Progress,
    notice: str | None,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> WaitResult:
    """Follow ``group_id``'s events until it finishes (or, with ``until='change'``, until a run
    finishes) or ``timeout`` seconds pass. Progress goes to ``report`` on every change and at
    least every :data:`HEARTBEAT_SECONDS` (every ``heartbeat`` seconds from the start, however
    long a beat's own status read took). Resumes from (and updates) ``cursors[group_id]``."""
    started = clock.now()
    # Keep a little of the window for the final status read, so the call returns within timeout.
    deadline = started + max(timeout - min(1.0, timeout * 0.1), 0.0)
    group = await client.get_task_group(group_id)
    status = group.status
    before = finished(status)

    latest = [status]
    fresh = [True]
    """Whether a status event arrived since the last heartbeat (else the heartbeat asks the API)."""

    async def send(current: wire.TaskGroupStatus) -> None:
        latest[0] = current
        fresh[0] = True
        await report(float(finished(current)), float(current.num_task_runs), progress_message(current))

    refreshed = [float("-inf")]

    async def refresh() -> wire.TaskGroupStatus | None:
        now = clock.now()
        if now - refreshed[0] < RUN_EVENT_REFRESH_SECONDS:
            return None
        refreshed[0] = now
        with contextlib.suppress(ParallelError):  # the stream and the heartbeat stay the main sources
            return (await client.get_task_group(group_id)).status
        return None

    def satisfied(current: wire.TaskGroupStatus) -> bool:
        if not current.is_active:
            return True
        return until == "change" and finished(current) > before

    await send(status)
    if not satisfied(status):
        window = anyio.CancelScope()

        async def close_window() -> None:
            await clock.sleep(max(deadline - clock.now(), 0.0))
            window.cancel()

        async def beat() -> None:
            # A quiet stream (no status event since the last beat) may be a stalled one: ask the
            # API directly, so progress stays true and a finished group ends the wait. The beats
            # keep to their schedule: a beat's own read (slow on a busy machine) does not push the
            # next one back; a late beat goes at once, and missed ones are not sent in a burst.
            due = started
            while True:
                due = max(due + heartbeat, clock.now())
                await clock.sleep(due - clock.now())
                current = latest[0]
                if not fresh[0]:
                    with contextlib.suppress(ParallelError):  # the stream stays the main source
                        current = (await client.get_task_group(group_id)).status
                await send(current)
                fresh[0] = False
                if satisfied(current):
                    window.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(close_window)
            tg.start_soon(beat)
            with window:
                # One stream, resumed by the client across cuts and planned closes until the
                # group is done or the window ends; if it ends sooner, the heartbeat polls on.
                stream = client.group_events(
                    group_id, last_event_id=cursors.get(group_id), timeout=deadline - clock.now()
                )
                async with closing(stream) as events:
                    await _consume(events, group_id, cursors, send, satisfied, refresh)
                if not satisfied(latest[0]):
                    current = await refresh()
                    if current is not None:
                        await send(current)
                if not satisfied(latest[0]):
                    await anyio.sleep_forever()
            tg.cancel_scope.cancel()
        group = await client.get_task_group(group_id)
        status = group.status
    summary: GroupStatus = summarize(group, notice=None)
    summary.next_step = None  # the wait's own next_step says it
    timed_out = status.is_active and not satisfied(status)
    if status.num_task_runs == 0:
        step = f"The group is empty: call add_runs(task_group_id='{group_id}', inputs=[...]) first."
    elif timed_out:
        step = (
            f"Still running. Call wait_for_task_group(task_group_id='{group_id}') again with the same id; "
            "do not create a new group (that would pay for the runs twice)."
        )
    elif status.is_active:
        step = (
            f"Some runs finished. Call get_task_group_results(task_group_id='{group_id}') to read them, "
            "or wait_for_task_group again."
        )
    else:
        step = (
            f"Finished. Call get_task_group_results(task_group_id='{group_id}') or export_task_group_results."
        )
    return WaitResult(
        status=summary,
        finished_while_waiting=max(finished(status) - before, 0),
        waited_s=round(clock.now() - started, 2),
        timed_out=timed_out,
        next_step=step,
        notice=notice,
    )
