"""Outage and cancellation through the real MCP server.

An upstream answering 503 for a while: every tool fails with an error that says to call again,
inside its time bound, with upstream attempts bounded by the retry policy; the first call after
recovery succeeds and the group ends with exactly one run per input. A client that cancels an
``add_runs`` or ``wait_for_task_group`` call (by cancelling the calling task in process, or by
``notifications/cancelled`` over stdio): the server starts no upstream request for that call
after it, and stays usable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from adv_canary import serving
from adv_harness import (
    TRACEBACK,
    Recorder,
    api_settings,
    data_of,
    raw_stdio,
    recorded_client,
    stdio_env,
    text_of,
)

from taskgroup_mcp.client import Backoff, RetryBudget
from taskgroup_mcp.sandbox import Faults, Sandbox, SandboxConfig

pytestmark = pytest.mark.anyio
MODES = pytest.mark.parametrize("mode", ["auto", "legacy"])
BOUND_S = 45.0
"""No tool call may take longer than this, outage or not (clients give up near 60 s)."""
MAX_ATTEMPTS_PER_CHUNK = 6
GET_ATTEMPTS = 1 + 3
"""A safe call: the first attempt and ``max_retries`` (3) retries."""
GRACE_S = 1.0


def runs_in(sandbox: Sandbox, gid: str) -> list[str]:
    """The client ids of every run in the group (one per intended input when all is well)."""
    runs = sandbox.store.group_runs(gid, -1, None, 1_000_000)
    return [str((r.input.metadata or {}).get("mcp_cid")) for r in runs]


OUTAGE_PROFILES = [
    pytest.param("auto", Backoff(base=0.01, cap=0.05), id="auto-short-backoff"),
    pytest.param("legacy", Backoff(base=0.01, cap=0.05), id="legacy-short-backoff"),
    pytest.param("auto", None, id="auto-real-backoff", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("mode", "backoff"), OUTAGE_PROFILES)
async def test_during_an_outage_every_tool_fails_retryably_within_its_bound_and_the_first_call_after_recovery_succeeds(
    tmp_path: Path, mode: str, backoff: Backoff | None
) -> None:
    settings = api_settings(tmp_path, chunk_size=10, settle_seconds=0.05)
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=5))
    recorder = Recorder(sandbox.app)
    inputs = [f"Outage company {i}" for i in range(30)]
    quota = RetryBudget()
    async with sandbox, recorded_client(settings, sandbox, recorder, mode, backoff=backoff) as client:
        gid = data_of(await client.call_tool("create_task_group", {}))["task_group_id"]
        recorder.down = True
        calls = [
            ("add_runs", {"task_group_id": gid, "inputs": inputs}),
            ("add_runs", {"task_group_id": gid, "inputs": inputs}),
            ("get_task_group_status", {"task_group_id": gid}),
            ("wait_for_task_group", {"task_group_id": gid, "timeout_seconds": 5}),
            ("get_task_group_results", {"task_group_id": gid}),
            ("create_task_group", {}),
        ]
        first_attempts = 0
        for tool, args in calls:
            started = anyio.current_time()
            with anyio.fail_after(BOUND_S + 5):
                result = await client.call_tool(tool, args)
            elapsed = anyio.current_time() - started
            text = text_of(result)
            assert result.is_error, f"{tool} answered as if it worked during an outage: {text[:300]}"
            assert "again" in text and ("temporary" in text or "moment" in text), f"{tool}: {text}"
            assert not TRACEBACK.search(text)
            assert elapsed < BOUND_S, f"{tool} took {elapsed:.1f} s"
            chunks = -(-len(args.get("inputs", [])) // settings.chunk_size)
            # each chunk: a POST, then a scan before any resend; plus the call's own reads
            first_attempts += chunks * MAX_ATTEMPTS_PER_CHUNK * 2 + 2
        posts = len(recorder.posts())
        retries = quota.capacity // quota.retry_cost
        assert posts <= 2 * 3 * MAX_ATTEMPTS_PER_CHUNK, f"{posts} run POSTs for 2 calls of 3 chunks"
        assert recorder.refused <= first_attempts + retries, (
            f"{recorder.refused} upstream attempts: more than the retry quota allows"
        )
        assert not runs_in(sandbox, gid)
        recorder.down = False
        with anyio.fail_after(BOUND_S):
            recovered = data_of(await client.call_tool("add_runs", {"task_group_id": gid, "inputs": inputs}))
    assert recovered["added"] == 30 and recovered["failed_total"] == 0
    cids = runs_in(sandbox, gid)
    assert len(cids) == 30 and len(set(cids)) == 30
    sandbox.close()


async def _cancel_midway(
    client: Any, recorder: Recorder, tool: str, args: dict[str, Any], *, after_posts: int
) -> float:
    """Start ``tool``, cancel the calling task once the upstream saw ``after_posts`` run POSTs
    (or, with 0, once it saw any request after the call began); return the cancel time."""
    seen = len(recorder.started)
    async with anyio.create_task_group() as tg:

        async def call() -> None:
            await client.call_tool(tool, args)
            pytest.fail(f"{tool} finished before it could be cancelled")

        tg.start_soon(call)
        if after_posts:
            await recorder.wait_for_posts(after_posts)
        else:
            with anyio.fail_after(30):
                while len(recorder.started) <= seen + 1:
                    await recorder.arrived.wait()
        tg.cancel_scope.cancel()
    return anyio.current_time()


async def _quiet_after(recorder: Recorder, since: float, *, posts_only: bool) -> list[tuple[float, str, str]]:
    """Requests that started more than GRACE_S after ``since``, watched until since + 2 x GRACE_S."""
    with anyio.move_on_after(2 * GRACE_S):
        while True:
            await recorder.arrived.wait()
    late = [r for r in recorder.started if r[0] > since + GRACE_S]
    return [r for r in late if r[1] == "POST"] if posts_only else late


@MODES
async def test_a_cancelled_add_runs_sends_no_more_run_posts_and_repeating_it_lands_each_input_once(
    tmp_path: Path, mode: str
) -> None:
    settings = api_settings(tmp_path, chunk_size=1, submit_concurrency=1, settle_seconds=0.05)
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=6, faults=Faults(latency_ms=(150.0, 150.0))))
    recorder = Recorder(sandbox.app)
    inputs = [f"Cancelled company {i}" for i in range(40)]
    args = {"task_group_id": "", "inputs": inputs}
    async with sandbox, recorded_client(settings, sandbox, recorder, mode) as client:
        gid = data_of(await client.call_tool("create_task_group", {}))["task_group_id"]
        args["task_group_id"] = gid
        cancelled_at = await _cancel_midway(client, recorder, "add_runs", args, after_posts=3)
        late = await _quiet_after(recorder, cancelled_at, posts_only=True)
        assert not late, f"{len(late)} run POSTs started more than {GRACE_S} s after the cancel"
        assert len(recorder.posts()) < len(inputs)
        sandbox.set_faults(Faults())
        with anyio.fail_after(BOUND_S):
            again = data_of(await client.call_tool("add_runs", args))
    assert again["failed_total"] == 0
    cids = runs_in(sandbox, gid)
    assert len(cids) == 40 and len(set(cids)) == 40, "after a cancel and a repeat: one run per input"
    sandbox.close()


@MODES
async def test_a_cancelled_wait_for_task_group_stops_reading_upstream_and_the_server_stays_usable(
    tmp_path: Path, mode: str
) -> None:
    settings = api_settings(tmp_path)
    sandbox = Sandbox(SandboxConfig(speed=0.01, seed=8))  # runs take hours: the wait cannot finish
    recorder = Recorder(sandbox.app)
    async with sandbox, recorded_client(settings, sandbox, recorder, mode) as client:
        gid = data_of(await client.call_tool("create_task_group", {}))["task_group_id"]
        data_of(await client.call_tool("add_runs", {"task_group_id": gid, "inputs": ["slow a", "slow b"]}))
        cancelled_at = await _cancel_midway(
            client,
            recorder,
            "wait_for_task_group",
            {"task_group_id": gid, "timeout_seconds": 40},
            after_posts=0,
        )
        late = await _quiet_after(recorder, cancelled_at, posts_only=False)
        assert not late, f"the cancelled wait kept reading upstream: {late[:3]}"
        with anyio.fail_after(10):
            status = data_of(await client.call_tool("get_task_group_status", {"task_group_id": gid}))
    assert status["total"] == 2
    sandbox.close()


async def test_notifications_cancelled_over_stdio_stops_an_add_runs_and_the_process_stays_usable(
    tmp_path: Path,
) -> None:
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, seed=9, faults=Faults(latency_ms=(150.0, 150.0))))
    recorder = Recorder(sandbox.app)
    inputs = [f"Stdio company {i}" for i in range(40)]
    async with sandbox, serving(recorder) as base:
        env = stdio_env(
            tmp_path,
            PARALLEL_API_KEY="adv-stdio-key-0123456789",
            PARALLEL_BASE_URL=base,
            TASKGROUP_MCP_CHUNK_SIZE="1",
            TASKGROUP_MCP_SUBMIT_CONCURRENCY="1",
            TASKGROUP_MCP_SETTLE_SECONDS="0.05",
            TASKGROUP_MCP_SPEND_LIMIT_USD="1000",
        )
        async with raw_stdio(tmp_path, env, sandbox_flag=False) as raw:
            with anyio.fail_after(120):
                await raw.initialize()
                created = await raw.request(1, "tools/call", {"name": "create_task_group", "arguments": {}})
                gid = created["result"]["structuredContent"]["task_group_id"]
                args = {"task_group_id": gid, "inputs": inputs}
                await raw.send(
                    {
                        "jsonrpc": "2.0",
                        "id": 2,
                        "method": "tools/call",
                        "params": {"name": "add_runs", "arguments": args},
                    }
                )
                await recorder.wait_for_posts(3)
                await raw.send(
                    {
                        "jsonrpc": "2.0",
                        "method": "notifications/cancelled",
                        "params": {"requestId": 2, "reason": "user"},
                    }
                )
                cancelled_at = anyio.current_time()
                late = await _quiet_after(recorder, cancelled_at, posts_only=True)
                assert not late, (
                    f"{len(late)} run POSTs started more than {GRACE_S} s after notifications/cancelled"
                )
                assert (await raw.request(3, "ping"))["result"] == {}
                sandbox.set_faults(Faults())
                again = await raw.request(4, "tools/call", {"name": "add_runs", "arguments": args})
    assert again["result"].get("isError") is not True, again
    cids = runs_in(sandbox, gid)
    assert len(cids) == 40 and len(set(cids)) == 40
    sandbox.close()
