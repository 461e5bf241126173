"""What each of the API's event streams means: when it ends, what it skips, what it yields.

:class:`ParallelClient` opens the connections (its key, pool and retry policy); these readers
turn one :class:`ResumableStream` each into typed events: the group's events (ending on an
inactive status after the events, or on an empty connection while the group is inactive), the
group's runs (an error event raises, nothing delivered twice), the runs' client-id tags (no
models built: what reconciliation and audits read) and one run's events (a replay on every
connect, read to a final state).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import anyio

from taskgroup_mcp.wire import Event, TaskGroupStatusEvent, TaskRunEvent, is_object, parse_event

from ._errors import APIStreamError
from ._http import Redact
from ._parse import parse_object
from ._retry import RetryPolicy
from ._stream import Opener, ResumableStream
from ._tail import RunTag

FINAL_RUN_STATUSES = frozenset({"completed", "failed", "cancelled"})


async def group_events(
    opener: Opener,
    path: str,
    policy: RetryPolicy,
    *,
    is_active: Callable[[], Awaitable[bool]],
    last_event_id: str | None,
    seconds: float | None,
) -> AsyncIterator[Event]:
    """The group's events from ``last_event_id``, deduplicated, for about ``seconds`` (None: to
    the end). ``is_active`` reads the group's status after a connection with nothing new."""
    deadline = None if seconds is None else anyio.current_time() + seconds
    # After a planned close: `ended` when the last event was an inactive status in stream
    # order; `news` when that connection delivered anything. A status that opens a
    # connection is the group's state now (a snapshot), placed before the events a fresh
    # stream replays: an inactive snapshot does not mean the replay after it was read.
    ended, news = [False], [False]
    connection = [0]
    completed: set[tuple[str, str]] = set()

    def query() -> dict[str, str]:
        if deadline is None:
            return {}
        return {"timeout": f"{max(0.0, deadline - anyio.current_time()):.3f}"}

    async def follow() -> bool:
        had_news, news[0] = news[0], False
        if ended[0]:
            return False
        if had_news:
            return True  # more may come after the cursor: the next connection resumes there
        return await is_active()

    stream = ResumableStream(
        opener, path, policy, query=query, cursor=last_event_id, follow=follow, deadline=deadline
    )
    async for raw in stream:
        opens = stream.connections != connection[0]
        connection[0] = stream.connections
        news[0] = True
        event = parse_event(raw)
        ended[0] = isinstance(event, TaskGroupStatusEvent) and not opens and not event.status.is_active
        if isinstance(event, TaskRunEvent):
            key = (event.run.run_id, event.run.status)
            if key in completed:
                continue
            completed.add(key)
        yield event


async def group_runs(
    opener: Opener,
    path: str,
    policy: RetryPolicy,
    *,
    params: Mapping[str, str],
    last_event_id: str | None,
    redact: Redact,
) -> AsyncIterator[TaskRunEvent]:
    """The group's runs, one event each, resumable from ``last_event_id``; an error event raises
    :class:`APIStreamError` (its message redacted)."""
    stream = ResumableStream(opener, path, policy, query=lambda: params, cursor=last_event_id)
    async for raw in stream:
        kind = raw.get("type")
        if kind == "error":
            err = raw.get("error")
            msg = err.get("message") if is_object(err) else None
            text = redact(msg) if isinstance(msg, str) else "error event"
            raise APIStreamError(f"GET {path}: {text}", method="GET", path=path)
        if kind != "task_run.state":
            continue
        yield parse_object(TaskRunEvent, raw, method="GET", path=path, redact=redact)


async def group_run_tags(
    opener: Opener, path: str, policy: RetryPolicy, *, key: str, after: str | None
) -> AsyncIterator[list[RunTag]]:
    """Every run after ``after`` as ``(event_id, run_id, metadata[key])``, a batch per read."""
    stream = ResumableStream(opener, path, policy, cursor=after)
    async for batch in stream.batches():
        if tags := _run_tags(batch, key):
            yield tags


async def run_events(opener: Opener, path: str, policy: RetryPolicy) -> AsyncIterator[Event]:
    """One run's events; the API replays them on every connect, so repeats are skipped; ends
    after a final state (read from the raw run, so one the models cannot parse ends it too)."""
    finished = [False]
    delivered: set[str] = set()

    def fresh(raw: dict[str, Any]) -> bool:
        key = json.dumps(raw, sort_keys=True)
        if key in delivered:
            return False
        delivered.add(key)
        return True

    async def follow() -> bool:
        return not finished[0]

    stream = ResumableStream(opener, path, policy, resume=False, fresh=fresh, follow=follow)
    async for raw in stream:
        if raw.get("type") == "task_run.state" and _is_final(raw.get("run")):
            finished[0] = True
        yield parse_event(raw)


def _is_final(run: Any) -> bool:
    """Whether a raw run object is in a final state (read without the models, which may refuse it)."""
    if not is_object(run):
        return False
    return run.get("status") in FINAL_RUN_STATUSES or run.get("is_active") is False


def _run_tags(batch: list[dict[str, Any]], key: str) -> list[RunTag]:
    """The ``task_run.state`` events of one read as tags (other events and unreadable runs skipped)."""
    tags: list[RunTag] = []
    for raw in batch:
        run = raw.get("run")
        if raw.get("type") != "task_run.state" or not is_object(run):
            continue
        run_id = run.get("run_id")
        if not isinstance(run_id, str):
            continue
        meta = run.get("metadata")
        value = meta.get(key) if is_object(meta) else None
        event_id = raw.get("event_id")
        tags.append(
            RunTag(
                event_id if isinstance(event_id, str) else None,
                run_id,
                value if isinstance(value, str) else None,
            )
        )
    return tags
