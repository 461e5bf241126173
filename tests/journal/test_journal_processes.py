"""The journal between real processes: two servers making the same add_runs at the same moment
(sharing one SQLite file, or one PostgreSQL) against a faulty API add each input exactly once;
a server restarted inside the API's read lag adds nothing twice, whether its first call answered
or it was killed mid-call (both restart tests fail with TASKGROUP_MCP_STATE=off: inputs added twice)."""

from __future__ import annotations

import contextlib
import json
import secrets
from collections import Counter
from typing import Any

import anyio
import httpx2
import pytest
from procs import API_KEY, base_env, data, kill_marked, sandbox_process, server_process

from taskgroup_mcp.config import Settings
from taskgroup_mcp.journal import open_journal

pytestmark = pytest.mark.anyio

FAULTS = "drop_after_commit=0.3,fail_before_commit=0.2,throttle=0.1,retry_after=0.05,commit_delay_ms=300"


async def _runs_by_cid(api: str, group_id: str) -> Counter[str]:
    """Each client id's number of runs in the group, read straight from the API."""
    found: Counter[str] = Counter()
    async with (
        httpx2.AsyncClient(base_url=api, headers={"x-api-key": API_KEY}, timeout=30) as http,
        http.stream("GET", f"/v1/tasks/groups/{group_id}/runs") as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                event = json.loads(line[5:])
                run = event.get("run") or event
                cid = (run.get("metadata") or {}).get("mcp_cid")
                if cid:
                    found[cid] += 1
    return found


async def _new_group(api: str) -> str:
    async with httpx2.AsyncClient(base_url=api, headers={"x-api-key": API_KEY}, timeout=30) as http:
        response = await http.post("/v1/tasks/groups", json={})
        response.raise_for_status()
        return str(response.json()["taskgroup_id"])


def _journal_env(kind: str, request: pytest.FixtureRequest, api: str, **extra: str) -> dict[str, str]:
    env = base_env(PARALLEL_API_KEY=API_KEY, PARALLEL_BASE_URL=api, TASKGROUP_MCP_SETTLE_SECONDS="0.6")
    env.update(extra)
    if kind == "postgresql":
        env["TASKGROUP_MCP_DATABASE_URL"] = request.getfixturevalue("postgres_database")()
    return env


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_two_servers_making_the_same_add_runs_at_once_under_faults_add_each_input_once(
    kind: str, request: pytest.FixtureRequest
) -> None:
    inputs = [f"Company {i}" for i in range(40)]
    with sandbox_process("--speed", "2000", "--seed", "5", "--faults", FAULTS) as api:
        env = _journal_env(kind, request, api)
        gid = await _new_group(api)
        args: dict[str, Any] = {"task_group_id": gid, "inputs": inputs, "output": "Founding year"}
        answers: list[dict[str, Any]] = []
        async with server_process(env) as one, server_process(env) as two:
            ready = anyio.Event()

            async def call(client: Any) -> None:
                await ready.wait()
                answers.append(data(await client.call_tool("add_runs", args)))

            with anyio.fail_after(120):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(call, one)
                    tg.start_soon(call, two)
                    await anyio.sleep(0.05)
                    ready.set()
        await anyio.sleep(0.5)  # past the commit delay: every committed run is listed
        runs = await _runs_by_cid(api, gid)
    assert len(runs) == len(inputs), f"{len(inputs) - len(runs)} inputs missing"
    assert [c for c, n in runs.items() if n > 1] == [], "an input was added twice"
    assert sorted(a["added"] + a["already_present"] for a in answers) == [40, 40]
    assert sum(a["added"] for a in answers) <= 40


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_server_restarted_inside_the_read_lag_repeats_the_call_and_adds_nothing_twice(
    kind: str, request: pytest.FixtureRequest
) -> None:
    inputs = ["Acme", "Hooli", "Initech", "Acme"]
    with sandbox_process("--speed", "2000", "--seed", "6", "--faults", "commit_delay_ms=5000") as api:
        # A settle window shorter than the lag: the first call answers before its runs can be read
        # (with the window covering the lag, its audit waited them out and a restart proved nothing).
        env = _journal_env(kind, request, api, TASKGROUP_MCP_SETTLE_SECONDS="1")
        gid = await _new_group(api)
        args = {"task_group_id": gid, "inputs": inputs}
        with anyio.fail_after(60):
            async with server_process(env) as first:
                answer = data(await first.call_tool("add_runs", args))
            async with server_process(env) as restarted:  # a new process, still inside the lag
                again = data(await restarted.call_tool("add_runs", args))
        await anyio.sleep(5.2)
        runs = await _runs_by_cid(api, gid)
    assert (answer["added"], answer["failed_total"]) == (4, 0), answer
    assert (again["added"], again["already_present"]) == (0, 4), again
    assert sorted(runs.values()) == [1, 1, 1, 1], "each input once, even after the restart"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_group_created_by_one_server_and_filled_by_another_is_not_refilled_by_the_first(
    kind: str, request: pytest.FixtureRequest
) -> None:
    inputs = ["Acme", "Hooli", "Initech"]
    with sandbox_process("--speed", "2000", "--seed", "7") as api:
        env = _journal_env(kind, request, api)
        with anyio.fail_after(60):
            async with server_process(env) as creator, server_process(env) as other:
                gid = data(await creator.call_tool("create_task_group", {}))["task_group_id"]
                args = {"task_group_id": gid, "inputs": inputs}
                first = data(await other.call_tool("add_runs", args))
                again = data(await creator.call_tool("add_runs", args))  # it created the group, empty then
        await anyio.sleep(0.2)
        runs = await _runs_by_cid(api, gid)
    assert first["added"] == 3, first
    assert (again["added"], again["already_present"]) == (0, 3), again
    assert sorted(runs.values()) == [1, 1, 1], "each input once"


async def _until_written_ahead(env: dict[str, str], api: str, group_id: str) -> None:
    """Until the journal (the servers' database) holds client ids sent to the group."""
    settings = Settings.from_env(env)
    journal = open_journal(settings)
    assert journal is not None
    await journal.start()
    try:
        for _ in range(1_200):  # the database is polled: no event crosses processes
            if await journal.group_sent_ids(settings.parallel_base_url, group_id):
                return
            await anyio.sleep(0.05)
        raise AssertionError("the first server wrote no client id ahead within a minute")
    finally:
        await journal.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_server_killed_inside_the_read_lag_and_started_again_adds_nothing_twice(
    kind: str, request: pytest.FixtureRequest
) -> None:
    inputs = ["Acme", "Hooli", "Initech", "Umbrella"]
    with sandbox_process("--speed", "2000", "--seed", "8", "--faults", "commit_delay_ms=5000") as api:
        env = _journal_env(kind, request, api, TASKGROUP_MCP_SETTLE_SECONDS="7")  # covers the lag
        gid = await _new_group(api)
        args = {"task_group_id": gid, "inputs": inputs}
        marker = secrets.token_hex(8)

        async def call_until_killed(client: Any) -> None:
            with contextlib.suppress(Exception):  # its connection breaks when it is killed
                await client.call_tool("add_runs", args)

        with anyio.fail_after(90):
            async with (
                server_process({**env, "TEST_PROCESS_MARK": marker}) as first,
                anyio.create_task_group() as tg,
            ):
                tg.start_soon(call_until_killed, first)
                await _until_written_ahead(env, api, gid)
                await anyio.sleep(0.5)  # the request goes out right after its ids are written
                assert kill_marked(marker) == 1, "the first server was not found to kill"
            async with server_process(env) as restarted:  # a new process, inside the 5 s lag
                again = data(await restarted.call_tool("add_runs", args))
        await anyio.sleep(5.2)
        runs = await _runs_by_cid(api, gid)
    assert again["failed_total"] == 0, again
    assert sorted(runs.values()) == [1, 1, 1, 1], "each input once, though the first server died mid-call"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_the_spend_limit_counts_what_another_server_process_spent_within_the_window(
    kind: str, request: pytest.FixtureRequest
) -> None:
    # 6 runs on "core" cost $0.15 each time: one batch fits a $0.25 limit, two do not.
    limits = {"TASKGROUP_MCP_SPEND_LIMIT_USD": "0.25", "TASKGROUP_MCP_DEFAULT_PROCESSOR": "core"}
    with sandbox_process("--speed", "2000", "--seed", "9") as api:
        env = _journal_env(kind, request, api, **limits)
        one, two = await _new_group(api), await _new_group(api)
        with anyio.fail_after(60):
            async with server_process(env) as first:
                spent = data(
                    await first.call_tool("add_runs", {"task_group_id": one, "inputs": list("abcdef")})
                )
            async with server_process(env) as second:  # one-shot clients: a new process per call
                dry = data(
                    await second.call_tool(
                        "add_runs", {"task_group_id": two, "inputs": list("ghijkl"), "dry_run": True}
                    )
                )
                refused = await second.call_tool("add_runs", {"task_group_id": two, "inputs": list("ghijkl")})
    assert spent["added"] == 6, spent
    assert "confirm_cost_usd" in str(dry.get("next_step")), dry
    assert refused.is_error, "the second process knew nothing of the first one's spend"
    text = refused.content[0].text  # type: ignore[union-attr]
    assert "already spent $0.15" in text and "confirm_cost_usd=0.15" in text, text
