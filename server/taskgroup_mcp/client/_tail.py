"""Reading a group's runs for one submission, from a cursor onward, again and again.

Every read continues where the previous one stopped (``last_event_id``), so reading while chunks
land costs only the runs added since: the submission's audit and its reconciliation after an
ambiguous failure are the same reads. A read also measures the API's read-after-write lag: runs
the API answered for are looked for until a read shows them, and the time from sending their
request to receiving them bounds the lag from above (the evidence that lets a settle end early).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import anyio

from ._cid import RESERVED_METADATA_KEY
from ._errors import ParallelError
from ._retry import RetryPolicy

POLL_SECONDS = 0.01
"""Pause after a read that found nothing new; doubles up to ``max_poll`` while nothing comes."""


class RunTag(NamedTuple):
    """One run as a group scan sees it: its cursor, its id and its client id (``None`` if untagged)."""

    event_id: str | None
    run_id: str
    tag: str | None


class GroupScanner(Protocol):
    """Reads a group's runs as ``(event_id, run_id, metadata[key])``, from a cursor on."""

    def group_run_tags(
        self, group_id: str, key: str, *, after: str | None = None
    ) -> AsyncIterator[list[RunTag]]: ...


@dataclass(frozen=True, slots=True)
class Read:
    """One pass over the runs added since the previous one."""

    started: float
    runs: int
    """Runs this read returned (ours or not)."""
    error: ParallelError | None = None


class GroupTail:
    def __init__(
        self,
        scanner: GroupScanner,
        group_id: str,
        own: Callable[[str], str | None],
        retry: RetryPolicy,
        *,
        max_poll: float = 0.25,
    ) -> None:
        self._scanner = scanner
        self._group_id = group_id
        self._own = own
        """A tag -> the submission's own string for that cid (None: not one of ours); found is
        keyed by it, so a read keeps no second copy of each cid."""
        self._retry = retry
        self._max_poll = max(max_poll, POLL_SECONDS)
        self.cursor: str | None = None
        self.found: dict[str, str] = {}
        """Our cid -> the first run carrying it, in the group's order."""
        self.extra: dict[str, list[str]] = {}
        """Our cid -> the runs after the first carrying it (duplicates: should stay empty)."""
        self.reads = 0
        self.lag: float | None = None
        """An upper bound of the read lag seen so far (None: no answered run seen by a read yet)."""
        self.following = False
        """Keep reading while requests are in flight and until every answered run was seen (the
        audit), not only on demand."""
        self.in_flight = 0
        """Run-creating requests in flight: while following, reads go on (a read that reaches the
        API after a commit sees it, even if the answer has not arrived yet)."""
        self._unseen: dict[str, tuple[float, str]] = {}
        """Run id -> (when its request was sent, the run id as answered: kept instead of a read's copy)."""
        self._last: Read | None = None
        self._published = anyio.Event()
        self._waiting = 0
        self._kicked = False
        self._kick = anyio.Event()
        self._idle = False

    def runs_of(self, cid: str) -> list[str]:
        """The runs reads showed carrying ``cid``, in the group's order."""
        first = self.found.get(cid)
        return [] if first is None else [first, *self.extra.get(cid, ())]

    @property
    def unseen(self) -> int:
        """Runs the API answered for that no read has shown yet."""
        return len(self._unseen)

    def expect(self, runs: Mapping[str, str], sent_at: float) -> None:
        """The API answered a request sent at ``sent_at`` with these runs (cid -> run id): look for
        the ones not seen yet. The commit came after ``sent_at``, so the time from ``sent_at`` to
        the moment a read delivers a run bounds the read lag from above (also for a run a read
        delivered before the answer arrived)."""
        now = anyio.current_time()
        for cid, run_id in runs.items():
            if self.found.get(cid) == run_id or run_id in self.extra.get(cid, ()):
                self.lag = max(self.lag or 0.0, now - sent_at)
            else:
                self._unseen[run_id] = (sent_at, run_id)
        self._wake()

    def sending(self) -> None:
        """A run-creating request is going out."""
        self.in_flight += 1
        if self._idle:
            self._wake()

    def sent(self) -> None:
        """A run-creating request has its outcome."""
        self.in_flight -= 1

    def quiet_gap(self, floor: float) -> float | None:
        """How long after an answered failure two reads showing nothing prove it committed
        nothing: twice the read lag seen (at least ``floor``); None while the lag is unknown."""
        return None if self.lag is None else max(floor, 2.0 * self.lag)

    async def read(self, *, from_start: bool = False) -> Read:
        """One pass from the cursor (or over the whole group) to the end of the stream."""
        started = anyio.current_time()
        self.reads += 1
        runs = 0
        error: ParallelError | None = None
        cursor = None if from_start else self.cursor
        try:
            async for tags in self._scanner.group_run_tags(
                self._group_id, RESERVED_METADATA_KEY, after=cursor
            ):
                runs += len(tags)
                received = anyio.current_time()
                for tag in tags:
                    self._saw(tag, received)
                if not from_start and (last := tags[-1].event_id):
                    self.cursor = last
        except ParallelError as exc:
            error = exc
        read = Read(started, runs, error)
        self._last = read
        published, self._published = self._published, anyio.Event()
        published.set()
        return read

    def _saw(self, tag: RunTag, received: float) -> None:
        run_id = tag.run_id
        unseen = self._unseen.pop(run_id, None)
        if unseen is not None:
            sent_at, run_id = unseen
            # Committed after it was sent, readable by the time it was received.
            self.lag = max(self.lag or 0.0, received - sent_at)
        cid = None if tag.tag is None else self._own(tag.tag)
        if cid is not None:
            first = self.found.setdefault(cid, run_id)
            if first != run_id:  # a full read sees runs again: each counts once
                more = self.extra.setdefault(cid, [])
                if run_id not in more:
                    more.append(run_id)

    async def next_read(self, after: float) -> Read:
        """The first read that started at or after ``after`` (asks for one if none is coming)."""
        self._waiting += 1
        if self._idle:
            self._wake()
        try:
            while True:
                published = self._published
                last = self._last
                if last is not None and last.started >= after:
                    return last
                await published.wait()
        finally:
            self._waiting -= 1

    async def caught_up(self, until: float) -> bool:
        """Whether reads show every answered run; False once a read that started at or after
        ``until`` still misses some (the read lag outlasted the bound, or reads failed)."""
        after = float("-inf")
        while self._unseen:
            read = await self.next_read(after)
            if read.started >= until and self._unseen:
                return False
            after = read.started + 1e-9
        return True

    def _wake(self) -> None:
        self._kicked = True
        self._kick.set()

    async def _nap(self, seconds: float | None) -> None:
        """Sleep ``seconds`` between reads, cut short by a new answer; or (None) idle until a
        waiter or a request in flight needs a read."""
        self._idle = seconds is None
        if not self._kicked:
            with anyio.move_on_after(float("inf") if seconds is None else seconds):
                await self._kick.wait()
        self._idle = False
        self._kicked = False
        self._kick = anyio.Event()

    async def run(self) -> None:
        """Read whenever someone waits for a read, or (following) requests are in flight or
        answered runs unseen;
        back-to-back while reads bring news, slower while they do not. Runs until cancelled."""
        pause = POLL_SECONDS
        failures = 0
        while True:
            if not (self._waiting or (self.following and (self._unseen or self.in_flight))):
                await self._nap(None)
                continue
            read = await self.read()
            if read.error is not None:
                failures += 1
                await anyio.sleep(self._retry.delay(failures - 1))
                continue
            failures = 0
            pause = POLL_SECONDS if read.runs else min(pause * 2, self._max_poll)
            await self._nap(pause)
