"""The one interface every sandbox store implements (in memory, SQLite)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from ._records import EventRecord, GroupRecord, RunRecord


class Store(Protocol):
    """Holds groups, runs and group events. Only the lifecycle writes; routes only read.

    Records returned by ``get_group`` may be kept and mutated by the caller, who then calls
    ``save_group``; run records are written field by field through the ``set_*`` methods.
    """

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Group many writes into one unit (one SQLite transaction); nested batches join the outer."""
        ...

    def refresh(self) -> bool:
        """Pick up what other processes sharing the store committed; True when anything changed."""
        ...

    def counters(self) -> tuple[int, int]:
        """(groups created, runs created) so far: ids derive from them."""
        ...

    def add_group(self, group: GroupRecord) -> None: ...

    def get_group(self, group_id: str) -> GroupRecord | None: ...

    def save_group(self, group: GroupRecord) -> None: ...

    def add_runs(self, runs: Sequence[RunRecord]) -> None: ...

    def reserve_runs(self, n: int) -> int:
        """Reserve ``n`` run sequence numbers; returns the first."""
        ...

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def set_status(
        self, run: RunRecord, status: str, modified_at: float, error: dict[str, Any] | None = None
    ) -> None:
        """Move ``run`` (the caller's record too) to ``status``."""
        ...

    def set_tool_calls(
        self,
        run: RunRecord,
        tool_calls: list[dict[str, Any]] | None,
        warnings: list[dict[str, Any]] | None,
        mcp_state: int,
    ) -> None: ...

    def group_runs(self, group_id: str, after_index: int, status: str | None, limit: int) -> list[RunRecord]:
        """Up to ``limit`` runs of the group with index > ``after_index``, in index order."""
        ...

    def add_event(self, event: EventRecord) -> None: ...

    def group_events(self, group_id: str, after_seq: int, limit: int) -> list[EventRecord]:
        """Up to ``limit`` events of the group with seq > ``after_seq``, in order."""
        ...

    def unfinished_runs(self) -> Iterator[RunRecord]:
        """Runs not yet completed or failed (to rebuild the schedule after a restart)."""
        ...

    def counts(self) -> tuple[int, int]:
        """(groups, runs) held."""
        ...

    def clear(self) -> None: ...

    def close(self) -> None: ...
