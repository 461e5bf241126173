"""Waits and result streams are bounded per caller and in total; a refusal is immediate and says why."""

from __future__ import annotations

from contextlib import ExitStack

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
