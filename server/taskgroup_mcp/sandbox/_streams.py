"""The sandbox's three SSE streams as the API serves them: a group's runs (pages, in bursts), a
group's events (an opening status, then events as they happen, until the group is inactive, the
caller's timeout or the API's bound), a run's events (its trace replayed, then live, ending on a
final state); quiet streams send keep-alive comments. Also the ``stream_error``/``stream_cut``
faults that break a stream after its first event.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable

import anyio
import anyio.lowlevel

from taskgroup_mcp.wire import (
    GROUP_EVENTS_STREAM_MAX_SECONDS,
    RUN_EVENTS_STREAM_MAX_SECONDS,
    ErrorEvent,
    ErrorObject,
    TaskGroupStatusEvent,
    TaskRunEvent,
)

from ._clock import Clock
from ._edge import StreamCut
from ._lifecycle import Lifecycle, input_view, run_view
from ._outputs import build_output
from ._records import GroupRecord, RunRecord
from ._sse import frame
from ._store import Store
from ._trace import TraceMessage, events_enabled, next_message_at, stats, visible

PAGE = 500
_BURST = 25  # runs per chunk written to a runs stream
KEEPALIVE_SECONDS = 15.0
"""An open stream with nothing to say sends an SSE comment this often, so readers with a read
timeout (ours: 60 s) do not give up on a quiet but healthy stream. Comments are safe for the
official SDK because the sandbox never sends ``id:`` lines."""
KEEPALIVE = ": keep-alive\n\n"
TERMINAL = frozenset({"completed", "failed", "cancelled"})

Wait = Callable[[float | None, float | None], Awaitable[None]]
"""Wait until something may have changed: ``(deadline in real time, a moment due on the sandbox clock)``."""


async def group_runs(
    store: Store,
    group_id: str,
    *,
    after: int,
    status: str | None,
    include_input: bool,
    include_output: bool,
    seed: int,
) -> AsyncGenerator[str, None]:
    position = after
    while True:
        page = store.group_runs(group_id, position, status, PAGE)
        if not page:
            return
        # Small bursts with a checkpoint between them: a reader that stops after a few
        # runs (one page of results) is not made to wait while hundreds more are built.
        for start in range(0, len(page), _BURST):
            parts: list[str] = []
            for run in page[start : start + _BURST]:
                event = TaskRunEvent(
                    event_id=str(run.index),
                    run=run_view(run),
                    input=input_view(run) if include_input else None,
                    output=build_output(run, seed) if include_output and run.status == "completed" else None,
                )
                parts.append(frame(event))
            yield "".join(parts)
            await anyio.lowlevel.checkpoint()
        position = page[-1].index
        if len(page) < PAGE:
            return


async def group_events(
    lc: Lifecycle,
    store: Store,
    group: GroupRecord,
    *,
    after: int,
    timeout: float | None,  # noqa: ASYNC109 - the caller's `timeout` query parameter, in real seconds
    clock: Clock,
    wait: Wait,
) -> AsyncGenerator[str, None]:
    gid = group.group_id
    life_end = clock.now() + GROUP_EVENTS_STREAM_MAX_SECONDS
    deadline = None if timeout is None else anyio.current_time() + timeout
    quiet_since = anyio.current_time()
    position = max(after, 0)
    if after < 0:  # a fresh stream opens with the group's status, positioned at its start
        g = store.get_group(gid) or group
        yield frame(TaskGroupStatusEvent(event_id=lc.opening_status_event_id(), status=lc.group_status(g)))
    while True:
        page = store.group_events(gid, position, PAGE)
        if page:
            parts: list[str] = []
            for ev in page:
                if ev.run_id is not None:
                    run = store.get_run(ev.run_id)
                    if run is not None:
                        parts.append(frame(TaskRunEvent(event_id=str(ev.seq), run=run_view(run))))
                elif ev.status is not None:
                    parts.append(
                        frame({"type": "task_group_status", "event_id": str(ev.seq), "status": ev.status})
                    )
            position = page[-1].seq
            yield "".join(parts)
            quiet_since = anyio.current_time()
            continue
        g = store.get_group(gid) or group
        if g.active == 0 or clock.now() >= life_end:
            return
        if deadline is not None and anyio.current_time() >= deadline:
            return
        await wait(deadline, life_end)
        if anyio.current_time() - quiet_since >= KEEPALIVE_SECONDS:
            yield KEEPALIVE
            quiet_since = anyio.current_time()


async def run_events(
    store: Store, run: RunRecord, *, seed: int, clock: Clock, wait: Wait
) -> AsyncGenerator[str, None]:
    run_id = run.run_id
    life_end = clock.now() + RUN_EVENTS_STREAM_MAX_SECONDS  # on the sandbox clock
    current = store.get_run(run_id) or run
    yield frame(TaskRunEvent(event_id=None, run=run_view(current)))
    quiet_since = anyio.current_time()
    sent: set[TraceMessage] = set()
    meter: float | None = None
    while True:
        current = store.get_run(run_id) or run
        now = clock.now()
        done = current.status in TERMINAL
        new = [m for m in visible(current, now) if m not in sent]
        sent.update(new)
        parts = [frame(m.event()) for m in new]
        if events_enabled(current) and current.status != "queued":
            latest = stats(current, now)
            if new or meter is None or (done and latest.progress_meter != meter):
                parts.append(frame(latest))  # only the latest stats, after the messages
                meter = latest.progress_meter
        if parts:
            yield "".join(parts)
            quiet_since = anyio.current_time()
        if done:
            output = build_output(current, seed) if current.status == "completed" else None
            yield frame(TaskRunEvent(event_id=None, run=run_view(current), output=output))
            return
        if clock.now() >= life_end:
            return
        due = next_message_at(current, now)
        await wait(None, life_end if due is None else min(due, life_end))
        if anyio.current_time() - quiet_since >= KEEPALIVE_SECONDS:
            yield KEEPALIVE
            quiet_since = anyio.current_time()


async def with_fault(gen: AsyncGenerator[str, None], kind: str) -> AsyncGenerator[str, None]:
    """Pass the stream's first event through, then break it: an ``error`` event and the end, or a
    cut connection (:class:`StreamCut`)."""
    try:
        async for chunk in gen:
            frames = [f + "\n\n" for f in chunk.split("\n\n") if f.strip()]
            if not any(not f.startswith(":") for f in frames):
                yield chunk  # keep-alive comments only
                continue
            first = next(i for i, f in enumerate(frames) if not f.startswith(":"))
            yield "".join(frames[: first + 1])
            if kind == "cut":
                raise StreamCut
            error = ErrorEvent(
                error=ErrorObject(
                    ref_id=str(uuid.uuid4()),
                    message="Sandbox fault stream_error: the stream failed; reconnect to continue.",
                    detail=None,
                )
            )
            yield frame(error)
            return
    finally:
        await gen.aclose()
