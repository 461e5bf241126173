"""The journal's records, on SQLite and on a real PostgreSQL: the same behaviour on both."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from journal_harness import JournalMaker

import taskgroup_mcp.journal._journal as journal_impl
from taskgroup_mcp.journal import GroupEntry, Journal, JournalError, LeaseBusy, Scope
from taskgroup_mcp.journal._journal import tenant_of
from taskgroup_mcp.journal._schema import LATEST as SCHEMA_VERSION

pytestmark = pytest.mark.anyio

API = "https://api.example.test"
ME = Scope(API, "")


async def test_a_fresh_journal_is_created_at_the_latest_schema_and_reopens_without_migrating_again(
    journals: JournalMaker,
) -> None:
    first = await journals()
    assert first.problem is None, first.problem
    assert await first.record_group(ME, "tgrp_a", created_at=1.0, label="first")
    second = await journals()  # another process on the same database
    assert second.problem is None, second.problem
    assert second.schema_version == SCHEMA_VERSION
    entry = await second.get_group(ME, "tgrp_a")
    assert entry is not None and entry.label == "first"


async def test_groups_are_listed_newest_first_and_filtered_by_label_text_and_activity(
    journal: Journal,
) -> None:
    for i, (label, active) in enumerate(
        [("Company founders", True), ("hq cities", False), ("founders 50%_off", False), (None, True)]
    ):
        await journal.record_group(
            ME, f"tgrp_{i}", created_at=100.0 + i, label=label, status={"total": 1}, active=active
        )
    newest = await journal.list_groups(ME)
    assert [g.group_id for g in newest] == ["tgrp_3", "tgrp_2", "tgrp_1", "tgrp_0"]
    founders = await journal.list_groups(ME, label="FOUNDERS")
    assert [g.group_id for g in founders] == ["tgrp_2", "tgrp_0"]
    literal = await journal.list_groups(ME, label="50%_")
    assert [g.group_id for g in literal] == ["tgrp_2"], "LIKE wildcards in the filter are literal text"
    assert [g.group_id for g in await journal.list_groups(ME, active=True)] == ["tgrp_3", "tgrp_0"]
    assert [g.group_id for g in await journal.list_groups(ME, active=False)] == ["tgrp_2", "tgrp_1"]


async def test_listing_pages_by_position_without_skipping_groups_created_at_the_same_moment(
    journal: Journal,
) -> None:
    for i in range(7):
        await journal.record_group(ME, f"tgrp_{i}", created_at=50.0 if i < 4 else 60.0)
    seen: list[str] = []
    after: tuple[float, str] | None = None
    while True:
        page = await journal.list_groups(ME, after=after, limit=3)
        if not page:
            break
        seen += [g.group_id for g in page]
        after = (page[-1].created_at, page[-1].group_id)
    assert seen == ["tgrp_6", "tgrp_5", "tgrp_4", "tgrp_3", "tgrp_2", "tgrp_1", "tgrp_0"]


async def test_a_tenant_never_sees_another_tenants_groups(journal: Journal) -> None:
    alice, bob = Scope(API, tenant_of("alice-key-0123456789")), Scope(API, tenant_of("bob-key-0123456789"))
    await journal.record_group(alice, "tgrp_alice", created_at=1.0, label="alice's")
    await journal.record_group(bob, "tgrp_bob", created_at=2.0, label="bob's")
    assert [g.group_id for g in await journal.list_groups(alice)] == ["tgrp_alice"]
    assert [g.group_id for g in await journal.list_groups(bob)] == ["tgrp_bob"]
    assert await journal.get_group(alice, "tgrp_bob") is None
    assert await journal.list_groups(Scope("https://other.test", alice.tenant)) == []
    assert "alice-key" not in alice.tenant and len(alice.tenant) == 32


async def test_batches_add_up_processors_inputs_and_cost_and_status_is_kept(journal: Journal) -> None:
    await journal.record_group(ME, "tgrp_x", created_at=5.0, label="x")
    await journal.record_batch(
        ME, "tgrp_x", created_at=5.0, processors=["lite"], schema_fp="fp1", added=3, cost_usd=0.015
    )
    await journal.record_batch(
        ME, "tgrp_x", created_at=5.0, processors=["base", "lite"], schema_fp="fp2", added=2, cost_usd=0.02
    )
    await journal.record_group(
        ME, "tgrp_x", created_at=5.0, status={"total": 5, "counts": {"completed": 5}}, active=False
    )
    entry = await journal.get_group(ME, "tgrp_x")
    assert entry is not None
    assert (entry.label, entry.processors, entry.schema_fp, entry.inputs_sent) == (
        "x",
        ["base", "lite"],
        "fp2",
        5,
    )
    assert entry.cost_usd == pytest.approx(0.035)
    assert entry.status == {"total": 5, "counts": {"completed": 5}} and entry.active is False
    assert entry.status_at is not None and abs(entry.status_at - time.time()) < 60


class PostSpy:
    """Counts the writes a journal queues without waiting (and fails the first ``fail`` of them)."""

    def __init__(self, journal: Journal, monkeypatch: pytest.MonkeyPatch, fail: int = 0) -> None:
        backend: Any = journal._backend  # pyright: ignore[reportPrivateUsage]
        self.posted = 0
        self._fail = fail
        real = backend.post

        def post(fn: Any, *, on_error: Any) -> None:
            self.posted += 1
            if self._fail:
                self._fail -= 1
                on_error(JournalError("TASKGROUP_MCP_STATE_DIR: simulated failure"))
                return
            real(fn, on_error=on_error)

        monkeypatch.setattr(backend, "post", post)


async def landed(journal: Journal, group_id: str, status: dict[str, Any]) -> GroupEntry:
    """The group's entry once a queued write of ``status`` has reached the database."""
    with anyio.fail_after(10):
        while True:
            entry = await journal.get_group(ME, group_id)
            if entry is not None and entry.status == status:
                return entry
            await anyio.sleep(0.01)


async def test_a_status_read_again_unchanged_is_not_written_again_and_a_change_is_written_at_once(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = PostSpy(journal, monkeypatch)
    running = {"total": 3, "counts": {"running": 3}}
    done = {"total": 3, "counts": {"completed": 3}}
    seen = {"created_at": 5.0, "label": "x"}
    assert await journal.record_seen(ME, "tgrp_s", **seen, status=running, active=True)
    first = await landed(journal, "tgrp_s", running)
    for _ in range(5):  # a client polling status
        assert await journal.record_seen(ME, "tgrp_s", **seen, status=running, active=True)
    assert spy.posted == 1, "an unchanged status costs no journal write"
    assert await journal.record_seen(ME, "tgrp_s", **seen, status=done, active=False)
    assert spy.posted == 2
    entry = await landed(journal, "tgrp_s", done)
    assert entry.active is False and entry.label == "x"
    assert entry.status_at is not None and first.status_at is not None and entry.status_at >= first.status_at
    assert await journal.record_seen(ME, "tgrp_s", created_at=5.0, label="y", status=done, active=False)
    assert spy.posted == 3, "a new label is written at once"
    monkeypatch.setattr(journal_impl, "SEEN_REWRITE_SECONDS", 0.0)
    assert await journal.record_seen(ME, "tgrp_s", created_at=5.0, label="y", status=done, active=False)
    assert spy.posted == 4, "past the rewrite interval the same status is written again (status_at moves on)"


async def test_a_status_whose_queued_write_failed_is_written_on_the_next_read(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_impl, "RETRY_AFTER_FAILURE_SECONDS", 0.0)
    spy = PostSpy(journal, monkeypatch, fail=1)
    done = {"total": 1, "counts": {"completed": 1}}
    assert await journal.record_seen(ME, "tgrp_f", created_at=1.0, label=None, status=done, active=False)
    assert journal.problem is not None, "the failure is noted"
    assert await journal.get_group(ME, "tgrp_f") is None
    assert await journal.record_seen(ME, "tgrp_f", created_at=1.0, label=None, status=done, active=False)
    assert spy.posted == 2
    await landed(journal, "tgrp_f", done)


async def test_a_status_written_by_another_path_is_not_taken_for_the_last_one_seen(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = PostSpy(journal, monkeypatch)
    running = {"total": 2, "counts": {"running": 2}}
    assert await journal.record_seen(ME, "tgrp_o", created_at=1.0, label=None, status=running, active=True)
    await landed(journal, "tgrp_o", running)
    # add_runs records the group as it read it after adding (another status)...
    await journal.record_group(ME, "tgrp_o", created_at=1.0, status={"total": 4, "counts": {"queued": 4}})
    # ...so the next status read, even equal to the one seen before, is written again.
    assert await journal.record_seen(ME, "tgrp_o", created_at=1.0, label=None, status=running, active=True)
    assert spy.posted == 2
    await landed(journal, "tgrp_o", running)


async def test_client_ids_written_ahead_are_known_to_another_process_with_what_the_api_confirmed(
    journals: JournalMaker,
) -> None:
    one, two = await journals(), await journals()
    assert await one.write_ahead(API, "tgrp_w", "key1", ["c1", "c2", "c3"])
    assert await one.confirm(API, "tgrp_w", "key1", {"c1": "trun_1"})
    assert await one.not_sent(API, "tgrp_w", ["c3", "c1"])  # refused outright: only unconfirmed ids go
    known = await two.sent_ids(API, "tgrp_w", "key1")
    assert set(known) == {"c1", "c2"}
    assert known["c1"].run_id == "trun_1" and known["c2"].run_id is None
    assert abs(known["c2"].sent_at - time.time()) < 60
    assert await two.sent_ids(API, "tgrp_w", "another-key") == {}
    # A resend moves sent_at forward for an unconfirmed id, never for a confirmed one.
    before = known["c1"].sent_at
    await anyio.sleep(0.01)
    await two.write_ahead(API, "tgrp_w", "key1", ["c1", "c2"])
    again = await one.sent_ids(API, "tgrp_w", "key1")
    assert again["c1"].sent_at == before and again["c2"].sent_at > known["c2"].sent_at


async def test_a_lease_has_one_holder_across_processes_and_the_next_gets_it_when_released(
    journals: JournalMaker,
) -> None:
    one, two = await journals(), await journals()
    order: list[str] = []

    async def hold(journal: Journal, name: str, seconds: float) -> None:
        async with journal.lease("submit:g:k", wait=10) as locked:
            assert locked
            order.append(f"{name} in")
            await anyio.sleep(seconds)
            order.append(f"{name} out")

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(hold, one, "one", 0.3)
            await anyio.sleep(0.05)
            tg.start_soon(hold, two, "two", 0.0)
    assert order == ["one in", "one out", "two in", "two out"]


async def test_a_lease_held_elsewhere_refuses_after_the_wait_and_a_dead_holders_lease_expires(
    journals: JournalMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = await journals(), await journals()
    with anyio.fail_after(20):
        async with one.lease("submit:g:k", wait=1) as locked:
            assert locked
            with pytest.raises(LeaseBusy):
                async with two.lease("submit:g:k", wait=0.2):
                    pytest.fail("two held the lease while one did")
    # A holder that died without releasing: its lease runs out and the next caller takes over.
    import taskgroup_mcp.journal._journal as impl

    monkeypatch.setattr(impl, "LEASE_TTL_SECONDS", 0.3)
    assert await one._try_lease("submit:g:dead", "dead-owner") is None  # pyright: ignore[reportPrivateUsage]
    with anyio.fail_after(20):
        async with two.lease("submit:g:dead", wait=5) as locked:
            assert locked


async def test_an_identical_fan_out_is_remembered_per_tenant(journals: JournalMaker) -> None:
    one, two = await journals(), await journals()
    await one.remember_fan_out(ME, "hash1", "tgrp_f")
    assert await two.fan_out_group(ME, "hash1") == "tgrp_f"
    assert await two.fan_out_group(Scope(API, "someone-else"), "hash1") is None
    assert await two.fan_out_group(ME, "hash2") is None


async def test_forgetting_an_api_drops_its_groups_and_keeps_the_others(journal: Journal) -> None:
    await journal.record_group(Scope("http://sandbox.invalid"), "tgrp_s", created_at=1.0)
    await journal.record_group(ME, "tgrp_real", created_at=1.0)
    await journal.write_ahead("http://sandbox.invalid", "tgrp_s", "k", ["c"])
    assert await journal.forget_api("http://sandbox.invalid")
    assert await journal.list_groups(Scope("http://sandbox.invalid")) == []
    assert await journal.sent_ids("http://sandbox.invalid", "tgrp_s", "k") == {}
    assert [g.group_id for g in await journal.list_groups(ME)] == ["tgrp_real"]
