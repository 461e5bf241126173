"""The service model: groups and runs moving queued -> running -> completed | failed on a clock.

Transitions wait in a heap ordered by due time and are applied, in time order, whenever anyone
looks (every request calls :meth:`Lifecycle.tick`) and by the executor in the background. Group
status counts change with each transition, so reading a status is O(1) at any group size.
"""

from __future__ import annotations

import hashlib
import heapq
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anyio

from taskgroup_mcp.wire import (
    ACTIVE_RUN_STATUSES,
    ErrorObject,
    McpServer,
    RunInput,
    TaskGroup,
    TaskGroupStatus,
    TaskRun,
    TaskSpec,
    get_processor,
)

from ._clock import Clock
from ._config import SandboxConfig
from ._records import MCP_CALLING, MCP_DONE, MCP_NONE, MCP_WAITING, EventRecord, GroupRecord, RunRecord
from ._store import Store
from ._timefmt import rfc3339
from ._warnings import spec_warnings

_START = 0
_END = 1


class Hooks(Protocol):
    """What the executor does when runs start and finish (MCP tool calls, webhooks)."""

    def run_started(self, run: RunRecord) -> bool:
        """Begin the run's MCP tool calls; False if the executor is not running."""
        ...

    def run_finished(self, run: RunRecord) -> None: ...


@dataclass(slots=True)
class PendingCommit:
    """Runs committed under ``commit_delay_ms``: visible to reads only from ``due``."""

    due: float
    group: GroupRecord | None
    runs: list[RunRecord]


def listing_warning(server_name: str) -> dict[str, Any]:
    """The documented warning for an MCP server whose tools could not be listed."""
    return {
        "type": "warning",
        "message": f"Error listing tools from MCP server {server_name}. Reference ID: {uuid.uuid4()}",
        "detail": {},
    }


class Lifecycle:
    def __init__(self, store: Store, clock: Clock, config: SandboxConfig) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.hooks: Hooks | None = None
        self._heap: list[tuple[float, int, int, str]] = []
        self._pending: list[tuple[float, int, PendingCommit]] = []
        self._pending_n = 0
        self._held: set[str] = set()
        self._changed: anyio.Event | None = None
        self._status_seq = 0
        self._spec_warning_cache: dict[int, tuple[TaskSpec | None, list[dict[str, Any]]]] = {}
        self.rebuild()

    # -- schedule -----------------------------------------------------------------------------

    def rebuild(self) -> None:
        """Rebuild the transition heap from the store (after a restart or a reset)."""
        self._heap = []
        self._pending = []
        self._held = set()
        for run in self.store.unfinished_runs():
            if run.mcp_state == MCP_CALLING:  # calls cut short by a restart: make them again
                self.store.set_tool_calls(run, None, run.warnings, MCP_WAITING)
            if run.status == "queued":
                self._heap.append((run.start_at, run.seq, _START, run.run_id))
            else:
                self._heap.append((run.end_at, run.seq, _END, run.run_id))
        heapq.heapify(self._heap)

    def _reschedule(self) -> None:
        """Another process sharing the store added or moved runs: schedule every unfinished run
        again (transitions are idempotent, so runs already scheduled here are harmless)."""
        self._heap = []
        for run in self.store.unfinished_runs():
            if run.status == "queued":
                self._heap.append((run.start_at, run.seq, _START, run.run_id))
            else:
                self._heap.append((run.end_at, run.seq, _END, run.run_id))
        heapq.heapify(self._heap)

    def next_due(self) -> float | None:
        """When the next transition is due (None: nothing scheduled)."""
        due = [q[0][0] for q in (self._heap, self._pending) if q]
        return min(due) if due else None

    async def wait_changed(self) -> None:
        """Return when something changes (a transition applied or runs added)."""
        if self._changed is None:
            self._changed = anyio.Event()
        await self._changed.wait()

    def _notify(self) -> None:
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    def tick(self) -> int:
        """Apply every transition due by now, in time order; returns how many were applied."""
        if self.store.refresh():
            self._reschedule()
        now = self.clock.now()
        heap, pending = self._heap, self._pending
        if not ((heap and heap[0][0] <= now) or (pending and pending[0][0] <= now)):
            return 0
        with self.store.batch():
            applied = self._apply_due(now)
        if applied:
            self._notify()
        return applied

    def _apply_due(self, now: float) -> int:
        heap, pending = self._heap, self._pending
        applied = 0
        while True:
            h = heap[0][0] if heap else None
            p = pending[0][0] if pending else None
            if p is not None and p <= now and (h is None or p <= h):
                _, _, commit = heapq.heappop(pending)
                self._make_visible(commit)
            elif h is not None and h <= now:
                due, _, kind, run_id = heapq.heappop(heap)
                run = self.store.get_run(run_id)
                if run is None:
                    continue
                if kind == _START:
                    self._start(run, due)
                else:
                    self._end(run, due)
            else:
                break
            applied += 1
        return applied

    # -- create -------------------------------------------------------------------------------

    def create_group(self, metadata: dict[str, Any] | None) -> GroupRecord:
        with self.store.batch():  # the counter read and its bump are one step for every process
            n, _ = self.store.counters()
            gid = (
                "tgrp_"
                + hashlib.blake2b(f"{self.config.seed}:group:{n}".encode(), digest_size=12).hexdigest()
            )
            now = self.clock.now()
            group = GroupRecord(group_id=gid, created_at=now, metadata=metadata, modified_at=now)
            self.store.add_group(group)
        return group

    def add_runs(
        self,
        group: GroupRecord | None,
        inputs: Sequence[RunInput],
        default_task_spec: TaskSpec | None,
        commit_delay: float = 0.0,
        betas: Sequence[str] = (),
    ) -> list[RunRecord]:
        """Commit new runs (visible now, or after ``commit_delay`` seconds); ``betas`` are the
        ``parallel-beta`` tokens of the creating request, kept with each run."""
        with self.store.batch():
            return self._add_runs(group, inputs, default_task_spec, commit_delay, tuple(betas))

    def _add_runs(
        self,
        group: GroupRecord | None,
        inputs: Sequence[RunInput],
        default_task_spec: TaskSpec | None,
        commit_delay: float,
        betas: tuple[str, ...],
    ) -> list[RunRecord]:
        now = self.clock.now()
        cfg = self.config
        first_seq = self.store.reserve_runs(len(inputs))
        first_index = -1
        if group is not None:
            group = self.store.get_group(group.group_id) or group  # as committed, by any process
            first_index = group.next_index
            group.next_index += len(inputs)
            self.store.save_group(group)
        runs: list[RunRecord] = []
        gid = group.group_id if group is not None else None
        seed, speed, fail_rate = cfg.seed, cfg.speed, cfg.fail_rate
        blake = hashlib.blake2b
        for i, run_input in enumerate(inputs):
            seq = first_seq + i
            digest = blake(f"{seed}:run:{seq}".encode(), digest_size=16).digest()
            u_total = int.from_bytes(digest[0:4]) / 4294967296.0
            u_start = int.from_bytes(digest[4:8]) / 4294967296.0
            u_fail = int.from_bytes(digest[8:12]) / 4294967296.0
            proc = get_processor(run_input.processor)
            lo, hi = proc.latency_seconds if proc is not None else (10.0, 60.0)
            total = (lo + (hi - lo) * u_total) / speed
            spec = run_input.task_spec or default_task_spec
            warnings = self._spec_warnings(spec)
            runs.append(
                RunRecord(
                    seq=seq,
                    run_id="trun_" + digest.hex(),
                    group_id=gid,
                    index=first_index + i if gid is not None else -1,
                    input=run_input,
                    task_spec=spec,
                    created_at=now,
                    start_at=now + total * 0.2 * u_start,
                    end_at=now + total,
                    final_status="failed" if u_fail < fail_rate else "completed",
                    modified_at=now,
                    warnings=list(warnings) if warnings else None,
                    mcp_state=MCP_WAITING if run_input.mcp_servers else MCP_NONE,
                    betas=betas,
                )
            )
        commit = PendingCommit(now + commit_delay, group, runs)
        if commit_delay > 0:
            self._pending_n += 1
            heapq.heappush(self._pending, (commit.due, self._pending_n, commit))
        else:
            self._make_visible(commit)
            self._notify()
        return runs

    def _spec_warnings(self, spec: TaskSpec | None) -> list[dict[str, Any]]:
        key = id(spec)
        cached = self._spec_warning_cache.get(key)
        if cached is not None and cached[0] is spec:
            return cached[1]
        if len(self._spec_warning_cache) > 1024:
            self._spec_warning_cache.clear()
        found = spec_warnings(spec)
        self._spec_warning_cache[key] = (spec, found)
        return found

    def _make_visible(self, commit: PendingCommit) -> None:
        runs = commit.runs
        self.store.add_runs(runs)
        heap = self._heap
        for run in runs:
            heapq.heappush(heap, (run.start_at, run.seq, _START, run.run_id))
        group = commit.group
        if group is not None and runs:
            group = self.store.get_group(group.group_id) or group
            group.counts["queued"] = group.counts.get("queued", 0) + len(runs)
            group.num_runs += len(runs)
            group.modified_at = max(group.modified_at, runs[0].created_at)
            self.store.save_group(group)

    # -- transitions --------------------------------------------------------------------------

    def _move(self, run: RunRecord, status: str, at: float, error: dict[str, Any] | None = None) -> None:
        old = run.status
        self.store.set_status(run, status, at, error)
        if run.group_id is None:
            return
        group = self.store.get_group(run.group_id)
        if group is None:
            return
        c = group.counts
        n = c.get(old, 0) - 1
        if n > 0:
            c[old] = n
        else:
            c.pop(old, None)
        c[status] = c.get(status, 0) + 1
        group.modified_at = max(group.modified_at, at)
        if status not in ACTIVE_RUN_STATUSES:
            group.event_seq += 1
            self.store.add_event(EventRecord(group.group_id, group.event_seq, run_id=run.run_id))
            if group.active == 0:
                group.event_seq += 1
                status_wire = self.group_status(group).to_wire()
                self.store.add_event(EventRecord(group.group_id, group.event_seq, status=status_wire))
        self.store.save_group(group)

    def _start(self, run: RunRecord, at: float) -> None:
        if run.status != "queued":
            return
        self._move(run, "running", at)
        if run.mcp_state == MCP_WAITING and self.hooks is not None and self.hooks.run_started(run):
            self.store.set_tool_calls(run, run.tool_calls, run.warnings, MCP_CALLING)
        heapq.heappush(self._heap, (run.end_at, run.seq, _END, run.run_id))

    def _end(self, run: RunRecord, at: float) -> None:
        if run.status != "running":
            return
        if run.mcp_state == MCP_CALLING:
            self._held.add(run.run_id)  # finishes when its tool calls are recorded
            return
        if run.mcp_state == MCP_WAITING and self.hooks is not None and self.hooks.run_started(run):
            self.store.set_tool_calls(run, run.tool_calls, run.warnings, MCP_CALLING)
            self._held.add(run.run_id)
            return
        if run.mcp_state == MCP_WAITING:  # no executor ran the calls: as if listing failed
            servers: list[McpServer] = run.input.mcp_servers or []
            warnings = [*(run.warnings or []), *(listing_warning(s.name) for s in servers)]
            self.store.set_tool_calls(run, None, warnings, MCP_DONE)
        self._finish(run, at)

    def _finish(self, run: RunRecord, at: float) -> None:
        error = None
        if run.final_status == "failed":
            error = ErrorObject(
                ref_id=str(uuid.UUID(bytes=hashlib.md5(run.run_id.encode()).digest())),
                message="Sandbox: this run failed on purpose (--fail-rate); synthetic failure, no real work was lost.",
                detail=None,
            ).to_wire()
        self._move(run, run.final_status, at, error)
        if self.hooks is not None:
            self.hooks.run_finished(run)

    def tool_calls_done(
        self, run_id: str, tool_calls: list[dict[str, Any]] | None, warnings: list[dict[str, Any]]
    ) -> None:
        """The executor recorded a run's tool calls; finish the run if it was waiting for them."""
        run = self.store.get_run(run_id)
        if run is None:
            return
        merged = [*(run.warnings or []), *warnings] or None
        self.store.set_tool_calls(run, tool_calls, merged, MCP_DONE)
        if run_id in self._held:
            self._held.discard(run_id)
            self._finish(run, max(self.clock.now(), run.end_at))
        self._notify()  # open run streams show the calls now

    # -- views --------------------------------------------------------------------------------

    def group_status(self, group: GroupRecord) -> TaskGroupStatus:
        active, n = group.active, group.num_runs
        # The API's wording is undocumented (SPEC examples: "" and null): see _divergences.
        message = None if n == 0 else (f"{active} of {n} runs active" if active else "")
        return TaskGroupStatus(
            num_task_runs=n,
            task_run_status_counts=dict(group.counts),
            is_active=active > 0,
            status_message=message,
            modified_at=rfc3339(group.modified_at),
        )

    def group_view(self, group: GroupRecord) -> TaskGroup:
        return TaskGroup(
            taskgroup_id=group.group_id,
            status=self.group_status(group),
            created_at=rfc3339(group.created_at),
            metadata=group.metadata,
        )

    def opening_status_event_id(self) -> str:
        """The id of the status snapshot that opens a fresh events stream: ``"0.<n>"``, unique,
        positioned before the group's first event (resuming after it replays every event)."""
        self._status_seq += 1
        return f"0.{self._status_seq}"


def run_view(run: RunRecord) -> TaskRun:
    """A run as ``TaskRun`` (status only, no output)."""
    return TaskRun(
        run_id=run.run_id,
        interaction_id=run.run_id,
        status=run.status,  # type: ignore[arg-type]
        is_active=run.status in ACTIVE_RUN_STATUSES,
        processor=run.input.processor,
        created_at=rfc3339(run.created_at),
        modified_at=rfc3339(run.modified_at),
        metadata=run.input.metadata,
        taskgroup_id=run.group_id,
        warnings=run.warnings,  # type: ignore[arg-type]
        error=run.error,  # type: ignore[arg-type]
    )


def input_view(run: RunRecord) -> RunInput:
    """What the run was created from, with its effective task spec; MCP header values left out."""
    servers = run.input.mcp_servers
    update: dict[str, Any] = {"task_spec": run.task_spec}
    if servers:
        update["mcp_servers"] = [s.model_copy(update={"headers": None}) for s in servers]
    return run.input.model_copy(update=update)
