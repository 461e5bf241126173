"""The tools' use of the journal: record what callers create and see, and submit exactly once
across processes and replicas.

:func:`submit_journaled` wraps ``client.submit`` for one call: a lease in the journal makes the same
call (group + call key) in another process or replica wait for this one; every client id is written
ahead before anything is sent; the run ids the API confirmed are kept. A call repeated after a
restart therefore knows what it may already have sent: ids sent (answered or not) are
reconciled (the group read) only after the settle window has passed since another process sent
them: never resent blindly, and never assumed present without being seen.
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
from taskgroup_mcp.client import NotFoundError, ParallelClient, SubmitResult, derive_cids
from taskgroup_mcp.journal import Journal, LeaseBusy, Scope

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
            await self.journal.record_group(
                self.scope, group.taskgroup_id, created_at=unix_time(group.created_at), label=label
            )

    async def seen(self, group: wire.TaskGroup) -> None:
        """A group read from the API: keep its status (and label) for list_task_groups."""
        if self.journal is not None:
            await self.journal.record_group(
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
    ) -> None:
        if self.journal is not None and added:
            await self.journal.record_batch(
                self.scope,
                group_id,
                created_at=time.time(),
                processors=processors,
                schema_fp=schema_fingerprint(spec),
                added=added,
                cost_usd=cost_usd,
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
        async with journal.lease(f"submit:{api}:{group_id}:{key}", wait=lease_wait, on_wait=waiting):
            return await _submit_locked(
                client, journal, api, group_id, inputs, default_task_spec, call_key, key, on_progress, on_wait
            )
    except LeaseBusy:
        raise SameCallRunning(
            "The same add_runs call (same group, same inputs) is running in another server process or "
            "replica right now. Call again once it has answered: nothing is added twice."
        ) from None


async def _submit_locked(
    client: ParallelClient,
    journal: Journal,
    api: str,
    group_id: str,
    inputs: Sequence[wire.RunInput],
    spec: wire.TaskSpec | None,
    call_key: str | None,
    key: str,
    on_progress: ProgressFn | None,
    on_wait: WaitingFn | None,
) -> SubmitResult:
    cids = derive_cids(group_id, inputs, call_key=call_key, default_task_spec=spec)
    known = await journal.sent_ids(api, group_id, key)
    # Ids another process (an earlier attempt that crashed or was restarted, another replica) sent:
    # runs it committed may not be listed yet (the API's read lag), so reconcile only once the
    # settle window since that attempt has passed. This process's own attempts the client tracks.
    elsewhere = [known[c].sent_at for c in cids if c in known and known[c].sender != journal.instance]
    if elsewhere:
        wait = max(elsewhere) + client.settle_seconds - time.time()
        if wait > 0:
            logger.debug("group %s: waiting %.1f s for an earlier attempt's runs to show", group_id, wait)
            if on_wait is not None:
                await on_wait(f"an earlier attempt sent these inputs; checking what landed in {wait:.0f} s")
            await anyio.sleep(min(wait, client.settle_seconds))
    confirmed = {c for c in cids if c in known and known[c].run_id}
    todo = [c for c in dict.fromkeys(cids) if c not in confirmed]
    await journal.write_ahead(api, group_id, key, todo)
    result = await client.submit(
        group_id, inputs, default_task_spec=spec, call_key=call_key, on_progress=on_progress
    )
    await journal.confirm(api, group_id, key, result.run_ids)
    refused = [f.cid for f in result.failed if not f.retryable and f.status_code is not None]
    if refused:
        await journal.not_sent(api, group_id, refused)
    await journal.finish_submission(api, group_id, key, result.added)
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
