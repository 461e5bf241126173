"""Exactly-once add-runs: tag, chunk, pace, classify, settle, reconcile, resend the missing, audit.

The protocol of ``spec/reliability-security.md`` §2.3. Parallel has no idempotency key, so the
group itself is the source of truth: every input carries a deterministic client id in its
metadata, and after any attempt that may or may not have been applied the group is listed
(after a settle window that covers late commits) before only the absent ids are sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import BaseModel, ConfigDict

from taskgroup_mcp.wire import RunInput, TaskGroupStatus, TaskSpec, add_runs_violations

from ._cid import (
    RESERVED_METADATA_KEY,
    canonical_from_wire,
    check_reserved_key,
    cids_from_canonicals,
    derive_call_key,
)
from ._classify import Outcome, classify
from ._errors import (
    APIStatusError,
    FieldError,
    InputValidationError,
    ParallelError,
    RateLimitError,
)
from ._features import betas_for, mcp_header_values
from ._redact import Redactor

if TYPE_CHECKING:
    from ._client import ParallelClient

logger = logging.getLogger("taskgroup_mcp.client")

MAX_ANSWERED_GROUPS = 1_000
"""Groups whose answered run ids a client remembers (see ``ParallelClient._answered``)."""


class SubmitFailure(BaseModel):
    """One input that did not become a run: why, where (``field``), and whether retrying may help."""

    model_config = ConfigDict(frozen=True)

    index: int
    """Position in the ``inputs`` given to :meth:`ParallelClient.submit`."""
    cid: str
    reason: str
    field: str | None = None
    """The offending field, e.g. ``inputs.3.processor``, when the API named one."""
    status_code: int | None = None
    retryable: bool = False


class SubmitResult(BaseModel):
    """What :meth:`ParallelClient.submit` did. ``ok`` when nothing failed and nothing is duplicated."""

    model_config = ConfigDict(frozen=True)

    group_id: str
    cids: list[str]
    """One client id per input, in input order (also in each run's ``metadata['mcp_cid']``)."""
    run_ids: dict[str, str]
    """cid -> run id (the earliest run carrying that cid), for every input present in the group."""
    added: int
    """Inputs that became runs during this call."""
    already_present: int
    """Inputs that were already runs in the group before this call (an earlier identical call)."""
    failed: list[SubmitFailure]
    duplicates: list[str]
    """cids found on more than one run at the audit (must be empty)."""
    requests_sent: int
    """Run-creating requests sent (first attempts and resends)."""
    group_status: TaskGroupStatus | None = None
    ambiguous: int = 0
    """Attempts whose outcome was unknown and had to be reconciled."""
    reconciles: int = 0
    """Scans of the group made to reconcile or audit."""
    audited: bool = True
    """Whether the final audit streamed the group (False only with ``audit="on_doubt"`` and no doubt)."""

    @property
    def ok(self) -> bool:
        return not self.failed and not self.duplicates


ProgressFn = Callable[[int, int], Awaitable[None]]


class _Reconciler:
    """Shares group scans among chunks: a caller gets a scan that started after ``not_before``."""

    def __init__(self, client: ParallelClient, group_id: str) -> None:
        self._client = client
        self._group_id = group_id
        self._lock = anyio.Lock()
        self._last_start = float("-inf")
        self._last: dict[str, list[str]] = {}
        self._idle: anyio.Event | None = None
        self.in_flight = 0
        self.scans = 0

    def begin(self) -> None:
        """A run-creating request is about to be sent."""
        self.in_flight += 1

    def end(self) -> None:
        """A run-creating request has its outcome (whatever it is)."""
        self.in_flight -= 1
        if self.in_flight == 0 and self._idle is not None:
            self._idle.set()
            self._idle = None

    async def scan_after(self, not_before: float) -> dict[str, list[str]]:
        """A scan of the group that started after ``not_before`` and after a moment with no
        request in flight: one scan then serves every chunk waiting to reconcile."""
        now = anyio.current_time()
        if now < not_before:
            await anyio.sleep(not_before - now)
        while self.in_flight:
            if self._idle is None:
                self._idle = anyio.Event()
            await self._idle.wait()
        async with self._lock:
            if self.scans and self._last_start >= not_before:
                return self._last
            start = anyio.current_time()
            found = await self._client.scan_group_runs(self._group_id, RESERVED_METADATA_KEY)
            self.scans += 1
            self._last_start = start
            self._last = found
            return found


def _validate(inputs: Sequence[RunInput], default_task_spec: TaskSpec | None) -> None:
    check_reserved_key(inputs)
    violations = [
        v for v in add_runs_violations(list(inputs), default_task_spec) if v.loc != ("body", "inputs")
    ]
    if violations:
        errors = [FieldError(v.loc, v.msg, v.type) for v in violations]
        where = "; ".join(f"{e.field}: {e.msg}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise InputValidationError(
            f"{len(errors)} input(s) break a documented limit: {where}{more}", errors=errors
        )


class _Submission:
    def __init__(
        self,
        client: ParallelClient,
        group_id: str,
        prepared: _Prepared,
        default_task_spec: TaskSpec | None,
        on_progress: ProgressFn | None,
    ) -> None:
        cids = prepared.cids
        self.client = client
        self.group_id = group_id
        self.prepared = prepared
        self.cids = cids
        self.index = {cid: i for i, cid in enumerate(cids)}
        self.default_task_spec = default_task_spec
        self.on_progress = on_progress
        self.reconciler = _Reconciler(client, group_id)
        self.limiter = anyio.CapacityLimiter(client.concurrency)
        self.failed: dict[str, SubmitFailure] = {}
        self.landed: set[str] = set()
        self.settled = 0
        self.requests_sent = 0
        self.ambiguous = 0
        self.last_ambiguous = float("-inf")
        self.answered: dict[str, str] = {}
        """cid -> run id as the add-runs answers gave them (by position: the API's order)."""
        self.doubt = False
        """Set by anything but a clean 2xx answer: only then may ``audit="on_doubt"`` skip the audit."""

    async def _progress(self, n: int) -> None:
        self.settled += n
        if self.on_progress is not None:
            await self.on_progress(min(self.settled, len(self.cids)), len(self.cids))

    def _fail(self, cids: Sequence[str], exc: ParallelError, prefix: str = "") -> None:
        status = exc.status_code if isinstance(exc, APIStatusError) else None
        by_index: dict[int, FieldError] = {}
        if isinstance(exc, APIStatusError):
            for err in exc.errors:
                idx = err.input_index
                if idx is not None and idx not in by_index:
                    by_index[idx] = err
        for pos, cid in enumerate(cids):
            err = by_index.get(pos)
            i = self.index[cid]
            if err is not None:
                parts = list(err.loc[1:]) if err.loc[:1] == ("body",) else list(err.loc)
                field = ".".join(["inputs", str(i), *(str(p) for p in parts[2:])])
                reason = f"{prefix}{err.msg}"
            elif by_index:
                field = None
                culprits = sorted(self.index[cids[p]] for p in by_index if p < len(cids))
                named = ", ".join(str(c) for c in culprits[:10]) + (", ..." if len(culprits) > 10 else "")
                reason = (
                    f"{prefix}not added: the request carrying it was refused because of input(s) {named}; "
                    "fix those and submit again"
                )
            else:
                field = None
                reason = f"{prefix}{exc.message}"
            self.failed[cid] = SubmitFailure(
                index=i, cid=cid, reason=reason, field=field, status_code=status, retryable=exc.retryable
            )

    async def send_chunk(self, chunk: list[str]) -> None:
        client = self.client
        pending: list[str] = list(chunk)
        attempts = 0
        need_reconcile = False
        last_exc: ParallelError | None = None
        give_up = f"gave up after {client.max_attempts_per_chunk} attempts: "
        while pending:
            if need_reconcile:
                found: dict[str, list[str]]
                try:
                    found = await self.reconciler.scan_after(self.last_ambiguous + client.settle_seconds)
                except ParallelError as exc:
                    last_exc = exc
                    attempts += 1
                    if attempts >= client.max_attempts_per_chunk:
                        self._fail(pending, exc, "could not confirm whether the runs were created: ")
                        await self._progress(len(pending))
                        return
                    await anyio.sleep(client.backoff.delay(attempts, None, client._rng))  # pyright: ignore[reportPrivateUsage]
                    continue
                present = [c for c in pending if c in found]
                if present:
                    self.landed.update(present)
                    await self._progress(len(present))
                pending = [c for c in pending if c not in found]
                need_reconcile = False
                logger.debug(
                    "group %s: reconciled a chunk, %d present, %d to resend",
                    self.group_id,
                    len(present),
                    len(pending),
                )
                continue
            if attempts >= client.max_attempts_per_chunk:
                assert last_exc is not None
                self._fail(pending, last_exc, give_up)
                await self._progress(len(pending))
                return
            async with self.limiter:
                await client.pacer.acquire(len(pending))
                self.requests_sent += 1
                attempts += 1
                self.reconciler.begin()
                failure: ParallelError | None = None
                try:
                    response = await client._add_runs_wire(  # pyright: ignore[reportPrivateUsage]
                        self.group_id,
                        [self.prepared.tagged[self.index[c]] for c in pending],
                        default_task_spec=self.default_task_spec,
                        refresh_status=False,
                        betas=self.prepared.betas_for([self.index[c] for c in pending]),
                        redact=self.prepared.redact,
                    )
                except ParallelError as exc:
                    failure = exc
                    response = None
                finally:
                    self.reconciler.end()
                if response is not None:
                    client.retry_budget.refund()
                    if len(response.run_ids) == len(pending):
                        self.answered.update(zip(pending, response.run_ids, strict=True))
                    else:
                        self.doubt = True
                    self.landed.update(pending)
                    await self._progress(len(pending))
                    return
            assert failure is not None
            last_exc = failure
            outcome = classify(failure)
            self.doubt = True
            logger.debug(
                "group %s: add-runs attempt %d for %d inputs failed: %s (%s)",
                self.group_id,
                attempts,
                len(pending),
                type(last_exc).__name__,
                outcome.value,
            )
            if outcome is Outcome.DEFINITE_REJECT:
                self._fail(pending, last_exc)
                await self._progress(len(pending))
                return
            if not client.retry_budget.try_spend(timeout=outcome is Outcome.AMBIGUOUS):
                if outcome is Outcome.AMBIGUOUS:
                    # Cannot resend, but must still find out what landed: reconcile once more.
                    give_up = "retry budget exhausted: "
                    self.ambiguous += 1
                    self.last_ambiguous = anyio.current_time()
                    attempts = client.max_attempts_per_chunk
                    need_reconcile = True
                    continue
                self._fail(pending, last_exc, "retry budget exhausted: ")
                await self._progress(len(pending))
                return
            if outcome is Outcome.AMBIGUOUS:
                self.ambiguous += 1
                self.last_ambiguous = anyio.current_time()
                need_reconcile = True
            elif outcome is Outcome.THROTTLED:
                retry_after = last_exc.retry_after if isinstance(last_exc, RateLimitError) else None
                await anyio.sleep(client.backoff.delay(attempts - 1, retry_after, client._rng))  # pyright: ignore[reportPrivateUsage]
            else:
                await anyio.sleep(client.backoff.delay(attempts - 1, None, client._rng))  # pyright: ignore[reportPrivateUsage]


class _Prepared:
    """The call in wire form, serialized once: tagged bodies, cids, beta needs, secrets."""

    def __init__(
        self,
        client: ParallelClient,
        group_id: str,
        inputs: Sequence[RunInput],
        default_task_spec: TaskSpec | None,
        call_key: str | None,
    ) -> None:
        spec_wire = default_task_spec.to_wire(exclude_none=True) if default_task_spec is not None else None
        wires = [run.to_wire(exclude_none=True) for run in inputs]
        canonicals = [canonical_from_wire(w, spec_wire) for w in wires]
        if call_key is None:
            call_key = derive_call_key(default_task_spec)
        self.call_key = call_key
        self.cids = cids_from_canonicals(group_id, canonicals, call_key=call_key)
        self.tagged: list[dict[str, Any]] = []
        for w, cid in zip(wires, self.cids, strict=True):
            meta: dict[str, Any] = dict(w.get("metadata") or {})
            meta[RESERVED_METADATA_KEY] = cid
            self.tagged.append({**w, "metadata": meta})
        self._betas = [
            tuple(betas_for([run])) if run.mcp_servers or run.webhook or run.enable_events else ()
            for run in inputs
        ]
        secrets = mcp_header_values(inputs)
        self.redact: Redactor | None = client._redact.with_secrets(secrets) if secrets else None  # pyright: ignore[reportPrivateUsage]

    def betas_for(self, indexes: Sequence[int]) -> list[str]:
        return list(dict.fromkeys(b for i in indexes for b in self._betas[i]))


async def run_submit(
    client: ParallelClient,
    group_id: str,
    inputs: Sequence[RunInput],
    *,
    default_task_spec: TaskSpec | None = None,
    call_key: str | None = None,
    on_progress: ProgressFn | None = None,
) -> SubmitResult:
    """The body of :meth:`ParallelClient.submit`."""
    _validate(inputs, default_task_spec)
    if not inputs:
        return SubmitResult(
            group_id=group_id,
            cids=[],
            run_ids={},
            added=0,
            already_present=0,
            failed=[],
            duplicates=[],
            requests_sent=0,
            audited=False,
        )
    prepared = _Prepared(client, group_id, inputs, default_task_spec, call_key)
    locks = client._call_locks  # pyright: ignore[reportPrivateUsage]
    key = (group_id, prepared.call_key)
    lock = locks.setdefault(key, anyio.Lock())
    try:
        async with lock:
            return await _run_locked(client, group_id, prepared, default_task_spec, on_progress)
    finally:
        if not lock.locked() and lock.statistics().tasks_waiting == 0:
            locks.pop(key, None)


async def _run_locked(
    client: ParallelClient,
    group_id: str,
    prepared: _Prepared,
    default_task_spec: TaskSpec | None,
    on_progress: ProgressFn | None,
) -> SubmitResult:
    cids = prepared.cids
    sub = _Submission(client, group_id, prepared, default_task_spec, on_progress)
    fresh = group_id in client._fresh_groups  # pyright: ignore[reportPrivateUsage]
    client._fresh_groups.discard(group_id)  # pyright: ignore[reportPrivateUsage]
    before: dict[str, list[str]] = {}
    sub.doubt = not fresh
    if not fresh:
        before = await sub.reconciler.scan_after(float("-inf"))
    # Runs the API answered for earlier calls of this client exist even if reads do not list them yet.
    known: dict[str, str] = client._answered.get(group_id, {})  # pyright: ignore[reportPrivateUsage]
    for cid in cids:
        if cid in known and cid not in before:
            before[cid] = [known[cid]]
    already = {c for c in cids if c in before}
    if already:
        await sub._progress(len(already))  # pyright: ignore[reportPrivateUsage]
    todo = [c for c in cids if c not in already]
    size = client.chunk_size
    chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
    logger.debug(
        "group %s: submitting %d inputs (%d already present) in %d chunks",
        group_id,
        len(cids),
        len(already),
        len(chunks),
    )
    async with anyio.create_task_group() as tg:
        for chunk in chunks:
            tg.start_soon(sub.send_chunk, chunk)

    # Audit: after the last settle window, stream the group once and count every cid.
    audit_after = max(anyio.current_time(), sub.last_ambiguous + client.settle_seconds)
    status: list[TaskGroupStatus | None] = [None]

    async def fetch_status() -> None:
        try:
            status[0] = (await client.get_task_group(group_id)).status
        except ParallelError as exc:
            logger.debug("group %s: status unavailable after submit: %s", group_id, type(exc).__name__)

    found: dict[str, list[str]] = {}
    if client.audit == "always" or sub.doubt:
        found: dict[str, list[str]] = {}
        async with anyio.create_task_group() as tg:
            tg.start_soon(fetch_status)
            found = await sub.reconciler.scan_after(audit_after)
    else:
        # Nothing but clean answers on a group this client created: each cid went out once
        # and was applied once; the answers' run ids stand in for the audit.
        await fetch_status()
        found = {cid: [run_id] for cid, run_id in sub.answered.items()}

    run_ids: dict[str, str] = {}
    duplicates: list[str] = []
    failed = dict(sub.failed)
    confirmed = {**known, **sub.answered}
    for cid in cids:
        runs = found.get(cid) or ([confirmed[cid]] if cid in confirmed else [])
        if len(runs) > 1:
            duplicates.append(cid)
        if runs:
            run_ids[cid] = runs[0]
            failed.pop(cid, None)
        elif cid not in failed:
            failed[cid] = SubmitFailure(
                index=sub.index[cid],
                cid=cid,
                reason="not found in the group at the final audit",
                retryable=True,
            )
    answered = client._answered  # pyright: ignore[reportPrivateUsage]
    if len(answered) >= MAX_ANSWERED_GROUPS:
        answered.clear()  # forgetting only matters inside the read lag of a recent call
    answered.setdefault(group_id, {}).update(sub.answered)
    if duplicates:
        logger.warning("group %s: %d client ids found on more than one run", group_id, len(duplicates))
    added = sum(1 for c in cids if c in run_ids and c not in already)
    return SubmitResult(
        group_id=group_id,
        cids=cids,
        run_ids=run_ids,
        added=added,
        already_present=len(already),
        failed=sorted(failed.values(), key=lambda f: f.index),
        duplicates=duplicates,
        requests_sent=sub.requests_sent,
        group_status=status[0],
        ambiguous=sub.ambiguous,
        reconciles=sub.reconciler.scans,
        audited=client.audit == "always" or sub.doubt,
    )
