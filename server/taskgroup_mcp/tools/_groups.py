"""list_task_groups: the caller's groups from the journal, newest first, refreshed and paged.

The API has no way to list groups, so the journal is the only memory of them. Active groups on the
page are re-read from the API (a few at a time, within a short bound) so counts are current; a group
the API cannot answer for keeps its last status seen. Pages fit a token budget and continue with an
opaque cursor bound to the filters.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from taskgroup_mcp.client import ParallelClient, ParallelError
from taskgroup_mcp.journal import GroupEntry, JournalError
from taskgroup_mcp.wire import is_object

from ._arguments import ArgumentProblem
from ._journaling import Journaled
from ._models import GroupListed, GroupsPage
from ._shaping import estimate_tokens, json_text

DEFAULT_GROUPS = 20
MAX_GROUPS = 100
PAGE_TOKENS = 6_000
"""A page of groups stays under this many estimated tokens (the rest is on the next page)."""
REFRESH_AT_ONCE = 8
REFRESH_SECONDS = 5.0

STATE_OFF = (
    "This server keeps no list of groups (TASKGROUP_MCP_STATE=off). Keep the task_group_id that "
    "create_task_group or fan_out returned; every other tool takes it."
)


def _encode(entry: GroupEntry, label: str | None, active: bool | None) -> str:
    raw = json_text({"c": entry.created_at, "g": entry.group_id, "l": label, "a": active})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, label: str | None, active: bool | None) -> tuple[float, str]:
    bad = ArgumentProblem([("cursor", "is not a cursor this server issued; pass next_cursor unchanged")])
    try:
        data: Any = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not is_object(data):
        raise bad
    fields: dict[str, Any] = data
    created, group_id = fields.get("c"), fields.get("g")
    if not isinstance(created, int | float) or not isinstance(group_id, str):
        raise bad
    if fields.get("l") != label or fields.get("a") != active:
        raise ArgumentProblem([("cursor", "was issued for other filters; keep the same label and active")])
    return float(created), group_id


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _listed(entry: GroupEntry) -> GroupListed:
    status = entry.status or {}
    counts_raw: Any = status.get("counts") or {}
    counts: dict[str, int] = {}
    if is_object(counts_raw):
        for k, v in counts_raw.items():
            if isinstance(v, int):
                counts[str(k)] = v
    total = status.get("total")
    return GroupListed(
        task_group_id=entry.group_id,
        label=entry.label,
        created_at=_rfc3339(entry.created_at),
        active=entry.active,
        total=int(total) if isinstance(total, int) else None,
        counts=counts,
        inputs_added=entry.inputs_sent,
        cost_usd=round(entry.cost_usd, 4),
        processors=entry.processors or None,
    )


async def _refresh(client: ParallelClient, journaled: Journaled, entries: list[GroupEntry]) -> None:
    """Re-read the groups that may still be running; what cannot be read keeps its last status."""
    stale = [e for e in entries if e.active is not False]
    if not stale:
        return
    limiter = anyio.CapacityLimiter(REFRESH_AT_ONCE)

    async def one(entry: GroupEntry) -> None:
        async with limiter:
            try:
                group = await client.get_task_group(entry.group_id)
            except ParallelError:
                return
        entry.status = {
            "total": group.status.num_task_runs,
            "counts": {k: v for k, v in group.status.task_run_status_counts.items() if v},
        }
        entry.active = group.status.is_active
        await journaled.seen(group)

    with anyio.move_on_after(REFRESH_SECONDS):
        async with anyio.create_task_group() as tg:
            for entry in stale:
                tg.start_soon(one, entry)


async def list_groups_page(
    client: ParallelClient | None,
    journaled: Journaled,
    *,
    label: str | None,
    active: bool | None,
    cursor: str | None,
    limit: int,
    notice: str | None,
) -> GroupsPage:
    journal = journaled.journal
    if journal is None:
        raise ToolError(STATE_OFF)
    label = (label or "").strip() or None
    after = _decode(cursor, label, active) if cursor else None
    try:
        entries = await journal.list_groups(
            journaled.scope, label=label, active=active, after=after, limit=limit + 1
        )
    except JournalError as exc:
        raise JournalUnavailable(exc.message) from None
    more = len(entries) > limit
    entries = entries[:limit]
    if client is not None:
        await _refresh(client, journaled, entries)
    items: list[GroupListed] = []
    used = 0
    for entry in entries:
        item = _listed(entry)
        cost = estimate_tokens(item.model_dump(mode="json", exclude_none=True))
        if items and used + cost > PAGE_TOKENS:
            more = True
            break
        items.append(item)
        used += cost
    last = entries[len(items) - 1] if items else None
    next_cursor = _encode(last, label, active) if more and last is not None else None
    if not items:
        step = (
            "No groups match. Drop the filters, or start one with create_task_group or fan_out."
            if label or active is not None
            else "No groups yet. Start one with fan_out (small jobs) or create_task_group."
        )
    elif next_cursor:
        step = (
            "More groups: call again with cursor=next_cursor. Use a task_group_id with get_task_group_status."
        )
    else:
        step = (
            "Use a task_group_id with get_task_group_status, wait_for_task_group or get_task_group_results."
        )
    return GroupsPage(
        groups=items,
        returned=len(items),
        next_cursor=next_cursor,
        next_step=step,
        notice=notice,
    )


class JournalUnavailable(Exception):
    """The journal cannot answer a read that the tool exists for."""
