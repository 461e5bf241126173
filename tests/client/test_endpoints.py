"""Every endpoint, typed, against the sandbox; errors mapped; beta tokens only when needed."""

from __future__ import annotations

import anyio
import httpx2
import pytest
from client_harness import FlakyGets, Wiretap, inputs, sandbox_client

from taskgroup_mcp.client import (
    InternalServerError,
    NotFoundError,
    ParallelClient,
    PermissionDeniedError,
    RequestTimeoutError,
    RetryBudget,
    UnprocessableEntityError,
)
from taskgroup_mcp.wire import BETA_MCP_SERVERS, McpServer, RunInput, TaskRunEvent


@pytest.mark.anyio
@pytest.mark.parametrize("prefix", ["v1", "v1beta"])
async def test_group_endpoints_round_trip_typed_models(prefix: str) -> None:
    taps: list[Wiretap] = []

    def tap(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        taps.append(Wiretap(inner))
        return taps[0]

    async with sandbox_client(speed=1.0, api_prefix=prefix, transport=tap) as (_, client):
        group = await client.create_task_group(metadata={"project": "demo"})
        assert group.taskgroup_id.startswith("tgrp_") and group.metadata == {"project": "demo"}
        added = await client.add_runs(group.taskgroup_id, inputs(3))
        assert len(added.run_ids) == 3 and added.status.num_task_runs == 3
        fetched = await client.get_task_group(group.taskgroup_id)
        assert fetched.status.num_task_runs == 3
        run = await client.get_group_run(group.taskgroup_id, added.run_ids[0])
        assert run.run_id == added.run_ids[0] and run.taskgroup_id == group.taskgroup_id
        listed = [e.run.run_id async for e in client.group_runs(group.taskgroup_id)]
        assert sorted(listed) == sorted(added.run_ids)
    group_paths = {r.url.path.split("/")[1] for r in taps[0].requests if "/groups" in r.url.path}
    assert group_paths == {prefix}


@pytest.mark.anyio
async def test_single_run_endpoints_return_status_input_result_and_events() -> None:
    async with sandbox_client(speed=600.0) as (_, client):
        run = await client.create_run(RunInput(input="What is Acme?", processor="lite", metadata={"k": "v"}))
        assert run.status == "queued" and run.metadata == {"k": "v"}
        assert (await client.get_run(run.run_id)).run_id == run.run_id
        assert (await client.get_run_input(run.run_id)).input == "What is Acme?"
        with anyio.fail_after(30):
            result = await client.get_run_result(run.run_id, timeout=20)
            events = [e async for e in client.run_events(run.run_id)]
        assert result.run.status == "completed" and result.output is not None
        final = events[-1]
        assert isinstance(final, TaskRunEvent) and final.run.status == "completed"


@pytest.mark.anyio
async def test_api_errors_map_onto_the_tree() -> None:
    async with sandbox_client(start=False) as (_, client):
        with pytest.raises(NotFoundError) as missing:
            await client.get_task_group("tgrp_does_not_exist")
        assert missing.value.status_code == 404 and not missing.value.retryable
        group = await client.create_task_group()
        with pytest.raises(PermissionDeniedError):
            await client.add_runs(group.taskgroup_id, [RunInput(input="x", processor="no-such-processor")])
        with pytest.raises(UnprocessableEntityError) as invalid:
            await client.add_runs(
                group.taskgroup_id, [RunInput(input="x", processor="lite", metadata={"k" * 17: 1})]
            )
        assert invalid.value.errors and invalid.value.errors[0].field.startswith("inputs.0.metadata")


@pytest.mark.anyio
async def test_the_mcp_beta_token_is_sent_only_when_an_input_forwards_an_mcp_server() -> None:
    taps: list[Wiretap] = []

    def tap(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        taps.append(Wiretap(inner))
        return taps[0]

    server = McpServer(name="crm", url="https://127.0.0.1:9/mcp", headers={"Authorization": "Bearer x"})
    async with sandbox_client(start=False, transport=tap) as (_, client):
        group = await client.create_task_group()
        await client.add_runs(group.taskgroup_id, inputs(2))
        await client.add_runs(
            group.taskgroup_id, [RunInput(input="a", processor="lite", mcp_servers=[server])]
        )
    posts = [r for r in taps[0].requests if r.method == "POST" and r.url.path.endswith("/runs")]
    assert "parallel-beta" not in posts[0].headers
    assert posts[1].headers["parallel-beta"] == BETA_MCP_SERVERS
    assert all("parallel-beta" not in r.headers for r in taps[0].requests if r.method == "GET")


@pytest.mark.anyio
async def test_safe_calls_retry_a_503_and_stop_when_the_retry_budget_is_spent() -> None:
    flaky: list[FlakyGets] = []

    def wrap(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        flaky.append(FlakyGets(inner, failures=2))
        return flaky[0]

    async with sandbox_client(start=False, transport=wrap, retry_budget=RetryBudget(capacity=10)) as (
        _,
        client,
    ):
        group = await client.create_task_group()
        assert (await client.get_task_group(group.taskgroup_id)).taskgroup_id == group.taskgroup_id
        assert flaky[0].gets == 3
        assert client.retry_budget.tokens == 1  # two retries paid 10, one success refunded 1
        flaky[0].failures = 10**6
        with pytest.raises(InternalServerError) as info:
            await client.get_task_group(group.taskgroup_id)
        assert info.value.retryable
        assert flaky[0].gets == 3 + 1  # the budget could not pay for a retry: one attempt only


@pytest.mark.anyio
async def test_a_result_still_pending_raises_408_at_once_without_a_retry() -> None:
    taps: list[Wiretap] = []

    def tap(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        taps.append(Wiretap(inner))
        return taps[0]

    async with sandbox_client(speed=0.01, transport=tap) as (_, client):
        run = await client.create_run(RunInput(input="slow", processor="lite"))
        with pytest.raises(RequestTimeoutError) as info:
            await client.get_run_result(run.run_id, timeout=0)
        assert info.value.retryable
    assert sum(1 for r in taps[0].requests if r.url.path.endswith("/result")) == 1


@pytest.mark.anyio
async def test_a_client_for_another_key_keeps_every_option_and_the_pool_but_not_the_pacing() -> None:
    options = {
        "base_url": "http://api.test",
        "api_prefix": "v1beta",
        "timeout": 7.5,
        "connect_timeout": 1.5,
        "max_retries": 1,
        "chunk_size": 250,
        "concurrency": 3,
        "requests_per_minute": 120,
        "runs_per_minute": 600.0,
        "settle_seconds": 2.5,
        "max_attempts_per_chunk": 2,
        "audit": "on_doubt",
    }
    async with ParallelClient(api_key="first-key", **options) as first:  # type: ignore[arg-type]
        second = first.with_api_key("second-key")
        seen = {
            "base_url": second.base_url,
            "api_prefix": second.api_prefix,
            "timeout": second.timeout,
            "connect_timeout": second.connect_timeout,
            "max_retries": second.max_retries,
            "chunk_size": second.chunk_size,
            "concurrency": second.concurrency,
            "requests_per_minute": second.pacer.requests_per_minute,
            "runs_per_minute": second.pacer.runs_per_minute,
            "settle_seconds": second.settle_seconds,
            "max_attempts_per_chunk": second.max_attempts_per_chunk,
            "audit": second.audit,
        }
        assert seen == options
        assert second._http is first._http  # pyright: ignore[reportPrivateUsage]
        assert second.pacer is not first.pacer and second.retry_budget is not first.retry_budget
        assert second._headers()["x-api-key"] == "second-key"  # pyright: ignore[reportPrivateUsage]
