"""The ten tools: thin bodies over the domain functions, each defined at its function (``@tool``)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Awaitable
from typing import Annotated, Any, Literal, TypeVar

import anyio
from mcp.server.apps import client_supports_apps
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ResourceLink
from pydantic import Field

from taskgroup_mcp.client import InputValidationError, UnprocessableEntityError

from ._add_runs import AddRunsArgs, Batch, check_batch, dry_run_answer, retry_failed, submit_batch
from ._answer import Progress, answer, payload
from ._app import (
    AppState,
    app_state,
    caller_tenant,
    client_for,
    journaled,
    long_call,
    remember_fan_out,
    remembered_fan_out,
)
from ._arguments import ArgumentProblem
from ._budget import result_tokens
from ._definition import ADDS, ADDS_ONCE, READ_ONLY, tool
from ._errors import to_tool_error
from ._export import export_group
from ._follow import follow_group
from ._groups import DEFAULT_GROUPS, MAX_GROUPS, list_groups_page
from ._hosts import Lookups
from ._journaling import clean_label, fan_out_group, group_metadata
from ._models import (
    ExportResult,
    FanOutResult,
    GroupCreated,
    GroupsPage,
    GroupStatus,
    ResultsPage,
    RetryResult,
    RunDetail,
    RunsAdded,
    WaitResult,
)
from ._params import (
    ID_PATTERN,
    BasisArg,
    CallKey,
    ConfirmCost,
    DryRun,
    GroupId,
    Inputs,
    InputSchema,
    InputsFile,
    Label,
    McpServers,
    MetadataArg,
    Output,
    Processor,
    Runs,
    SourcePolicyArg,
    StatusFilter,
)
from ._read import (
    DEFAULT_LIMIT,
    DEFAULT_MAX_TOKENS,
    MAX_LIMIT,
    MAX_MAX_TOKENS,
    MIN_MAX_TOKENS,
    results_page,
    run_detail,
)
from ._spend import Reservation, call_identity, guard, refusal
from ._status import summarize


def _reporter(ctx: Context[Any, Any]) -> Progress:
    async def report(done: float, total: float | None, message: str | None) -> None:
        await ctx.report_progress(done, total=total, message=message)

    return report


async def _checked_batch(args: AddRunsArgs, state: AppState, ctx: Context[Any, Any]) -> Batch:
    """Validate and estimate on a worker thread: reading a file or checking thousands of inputs
    must not stall the event loop other calls share."""
    allowed = _inputs_file_allowed(state, ctx)
    lookups = Lookups(resolver=state.resolver)
    return await anyio.to_thread.run_sync(
        functools.partial(check_batch, args, state.settings, inputs_file_allowed=allowed, lookups=lookups)
    )


def _inputs_file_allowed(state: AppState, ctx: Context[Any, Any]) -> bool:
    if state.settings.allow_inputs_file is not None:
        return state.settings.allow_inputs_file
    return ctx.headers is None  # stdio (and in-process): allowed; HTTP: off unless configured


# ---------------------------------------------------------------------------------- tools


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


@tool(title="Add runs (exactly once)", annotations=ADDS_ONCE)
async def add_runs(
    ctx: Context[Any, Any],
    task_group_id: GroupId,
    inputs: Inputs = None,
    inputs_file: InputsFile = None,
    processor: Processor = None,
    output: Output = None,
    input_schema: InputSchema = None,
    mcp_servers: McpServers = None,
    source_policy: SourcePolicyArg = None,
    metadata: MetadataArg = None,
    runs: Runs = None,
    call_key: CallKey = None,
    dry_run: DryRun = False,
    confirm_cost_usd: ConfirmCost = None,
) -> Annotated[CallToolResult, RunsAdded]:
    """Add research runs to a task group, exactly once (billed per run; see dry_run).

    Each input becomes one run of the chosen processor producing `output`. Safe to repeat: a
    repeated call (same inputs, same call_key) adds nothing twice and reports them as already
    present. A batch above the server's spend limit is refused with the estimate; confirm with
    confirm_cost_usd. Answers added / already present / failed (with the field), the group's
    status, and the next step (usually wait_for_task_group)."""
    state = app_state(ctx)
    args = AddRunsArgs(
        inputs=inputs,
        inputs_file=inputs_file,
        processor=processor,
        output=output,
        input_schema=input_schema,
        mcp_servers=mcp_servers,
        source_policy=source_policy,
        metadata=metadata,
        runs=runs,
        call_key=call_key,
        dry_run=dry_run,
        confirm_cost_usd=confirm_cost_usd,
    )
    batch = await _checked_batch(args, state, ctx)
    account = _account(ctx)
    call = call_identity(call_key, batch.run_inputs)
    if dry_run:
        spent = state.spend.spent(account, task_group_id, call)
        needs = refusal(batch.estimate, None, spent=spent) is not None
        result = dry_run_answer(task_group_id, batch, state.notice, needs_confirm=needs)
    else:
        client = client_for(ctx)
        held = guard(state.spend, account, task_group_id, batch.estimate, confirm_cost_usd, call=call)
        result = await _settled(
            held,
            batch,
            submit_batch(
                client,
                task_group_id,
                batch,
                call_key=call_key,
                report=_reporter(ctx),
                notice=state.notice,
                heartbeat=state.settings.progress_interval_seconds,
                journaled=journaled(ctx),
                lease_wait=state.settings.wait_max_seconds,
            ),
        )
    return answer(result)


def _account(ctx: Context[Any, Any]) -> str:
    """Whose money a call spends: the per-request key's hash, or the operator's account."""
    return caller_tenant(ctx) or ""


async def _settled(held: Reservation, batch: Batch, submitting: Awaitable[RunsAdded]) -> RunsAdded:
    """Submit, then settle the spend reservation to the runs really added. If the outcome is
    unknown (an error after sending) the reservation stays: those runs may have been billed."""
    try:
        added = await submitting
    except (ArgumentProblem, InputValidationError, UnprocessableEntityError):
        held.settle(0.0)  # refused before anything was created: nothing billed
        raise
    est = batch.estimate
    held.settle(est.cost_usd * added.added / max(est.runs, 1))
    return added


def _fan_out_hash(args: AddRunsArgs) -> str:
    """Identifies a fan_out call by what shapes its runs (never shown; header values only hashed)."""
    fields = dataclasses.asdict(args)
    fields.pop("dry_run", None)
    fields.pop("confirm_cost_usd", None)
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@tool(title="Fan out and wait", annotations=ADDS)
async def fan_out(
    ctx: Context[Any, Any],
    inputs: Inputs = None,
    inputs_file: InputsFile = None,
    output: Output = None,
    processor: Processor = None,
    input_schema: InputSchema = None,
    mcp_servers: McpServers = None,
    source_policy: SourcePolicyArg = None,
    metadata: MetadataArg = None,
    label: Label = None,
    wait_seconds: Annotated[
        float | None,
        Field(
            ge=0,
            description="how long to wait for results, in seconds (default 45, at most 50; 0: no wait)",
        ),
    ] = None,
    max_tokens: Annotated[
        int,
        Field(
            ge=MIN_MAX_TOKENS,
            le=MAX_MAX_TOKENS,
            description="token budget of the whole answer (an upper bound in any client); the first "
            "results page gets what the rest leaves",
        ),
    ] = DEFAULT_MAX_TOKENS,
    dry_run: DryRun = False,
    confirm_cost_usd: ConfirmCost = None,
) -> Annotated[CallToolResult, FanOutResult]:
    """One call for a small job: create a group, add one run per input, wait up to wait_seconds
    with progress, and return the status plus the first page of results if done.

    wait_seconds is 45 by default and never more than 50 (pass less if your client gives up sooner).
    If it is not done in time, the answer holds the task_group_id: call wait_for_task_group with
    it. A repeated identical call to this server reuses its group and adds nothing twice, but
    never change the inputs and call fan_out again: continue with add_runs on that group."""
    state = app_state(ctx)
    args = AddRunsArgs(
        inputs=inputs,
        inputs_file=inputs_file,
        processor=processor,
        output=output,
        input_schema=input_schema,
        mcp_servers=mcp_servers,
        source_policy=source_policy,
        metadata=metadata,
        runs=None,
        call_key=None,
        dry_run=dry_run,
        confirm_cost_usd=confirm_cost_usd,
    )
    gid = ""
    reused: str | None = None
    try:
        # Validate and guard the spend before anything is created.
        batch = await _checked_batch(args, state, ctx)
        if dry_run:
            spent = state.spend.spent(_account(ctx), None)
            needs = refusal(batch.estimate, None, spent=spent) is not None
            added = dry_run_answer("", batch, state.notice, needs_confirm=needs)
            return answer(
                FanOutResult(task_group_id="", added=added, next_step=added.next_step, notice=state.notice)
            )
        client = client_for(ctx)
        with long_call(ctx, "fan_out"):  # before the group exists: a refusal leaves nothing behind
            who = journaled(ctx)
            call_hash = _fan_out_hash(args)
            reused = remembered_fan_out(state, client, call_hash)
            # The spend guard before the group exists: a new group has spent nothing yet.
            held = guard(state.spend, _account(ctx), reused, batch.estimate, confirm_cost_usd, call=call_hash)
            if reused is None:
                try:
                    gid, found = await fan_out_group(
                        client, who, call_hash, metadata=metadata, label=clean_label(label),
                        lease_wait=state.settings.wait_max_seconds,
                    )  # fmt: skip
                except BaseException:
                    held.settle(0.0)  # no group, no runs
                    raise
                reused = gid if found else None
                remember_fan_out(state, client, call_hash, gid)
                state.spend.move(held, gid)
            else:
                gid = reused
            added = await _settled(
                held,
                batch,
                submit_batch(
                    client, gid, batch, call_key=None, report=_reporter(ctx), notice=state.notice,
                    heartbeat=state.settings.progress_interval_seconds, journaled=who,
                    lease_wait=state.settings.wait_max_seconds,
                ),
            )  # fmt: skip
            wanted = state.settings.wait_default_seconds if wait_seconds is None else wait_seconds
            timeout = min(wanted, state.settings.wait_max_seconds)
            wait: WaitResult | None = None
            page: ResultsPage | None = None
            if timeout > 0:
                wait = await follow_group(
                    client, gid, timeout=timeout, until="done", cursors=state.event_cursors,
                    report=_reporter(ctx), notice=state.notice, heartbeat=state.settings.progress_interval_seconds,
                )  # fmt: skip
                if not wait.status.active:
                    # The page gets what the rest of the answer leaves of max_tokens.
                    rest = FanOutResult(
                        task_group_id=gid, added=_nested(added, wait), reused_group=reused is not None,
                        wait=_nested(wait, None), next_step=wait.next_step, notice=state.notice,
                    )  # fmt: skip
                    budget = _page_budget(ctx, max_tokens)
                    room = budget - result_tokens(payload(rest)) - _FAN_OUT_STEP_ALLOWANCE
                    if room >= MIN_MAX_TOKENS:
                        page = await results_page(
                            client, gid, cursor=None, limit=DEFAULT_LIMIT, status=None, fields=None,
                            include_basis="none", include_input=False, max_tokens=room, notice=state.notice,
                        )  # fmt: skip
    except Exception as exc:
        if not gid:
            raise
        error = to_tool_error(exc, group_id=gid)
        # The group exists (and may hold paid runs): never let the model start over with fan_out.
        raise ToolError(
            f"{error} Task group {gid} was already created: continue with "
            f"add_runs(task_group_id='{gid}', same inputs; nothing is added twice) or "
            f"wait_for_task_group(task_group_id='{gid}'). Do not call fan_out again: that pays twice."
        ) from None
    if page is not None:
        step = page.next_step
    elif wait is not None:
        step = wait.next_step
    else:
        step = added.next_step
    return answer(
        FanOutResult(
            task_group_id=gid,
            added=_nested(added, wait),
            reused_group=reused is not None,
            wait=_nested(wait, None) if wait is not None else None,
            results=page,
            next_step=step,
            notice=state.notice,
        ),
        max_tokens=_page_budget(ctx, max_tokens),
    )


_Part = TypeVar("_Part", RunsAdded, WaitResult)


def _nested(part: _Part, wait: WaitResult | None) -> _Part:
    """A part of fan_out's answer without what the answer says once (next step, notice) and,
    when the wait has it, the status: every token of the whole answer counts against max_tokens."""
    update: dict[str, Any] = {"next_step": None, "notice": None}
    if isinstance(part, RunsAdded) and wait is not None:
        update["status"] = None
    return part.model_copy(update=update)


_FAN_OUT_STEP_ALLOWANCE = 700
"""The page's next_step (repeated as the answer's) may be longer than the wait's."""


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


@tool(title="Wait for task group", annotations=READ_ONLY)
async def wait_for_task_group(
    ctx: Context[Any, Any],
    task_group_id: GroupId,
    timeout_seconds: Annotated[
        float | None,
        Field(gt=0, description="return after at most this many seconds (default 45, at most 50)"),
    ] = None,
    until: Annotated[
        Literal["done", "change"],
        Field(
            description="done: until every run finished (default); change: until at least one more run finished"
        ),
    ] = "done",
) -> Annotated[CallToolResult, WaitResult]:
    """Wait for a group's runs to finish, with progress notifications, inside a bounded window.

    Returns when the group is done or after timeout_seconds (45 s by default, never more than 50),
    with what changed. If your client gives up on a tool call sooner, pass a shorter timeout_seconds.
    If it is still running, call this again with the same id; do not create a new group (that pays twice)."""
    state = app_state(ctx)
    wanted = state.settings.wait_default_seconds if timeout_seconds is None else timeout_seconds
    timeout = min(wanted, state.settings.wait_max_seconds)
    client = client_for(ctx)
    with long_call(ctx, "wait_for_task_group"):
        result = await follow_group(
            client, task_group_id, timeout=timeout, until=until, cursors=state.event_cursors,
            report=_reporter(ctx), notice=state.notice, heartbeat=state.settings.progress_interval_seconds,
        )  # fmt: skip
    return answer(result)


@tool(title="Task group results (paged)", annotations=READ_ONLY)
async def get_task_group_results(
    ctx: Context[Any, Any],
    task_group_id: GroupId,
    cursor: Annotated[
        str | None, Field(description="next_cursor from the previous page; absent: first page")
    ] = None,
    limit: Annotated[
        int, Field(ge=1, le=MAX_LIMIT, description="at most this many runs (default 50)")
    ] = DEFAULT_LIMIT,
    status: StatusFilter = None,
    fields: Annotated[
        list[str] | None, Field(description="only these top-level output fields (JSON outputs); default all")
    ] = None,
    include_basis: BasisArg = "none",
    include_input: Annotated[
        bool, Field(description="include each run's full input (default: a short key)")
    ] = False,
    max_tokens: Annotated[
        int,
        Field(
            ge=MIN_MAX_TOKENS,
            le=MAX_MAX_TOKENS,
            description="page budget in tokens (default 8000): an upper bound on what the whole result "
            "costs in any client, for any text",
        ),
    ] = DEFAULT_MAX_TOKENS,
) -> Annotated[CallToolResult, ResultsPage]:
    """One page of a group's results, keyed by input, sized to fit max_tokens.

    Compact by default: project with fields, add citations with include_basis. Long values are
    cut with a note rather than failing. Continue with next_cursor until it is null; for the
    whole group in one file use export_task_group_results."""
    state = app_state(ctx)
    client = client_for(ctx)
    with long_call(ctx, "get_task_group_results"):
        budget = _page_budget(ctx, max_tokens)
        page = await results_page(
            client, task_group_id, cursor=cursor, limit=limit, status=status, fields=fields,
            include_basis=include_basis, include_input=include_input, max_tokens=budget, notice=state.notice,
        )  # fmt: skip
    return answer(page, max_tokens=budget)


APP_PAGE_MAX_TOKENS = 1_000_000
"""Under MCP Apps a results page's structured content is the explorer's data (the app shows it);
the model gets a short summary as the text block, cut to fit (``_explorer``)."""


def _page_budget(ctx: Context[Any, Any], max_tokens: int) -> int:
    """The budget of a results page: ``max_tokens``, or the app's when the host shows it in the
    explorer and gives the model the summary instead."""
    return APP_PAGE_MAX_TOKENS if client_supports_apps(ctx) else max_tokens


@tool(title="One task run", annotations=READ_ONLY)
async def get_task_run(
    ctx: Context[Any, Any],
    run_id: Annotated[
        str, Field(pattern=ID_PATTERN, description="a run id (trun_...) from get_task_group_results")
    ],
    include_basis: Annotated[
        Literal["none", "low_confidence", "all"],
        Field(description="citations and reasoning: all (default), only low-confidence fields, or none"),
    ] = "all",
    include_tool_calls: Annotated[bool, Field(description="include the run's MCP tool calls")] = False,
) -> Annotated[CallToolResult, RunDetail]:
    """One run in full: status, output, and (by default) the basis with citations."""
    state = app_state(ctx)
    detail = await run_detail(
        client_for(ctx), run_id, include_basis=include_basis, include_tool_calls=include_tool_calls,
        max_tokens=MAX_MAX_TOKENS, notice=state.notice,
    )  # fmt: skip
    return answer(detail, max_tokens=MAX_MAX_TOKENS)


@tool(title="Export results to a file", annotations=ADDS)
async def export_task_group_results(
    ctx: Context[Any, Any],
    task_group_id: GroupId,
    format: Annotated[
        Literal["jsonl", "csv"], Field(description="jsonl (one JSON object per run) or csv")
    ] = "csv",
    include_basis: BasisArg = "none",
) -> Annotated[CallToolResult, ExportResult]:
    """Write every run of the group to a JSONL or CSV file on the server and link it.

    Returns the path, a resource link (taskgroup://exports/...), the row count and the inputs
    present more than once or missing. Use it instead of paging large groups."""
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


@tool(title="Retry failed runs", annotations=ADDS_ONCE)
async def retry_failed_runs(
    ctx: Context[Any, Any],
    task_group_id: GroupId,
    processor: Annotated[
        str | None, Field(description="run the retries on this processor (default: the same)")
    ] = None,
    mcp_servers: Annotated[
        list[dict[str, Any] | str] | None,
        Field(
            description="MCP servers for the retried runs (the API does not return header values, so pass "
            "them again if the servers need headers); default: the failed runs' servers"
        ),
    ] = None,
    confirm_cost_usd: ConfirmCost = None,
) -> Annotated[CallToolResult, RetryResult]:
    """Add the inputs of every failed run to the same group again (runs cannot be cancelled or
    restarted; this is the lever left). Safe to repeat: it adds nothing twice.

    Retries are billed runs: above the server's spend limit the call is refused with the estimate;
    confirm with confirm_cost_usd."""
    state = app_state(ctx)
    result = await retry_failed(
        client_for(ctx), task_group_id, processor=processor, mcp_servers=mcp_servers,
        settings=state.settings, report=_reporter(ctx), notice=state.notice,
        heartbeat=state.settings.progress_interval_seconds, confirm_cost_usd=confirm_cost_usd,
        journaled=journaled(ctx), lease_wait=state.settings.wait_max_seconds,
        lookups=Lookups(resolver=state.resolver),
        ledger=state.spend, account=_account(ctx),
    )  # fmt: skip
    return answer(result)


TOOLS = [
    create_task_group,
    add_runs,
    fan_out,
    get_task_group_status,
    list_task_groups,
    wait_for_task_group,
    get_task_group_results,
    get_task_run,
    export_task_group_results,
    retry_failed_runs,
]
"""The tools in the order ``tools/list`` shows them."""
