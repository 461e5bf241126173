"""The task-group explorer: an MCP App (extension ``io.modelcontextprotocol/ui``).

One self-contained HTML resource, ``ui://taskgroup/explorer`` (``explorer.html`` beside this
module, served as ``text/html;profile=mcp-app``), that a host renders in a sandboxed iframe when
``fan_out``, ``wait_for_task_group`` or ``get_task_group_results`` is called. The app reads the
group through two tools only the app sees (``_meta.ui.visibility = ["app"]``), with pages far
larger than a model's budget, so big groups never pass through the model.

Graceful degradation: a client that did not negotiate the extension gets exactly today's tool
results and does not see the app-only tools. With Apps the model gets a short summary of a
results page (a small sample and the cursor) while the app shows every row.
"""

from __future__ import annotations

import functools
import importlib.resources
import math
from typing import Annotated, Any, cast

from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID, Apps, client_supports_apps
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools.base import Tool
from mcp.types import CallToolResult
from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from taskgroup_mcp.client import RESERVED_METADATA_KEY

from ._answer import answer, closing
from ._app import app_state, client_for, long_call
from ._budget import text_tokens
from ._definition import READ_ONLY, tool
from ._models import GroupStatus
from ._params import GroupId
from ._read import DEFAULT_MAX_TOKENS, MAX_MAX_TOKENS, MIN_MAX_TOKENS
from ._sanitize import THIRD_PARTY_NOTICE
from ._shaping import decode_cursor, encode_cursor, json_text, read_page, shape_run, shrink
from ._spend import Estimate, estimate, refusal
from ._status import summarize

__all__ = [
    "APP_MIME_TYPE",
    "EXPLORER_URI",
    "EXTENSION_ID",
    "LINKED_TOOLS",
    "explorer_extension",
    "explorer_html",
    "explorer_middleware",
    "with_explorer",
]

EXPLORER_URI = "ui://taskgroup/explorer"
LINKED_TOOLS = ("fan_out", "wait_for_task_group", "get_task_group_results")
"""Model tools whose results the host shows in the explorer (``_meta.ui.resourceUri``)."""
SUMMARIZED_TOOLS = ("fan_out", "get_task_group_results")
"""Of those, the ones whose results pages the model gets as a short summary under Apps."""
ROWS_DEFAULT_LIMIT = 1_000
ROWS_MAX_LIMIT = 2_000
ROWS_BUDGET_CHARS = 2_000_000
"""A rows page stays under about 2 MB of JSON: large for a postMessage, tiny for a browser."""
APP_ONLY = {"ui": {"resourceUri": EXPLORER_URI, "visibility": ["app"]}}
"""The ``_meta`` of a tool only the app sees."""
SAMPLE_ITEMS = 5
SAMPLE_VALUE_CHARS = 120


@functools.cache
def explorer_html() -> str:
    """The app's HTML, shipped as package data (no Node needed to install or serve it)."""
    return (
        importlib.resources.files("taskgroup_mcp.tools").joinpath("explorer.html").read_text(encoding="utf-8")
    )


# ----------------------------------------------------------------------------- app-only tools


class ExplorerRows(BaseModel):
    task_group_id: str
    status: GroupStatus
    rows: list[dict[str, Any]] = Field(
        description="one record per run: key, run_id, status, output, error, input"
    )
    returned: int
    next_cursor: str | SkipJsonSchema[None] = None
    content_notice: str | SkipJsonSchema[None] = None
    notice: str | SkipJsonSchema[None] = None


class RetryEstimate(BaseModel):
    task_group_id: str
    failed: int = Field(description="failed runs whose inputs a retry would add again")
    estimate: Estimate
    needs_confirmation: bool = Field(description="above the server's spend limit: pass confirm_cost_usd")
    confirm_cost_usd: float = Field(description="the value to pass as confirm_cost_usd to retry_failed_runs")
    notice: str | SkipJsonSchema[None] = None


@tool(title="Explorer: read a group's rows", annotations=READ_ONLY, meta=APP_ONLY)
async def read_group_rows(
    ctx: Context[Any, Any],
    task_group_id: GroupId,
    cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
    limit: Annotated[
        int, Field(ge=1, le=ROWS_MAX_LIMIT, description="at most this many runs (default 1000)")
    ] = ROWS_DEFAULT_LIMIT,
) -> Annotated[CallToolResult, ExplorerRows]:
    """For the task-group explorer app: the group's status and one large page of its runs
    (inputs and full outputs). Not for the model: use get_task_group_results."""
    state = app_state(ctx)
    client = client_for(ctx)
    position = decode_cursor(cursor, task_group_id, None) if cursor else None
    group = await client.get_task_group(task_group_id)

    def shape(event: Any) -> dict[str, Any]:
        return shape_run(event, include_input=True, reserved_key=RESERVED_METADATA_KEY)

    stream = client.iter_results(task_group_id, cursor=position, include_input=True, include_output=True)
    with long_call(ctx, "read_group_rows"):
        async with closing(stream) as events:
            page = await read_page(events, shape=shape, limit=limit, budget_tokens=ROWS_BUDGET_CHARS)
    last = page.event_ids[-1] if page.event_ids else None
    next_cursor = encode_cursor(task_group_id, last, None) if last and not page.exhausted else None
    return answer(
        ExplorerRows(
            task_group_id=task_group_id,
            status=summarize(group),
            rows=page.items,
            returned=len(page.items),
            next_cursor=next_cursor,
            content_notice=THIRD_PARTY_NOTICE if page.items else None,
            notice=state.notice,
        ),
        max_tokens=2 * ROWS_BUDGET_CHARS,  # for the app, never the model: its own large budget
    )


@tool(title="Explorer: estimate a retry", annotations=READ_ONLY, meta=APP_ONLY)
async def estimate_retry(
    ctx: Context[Any, Any], task_group_id: GroupId
) -> Annotated[CallToolResult, RetryEstimate]:
    """For the task-group explorer app: what retry_failed_runs would add and cost, so the user can
    confirm before anything is billed. Not for the model."""
    state = app_state(ctx)
    processors: list[tuple[str, str]] = []
    stream = client_for(ctx).iter_results(
        task_group_id, status="failed", include_input=True, include_output=False
    )
    with long_call(ctx, "estimate_retry"):
        async with closing(stream) as events:
            async for event in events:
                if event.input is not None:
                    processors.append((event.input.processor, "processor"))
    est = estimate(processors, state.settings)
    confirm = math.ceil(round(est.cost_usd * 100, 6)) / 100  # whole cents, rounded up
    return answer(
        RetryEstimate(
            task_group_id=task_group_id,
            failed=len(processors),
            estimate=est,
            needs_confirmation=refusal(est, None, offer_dry_run=False) is not None,
            confirm_cost_usd=confirm,
            notice=state.notice,
        )
    )


APP_TOOLS = [read_group_rows, estimate_retry]


def with_explorer(tools: list[Tool]) -> list[Tool]:
    """``tools`` with the explorer linked to the model tools that show groups, plus the app-only
    tools."""
    for linked in tools:
        if linked.name in LINKED_TOOLS:
            linked.meta = {**(linked.meta or {}), "ui": {"resourceUri": EXPLORER_URI}}
    return [*tools, *(definition.build() for definition in APP_TOOLS)]


def explorer_extension() -> Apps:
    """The Apps extension: advertises ``io.modelcontextprotocol/ui`` and serves the HTML."""
    apps = Apps()
    apps.add_html_resource(
        EXPLORER_URI,
        explorer_html(),
        name="taskgroup_explorer",
        title="Task-group explorer",
        description="Live progress, every run in a sortable table, citations, retry and export of a task group.",
        prefers_border=True,
    )
    return apps


APP_ONLY_TOOL_NAMES = tuple(definition.name for definition in APP_TOOLS)


# ----------------------------------------------------------------------------- the model's view


def _mapping(value: Any) -> dict[str, Any] | None:
    """``value`` as a JSON object, or None if it is not one."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None


def _short(value: Any) -> Any:
    """A value cut for a summary: long strings shortened, nested values reduced to a few keys."""
    if isinstance(value, str):
        return value if len(value) <= SAMPLE_VALUE_CHARS else value[: SAMPLE_VALUE_CHARS - 1] + "…"
    mapping = _mapping(value)
    if mapping is not None:
        return {str(k): _short(v) for k, v in list(mapping.items())[:6]}
    if isinstance(value, list):
        return [_short(v) for v in cast("list[Any]", value)[:3]]
    return value


def summarize_page(page: dict[str, Any]) -> dict[str, Any]:
    """A results page as the model sees it when the user has the explorer: counts, a sample of
    a few runs, the cursor; every run is in the app."""
    items: list[Any] = list(page.get("items") or [])
    counts: dict[str, int] = {}
    for item in items:
        entry = _mapping(item) or {}
        status = str(entry.get("status", ""))
        counts[status] = counts.get(status, 0) + 1
    summary: dict[str, Any] = {
        "task_group_id": page.get("task_group_id", ""),
        "returned": page.get("returned", len(items)),
        "by_status": counts,
        "sample": [_short(i) for i in items[:SAMPLE_ITEMS]],
    }
    for key in ("next_cursor", "group_active", "content_notice", "notes"):
        if key in page:
            summary[key] = page[key]
    summary["shown_in_explorer"] = (
        "The user sees every run of this page (inputs, outputs, citations) in the task-group explorer; "
        "this is a sample. For one run in full call get_task_run; for all of them, export_task_group_results."
    )
    for key in ("next_step", "notice"):
        if key in page:
            summary[key] = page[key]
    return summary


def model_summary(tool: str, structured: dict[str, Any]) -> dict[str, Any]:
    """The text a model gets from ``tool`` under Apps (the structured content stays complete)."""
    if tool == "get_task_group_results":
        return summarize_page(structured)
    summary = dict(structured)
    results = _mapping(summary.get("results"))
    if results is not None:
        summary["results"] = summarize_page(results)
    return summary


def _dump(result: Any) -> dict[str, Any] | None:
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return _mapping(result)


def _visible(tools: list[Any]) -> list[Any]:
    """The tools a client without Apps may see: all but the app-only ones."""
    kept: list[Any] = []
    for entry in tools:
        meta = _mapping((_mapping(entry) or {}).get("_meta")) or {}
        ui = _mapping(meta.get("ui")) or {}
        if ui.get("visibility") != ["app"]:
            kept.append(entry)
    return kept


def _summary_budget(params: Any) -> int:
    """The ``max_tokens`` of the call (its default if absent or not a number in range)."""
    args = _mapping((_mapping(params) or {}).get("arguments")) or {}
    wanted: Any = args.get("max_tokens", DEFAULT_MAX_TOKENS)
    if not isinstance(wanted, int) or isinstance(wanted, bool):
        return DEFAULT_MAX_TOKENS
    return min(max(wanted, MIN_MAX_TOKENS), MAX_MAX_TOKENS)


async def explorer_middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Graceful degradation, both ways: without Apps the app-only tools are not listed; with Apps
    the results pages of the linked tools reach the model as a short summary."""
    if ctx.method not in ("tools/list", "tools/call"):
        return await call_next(ctx)
    result = await call_next(ctx)
    apps = client_supports_apps(ctx)
    if ctx.method == "tools/list":
        # Capabilities unknown (a stateless HTTP request after a legacy handshake): list the app-only
        # tools, so an Apps host can still call them; hide them only from clients known to lack Apps.
        if apps or ctx.session.client_capabilities is None:
            return result
        data = _dump(result)
        tools = data.get("tools") if data is not None else None
        if data is None or not isinstance(tools, list):
            return result
        return {**data, "tools": _visible(cast("list[Any]", tools))}
    name = (_mapping(ctx.params) or {}).get("name")
    if not apps or name not in SUMMARIZED_TOOLS:
        return result
    data = _dump(result)
    structured = _mapping(data.get("structuredContent")) if data is not None else None
    if data is None or structured is None or data.get("isError"):
        return result
    content: list[Any] = list(cast("list[Any]", data.get("content") or []))
    first = _mapping(content[0]) if content else None
    if first is None or first.get("type") != "text":
        return result
    # The summary is what the model reads: it fits the call's max_tokens (the page went to the app).
    budget = _summary_budget(ctx.params)
    summary = shrink(model_summary(str(name), structured), lambda d: text_tokens(json_text(d)) <= budget)
    content[0] = {**first, "text": json_text(summary)}
    return {**data, "content": content}
