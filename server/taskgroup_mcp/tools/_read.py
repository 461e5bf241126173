"""Reading results: one page under a token budget, and one run in detail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taskgroup_mcp import wire
from taskgroup_mcp.client import RESERVED_METADATA_KEY, ParallelClient

from ._answer import closing, payload
from ._models import ResultsPage, RunDetail
from ._sanitize import THIRD_PARTY_NOTICE, sanitize, strip_invisible
from ._shaping import (
    CHARS_PER_TOKEN,
    BasisMode,
    Page,
    decode_cursor,
    encode_cursor,
    estimate_tokens,
    fit,
    input_key,
    json_text,
    read_page,
    shape_basis,
    shape_output,
    shape_run,
    user_metadata,
)

DEFAULT_MAX_TOKENS = 8_000
MAX_MAX_TOKENS = 20_000
MIN_MAX_TOKENS = 500
DEFAULT_LIMIT = 50
MAX_LIMIT = 1_000
_CURSOR_ALLOWANCE = 400
"""Characters kept free for the cursor and notes while filling a page."""


async def results_page(
    client: ParallelClient,
    group_id: str,
    *,
    cursor: str | None,
    limit: int,
    status: wire.RunStatus | None,
    fields: Sequence[str] | None,
    include_basis: BasisMode,
    include_input: bool,
    max_tokens: int,
    notice: str | None,
) -> ResultsPage:
    """One page of a group's runs, never over ``max_tokens`` (estimated), resumable by cursor."""
    position = decode_cursor(cursor, group_id, status) if cursor else None
    group = await client.get_task_group(group_id)
    active = group.status.is_active
    skeleton = ResultsPage(
        task_group_id=group_id,
        items=[],
        returned=0,
        next_cursor=None,
        group_active=active,
        content_notice=THIRD_PARTY_NOTICE,
        notes=["x" * 160],
        next_step="x" * 260,
        notice=notice,
    )
    overhead = len(json_text(payload(skeleton))) + _CURSOR_ALLOWANCE
    budget = max(max_tokens * CHARS_PER_TOKEN - overhead, 200)

    def shape(event: wire.TaskRunEvent) -> dict[str, Any]:
        return shape_run(
            event,
            fields=fields,
            include_basis=include_basis,
            include_input=include_input,
            reserved_key=RESERVED_METADATA_KEY,
        )

    stream = client.iter_results(
        group_id, cursor=position, status=status, include_input=True, include_output=True
    )  # pyright: ignore[reportArgumentType]
    async with closing(stream) as events:
        page = await read_page(events, shape=shape, limit=limit, budget_chars=budget)
    notes: list[str] = []
    if page.cut:
        notes.append("Long values were cut to fit max_tokens; get_task_run or an export has them in full.")
    if active and status is not None:
        notes.append("The group is still active: runs finishing later may be missed by a status filter.")
    result = _assemble(group_id, page, status, active, notes, notice)
    # The allowance normally covers cursor and notes; if not, hand the last runs to the next page.
    while estimate_tokens(payload(result)) > max_tokens and len(page.items) > 1:
        page.items.pop()
        page.event_ids.pop()
        page.exhausted = False
        result = _assemble(group_id, page, status, active, notes, notice)
    return result


def _assemble(
    group_id: str,
    page: Page,
    status: wire.RunStatus | None,
    active: bool,
    notes: list[str],
    notice: str | None,
) -> ResultsPage:
    next_cursor: str | None = None
    last = page.event_ids[-1] if page.event_ids else None
    if not page.exhausted and last:
        next_cursor = encode_cursor(group_id, last, status)
    if next_cursor:
        step = (
            f"Call get_task_group_results(task_group_id='{group_id}', cursor=next_cursor) for the next page, "
            "or export_task_group_results for everything in one file."
        )
    elif active:
        step = (
            f"All runs so far are listed; the group is still active. Call wait_for_task_group("
            f"task_group_id='{group_id}'), then read the results again."
        )
    else:
        step = "That was the last page: every run of the group has been returned."
    return ResultsPage(
        task_group_id=group_id,
        items=page.items,
        returned=len(page.items),
        next_cursor=next_cursor,
        group_active=active,
        content_notice=THIRD_PARTY_NOTICE if page.items else None,
        notes=notes or None,
        next_step=step,
        notice=notice,
    )


async def run_detail(
    client: ParallelClient,
    run_id: str,
    *,
    include_basis: BasisMode,
    include_tool_calls: bool,
    max_tokens: int,
    notice: str | None,
) -> RunDetail:
    run = await client.get_run(run_id)
    output: wire.TaskRunOutput | None = None
    if run.status == "completed":
        output = (await client.get_run_result(run_id)).output
    key: str | None = None
    try:
        run_input = await client.get_run_input(run_id)
        key = input_key(run_input.input)
    except Exception:  # the input is a nicety; the run itself is what was asked for
        key = None
    detail: dict[str, Any] = {
        "run_id": run.run_id,
        "status": run.status,
        "active": run.is_active,
        "processor": run.processor,
        "task_group_id": run.taskgroup_id,
        "key": key,
        "metadata": user_metadata(run.metadata, RESERVED_METADATA_KEY),
        "error": strip_invisible(run.error.message) if run.error is not None else None,
        "warnings": [strip_invisible(w.message) for w in run.warnings] if run.warnings else None,
    }
    if output is not None:
        detail["output"] = shape_output(output, None)
        detail["basis"] = shape_basis(output.basis, include_basis)
        if include_tool_calls and output.mcp_tool_calls:
            detail["mcp_tool_calls"] = sanitize(
                [c.model_dump(mode="json", exclude_none=True) for c in output.mcp_tool_calls]
            )
        detail["content_notice"] = THIRD_PARTY_NOTICE
    if run.is_active:
        step = f"The run is {run.status}. Call get_task_run(run_id='{run_id}') again later."
    else:
        step = (
            "Done."
            if run.taskgroup_id is None
            else f"Other runs: get_task_group_results(task_group_id='{run.taskgroup_id}')."
        )
    detail["next_step"] = step
    detail["notice"] = notice
    budget = max_tokens * CHARS_PER_TOKEN - 300
    fitted, _ = fit({k: v for k, v in detail.items() if v is not None}, budget)
    required = {
        "run_id": run.run_id,
        "status": run.status,
        "active": run.is_active,
        "processor": run.processor,
    }
    return RunDetail.model_validate({**fitted, **required, "next_step": step, "notice": notice})
