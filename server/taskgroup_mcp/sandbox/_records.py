"""What the sandbox stores: groups, runs and group events, as plain records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from taskgroup_mcp.wire import RunInput, TaskSpec

MCP_NONE = 0
"""The run forwards no MCP server."""
MCP_WAITING = 1
"""The run forwards servers and their tools have not been called yet."""
MCP_CALLING = 2
"""The executor is calling the run's tools now."""
MCP_DONE = 3
"""The calls (or the failed listing) are recorded."""


@dataclass(slots=True)
class GroupRecord:
    group_id: str
    created_at: float
    metadata: dict[str, Any] | None
    modified_at: float
    counts: dict[str, int] = field(default_factory=dict[str, int])
    """Runs by status, kept incrementally (only non-zero entries)."""
    num_runs: int = 0
    """Visible runs (those whose commit is visible to reads)."""
    next_index: int = 0
    """The position the next added run gets (reserved at commit, even before it is visible)."""
    event_seq: int = 0
    """The last group event's sequence number."""

    @property
    def active(self) -> int:
        c = self.counts
        return c.get("queued", 0) + c.get("running", 0) + c.get("cancelling", 0)


@dataclass(slots=True)
class RunRecord:
    seq: int
    """Global creation order (ids, durations and failures derive from it and the seed)."""
    run_id: str
    group_id: str | None
    index: int
    """Position within its group (-1 for a standalone run)."""
    input: RunInput
    """As submitted, with the effective task spec; MCP header values are kept (write-only)."""
    task_spec: TaskSpec | None
    created_at: float
    start_at: float
    end_at: float
    final_status: str
    """``completed`` or ``failed``: what the run becomes at ``end_at``."""
    status: str = "queued"
    modified_at: float = 0.0
    warnings: list[dict[str, Any]] | None = None
    error: dict[str, Any] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    mcp_state: int = MCP_NONE
    betas: tuple[str, ...] = ()
    """The ``parallel-beta`` tokens of the request that created the run (they shape its output)."""

    @property
    def processor(self) -> str:
        return self.input.processor


@dataclass(slots=True, frozen=True)
class EventRecord:
    """One entry of a group's event log: a run that ended, or the group's status when it went idle."""

    group_id: str
    seq: int
    run_id: str | None = None
    status: dict[str, Any] | None = None
