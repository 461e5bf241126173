"""Following a group: wait_for_task_group, a bounded wait with progress."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from .._answer import answer
from .._app import app_state, client_for, long_call
from .._definition import READ_ONLY, tool
from .._follow import follow_group
from .._models import WaitResult
from .._params import GroupId
from ._call import reporter


@tool(title="Wait for task group", annotations=READ_ONLY)
async def wait_for_task_group(
    ctx: Context[Any, Any],
    task_group_id: GroupId,
    timeout_seconds: Annotated[
        float | None,
        Field(gt=0, description="return within this many seconds: default 45, at most 50"),
    ] = None,
    until: Annotated[
        Literal["done", "change"],
        Field(description="done: every run finished; change: one more run finished"),
    ] = "done",
) -> Annotated[CallToolResult, WaitResult]:
    """Wait for a group's runs, with progress, up to timeout_seconds: 45 s by default, never more
    than 50 (less if your client gives up sooner).

    Still running: call again with the same id; never create a new group (that pays twice)."""
    state = app_state(ctx)
    wanted = state.settings.wait_default_seconds if timeout_seconds is None else timeout_seconds
    timeout = min(wanted, state.settings.wait_max_seconds)
    client = client_for(ctx)
    with long_call(ctx, "wait_for_task_group"):
        result = await follow_group(
            client, task_group_id, timeout=timeout, until=until, cursors=state.event_cursors,
            report=reporter(ctx), notice=state.notice, heartbeat=state.settings.progress_interval_seconds,
        )  # fmt: skip
    return answer(result)
