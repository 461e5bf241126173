"""The spend guard's ledger in the journal: what one process or replica spent counts in every other
sharing the journal, and two of them reserving at the same moment cannot both pass."""

from __future__ import annotations

import anyio
import pytest
from journal_harness import JournalMaker

from taskgroup_mcp.journal import Journal, Scope
from taskgroup_mcp.tools._spend import Estimate, SpendLedger, SpendRefused, guard_shared

pytestmark = pytest.mark.anyio

API = "https://api.parallel.ai"


async def flushed(journal: Journal) -> None:
    """Until the writes this process queued (settlements, moves) are in: a read of it comes after them."""
    await journal.list_groups(Scope(API, "nobody"))


def cost(usd: float) -> Estimate:
    return Estimate(
        runs=10,
        cost_usd=usd,
        by_processor={"core": 10},
        enqueue_seconds=0.0,
        run_latency_seconds=(60.0, 300.0),
        limit_usd=10.0,
    )


async def test_what_one_process_spent_counts_in_the_next_and_a_repeat_is_not_held_against_itself(
    journals: JournalMaker,
) -> None:
    first, second = await journals(), await journals()
    here, there = SpendLedger(3600), SpendLedger(3600)
    held = await guard_shared(here, first, API, "acct", "tgrp_a", cost(6.0), None, call="call-a")
    held.settle(6.0)
    await flushed(first)
    with pytest.raises(SpendRefused, match=r"already spent \$6\.00"):
        await guard_shared(there, second, API, "acct", "tgrp_b", cost(6.0), None, call="call-b")
    # Without the journal the second process knows only its own spend and lets it through.
    await guard_shared(SpendLedger(3600), None, API, "acct", "tgrp_b", cost(6.0), None, call="call-b")
    # The same call repeated on the same group adds nothing: its own spend is not held against it.
    repeat = await guard_shared(there, second, API, "acct", "tgrp_a", cost(6.0), None, call="call-a")
    repeat.settle(0.0)  # it found every input present
    # Another account, or the same account on another API, is not affected.
    await guard_shared(there, second, API, "other", "tgrp_b", cost(6.0), None, call="call-b")
    await guard_shared(there, second, "http://sandbox", "acct", "tgrp_b", cost(6.0), None, call="call-b")
    # A confirmation lets it through, and a batch that added less settles to less.
    confirmed = await guard_shared(there, second, API, "acct", "tgrp_b", cost(6.0), 6.0, call="call-b")
    confirmed.settle(0.0)
    held.settle(1.0)
    await flushed(first)
    await guard_shared(there, second, API, "acct", "tgrp_c", cost(6.0), None, call="call-c")


async def test_two_processes_reserving_at_the_same_moment_cannot_both_pass(journals: JournalMaker) -> None:
    one, two = await journals(), await journals()
    outcomes: list[str] = []

    async def reserve(journal: Journal, group: str) -> None:
        try:
            await guard_shared(SpendLedger(3600), journal, API, "acct", group, cost(6.0), None, call=group)
            outcomes.append("passed")
        except SpendRefused:
            outcomes.append("refused")

    async with anyio.create_task_group() as tg:
        tg.start_soon(reserve, one, "tgrp_1")
        tg.start_soon(reserve, two, "tgrp_2")
    assert sorted(outcomes) == ["passed", "refused"]


async def test_a_fan_out_reservation_moves_to_its_new_group(journals: JournalMaker) -> None:
    first, second = await journals(), await journals()
    held = await guard_shared(SpendLedger(3600), first, API, "acct", None, cost(6.0), None, call="fan")
    held.ledger.move(held, "tgrp_new")
    await flushed(first)
    with pytest.raises(SpendRefused, match=r"this group has already been given \$6\.00"):
        await guard_shared(SpendLedger(10**9), second, API, "acct", "tgrp_new", cost(6.0), None, call="other")
