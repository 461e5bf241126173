"""The spend guard: what a batch will cost, how long it takes to enqueue, how long runs take,
and how much this server has already spent.

Prices and latencies come from ``wire.PROCESSORS``, the one table every layer reads. A batch needs
the caller's ``confirm_cost_usd`` when it alone exceeds the limit, and also when it would take
the group's spend through this server, or the account's spend through this server within the
rolling window (``spend_window_seconds``, default an hour), above the limit: three calls of $9.99,
or the same inputs under a new ``call_key``, no longer spend $30 against a $10 limit unconfirmed.
With the journal (:func:`guard_shared`) "this server" is every process and replica sharing it: the
check and the reservation are one transaction under a lock on the account.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from pydantic import BaseModel, Field

from taskgroup_mcp import wire
from taskgroup_mcp.config import Settings
from taskgroup_mcp.journal import Journal, Scope

from ._arguments import ArgumentProblem
from ._bounded import BoundedDict


class SpendRefused(Exception):
    """The spend guard refused a call; the message gives the estimate and how to confirm."""


class Estimate(BaseModel):
    runs: int
    cost_usd: float = Field(description="runs x the processor's documented price")
    by_processor: dict[str, int]
    enqueue_seconds: float = Field(description="time to submit every run at the account's rate limit")
    run_latency_seconds: tuple[float, float] = Field(description="documented (min, max) latency of one run")
    limit_usd: float


def unknown_processor_problem(name: str, field: str) -> tuple[str, str]:
    base = sorted({p.removesuffix("-fast") for p in wire.PROCESSORS})
    return (field, f"is not a known processor; use one of {', '.join(base)} (each also as '<name>-fast')")


def estimate(processors: Iterable[tuple[str, str]], settings: Settings) -> Estimate:
    """Estimate a batch from one ``(processor, field)`` pair per run; unknown names are argument errors."""
    counts: Counter[str] = Counter()
    problems: list[tuple[str, str]] = []
    for name, field in processors:
        if wire.get_processor(name) is None:
            problems.append(unknown_processor_problem(name, field))
        counts[name] += 1
    if problems:
        raise ArgumentProblem(sorted(set(problems)))
    runs = sum(counts.values())
    cost = sum(n * wire.PROCESSORS[p].usd_per_run for p, n in counts.items())
    requests = math.ceil(runs / settings.chunk_size) if runs else 0
    by_runs = runs / settings.runs_per_minute if settings.runs_per_minute else 0.0
    enqueue = max(by_runs, requests / settings.requests_per_minute) * 60.0
    lows = [wire.PROCESSORS[p].latency_seconds[0] for p in counts] or [0.0]
    highs = [wire.PROCESSORS[p].latency_seconds[1] for p in counts] or [0.0]
    return Estimate(
        runs=runs,
        cost_usd=round(cost, 4),
        by_processor=dict(counts),
        enqueue_seconds=round(enqueue, 1),
        run_latency_seconds=(min(lows), max(highs)),
        limit_usd=settings.spend_limit_usd,
    )


MAX_CONFIRM_FACTOR = 100
"""``confirm_cost_usd`` may be at most this many times the estimate: a confirmation is of a cost."""


def confirm_problem(confirm_cost_usd: float | None, est: Estimate) -> tuple[str, str] | None:
    """Why ``confirm_cost_usd`` is not a confirmation of this estimate (NaN, infinite, negative,
    or far above it: Infinity or 1e308 would confirm any batch), naming the field."""
    if confirm_cost_usd is None:
        return None
    cap = max(est.cost_usd * MAX_CONFIRM_FACTOR, 0.01)
    if not math.isfinite(confirm_cost_usd) or confirm_cost_usd < 0 or confirm_cost_usd > cap:
        return (
            "confirm_cost_usd",
            f"must be a finite amount in USD between this call's estimate (${est.cost_usd:,.2f}) and "
            f"{MAX_CONFIRM_FACTOR}x it (${cap:,.2f}); pass the amount the refusal or dry_run names",
        )
    return None


def refusal(
    est: Estimate,
    confirm_cost_usd: float | None,
    *,
    offer_dry_run: bool = True,
    spent: Spent | None = None,
) -> str | None:
    """Why this batch may not run unconfirmed, or None if it may (``spent``: what this server
    already spent on the group and within the window, see :class:`SpendLedger`)."""
    problem = confirm_problem(confirm_cost_usd, est)
    if problem is not None:
        raise ArgumentProblem([problem])
    spent = spent or Spent()
    over_call = est.cost_usd > est.limit_usd
    over_group = spent.group_usd + est.cost_usd > est.limit_usd + 1e-9
    over_window = spent.window_usd + est.cost_usd > est.limit_usd + 1e-9
    if not (over_call or over_group or over_window):
        return None
    if confirm_cost_usd is not None and confirm_cost_usd + 1e-9 >= est.cost_usd:
        return None
    confirm = math.ceil(est.cost_usd * 100) / 100
    given = "" if confirm_cost_usd is None else f" (confirm_cost_usd={confirm_cost_usd:g} is below it)"
    if over_call:
        why = f"above this server's limit of ${est.limit_usd:,.2f}{given}"
    else:
        so_far = (
            f"this group has already been given ${spent.group_usd:,.2f} through this server"
            if over_group
            else f"this server has already spent ${spent.window_usd:,.2f} in the last {spent.window_text}"
        )
        why = f"and {so_far}: together above the limit of ${est.limit_usd:,.2f}{given}"
    return (
        f"Refused: {est.runs} runs would cost about ${est.cost_usd:,.2f}, {why}. Nothing was submitted. "
        f"To proceed, ask the user, then call again with confirm_cost_usd={confirm:.2f}"
        + ("; or call with dry_run=true to see the full estimate." if offer_dry_run else ".")
    )


@dataclass(frozen=True)
class Spent:
    """What this server already spent for one account: on one group, and within the window."""

    group_usd: float = 0.0
    window_usd: float = 0.0
    window_seconds: float = 3600.0

    @property
    def window_text(self) -> str:
        seconds = self.window_seconds
        if seconds % 3600 == 0:
            return "hour" if seconds == 3600 else f"{seconds / 3600:g} hours"
        return f"{seconds / 60:g} minutes" if seconds % 60 == 0 else f"{seconds:g} s"


MAX_GROUPS_REMEMBERED = 10_000
MAX_ACCOUNTS_REMEMBERED = 1_024


@dataclass
class _Account:
    window: deque[list[Any]] = dc_field(default_factory=lambda: deque())
    """[time, usd, group, call] of each batch, oldest first (settling updates usd in place)."""
    groups: BoundedDict[str, dict[str, float]] = dc_field(
        default_factory=lambda: BoundedDict(MAX_GROUPS_REMEMBERED)
    )
    """Per group, per call identity, what it spent."""


class SpendLedger:
    """What this server process has spent, per account (the per-request key's hash, or the
    operator's), per group and within a rolling window. In memory: a restart forgets it, and
    each replica keeps its own (the limit is per process).

    Each batch is known by its call identity (its inputs and call key): an identical call
    repeated adds nothing, so its own earlier spend is not held against it, while the same inputs
    under a new ``call_key`` are new spend. A batch is reserved at its full estimate before it is
    sent (two concurrent calls cannot both pass the check), then settled to what was really added;
    a batch whose outcome is unknown keeps its reservation (it may have been billed)."""

    def __init__(self, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_seconds = window_seconds
        self._clock = clock
        self._accounts: BoundedDict[str, _Account] = BoundedDict(MAX_ACCOUNTS_REMEMBERED)

    def _account(self, account: str) -> _Account:
        found = self._accounts.touch(account)
        if found is None:
            found = self._accounts[account] = _Account()
        cutoff = self._clock() - self.window_seconds
        while found.window and found.window[0][0] < cutoff:
            found.window.popleft()
        return found

    def spent(self, account: str, group_id: str | None, call: str = "") -> Spent:
        """What was spent on ``group_id`` and within the window, not counting earlier runs of
        the same ``call`` on the same group (a repeat adds nothing)."""
        acct = self._account(account)
        calls = acct.groups.get(group_id, {}) if group_id else {}
        group = sum(usd for key, usd in calls.items() if key != call or not call)
        window = sum(e[1] for e in acct.window if not (call and e[2] == group_id and e[3] == call))
        return Spent(group, window, self.window_seconds)

    def reserve(self, account: str, group_id: str | None, usd: float, call: str = "") -> Reservation:
        acct = self._account(account)
        entry: list[Any] = [self._clock(), usd, group_id, call]
        acct.window.append(entry)
        if group_id:
            self._add(acct, group_id, call, usd)
        return Reservation(self, account, group_id, call, entry)

    def _add(self, acct: _Account, group_id: str, call: str, usd: float) -> None:
        calls = acct.groups.get(group_id, {})
        calls[call] = max(calls.get(call, 0.0) + usd, 0.0)
        acct.groups[group_id] = calls

    def settle(self, reservation: Reservation, usd: float) -> None:
        """The batch is done and cost ``usd`` (the runs really added): keep that, release the rest."""
        delta = usd - reservation.entry[1]
        reservation.entry[1] = usd
        if reservation.group_id:
            self._add(self._account(reservation.account), reservation.group_id, reservation.call, delta)

    def move(self, reservation: Reservation, group_id: str) -> None:
        """Attribute a reservation made before its group existed (fan_out) to that group."""
        reservation.group_id = reservation.entry[2] = group_id
        self._add(self._account(reservation.account), group_id, reservation.call, reservation.entry[1])
        if reservation.shared is not None:
            reservation.shared[0].move_spend(reservation.shared[1], group_id)


@dataclass
class Reservation:
    ledger: SpendLedger
    account: str
    group_id: str | None
    call: str
    entry: list[Any]
    shared: tuple[Journal, str] | None = None
    """The journal holding this reservation for every process sharing it, and its id there."""

    def settle(self, usd: float) -> None:
        self.ledger.settle(self, usd)
        if self.shared is not None:
            self.shared[0].settle_spend(self.shared[1], usd)


def guard(
    ledger: SpendLedger,
    account: str,
    group_id: str | None,
    est: Estimate,
    confirm_cost_usd: float | None,
    *,
    call: str = "",
    offer_dry_run: bool = True,
) -> Reservation:
    """Check ``est`` against the limit with what was already spent, and reserve it: raises
    :class:`SpendRefused` (or :class:`ArgumentProblem` for a bad ``confirm_cost_usd``). Check and
    reservation happen with no await between them, so concurrent calls see each other."""
    spent = ledger.spent(account, group_id, call)
    reason = refusal(est, confirm_cost_usd, offer_dry_run=offer_dry_run, spent=spent)
    if reason is not None:
        raise SpendRefused(reason)
    return ledger.reserve(account, group_id, est.cost_usd, call)


async def guard_shared(
    ledger: SpendLedger,
    journal: Journal | None,
    api: str,
    account: str,
    group_id: str | None,
    est: Estimate,
    confirm_cost_usd: float | None,
    *,
    call: str = "",
    offer_dry_run: bool = True,
) -> Reservation:
    """:func:`guard` over what every process and replica sharing ``journal`` spent for ``account``
    on ``api``: the check and the reservation are one journal transaction under a lock on the
    account, so two of them cannot both pass. Without a journal, or while it cannot answer, this
    process's own ledger decides (as :func:`guard`). The reservation is also kept in ``ledger``,
    which then still knows this process's spend if the journal goes away."""
    if journal is None:
        return guard(ledger, account, group_id, est, confirm_cost_usd, call=call, offer_dry_run=offer_dry_run)
    problem = confirm_problem(confirm_cost_usd, est)
    if problem is not None:
        raise ArgumentProblem([problem])

    def decide(group_usd: float, window_usd: float) -> None:
        spent = Spent(group_usd, window_usd, ledger.window_seconds)
        reason = refusal(est, confirm_cost_usd, offer_dry_run=offer_dry_run, spent=spent)
        if reason is not None:
            raise SpendRefused(reason)

    shared = await journal.reserve_spend(
        Scope(api, account), group_id, call, est.cost_usd, ledger.window_seconds, decide
    )
    if shared is None:
        return guard(ledger, account, group_id, est, confirm_cost_usd, call=call, offer_dry_run=offer_dry_run)
    held = ledger.reserve(account, group_id, est.cost_usd, call)
    held.shared = (journal, shared)
    return held


async def spent_shared(
    ledger: SpendLedger, journal: Journal | None, api: str, account: str, group_id: str | None, call: str = ""
) -> Spent:
    """What :func:`guard_shared` would count (for a dry run): every process sharing the journal,
    else this process's own ledger."""
    if journal is not None:
        sums = await journal.spent(Scope(api, account), group_id, call, ledger.window_seconds)
        if sums is not None:
            return Spent(sums[0], sums[1], ledger.window_seconds)
    return ledger.spent(account, group_id, call)


def call_identity(call_key: str | None, run_inputs: Iterable[wire.RunInput]) -> str:
    """A batch's identity for the ledger: its call key and its inputs as sent."""
    digest = hashlib.sha256((call_key or "").encode())
    for run in run_inputs:
        digest.update(json.dumps(run.to_wire(exclude_none=True), sort_keys=True, default=str).encode())
    return digest.hexdigest()
