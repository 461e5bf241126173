"""Exactly-once submission: one engine per call, its state its own, its collaborators explicit.

Parallel has no idempotency key, so the group itself is the source of truth (docs/architecture.md,
"Exactly once"): every input carries a deterministic client id (cid) in
its metadata, and a cid is sent again only once reads of the group show it is not there::

    chunk ──POST──▶ answered ......... run ids recorded; reads of the group confirm them (audit)
              ├───▶ refused (4xx) .... reported with the field the API named; never resent
              ├───▶ not sent, 429 .... back off (a Retry-After holds every sender), send again
              └───▶ ambiguous ........ settle by evidence, then resend only the missing cids

Settling by evidence, after an ambiguous attempt that failed at time ``t``: the group's runs are
read by cursor (the same reads as the audit) until

* every cid of the attempt appears: it committed, nothing is resent;
* or the API *answered* the attempt (5xx, 408, 409: it was done with it), a read has already
  shown runs this call was answered for (so the read lag ``L`` is bounded), and two reads, the
  second started at least ``max(QUIET_FLOOR, 2L)`` after ``t``, show none of the missing cids:
  it committed nothing, the missing cids are resent;
* or ``settle_seconds`` have passed since ``t`` (a timeout or a dropped connection proves nothing:
  the API may still be working on the request): the missing cids are resent, and the group is
  read once more in full at the end (a late commit would sit before the cursor).

Concurrency adapts (:class:`AdaptiveLimit`), requests are paced (:class:`Pacer`), and every retry
is paid from the client's retry budget. A journal sees each cid before its POST and each run the
API confirmed (:class:`SubmitJournal`; none by default).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import anyio

from taskgroup_mcp.wire import TaskGroup, TaskGroupRunResponse, TaskGroupStatus

from ._classify import Outcome, classify
from ._errors import APIStatusError, ParallelError, RateLimitError
from ._limit import AdaptiveLimit
from ._memory import SubmitMemory
from ._pacing import Pacer
from ._retry import RetryPolicy
from ._submit import PreparedCall, RunBatch, SubmitFailure, SubmitResult, failures_for
from ._tail import GroupScanner, GroupTail

logger = logging.getLogger("taskgroup_mcp.client")

QUIET_FLOOR = 0.05
"""The shortest quiet gap that proves an answered attempt committed nothing (seconds)."""

AHEAD_PER_SLOT = 2
"""Undelivered chunks allowed per in-flight place (the rest of the inputs wait untagged)."""

ProgressFn = Callable[[int, int], Awaitable[None]]
AuditMode = Literal["always", "on_doubt"]


class RunSender(Protocol):
    """Sends one add-runs request, once (never retried by itself)."""

    async def send_runs(
        self, group_id: str, batch: RunBatch, *, refresh_status: bool = False
    ) -> TaskGroupRunResponse: ...


class GroupReader(GroupScanner, Protocol):
    """Reads the group: its runs from a cursor on, and its status."""

    async def get_task_group(self, group_id: str) -> TaskGroup: ...


class SubmitJournal(Protocol):
    """A write-ahead hook: told each cid before the request carrying it is sent, and each run the
    API confirmed (by its answer or because a read of the group showed it)."""

    async def sending(self, group_id: str, call_key: str, cids: Sequence[str]) -> None: ...

    async def confirmed(self, group_id: str, runs: Mapping[str, str]) -> None:
        """``runs``: cid -> run id."""
        ...


class NoJournal:
    """The default journal: records nothing."""

    async def sending(self, group_id: str, call_key: str, cids: Sequence[str]) -> None:
        return None

    async def confirmed(self, group_id: str, runs: Mapping[str, str]) -> None:
        return None


@dataclass(frozen=True)
class EngineOptions:
    chunk_size: int = 1_000
    settle_seconds: float = 10.0
    max_attempts_per_chunk: int = 6
    audit: AuditMode = "always"


@dataclass
class _Chunk:
    items: dict[str, bytes] | None
    """cid -> the input's JSON, in sending order (None until first needed)."""
    cids: list[str]
    attempts: int = 0
    sent_at: float = 0.0
    """When its last request went out."""
    fresh_status: bool = False
    """Ask for a fresh status in the answer (on a group this client created: see ``_status_known``)."""
    error: ParallelError | None = field(default=None, repr=False)


class SubmitEngine:
    """Adds one prepared call's inputs to its group exactly once (see the module docstring)."""

    def __init__(
        self,
        call: PreparedCall,
        *,
        sender: RunSender,
        reader: GroupReader,
        pacer: Pacer,
        limit: AdaptiveLimit,
        retry: RetryPolicy,
        memory: SubmitMemory,
        journal: SubmitJournal | None = None,
        options: EngineOptions | None = None,
        on_progress: ProgressFn | None = None,
    ) -> None:
        self.call = call
        self.group_id = call.group_id
        self.options = options or EngineOptions()
        self._sender = sender
        self._reader = reader
        self._pacer = pacer
        self._limit = limit
        self._retry = retry
        self._memory = memory
        self._journal: SubmitJournal = journal or NoJournal()
        self._on_progress = on_progress
        settle = self.options.settle_seconds
        self.tail = GroupTail(reader, self.group_id, call.own, retry, max_poll=min(0.25, settle / 4))
        self.known: dict[str, str] = {}
        """cid -> run id the API answered in earlier calls of this process (may not be readable yet)."""
        self.answered: dict[str, str] = {}
        self.already: set[str] = set()
        self.failed: dict[str, SubmitFailure] = {}
        self.requests_sent = 0
        self.ambiguous = 0
        self.doubt = False
        """Anything but clean answers on a group this client created (then the audit must read)."""
        self.unproven = False
        """An ambiguous attempt was resent without evidence either way (then the audit reads it all)."""
        self.last_answer = float("-inf")
        self._settled = 0
        self._latest_status: TaskGroupStatus | None = None
        """The fresh status that counted the most runs among the answers (see :meth:`_status_known`)."""

    # ------------------------------------------------------------------ the call

    async def run(self) -> SubmitResult:
        async with self._memory.call(self.group_id, self.call.call_key):
            status: list[TaskGroupStatus | None] = [None]
            audited = False
            async with anyio.create_task_group() as tg:
                tg.start_soon(self.tail.run)
                # Chunks are tagged and encoded only while fewer than AHEAD_PER_SLOT x the in-flight
                # bound are undelivered: the request bodies held stay bounded however many inputs.
                ahead = anyio.Semaphore(AHEAD_PER_SLOT * self._limit.maximum)
                async with anyio.create_task_group() as chunks:
                    async for chunk in self._chunks():
                        chunks.start_soon(self._deliver_releasing, chunk, ahead)
                        await ahead.acquire()  # also lets it go out while the next is tagged
                async with anyio.create_task_group() as ending:
                    status[0] = self._status_known()
                    if status[0] is None:
                        ending.start_soon(self._fetch_status, status)
                    audited = await self._audit()
                tg.cancel_scope.cancel()
            self._memory.remember(self.group_id, self.answered)
            return self._result(audited, status[0])

    async def _chunks(self) -> AsyncIterator[_Chunk]:
        """The chunks to send. On a group this client just created nothing can be there yet:
        each chunk is tagged just before it goes out. Otherwise every cid first, then one read of
        the group (and this process's memory of answered runs) says what is already present."""
        size = self.options.chunk_size
        call = self.call
        fresh = self._memory.touched(self.group_id)
        self.doubt = not fresh
        self.tail.following = self.options.audit == "always" or self.doubt
        if fresh:
            while not call.complete:
                items = call.tag_next(size)
                yield _Chunk(items, list(items), fresh_status=True)
            return
        call.tag_all()
        read = await self.tail.read()
        if read.error is not None:
            raise read.error
        earlier = self._memory.answered(self.group_id)
        self.known = {cid: earlier[cid] for cid in call.cids if cid in earlier}
        present = dict(self.tail.found) | self.known
        self.already = set(present)
        if present:
            await self._journal.confirmed(self.group_id, present)
            await self._progress(len(present))
        todo = [cid for cid in call.cids if cid not in self.already]
        logger.debug("group %s: %d inputs, %d already present", self.group_id, len(call.cids), len(present))
        for i in range(0, len(todo), size):
            yield _Chunk(None, todo[i : i + size])

    async def _deliver_releasing(self, chunk: _Chunk, ahead: anyio.Semaphore) -> None:
        try:
            await self._deliver(chunk)
        finally:
            ahead.release()

    async def _deliver(self, chunk: _Chunk) -> None:
        """One chunk until each of its cids is confirmed or has failed."""
        while chunk.cids:
            if chunk.attempts >= self.options.max_attempts_per_chunk:
                assert chunk.error is not None
                await self._fail(chunk, chunk.error, f"gave up after {chunk.attempts} attempts: ")
                return
            answer = await self._post(chunk)
            if isinstance(answer, TaskGroupRunResponse):
                await self._record(chunk, answer)
                return
            if not await self._recover(chunk, answer):
                return
        chunk.items = None

    async def _post(self, chunk: _Chunk) -> TaskGroupRunResponse | ParallelError:
        if chunk.items is None:
            chunk.items = self.call.encode(chunk.cids)
        elif len(chunk.items) != len(chunk.cids):  # some were found in the group: send the rest
            chunk.items = {cid: chunk.items[cid] for cid in chunk.cids}
        batch = self.call.batch(chunk.items)
        async with self._limit.slot():
            await self._pacer.acquire(len(chunk.cids))
            chunk.attempts += 1
            self.requests_sent += 1
            await self._journal.sending(self.group_id, self.call.call_key, chunk.cids)
            started = chunk.sent_at = anyio.current_time()
            self.tail.sending()
            try:
                answer = await self._sender.send_runs(self.group_id, batch, refresh_status=chunk.fresh_status)
            except ParallelError as exc:
                if classify(exc) is Outcome.THROTTLED:
                    self._limit.throttled()
                return exc
            finally:
                self.tail.sent()
            self._limit.succeeded(anyio.current_time() - started, len(chunk.cids))
            return answer

    async def _record(self, chunk: _Chunk, answer: TaskGroupRunResponse) -> None:
        """A clean answer: its run ids, by position (the API answers in input order)."""
        chunk.items = None
        self._retry.budget.refund()
        self.last_answer = anyio.current_time()
        latest = self._latest_status
        if chunk.fresh_status and (latest is None or answer.status.num_task_runs > latest.num_task_runs):
            self._latest_status = answer.status
        if len(answer.run_ids) == len(chunk.cids):
            runs = dict(zip(chunk.cids, answer.run_ids, strict=True))
            self.answered.update(runs)
            self.tail.expect(runs, chunk.sent_at)
            await self._journal.confirmed(self.group_id, runs)
        else:  # cannot pair them: reads of the group will
            self._doubt()
        await self._progress(len(chunk.cids))

    async def _recover(self, chunk: _Chunk, error: ParallelError) -> bool:
        """After a failed attempt: whether to send the chunk's (remaining) cids again."""
        self._doubt()
        chunk.error = error
        outcome = classify(error)
        logger.debug(
            "group %s: attempt %d for %d inputs failed: %s (%s)",
            self.group_id,
            chunk.attempts,
            len(chunk.cids),
            type(error).__name__,
            outcome.value,
        )
        if outcome is Outcome.DEFINITE_REJECT:
            await self._fail(chunk, error)
            return False
        if outcome is Outcome.AMBIGUOUS:
            self.ambiguous += 1
            if not await self._settle(chunk, error) or not chunk.cids:
                return False
            if not self._retry.budget.try_spend(timeout=True):
                await self._fail(chunk, error, "retry budget exhausted: ")
                return False
            return True
        if not self._retry.budget.try_spend():
            await self._fail(chunk, error, "retry budget exhausted: ")
            return False
        retry_after = error.retry_after if isinstance(error, RateLimitError) else None
        delay = self._retry.delay(chunk.attempts - 1, retry_after)
        if outcome is Outcome.THROTTLED:
            self._pacer.pause(delay)
        await anyio.sleep(delay)
        return True

    async def _settle(self, chunk: _Chunk, error: ParallelError) -> bool:
        """Read the group until the evidence decides (module docstring); drops the cids found
        from the chunk. False when the chunk gave up (the group could not be read)."""
        failed_at = anyio.current_time()
        bound = failed_at + self.options.settle_seconds
        answered = isinstance(error, APIStatusError)
        absent_since: float | None = None
        after = failed_at
        while True:
            read = await self.tail.next_read(after)
            after = read.started + 1e-9
            if read.error is not None:
                chunk.attempts += 1
                chunk.error = read.error
                if chunk.attempts >= self.options.max_attempts_per_chunk:
                    await self._fail(chunk, read.error, "could not confirm whether the runs were created: ")
                    return False
                continue
            await self._take_found(chunk)
            if not chunk.cids:
                return True
            if read.started >= bound:
                self.unproven = True
                return True
            gap = self.tail.quiet_gap(QUIET_FLOOR) if answered else None
            if gap is not None and absent_since is not None and read.started >= failed_at + gap:
                return True
            if absent_since is None:
                absent_since = read.started

    async def _take_found(self, chunk: _Chunk) -> None:
        found = self.tail.found
        present = {cid: found[cid] for cid in chunk.cids if cid in found}
        if present:
            chunk.cids = [cid for cid in chunk.cids if cid not in present]
            await self._journal.confirmed(self.group_id, present)
            await self._progress(len(present))

    async def _audit(self) -> bool:
        """Reads that confirm every run: one that started after the last answer when in doubt,
        until every answered run was seen (the read lag is bounded by ``settle_seconds``), and a
        full read when an attempt was resent without evidence. False if the reads fell short."""
        if not self.tail.following:
            return False
        ok = True
        if self.doubt:
            ok = (await self.tail.next_read(self.last_answer)).error is None
        ok = await self.tail.caught_up(self.last_answer + self.options.settle_seconds) and ok
        if self.unproven:
            ok = (await self.tail.read(from_start=True)).error is None and ok
        return ok

    def _status_known(self) -> TaskGroupStatus | None:
        """The group's status as an answer gave it, when it counts every run: on a group this
        client created, every answer clean (no doubt), as many runs as answered (the answer to the
        request committed last counts them all). Then no read of the group is needed for it (one
        round trip fewer); else None."""
        status = self._latest_status
        if status is None or self.doubt or self.failed or status.num_task_runs != len(self.answered):
            return None
        return status

    async def _fetch_status(self, into: list[TaskGroupStatus | None]) -> None:
        with contextlib.suppress(ParallelError):
            into[0] = (await self._reader.get_task_group(self.group_id)).status

    # ------------------------------------------------------------------ bookkeeping

    def _doubt(self) -> None:
        self.doubt = True
        self.tail.following = True

    async def _progress(self, n: int) -> None:
        self._settled += n
        if self._on_progress is not None:
            total = len(self.call.cids)
            await self._on_progress(min(self._settled, total), total)

    async def _fail(self, chunk: _Chunk, error: ParallelError, prefix: str = "") -> None:
        for failure in failures_for(self.call, chunk.cids, error, prefix):
            self.failed[failure.cid] = failure
        await self._progress(len(chunk.cids))
        chunk.cids = []
        chunk.items = None

    def _result(self, audited: bool, status: TaskGroupStatus | None) -> SubmitResult:
        run_ids: dict[str, str] = {}
        duplicates: list[str] = []
        failed = dict(self.failed)
        for i, cid in enumerate(self.call.cids):
            runs = self.tail.runs_of(cid)
            for answered in (self.known.get(cid), self.answered.get(cid)):
                if answered is not None and answered not in runs:
                    runs.append(answered)  # answered, not readable yet (read lag)
            if len(runs) > 1:
                duplicates.append(cid)
            if runs:
                run_ids[cid] = runs[0]
                failed.pop(cid, None)
            elif cid not in failed:
                failed[cid] = SubmitFailure(
                    index=i, cid=cid, reason="not found in the group at the final audit", retryable=True
                )
        if duplicates:
            logger.warning(
                "group %s: %d client ids found on more than one run", self.group_id, len(duplicates)
            )
        return SubmitResult(
            group_id=self.group_id,
            cids=self.call.cids,
            run_ids=run_ids,
            added=sum(1 for cid in run_ids if cid not in self.already),
            already_present=len(self.already),
            failed=sorted(failed.values(), key=lambda f: f.index),
            duplicates=duplicates,
            requests_sent=self.requests_sent,
            group_status=status,
            ambiguous=self.ambiguous,
            reconciles=self.tail.reads,
            audited=audited,
        )
