"""The group tools: create one, read its status, list the groups this server knows."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from .._answer import answer
from .._app import app_state, client_for, journaled
from .._definition import ADDS, READ_ONLY, tool
from .._groups import DEFAULT_GROUPS, MAX_GROUPS, list_groups_page
from .._journaling import clean_label, group_metadata
from .._models import GroupCreated, GroupsPage, GroupStatus
from .._params import GroupId, Label, MetadataArg
from .._status import summarize


@tool(title="Create task group", annotations=ADDS)
async def create_task_group(
    ctx: Context[Any, Any],
    label: Label = None,
    metadata: MetadataArg = None,
) -> Annotated[CallToolResult, GroupCreated]:
    """Create an empty task group for a large job, then add_runs (a small job: fan_out). Free; runs
    are billed when added."""
    state = app_state(ctx)
    client = client_for(ctx)
    name = clean_label(label)
    group = await client.create_task_group(metadata=group_metadata(metadata, name))
    await journaled(ctx).created(group, name)
    gid = group.taskgroup_id
    return answer(
        GroupCreated(
            task_group_id=gid,
            created_at=group.created_at,
            next_step=f"Call add_runs(task_group_id='{gid}', inputs=[...]); try 3-5 inputs first.",
            notice=state.notice,
        )
    )


@tool(title="Task group status", annotations=READ_ONLY)
async def get_task_group_status(
    ctx: Context[Any, Any], task_group_id: GroupId
) -> Annotated[CallToolResult, GroupStatus]:
    """A group's status: runs by status, active, percent done, elapsed, rough ETA. To wait, use
    wait_for_task_group, not polling."""
    state = app_state(ctx)
    group = await client_for(ctx).get_task_group(task_group_id)
    await journaled(ctx).seen(group)
    return answer(summarize(group, notice=state.notice))


@tool(title="List task groups", annotations=READ_ONLY)
async def list_task_groups(
    ctx: Context[Any, Any],
    label: Annotated[
        str | None, Field(max_length=120, description="only labels containing this text")
    ] = None,
    active: Annotated[bool | None, Field(description="true: running only; false: finished only")] = None,
    cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Field(ge=1, le=MAX_GROUPS, description="groups per page")] = DEFAULT_GROUPS,
) -> Annotated[CallToolResult, GroupsPage]:
    """The task groups created or read through this server, newest first (label, run counts,
    estimated cost): find a group id from an earlier conversation."""
    state = app_state(ctx)
    client = client_for(ctx) if state.client is not None else None
    page = await list_groups_page(
        client,
        journaled(ctx),
        label=label,
        active=active,
        cursor=cursor,
        limit=limit,
        notice=state.notice,
    )
    return answer(page)
