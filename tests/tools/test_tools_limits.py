"""Waits and result streams are bounded per caller and in total; a refusal is immediate and says why."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import anyio
import pytest
from mcp.server.mcpserver.exceptions import ToolError

from taskgroup_mcp.tools._app import CallerSlots


def test_a_caller_past_its_bound_is_refused_while_others_still_get_slots() -> None:
    slots = CallerSlots(per_caller=2, total=3)
    with ExitStack() as held:
        held.enter_context(slots.hold("token:token-1", "wait_for_task_group"))
        held.enter_context(slots.hold("token:token-1", "wait_for_task_group"))
        with pytest.raises(ToolError, match="this caller already has 2 waits"):
            held.enter_context(slots.hold("token:token-1", "wait_for_task_group"))
        held.enter_context(slots.hold("key:ab12", "export_task_group_results"))
        with pytest.raises(ToolError, match=r"limit of 3 waits .* for all callers") as total:
            held.enter_context(slots.hold("local", "fan_out"))
        assert "fan_out again" in str(total.value)
        assert slots.in_progress == 3
    assert slots.in_progress == 0
    with slots.hold("local", "fan_out"):
        assert slots.in_progress == 1


def test_a_slot_is_given_back_when_the_call_fails() -> None:
    slots = CallerSlots(per_caller=1, total=1)
    with pytest.raises(RuntimeError), slots.hold("local", "get_task_group_results"):
        raise RuntimeError("upstream broke")
    with slots.hold("local", "get_task_group_results"):
        assert slots.in_progress == 1


@pytest.mark.anyio
async def test_in_one_session_a_wait_in_progress_takes_the_only_slot_and_short_calls_still_answer(
    sandbox: Any,
) -> None:
    started = anyio.Event()

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        started.set()

    # speed 1: the runs take their documented 10-60 s, far longer than the wait.
    async with sandbox(speed=1.0, max_waits_per_caller=1, progress_interval_seconds=0.1) as (client, _, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        await client.call_tool("add_runs", {"task_group_id": gid, "inputs": ["slow one", "slow two"]})
        refused: dict[str, Any] = {}
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                args = {"task_group_id": gid, "timeout_seconds": 3.0}
                tg.start_soon(
                    lambda: client.call_tool("wait_for_task_group", args, progress_callback=on_progress)
                )
                await started.wait()
                for tool in ("wait_for_task_group", "get_task_group_results", "read_group_rows"):
                    refused[tool] = await client.call_tool(tool, {"task_group_id": gid})
                status = await client.call_tool("get_task_group_status", {"task_group_id": gid})
            after = await client.call_tool("get_task_group_results", {"task_group_id": gid})
    for tool, result in refused.items():
        assert result.is_error, tool
        assert "Too many waits at once" in result.content[0].text and tool in result.content[0].text
    assert not status.is_error
    assert not after.is_error, "the slot is free again once the wait returned"
