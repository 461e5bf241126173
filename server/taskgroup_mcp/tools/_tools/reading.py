"""Reading results: a page of a group, one run in full, the whole group as a file."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ResourceLink
from pydantic import Field

from .._answer import answer
from .._app import app_state, caller_tenant, client_for, journaled, long_call
from .._definition import ADDS, READ_ONLY, tool
from .._export import export_group
from .._models import ExportResult, ResultsPage, RunDetail
from .._params import ID_PATTERN, BasisArg, GroupId, StatusFilter
from .._read import (
    DEFAULT_LIMIT,
    DEFAULT_MAX_TOKENS,
    MAX_LIMIT,
    MAX_MAX_TOKENS,
    MIN_MAX_TOKENS,
    results_page,
    run_detail,
)
from ._call import page_budget


@tool(title="Task group results", annotations=READ_ONLY)
async def get_task_group_results(
    ctx: Context[Any, Any],
    task_group_id: GroupId,
    cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="runs per page")] = DEFAULT_LIMIT,
    status: StatusFilter = None,
    fields: Annotated[list[str] | None, Field(description="only these top-level output fields")] = None,
    include_basis: BasisArg = "none",
    include_input: Annotated[bool, Field(description="each run's full input, not a short key")] = False,
    max_tokens: Annotated[
        int,
        Field(
            ge=MIN_MAX_TOKENS,
            le=MAX_MAX_TOKENS,
            description="page budget in tokens (holds in any client)",
        ),
    ] = DEFAULT_MAX_TOKENS,
) -> Annotated[CallToolResult, ResultsPage]:
    """One page of a group's results, keyed by input, within max_tokens. Continue with next_cursor
    until it is null; for a large group use export_task_group_results."""
    state = app_state(ctx)
    client = client_for(ctx)
    with long_call(ctx, "get_task_group_results"):
        budget = page_budget(ctx, max_tokens)
        page = await results_page(
            client, task_group_id, cursor=cursor, limit=limit, status=status, fields=fields,
            include_basis=include_basis, include_input=include_input, max_tokens=budget, notice=state.notice,
        )  # fmt: skip
    return answer(page, max_tokens=budget)


@tool(title="One task run", annotations=READ_ONLY)
async def get_task_run(
    ctx: Context[Any, Any],
    run_id: Annotated[str, Field(pattern=ID_PATTERN, description="trun_...")],
    include_basis: Annotated[
        Literal["none", "low_confidence", "all"],
        Field(description="citations and reasoning (low_confidence: those fields only)"),
    ] = "all",
    include_tool_calls: Annotated[bool, Field(description="the run's MCP tool calls too")] = False,
) -> Annotated[CallToolResult, RunDetail]:
    """One run in full: status, output and its basis (citations)."""
    state = app_state(ctx)
    detail = await run_detail(
        client_for(ctx), run_id, include_basis=include_basis, include_tool_calls=include_tool_calls,
        max_tokens=MAX_MAX_TOKENS, notice=state.notice,
    )  # fmt: skip
    return answer(detail, max_tokens=MAX_MAX_TOKENS)


@tool(title="Export results", annotations=ADDS)
async def export_task_group_results(
    ctx: Context[Any, Any],
    task_group_id: GroupId,
    format: Annotated[Literal["jsonl", "csv"], Field(description="jsonl (an object per run) or csv")] = "csv",
    include_basis: BasisArg = "none",
) -> Annotated[CallToolResult, ExportResult]:
    """Write the whole group to a JSONL or CSV file on the server, linked as taskgroup://exports/...,
    with the inputs present twice or missing."""
    state = app_state(ctx)
    client = client_for(ctx)
    with long_call(ctx, "export_task_group_results"):
        result = await export_group(
            client, task_group_id, export_dir=state.settings.export_dir, fmt=format,
            include_basis=include_basis, notice=state.notice, tenant=caller_tenant(ctx),
            sent=await journaled(ctx).sent_ids(task_group_id),
        )  # fmt: skip
    link = ResourceLink(
        type="resource_link",
        uri=result.uri,
        name=result.path.rsplit("/", 1)[-1],
        mime_type="text/csv" if format == "csv" else "application/jsonl",
        size=result.bytes,
    )
    return answer(result, extra=[link])
