"""A group's status in about a hundred tokens: counts, percent done, elapsed, a rough ETA."""

from __future__ import annotations

from datetime import UTC, datetime

from taskgroup_mcp import wire

from ._models import GroupStatus
from ._sanitize import strip_invisible


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def next_step_for(group_id: str, active: bool, total: int) -> str:
    del group_id  # the id is in the result beside this sentence
    if total == 0:
        return "The group is empty: call add_runs with this task_group_id."
    if active:
        return "Call wait_for_task_group with this id to follow progress; do not create a new group."
    return "Done. Call get_task_group_results or export_task_group_results with this id."


def summarize(
    group: wire.TaskGroup, *, now: datetime | None = None, notice: str | None = None
) -> GroupStatus:
    status = group.status
    counts: dict[str, int] = {}
    for k, v in status.task_run_status_counts.items():
        if v:
            # Only the API's documented statuses by name: an unknown key is text we do not show.
            name = k if k in wire.RUN_STATUSES else "other"
            counts[name] = counts.get(name, 0) + v
    total = status.num_task_runs
    active_n = sum(v for k, v in counts.items() if k in wire.ACTIVE_RUN_STATUSES)
    done = max(total - active_n, 0)
    pct = round(100.0 * done / total, 1) if total else 100.0
    created = _parse_time(group.created_at)
    current = now or datetime.now(UTC)
    elapsed = round((current - created).total_seconds(), 1) if created is not None else None
    eta: float | None = None
    if status.is_active and elapsed is not None and done > 0:
        eta = round(elapsed / done * (total - done), 0)
    label = (group.metadata or {}).get("label")
    return GroupStatus(
        task_group_id=group.taskgroup_id,
        label=" ".join(strip_invisible(label).split())[:120] or None if isinstance(label, str) else None,
        active=status.is_active,
        total=total,
        counts=counts,
        done_pct=pct,
        elapsed_s=elapsed,
        eta_s=eta,
        next_step=next_step_for(group.taskgroup_id, status.is_active, total),
        notice=notice,
    )
