"""The in-memory store: dicts and per-group lists, nothing persisted."""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Generator, Iterator, Sequence
from typing import Any

from ._records import EventRecord, GroupRecord, RunRecord

_TERMINAL = frozenset({"completed", "failed", "cancelled"})


class MemoryStore:
    """A :class:`Store` held in process memory."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._groups: dict[str, GroupRecord] = {}
        self._runs: dict[str, RunRecord] = {}
        self._group_runs: dict[str, list[RunRecord]] = {}
        self._group_index: dict[str, list[int]] = {}
        self._events: dict[str, list[EventRecord]] = {}
        self._groups_created = 0
        self._runs_created = 0

    def close(self) -> None:
        pass

    @contextlib.contextmanager
    def batch(self) -> Generator[None, None, None]:
        yield

    def refresh(self) -> bool:
        return False  # nothing else writes here

    def counters(self) -> tuple[int, int]:
        return self._groups_created, self._runs_created

    def counts(self) -> tuple[int, int]:
        return len(self._groups), len(self._runs)

    def add_group(self, group: GroupRecord) -> None:
        self._groups[group.group_id] = group
        self._group_runs[group.group_id] = []
        self._group_index[group.group_id] = []
        self._events[group.group_id] = []
        self._groups_created += 1

    def get_group(self, group_id: str) -> GroupRecord | None:
        return self._groups.get(group_id)

    def save_group(self, group: GroupRecord) -> None:
        self._groups[group.group_id] = group

    def reserve_runs(self, n: int) -> int:
        first = self._runs_created
        self._runs_created += n
        return first

    def add_runs(self, runs: Sequence[RunRecord]) -> None:
        by_id = self._runs
        for run in runs:
            by_id[run.run_id] = run
        if not runs or runs[0].group_id is None:
            return
        gid = runs[0].group_id
        lst = self._group_runs[gid]
        idx = self._group_index[gid]
        if not idx or idx[-1] < runs[0].index:
            lst.extend(runs)
            idx.extend(r.index for r in runs)
            return
        for run in runs:  # a delayed commit became visible after a later one
            at = bisect.bisect_left(idx, run.index)
            idx.insert(at, run.index)
            lst.insert(at, run)

    def get_run(self, run_id: str) -> RunRecord | None:
        return self._runs.get(run_id)

    def set_status(
        self, run: RunRecord, status: str, modified_at: float, error: dict[str, Any] | None = None
    ) -> None:
        run.status = status
        run.modified_at = modified_at
        if error is not None:
            run.error = error

    def set_tool_calls(
        self,
        run: RunRecord,
        tool_calls: list[dict[str, Any]] | None,
        warnings: list[dict[str, Any]] | None,
        mcp_state: int,
    ) -> None:
        run.tool_calls = tool_calls
        run.warnings = warnings
        run.mcp_state = mcp_state

    def group_runs(self, group_id: str, after_index: int, status: str | None, limit: int) -> list[RunRecord]:
        lst = self._group_runs.get(group_id, [])
        start = bisect.bisect_right(self._group_index.get(group_id, []), after_index)
        if status is None:
            return lst[start : start + limit]
        out: list[RunRecord] = []
        for i in range(start, len(lst)):
            if lst[i].status == status:
                out.append(lst[i])
                if len(out) >= limit:
                    break
        return out

    def add_event(self, event: EventRecord) -> None:
        self._events[event.group_id].append(event)

    def group_events(self, group_id: str, after_seq: int, limit: int) -> list[EventRecord]:
        events = self._events.get(group_id, [])
        # seq numbers are 1, 2, 3, ... so an event's position is seq - 1
        start = max(0, after_seq)
        return events[start : start + limit]

    def unfinished_runs(self) -> Iterator[RunRecord]:
        return (r for r in self._runs.values() if r.status not in _TERMINAL)
