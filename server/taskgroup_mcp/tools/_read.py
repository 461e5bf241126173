"""Reading results: one page under a token budget, and one run in detail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taskgroup_mcp import wire
from taskgroup_mcp.client import RESERVED_METADATA_KEY, ParallelClient

from ._answer import closing, payload
from ._budget import result_tokens, value_tokens
from ._models import ResultsPage, RunDetail
from ._sanitize import THIRD_PARTY_NOTICE, sanitize, strip_invisible
from ._shaping import (
    BasisMode,
    Page,
    decode_cursor,
    encode_cursor,
    fit,
    input_key,
    read_page,
    shape_basis,
    shape_output,
    shape_run,
    user_metadata,
)

DEFAULT_MAX_TOKENS = 8_000
MAX_MAX_TOKENS = 20_000
"""Below the 25,000 tokens at which Claude Code refuses a tool result."""
MIN_MAX_TOKENS = 2_000
"""A page's own fields (cursor, notices, next step) cost about 1,000 tokens in the bound."""
DEFAULT_LIMIT = 50
MAX_LIMIT = 1_000
_CURSOR_PLACEHOLDER = "x" * 48
"""Room kept for the cursor (base64 of the API's event id and an 8-character tag)."""


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
    """One page of a group's runs, resumable by cursor, whose whole result never costs more than
    ``max_tokens`` in any client (``_budget.result_tokens``)."""
    position = decode_cursor(cursor, group_id, status) if cursor else None
    group = await client.get_task_group(group_id)
    active = group.status.is_active
    skeleton = ResultsPage(
        task_group_id=group_id,
        items=[],
        returned=0,
        next_cursor=_CURSOR_PLACEHOLDER,
        group_active=active,
        content_notice=THIRD_PARTY_NOTICE,
        notes=[_ACTIVE_NOTE] if active and status is not None else None,
        next_step=_longest_step(),
        notice=notice,
    )
    overhead = result_tokens(payload(skeleton)) - value_tokens([])
    budget = max(max_tokens - overhead, 200)

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
    )
    async with closing(stream) as events:
        page = await read_page(events, shape=shape, limit=limit, budget_tokens=budget)
    notes: list[str] = []
    if page.cut:
        notes.append(_CUT_NOTE)
    if active and status is not None:
        notes.append(_ACTIVE_NOTE)
    result = _assemble(group_id, page, status, active, notes, notice)
    # The allowance normally covers cursor and notes; if not, hand the last runs to the next page.
    while result_tokens(payload(result)) > max_tokens and len(page.items) > 1:
        page.items.pop()
        page.event_ids.pop()
        page.exhausted = False
        result = _assemble(group_id, page, status, active, notes, notice)
    if result_tokens(payload(result)) > max_tokens and page.items:
        # One run left and still too much: cut it to the room the page's own fields leave.
        room = max_tokens - (result_tokens(payload(result)) - value_tokens(result.items[0]))
        page.items[0], _ = fit(page.items[0], room)
        page.cut = max(page.cut, 1)
        if not notes or not notes[0].startswith("Long values"):
            notes.insert(0, _CUT_NOTE)
        result = _assemble(group_id, page, status, active, notes, notice)
    return result


_ACTIVE_NOTE = "The group is still active: runs finishing later may be missed by a status filter."
_CUT_NOTE = "Long values were cut to fit max_tokens: get_task_run has them in full."


def _step(more: bool, active: bool) -> str:
    if more:
        return "Next page: get_task_group_results with cursor=next_cursor. All at once: export_task_group_results."
    if active:
        return "All runs so far are listed; the group is still active: wait_for_task_group, then read again."
    return "That was the last page: every run of the group has been returned."


def _longest_step() -> str:
    return max((_step(m, a) for m in (True, False) for a in (True, False)), key=len)


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
    step = _step(next_cursor is not None, active)
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
    required = {
        "run_id": run.run_id,
        "status": run.status,
        "active": run.is_active,
        "processor": run.processor,
    }
    fixed = {**required, "next_step": step, "notice": notice, "note": _RUN_CUT_NOTE}
    rest = {k: v for k, v in detail.items() if v is not None and k not in fixed}
    fitted, cut = fit(rest, max_tokens - result_tokens(fixed))
    fitted.pop("note", None)
    note = _RUN_CUT_NOTE if cut else None
    return RunDetail.model_validate({**fitted, **required, "next_step": step, "notice": notice, "note": note})


_RUN_CUT_NOTE = "Long values were cut to fit the token budget; export_task_group_results has them in full."
