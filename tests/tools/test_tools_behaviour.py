"""Waiting inside a bounded window, local input files, per-request keys, resources' errors."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from hand_clock import HandClock, run_on
from mcp import Client
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from pydantic import SecretStr

from taskgroup_mcp.client import Backoff, ParallelClient
from taskgroup_mcp.commands._wiring import SANDBOX_BASE_URL
from taskgroup_mcp.config import Settings
from taskgroup_mcp.sandbox import Faults, Sandbox, SandboxConfig
from taskgroup_mcp.tools import NO_KEY_MESSAGE, _follow, build_server
from taskgroup_mcp.tools._app import AppState, client_for
from taskgroup_mcp.tools._sanitize import SANDBOX_NOTICE

pytestmark = pytest.mark.anyio


async def test_a_wait_on_slow_runs_returns_within_its_window_with_progress_heartbeats(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The wait's window and heartbeats run on a clock the test moves (to each next wake-up once
    # everything else waits): the beats counted are the schedule's, not what a loaded machine let
    # through in a second of real time.
    clock = HandClock()
    monkeypatch.setattr(_follow, "clock", clock)
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    # speed 1: a lite run takes its documented 10-60 s, far longer than the wait.
    async with sandbox(speed=1.0, progress_interval_seconds=0.125) as (client, _, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        await client.call_tool("add_runs", {"task_group_id": gid, "inputs": ["slow one", "slow two"]})

        async def wait() -> Any:
            return await client.call_tool(
                "wait_for_task_group",
                {"task_group_id": gid, "timeout_seconds": 1.0},
                progress_callback=on_progress,
            )

        with anyio.fail_after(30):
            result = await run_on(clock, wait)
        data = result.structured_content
        assert not result.is_error and data["timed_out"] is True and data["status"]["active"] is True
        assert "same id" in data["next_step"] and "do not create a new group" in data["next_step"]
        assert clock.now() == 0.9 and data["waited_s"] == 0.9  # the window (1 s less a tenth) held
        # The start and a beat every 0.125 s of the 0.9 s window (and the stream's opening status).
        assert len(progress) >= 8 and all(p[1] == 2 for p in progress)
        assert progress[0][2] == "0/2 runs done; group running"


async def test_the_wait_window_is_capped_by_the_settings(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = HandClock()  # the window on a clock the test moves: what it measures is the window's
    monkeypatch.setattr(_follow, "clock", clock)
    async with sandbox(speed=1.0, wait_max_seconds=0.5) as (client, _, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        await client.call_tool("add_runs", {"task_group_id": gid, "inputs": ["slow"]})

        async def wait() -> Any:
            return await client.call_tool(
                "wait_for_task_group", {"task_group_id": gid, "timeout_seconds": 45}
            )

        with anyio.fail_after(30):
            result = await run_on(clock, wait)
        assert result.structured_content["waited_s"] < 1.0
        assert result.structured_content["waited_s"] == 0.45  # 0.5 s, less a tenth kept for the last read


async def test_the_default_wait_comes_from_the_settings(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = HandClock()
    monkeypatch.setattr(_follow, "clock", clock)
    async with sandbox(speed=1.0, wait_default_seconds=0.5) as (client, _, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        await client.call_tool("add_runs", {"task_group_id": gid, "inputs": ["slow"]})

        async def wait() -> Any:
            return await client.call_tool("wait_for_task_group", {"task_group_id": gid})

        with anyio.fail_after(30):
            result = await run_on(clock, wait)
        assert result.structured_content["timed_out"] is True and result.structured_content["waited_s"] < 1.0
        assert result.structured_content["waited_s"] == 0.45


async def test_inputs_come_from_a_local_jsonl_or_csv_file(sandbox: Any, tmp_path: Path) -> None:
    jsonl = tmp_path / "in.jsonl"
    await anyio.Path(jsonl).write_text('"first question"\n{"company": "Acme"}\n\n', encoding="utf-8")
    csv_file = tmp_path / "in.csv"
    await anyio.Path(csv_file).write_text("company,country\nGlobex,US\nInitech,US\n", encoding="utf-8")
    async with sandbox() as (client, _, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        a = await client.call_tool("add_runs", {"task_group_id": gid, "inputs_file": str(jsonl)})
        b = await client.call_tool("add_runs", {"task_group_id": gid, "inputs_file": str(csv_file)})
        assert a.structured_content["added"] == 2 and b.structured_content["added"] == 2
        missing = await client.call_tool(
            "add_runs", {"task_group_id": gid, "inputs_file": str(tmp_path / "no.csv")}
        )
        assert missing.is_error and "inputs_file" in missing.content[0].text


async def test_reading_local_files_can_be_turned_off(sandbox: Any, tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    await anyio.Path(path).write_text(json.dumps(["q"]), encoding="utf-8")
    async with sandbox(allow_inputs_file=False) as (client, _, _):
        result = await client.call_tool("add_runs", {"task_group_id": "tgrp_x", "inputs_file": str(path)})
        assert result.is_error and "inputs_file: reading local files is turned off" in result.content[0].text


async def test_a_bad_override_index_and_metadata_name_their_fields(sandbox: Any) -> None:
    async with sandbox() as (client, backend, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        result = await client.call_tool(
            "add_runs",
            {
                "task_group_id": gid,
                "inputs": ["a", "b"],
                "runs": [{"index": 5, "processor": "core"}],
                "metadata": {"a_key_longer_than_16": "v"},
            },
        )
        text = result.content[0].text
        assert result.is_error and "runs[0].index" in text and "metadata.a_key_longer_than_16" in text
        empty = await client.call_tool("add_runs", {"task_group_id": gid, "inputs": ["ok", "  ", {}]})
        assert empty.is_error and "inputs[1]: is empty" in empty.content[0].text
        assert "inputs[2]: is empty" in empty.content[0].text
        assert backend.sandbox.store.counts()[1] == 0


async def test_per_input_overrides_change_processor_and_output(sandbox: Any) -> None:
    async with sandbox() as (client, _, _):
        fan = await client.call_tool(
            "fan_out",
            {
                "inputs": ["plain", "structured"],
                "output": "one sentence",
                "metadata": {"batch": "b1"},
                "wait_seconds": 20,
            },
        )
        assert not fan.is_error
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        added = await client.call_tool(
            "add_runs",
            {
                "task_group_id": gid,
                "inputs": ["plain", "structured"],
                "output": "one sentence",
                "runs": [
                    {
                        "index": 1,
                        "processor": "base",
                        "output": {"type": "object", "properties": {"x": {"type": "string"}}},
                    }
                ],
                "dry_run": True,
            },
        )
        assert added.structured_content["estimate"]["by_processor"] == {"lite": 1, "base": 1}


async def test_the_server_says_when_it_serves_synthetic_data(tmp_path: Path) -> None:
    assert SANDBOX_NOTICE in (build_server(Settings(sandbox=True, export_dir=tmp_path)).instructions or "")
    assert SANDBOX_NOTICE not in (build_server(Settings(export_dir=tmp_path)).instructions or "")


async def test_resource_errors_name_what_is_wrong(sandbox: Any) -> None:
    async with sandbox() as (client, _, _):
        with pytest.raises(MCPError) as err:
            await client.read_resource("taskgroup://exports/nothing-here.csv")
        assert "export_task_group_results" in str(err.value)
        with pytest.raises(MCPError) as err:
            await client.read_resource("taskgroup://groups/tgrp_missing/status")
        assert "create_task_group" in str(err.value)


def _ctx(state: AppState, headers: dict[str, str] | None) -> Any:
    return SimpleNamespace(request_context=SimpleNamespace(lifespan_context=state), headers=headers)


async def test_a_per_request_key_comes_from_the_header_and_is_required_without_a_server_key() -> None:
    settings = Settings(per_request_api_key=True)
    async with ParallelClient.from_settings(settings) as base:
        state = AppState(settings=settings, client=base)
        tenant = client_for(_ctx(state, {"x-parallel-api-key": "tenant-key-123456"}))
        assert tenant is not base
        assert (
            client_for(_ctx(state, {"x-parallel-api-key": "tenant-key-123456"})) is tenant
        )  # one per account
        assert client_for(_ctx(state, {"x-parallel-api-key": "other-key-654321"})) is not tenant
        with pytest.raises(ToolError) as err:
            client_for(_ctx(state, {}))
        assert "X-Parallel-Api-Key" in str(err.value)
        keyed = state.settings.model_copy(
            update={"parallel_api_key": SecretStr("server-key-1234"), "per_request_api_key_fallback": True}
        )
        assert client_for(_ctx(AppState(settings=keyed, client=base), {})) is base


async def test_a_per_request_caller_without_a_key_is_refused_even_when_the_server_has_one() -> None:
    settings = Settings(per_request_api_key=True, parallel_api_key=SecretStr("server-key-1234"))
    async with ParallelClient.from_settings(settings) as base:
        state = AppState(settings=settings, client=base)
        for headers in ({}, None, {"x-parallel-api-key": ""}):
            with pytest.raises(ToolError) as err:
                client_for(_ctx(state, headers))
            assert "X-Parallel-Api-Key" in str(err.value) and "server-key" not in str(err.value)


async def test_without_any_key_the_helper_answers_with_the_setup_sentence() -> None:
    with pytest.raises(ToolError) as err:
        client_for(_ctx(AppState(settings=Settings(), client=None), None))
    assert str(err.value) == NO_KEY_MESSAGE


async def test_waiting_until_a_change_returns_once_a_run_finishes(sandbox: Any) -> None:
    async with sandbox(speed=20.0) as (client, _, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        await client.call_tool("add_runs", {"task_group_id": gid, "inputs": [f"q{i}" for i in range(6)]})
        with anyio.fail_after(15):
            result = await client.call_tool(
                "wait_for_task_group", {"task_group_id": gid, "timeout_seconds": 10, "until": "change"}
            )
        data = result.structured_content
        assert data["finished_while_waiting"] >= 1 and data["timed_out"] is False


async def test_a_retry_says_when_forwarded_headers_could_not_be_carried_over(sandbox: Any) -> None:
    server = {
        "url": "http://127.0.0.1:9/mcp",
        "name": "crm",
        "headers": {"Authorization": "Bearer tok-123456"},
    }
    async with sandbox(fail_rate=1.0) as (client, _, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        await client.call_tool(
            "add_runs", {"task_group_id": gid, "inputs": ["a", "b"], "mcp_servers": [server]}
        )
        with anyio.fail_after(30):
            while (await client.call_tool("wait_for_task_group", {"task_group_id": gid})).structured_content[
                "status"
            ]["active"]:
                pass
        bare = (await client.call_tool("retry_failed_runs", {"task_group_id": gid})).structured_content
        assert bare["added"] == 2 and "without their headers" in bare["notes"][0]
        again = await client.call_tool("retry_failed_runs", {"task_group_id": gid, "mcp_servers": [server]})
        data = again.structured_content
        assert not again.is_error and "notes" not in data and data["failed_found"] >= 2


async def test_a_slow_submission_keeps_sending_progress(sandbox: Any) -> None:
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    # Every add-runs request takes 600 ms; progress is due every 100 ms.
    async with sandbox(faults=Faults(latency_ms=(600.0, 600.0)), progress_interval_seconds=0.1) as (
        client,
        _,
        _,
    ):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        with anyio.fail_after(15):
            result = await client.call_tool(
                "add_runs", {"task_group_id": gid, "inputs": ["a", "b", "c"]}, progress_callback=on_progress
            )
        assert not result.is_error and result.structured_content["added"] == 3
        assert len(progress) >= 4 and progress[0] == (0.0, 3.0, "submitting 3 inputs")


async def test_waiting_on_an_empty_group_says_to_add_runs(sandbox: Any) -> None:
    async with sandbox() as (client, _, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        with anyio.fail_after(5):
            result = await client.call_tool("wait_for_task_group", {"task_group_id": gid})
        assert "add_runs" in result.structured_content["next_step"]


async def test_a_fan_out_that_fails_after_creating_its_group_names_the_group_to_continue_with(
    tmp_path: Path,
) -> None:
    # Every add-runs request fails before committing; a client with quick retries gives up fast.
    sandbox = Sandbox(SandboxConfig(speed=2_000.0, faults=Faults(fail_before_commit=1.0)))
    settings = Settings(sandbox=True, export_dir=tmp_path)

    def factory() -> ParallelClient:
        return ParallelClient(
            api_key="k-123456",
            base_url=SANDBOX_BASE_URL,
            transport=sandbox.transport,
            backoff=Backoff(base=0.001, cap=0.005),
            max_attempts_per_chunk=2,
            settle_seconds=0.0,
        )

    async with sandbox, Client(build_server(settings, factory)) as client:
        with anyio.fail_after(30):
            result = await client.call_tool("fan_out", {"inputs": ["a", "b"], "wait_seconds": 0})
        text = result.content[0].text
        assert result.is_error and "Do not call fan_out again" in text and "tgrp_" in text
        assert sandbox.store.counts() == (1, 0)
    sandbox.close()


async def test_a_failed_export_leaves_no_file_behind(sandbox: Any, tmp_path: Path) -> None:
    async with sandbox() as (client, backend, _):
        result = await client.call_tool("export_task_group_results", {"task_group_id": "tgrp_missing"})
        assert result.is_error and "create_task_group" in result.content[0].text
        leftovers = [p.name async for p in anyio.Path(backend.settings.export_dir).iterdir()]
        assert leftovers == []


async def test_a_repeated_identical_fan_out_reuses_its_group_and_adds_nothing_twice(sandbox: Any) -> None:
    # A client that timed out and retried the same call must not pay for every run again.
    call = {"inputs": ["alpha", "beta", "gamma"], "output": "a one-line answer", "wait_seconds": 0}
    async with sandbox() as (client, backend, _):
        first = (await client.call_tool("fan_out", call)).structured_content
        second = (await client.call_tool("fan_out", call)).structured_content
        other = (await client.call_tool("fan_out", {**call, "inputs": ["delta"]})).structured_content
        assert backend.sandbox is not None
        groups, runs = backend.sandbox.store.counts()
    assert first["reused_group"] is False and first["added"]["added"] == 3
    assert second["reused_group"] is True and second["task_group_id"] == first["task_group_id"]
    assert second["added"]["added"] == 0 and second["added"]["already_present"] == 3
    assert other["reused_group"] is False and other["task_group_id"] != first["task_group_id"]
    assert (groups, runs) == (2, 4)


@pytest.mark.parametrize("after_date", ["yesterday", "2025-13-01", "20250101", "2025-01-01T00:00:00"])
async def test_an_after_date_that_is_not_yyyy_mm_dd_is_an_argument_error_and_adds_nothing(
    sandbox: Any, after_date: str
) -> None:
    async with sandbox() as (client, backend, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        result = await client.call_tool(
            "add_runs", {"task_group_id": gid, "inputs": ["a"], "source_policy": {"after_date": after_date}}
        )
        assert backend.sandbox is not None
        runs = backend.sandbox.store.counts()[1]
    text = result.content[0].text
    assert result.is_error and "source_policy.after_date" in text and "YYYY-MM-DD" in text
    assert after_date not in text and runs == 0


async def test_an_after_date_as_yyyy_mm_dd_is_forwarded(sandbox: Any) -> None:
    async with sandbox() as (client, _, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        result = await client.call_tool(
            "add_runs", {"task_group_id": gid, "inputs": ["a"], "source_policy": {"after_date": "2025-01-31"}}
        )
    assert not result.is_error and result.structured_content["added"] == 1
