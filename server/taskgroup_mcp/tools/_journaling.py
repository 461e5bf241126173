"""The tools' use of the journal: record what callers create and see, and submit exactly once
across processes and replicas.

:func:`submit_journaled` wraps ``client.submit`` for one call. The journal is the submission
engine's write-ahead hook (each request's client ids are written before it is sent, the run ids
the API confirmed are kept); what stays here is what the engine cannot know: a lease in the
journal makes the same call (group + call key) in another process or replica wait for this one,
and a call repeated after a restart or on another replica starts from what earlier attempts left:
confirmed runs count as present, and ids sent without an answer are reconciled (the group read)
only after the settle window has passed since they were sent: never resent blindly, and never
assumed present without being seen or confirmed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio

from taskgroup_mcp import wire
from taskgroup_mcp.client import NotFoundError, ParallelClient, SubmitResult
from taskgroup_mcp.journal import Journal, LeaseBusy, Scope, Submission

from ._arguments import ArgumentProblem
from ._sanitize import strip_invisible

logger = logging.getLogger("taskgroup_mcp.tools")

LABEL_KEY = "label"
"""The group metadata key that carries a group's label (so any client of the API sees it too)."""
LABEL_MAX_CHARS = 120

ProgressFn = Callable[[int, int], Awaitable[None]]
WaitingFn = Callable[[str], Awaitable[None]]


class SameCallRunning(Exception):
    """The identical call holds the journal's lease in another process or replica."""


def clean_label(label: str | None) -> str | None:
    """A label as stored: invisible characters gone, whitespace collapsed; empty becomes None."""
    if label is None:
        return None
    text = " ".join(strip_invisible(label).split())
    return text[:LABEL_MAX_CHARS] or None


def label_of(group: wire.TaskGroup) -> str | None:
    value = (group.metadata or {}).get(LABEL_KEY)
    return clean_label(value) if isinstance(value, str) else None


def unix_time(text: str | None) -> float:
    """An RFC 3339 time as Unix seconds (now when absent or unreadable)."""
    if text:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return time.time()


def schema_fingerprint(spec: wire.TaskSpec | None) -> str | None:
    if spec is None:
        return None
    schema = spec.output_schema
    value: Any = schema if isinstance(schema, str) else schema.to_wire(exclude_none=True)
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def status_record(group: wire.TaskGroup) -> dict[str, Any]:
    status = group.status
    return {
        "total": status.num_task_runs,
        "counts": {k: v for k, v in status.task_run_status_counts.items() if v},
    }


@dataclass
class Journaled:
    """The journal (None when off) and whose groups a call touches."""

    journal: Journal | None
    scope: Scope

    @property
    def notice(self) -> str | None:
        return self.journal.notice if self.journal is not None else None

    async def sent_ids(self, group_id: str) -> set[str] | None:
        """The client ids this server recorded sending to the group; None without a journal."""
        if self.journal is None:
            return None
        return await self.journal.group_sent_ids(self.scope.api, group_id)

    async def created(self, group: wire.TaskGroup, label: str | None) -> None:
        if self.journal is not None:
            await self.journal.record_added(
                self.scope,
                group.taskgroup_id,
                created_at=unix_time(group.created_at),
                label=label,
                wait=False,
            )

    async def seen(self, group: wire.TaskGroup) -> None:
        """A group read from the API: keep its status (and label) for list_task_groups (written
        only when it changed, or now and then: status polls cost no journal write)."""
        if self.journal is not None:
            await self.journal.record_seen(
                self.scope,
                group.taskgroup_id,
                created_at=unix_time(group.created_at),
                label=label_of(group),
                status=status_record(group),
                active=group.status.is_active,
            )

    async def added(
        self,
        group_id: str,
        *,
        processors: Sequence[str],
        spec: wire.TaskSpec | None,
        added: int,
        cost_usd: float,
        group: wire.TaskGroup | None = None,
    ) -> None:
        """Runs added to a group (and, given ``group`` as just read, its status and label): one write."""
        if self.journal is None or (not added and group is None):
            return
        if group is None:
            await self.journal.record_added(
                self.scope,
                group_id,
                created_at=time.time(),
                processors=processors,
                schema_fp=schema_fingerprint(spec),
                added=added,
                cost_usd=cost_usd,
                wait=False,
            )
            return
        await self.journal.record_added(
            self.scope,
            group_id,
            created_at=unix_time(group.created_at),
            label=label_of(group),
            status=status_record(group),
            active=group.status.is_active,
            processors=processors if added else (),
            schema_fp=schema_fingerprint(spec) if added else None,
            added=added,
            cost_usd=cost_usd if added else 0.0,
            wait=False,
        )


def _journal_key(call_key: str | None, spec: wire.TaskSpec | None) -> str:
    """The journal's name for a call (the client derives the same ids from the same inputs)."""
    if call_key is not None:
        return "key:" + call_key
    canonical = json.dumps(spec.to_wire(exclude_none=True), sort_keys=True) if spec is not None else "{}"
    return "auto:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


async def submit_journaled(
    client: ParallelClient,
    journaled: Journaled,
    group_id: str,
    inputs: Sequence[wire.RunInput],
    *,
    default_task_spec: wire.TaskSpec | None,
    call_key: str | None,
    on_progress: ProgressFn | None,
    on_wait: WaitingFn | None,
    lease_wait: float,
) -> SubmitResult:
    """``client.submit`` made exactly once across processes and replicas through the journal."""
    journal = journaled.journal
    if journal is None or not inputs:
        return await client.submit(
            group_id, inputs, default_task_spec=default_task_spec, call_key=call_key, on_progress=on_progress
        )
    api = journaled.scope.api
    key = _journal_key(call_key, default_task_spec)

    async def waiting() -> None:
        if on_wait is not None:
            await on_wait("the same call is running in another server process; waiting for it")

    try:
        async with journal.submission(
            api, group_id, key, inputs=len(inputs), wait=lease_wait, on_wait=waiting
        ) as call:
            return await _submit_locked(
                client, call, group_id, inputs, default_task_spec, call_key, on_progress, on_wait
            )
    except LeaseBusy:
        raise SameCallRunning(
            "The same add_runs call (same group, same inputs) is running in another server process or "
            "replica right now. Call again once it has answered: nothing is added twice."
        ) from None


async def _submit_locked(
    client: ParallelClient,
    call: Submission,
    group_id: str,
    inputs: Sequence[wire.RunInput],
    spec: wire.TaskSpec | None,
    call_key: str | None,
    on_progress: ProgressFn | None,
    on_wait: WaitingFn | None,
) -> SubmitResult:
    """Under the call's lease: the engine writes each request's client ids ahead through ``call``
    (its write-ahead hook) and reports what the API confirmed. What earlier attempts of this call
    left in the journal comes first: runs the API confirmed to any process count as present (the
    engine does not send them again, even while reads of the group lag), and ids another process
    sent without an answer (it stopped, or its answer was lost) are reconciled only once the
    settle window since it sent them has passed: runs it committed may not be listed before. This
    process's own earlier attempts the client remembers itself. A group this process created is
    no longer taken as empty once the journal shows an attempt of this call elsewhere."""
    if call.sent:  # the group holds runs of this call whatever this process remembers creating
        client.memory.touched(group_id)
    confirmed = {cid: sent.run_id for cid, sent in call.sent.items() if sent.run_id}
    if confirmed:
        client.memory.remember(group_id, confirmed)
    unanswered = [s.sent_at for s in call.sent.values() if s.run_id is None and s.sender != call.sender]
    if unanswered:
        wait = max(unanswered) + client.settle_seconds - time.time()
        if wait > 0:
            logger.debug("group %s: waiting %.1f s for an earlier attempt's runs to show", group_id, wait)
            if on_wait is not None:
                await on_wait(f"an earlier attempt sent these inputs; checking what landed in {wait:.0f} s")
            await anyio.sleep(min(wait, client.settle_seconds))
    result = await client.submit(
        group_id, inputs, default_task_spec=spec, call_key=call_key, on_progress=on_progress, journal=call
    )
    call.finished(
        added=result.added,
        refused=[f.cid for f in result.failed if not f.retryable and f.status_code is not None],
    )
    return result


async def _existing(client: ParallelClient, group_id: str | None) -> str | None:
    """``group_id`` if the API still has it (a sandbox that was reset does not)."""
    if group_id is None:
        return None
    try:
        await client.get_task_group(group_id)
    except NotFoundError:
        return None
    return group_id


def group_metadata(
    metadata: dict[str, str | int | float | bool] | None, label: str | None
) -> dict[str, str | int | float | bool] | None:
    """The group's metadata with its label under ``label`` (so every client of the API sees it)."""
    if label is None:
        return metadata
    if metadata is not None and LABEL_KEY in metadata:
        raise ArgumentProblem([("label", "metadata already has a 'label' key; give the label once")])
    return {**(metadata or {}), LABEL_KEY: label}


async def fan_out_group(
    client: ParallelClient,
    journaled: Journaled,
    call_hash: str,
    *,
    metadata: dict[str, str | int | float | bool] | None,
    label: str | None,
    lease_wait: float,
) -> tuple[str, bool]:
    """The group of this fan_out call: the one an identical call of this tenant made (in any process
    or replica sharing the journal, within a day), else a new one. Returns (group id, reused)."""
    journal = journaled.journal
    if journal is not None:
        found = await _existing(client, await journal.fan_out_group(journaled.scope, call_hash))
        if found is not None:
            return found, True
    scope = journaled.scope
    lease: AbstractAsyncContextManager[bool] = (
        journal.lease(f"fan_out:{scope.api}:{scope.tenant}:{call_hash}", wait=lease_wait)
        if journal is not None
        else nullcontext(False)
    )
    try:
        async with lease as locked:
            if locked and journal is not None:
                found = await _existing(client, await journal.fan_out_group(scope, call_hash))
                if found is not None:
                    return found, True
            group = await client.create_task_group(metadata=group_metadata(metadata, label))
            await journaled.created(group, label)
            if journal is not None:
                await journal.remember_fan_out(scope, call_hash, group.taskgroup_id)
            return group.taskgroup_id, False
    except LeaseBusy:
        raise SameCallRunning(
            "The same fan_out call is creating its group in another server process or replica right now. "
            "Call again in a moment: it will reuse that group and add nothing twice."
        ) from None
