"""submit(): every input becomes exactly one run, under faults, repeats and interruptions."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx2
import pytest
from client_harness import FAST_BACKOFF, FAULT_MIX, Wiretap, cid_counts, inputs, sandbox_client

from taskgroup_mcp.client import RESERVED_METADATA_KEY, ParallelClient, RetryBudget
from taskgroup_mcp.sandbox import Faults
from taskgroup_mcp.wire import RunInput, Webhook

LATE = Faults(drop_after_commit=0.5, commit_delay_ms=1_000)
"""Late commits: a second beside a loaded machine's scheduling delays (a parallel test run)."""


@pytest.mark.anyio
@pytest.mark.parametrize("seed", range(3))
async def test_a_settle_window_longer_than_the_commit_delay_creates_no_duplicates(seed: int) -> None:
    async with sandbox_client(LATE, seed=seed, chunk_size=100, settle_seconds=1.5) as (sb, client):
        group = await client.create_task_group()
        with anyio.fail_after(30):
            result = await client.submit(group.taskgroup_id, inputs(1_000))
        assert result.ambiguous > 0
        await anyio.sleep(LATE.commit_delay_ms / 1000)  # let every late commit become visible
        counts = cid_counts(sb, group.taskgroup_id)
        assert sum(counts.values()) == 1_000 and max(counts.values()) == 1
        assert result.ok


@pytest.mark.anyio
async def test_with_no_settle_window_the_same_late_commits_are_seen_as_duplicates() -> None:
    async with sandbox_client(LATE, seed=0, chunk_size=100, settle_seconds=0.0) as (sb, client):
        group = await client.create_task_group()
        with anyio.fail_after(30):
            result = await client.submit(group.taskgroup_id, inputs(1_000))
        await anyio.sleep(LATE.commit_delay_ms / 1000)
        counts = cid_counts(sb, group.taskgroup_id)
        duplicated = [cid for cid, n in counts.items() if n > 1]
        assert duplicated, "the mutation check must create duplicates the test can see"
        assert sum(counts.values()) > 1_000
        # The client's own audit of the group, once the late commits are visible, sees them too.
        again = await client.submit(group.taskgroup_id, inputs(1_000))
        assert set(again.duplicates) == set(duplicated)
        assert again.added == 0 and again.requests_sent == 0
        assert result.requests_sent > 10


@pytest.mark.anyio
async def test_a_422_chunk_is_sent_once_and_reported_while_the_other_chunks_land() -> None:
    batch = inputs(1_000)
    # An event type the API does not know: valid JSON the client sends as is, refused by the API.
    batch[437] = RunInput(
        input="bad webhook",
        processor="lite",
        webhook=Webhook.model_construct(url="https://hooks.example.com/x", event_types=["task_run.nope"]),
    )
    async with sandbox_client(Faults(), chunk_size=250) as (sb, client):
        group = await client.create_task_group()
        result = await client.submit(group.taskgroup_id, batch)
        add_requests = sb.stats.requests["add_runs"]
        assert result.requests_sent == 4 and sum(add_requests.values()) == 4
        assert len(result.failed) == 250
        assert {f.index for f in result.failed} == set(range(250, 500))
        named = [f for f in result.failed if f.field is not None]
        assert [f.index for f in named] == [437]
        assert named[0].field is not None and named[0].field.startswith("inputs.437.webhook")
        assert all(f.status_code == 422 and not f.retryable for f in result.failed)
        others = [f for f in result.failed if f.field is None]
        assert all("because of input(s) 437" in f.reason for f in others)
        assert result.added == 750
        counts = cid_counts(sb, group.taskgroup_id)
        assert sum(counts.values()) == 750 and max(counts.values()) == 1


@pytest.mark.anyio
async def test_repeating_a_completed_submit_adds_nothing() -> None:
    async with sandbox_client(FAULT_MIX, seed=3, chunk_size=250) as (sb, client):
        group = await client.create_task_group()
        first = await client.submit(group.taskgroup_id, inputs(2_000))
        second = await client.submit(group.taskgroup_id, list(reversed(inputs(2_000))))
        assert first.ok and second.ok
        assert second.added == 0 and second.already_present == 2_000 and second.requests_sent == 0
        assert second.run_ids == first.run_ids
        assert sum(cid_counts(sb, group.taskgroup_id).values()) == 2_000


@pytest.mark.anyio
@pytest.mark.parametrize("stop_after", [1, 1_500, 3_000])
async def test_a_submit_killed_mid_batch_and_repeated_ends_with_one_run_per_input(stop_after: int) -> None:
    batch = inputs(5_000)
    async with sandbox_client(FAULT_MIX, seed=stop_after, chunk_size=250) as (sb, client):
        group = await client.create_task_group()
        with anyio.CancelScope() as scope:

            async def progress(done: int, total: int) -> None:
                if done >= stop_after:
                    scope.cancel()

            await client.submit(group.taskgroup_id, batch, on_progress=progress)
        assert scope.cancelled_caught
        landed = sum(cid_counts(sb, group.taskgroup_id).values())
        assert 0 < landed < 5_000
        # A new process: another client (no memory of the first), the same call.
        async with ParallelClient(
            api_key="test-key",
            base_url="http://sandbox",
            transport=sb.transport,
            settle_seconds=0.0,
            runs_per_minute=10**9,
            chunk_size=250,
            backoff=FAST_BACKOFF,
        ) as fresh:
            with anyio.fail_after(30):
                result = await fresh.submit(group.taskgroup_id, batch)
        assert result.ok and result.already_present == landed and result.added == 5_000 - landed
        counts = cid_counts(sb, group.taskgroup_id)
        assert sum(counts.values()) == 5_000 and max(counts.values()) == 1


@pytest.mark.anyio
async def test_progress_reaches_the_total_and_never_goes_back() -> None:
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    async with sandbox_client(FAULT_MIX, seed=5, chunk_size=100) as (_, client):
        group = await client.create_task_group()
        result = await client.submit(group.taskgroup_id, inputs(1_000), on_progress=progress)
    assert result.ok
    assert seen[-1] == (1_000, 1_000)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


@pytest.mark.anyio
async def test_audit_on_doubt_skips_the_scan_only_when_every_answer_was_clean() -> None:
    async with sandbox_client(chunk_size=250, audit="on_doubt") as (sb, client):
        group = await client.create_task_group()
        clean = await client.submit(group.taskgroup_id, inputs(1_000))
        assert clean.ok and not clean.audited and clean.reconciles == 0
        by_store = {
            str((r.input.metadata or {})["mcp_cid"]): r.run_id
            for r in sb.store.group_runs(group.taskgroup_id, -1, None, 2_000)
        }
        assert clean.run_ids == by_store
        sb.set_faults(FAULT_MIX)
        more = await client.submit(group.taskgroup_id, inputs(1_000, prefix="person"))
        assert more.ok and more.audited and more.added == 1_000


@pytest.mark.anyio
async def test_a_call_corrected_after_a_422_adds_only_the_corrected_input() -> None:
    batch = inputs(1_000)
    good = batch[437]
    batch[437] = RunInput(
        input="bad webhook",
        processor="lite",
        webhook=Webhook.model_construct(url="https://hooks.example.com/x", event_types=["task_run.nope"]),
    )
    async with sandbox_client(chunk_size=250) as (sb, client):
        group = await client.create_task_group()
        first = await client.submit(group.taskgroup_id, batch)
        assert first.added == 750 and len(first.failed) == 250
        batch[437] = good
        second = await client.submit(group.taskgroup_id, batch)
        assert second.ok and second.already_present == 750 and second.added == 250
        counts = cid_counts(sb, group.taskgroup_id)
        assert sum(counts.values()) == 1_000 and max(counts.values()) == 1


@pytest.mark.anyio
async def test_an_explicit_call_key_adds_the_same_inputs_again_on_purpose() -> None:
    async with sandbox_client() as (sb, client):
        group = await client.create_task_group()
        await client.submit(group.taskgroup_id, inputs(10))
        again = await client.submit(group.taskgroup_id, inputs(10), call_key="second pass")
        assert again.added == 10 and again.already_present == 0
        assert sum(cid_counts(sb, group.taskgroup_id).values()) == 20


@pytest.mark.anyio
async def test_an_outage_is_bounded_by_the_attempts_and_the_retry_budget() -> None:
    outage = Faults(fail_before_commit=1.0)
    budget = RetryBudget(capacity=100)
    async with sandbox_client(outage, chunk_size=100, retry_budget=budget) as (sb, client):
        group = await client.create_task_group()
        with anyio.fail_after(30):
            result = await client.submit(group.taskgroup_id, inputs(1_000))
        assert result.added == 0 and len(result.failed) == 1_000
        assert all(f.retryable and f.status_code == 503 for f in result.failed)
        # 10 first attempts, then at most capacity / cost-of-an-ambiguous-retry resends.
        assert result.requests_sent <= 10 + budget.capacity // budget.timeout_cost
        assert sum(sb.stats.requests["add_runs"].values()) == result.requests_sent
        assert sum(cid_counts(sb, group.taskgroup_id).values()) == 0


def _posted_cids(body: bytes) -> list[str]:
    return [item["metadata"][RESERVED_METADATA_KEY] for item in json.loads(body)["inputs"]]


async def _audit_the_wire(seed: int) -> tuple[int, int]:
    """Submit under faults while recording every request; check the order of POSTs and scans.
    Returns (resends after a 429, resends after an ambiguous answer)."""
    taps: list[Wiretap] = []

    def tap(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        taps.append(Wiretap(inner))
        return taps[0]

    faults = Faults(drop_after_commit=0.2, fail_before_commit=0.2, throttle=0.3, retry_after=0.05)
    async with sandbox_client(faults, seed=seed, chunk_size=100, transport=tap) as (sb, client):
        group = await client.create_task_group()
        result = await client.submit(group.taskgroup_id, inputs(1_000))
        assert result.ok and sum(cid_counts(sb, group.taskgroup_id).values()) == 1_000
    last_post: dict[str, tuple[int, dict[str, Any]]] = {}
    throttled = ambiguous = 0
    log = taps[0].log
    for i, entry in enumerate(log):
        if entry["method"] != "POST" or not entry["path"].endswith("/runs"):
            continue
        for cid in _posted_cids(entry["body"]):
            if cid in last_post:
                j, before = last_post[cid]
                if before["outcome"] == 429:
                    throttled += 1
                    assert entry["at"] - before["at"] >= float(before["retry_after"])
                else:
                    assert before["outcome"] in ("dropped", 503), before["outcome"]
                    assert any(
                        e["method"] == "GET" and e["path"].endswith("/runs") for e in log[j + 1 : i]
                    ), "an ambiguous cid was resent without scanning the group first"
                    ambiguous += 1
            last_post[cid] = (i, entry)
    return throttled, ambiguous


@pytest.mark.anyio
async def test_no_input_is_resent_blindly_and_no_post_comes_before_its_retry_after() -> None:
    """After an ambiguous answer a cid goes out again only once the group was scanned since;
    after a 429 the same inputs wait at least Retry-After (checked over several seeds)."""
    totals = [await _audit_the_wire(seed) for seed in range(4)]
    assert sum(t for t, _ in totals) > 0 and sum(a for _, a in totals) > 0


@pytest.mark.anyio
async def test_timeouts_after_sending_are_reconciled_and_every_input_lands_once() -> None:
    slow = Faults(latency_ms=(0.0, 120.0))
    # A timed-out request still commits on the server up to 60 ms later (the latency outlives the
    # client's timeout): the settle window must cover that, as it must for the real API.
    async with sandbox_client(slow, seed=11, chunk_size=100, timeout=0.06, settle_seconds=0.3) as (
        sb,
        client,
    ):
        group = await client.create_task_group()
        with anyio.fail_after(30):
            result = await client.submit(group.taskgroup_id, inputs(1_000))
        assert result.ok and result.ambiguous > 0
        counts = cid_counts(sb, group.taskgroup_id)
        assert sum(counts.values()) == 1_000 and max(counts.values()) == 1


@pytest.mark.anyio
async def test_the_same_call_made_twice_at_once_in_one_process_adds_each_input_once() -> None:
    async with sandbox_client(FAULT_MIX, seed=12, chunk_size=100) as (sb, client):
        group = await client.create_task_group()
        results: list[Any] = []

        async def call() -> None:
            results.append(await client.submit(group.taskgroup_id, inputs(1_000)))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                tg.start_soon(call)
        assert sorted(r.added for r in results) == [0, 1_000]
        assert all(r.ok for r in results)
        counts = cid_counts(sb, group.taskgroup_id)
        assert sum(counts.values()) == 1_000 and max(counts.values()) == 1
