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
    """Create an empty task group: a container for many research runs that share one status.

    Use it for a large job, then add_runs. For a small job, fan_out does everything in one call.
    Creating a group costs nothing; runs are billed when added."""
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
    """A group's status in brief: runs by status, active or not, percent done, elapsed, rough ETA.

    Cheap and instant. To wait for progress use wait_for_task_group instead of polling this."""
    state = app_state(ctx)
    group = await client_for(ctx).get_task_group(task_group_id)
    await journaled(ctx).seen(group)
    return answer(summarize(group, notice=state.notice))


@tool(title="List your task groups", annotations=READ_ONLY)
async def list_task_groups(
    ctx: Context[Any, Any],
    label: Annotated[
        str | None, Field(max_length=120, description="only groups whose label contains this text")
    ] = None,
    active: Annotated[
        bool | None, Field(description="true: only running groups; false: only finished")
    ] = None,
    cursor: Annotated[str | None, Field(description="next_cursor from the previous page")] = None,
    limit: Annotated[
        int, Field(ge=1, le=MAX_GROUPS, description=f"at most this many groups (default {DEFAULT_GROUPS})")
    ] = DEFAULT_GROUPS,
) -> Annotated[CallToolResult, GroupsPage]:
    """Your task groups, newest first: label, created, run counts, active or not, estimated cost.

    Use it to find a group id from an earlier conversation (the API cannot list groups; this server
    remembers the ones created or read through it). Continue with next_cursor."""
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
