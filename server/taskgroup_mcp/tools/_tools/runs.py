"""Adding runs, the tools that spend: add_runs and retry_failed_runs, and the planning and spend
settling fan_out shares with them."""

from __future__ import annotations

import functools
from collections.abc import Awaitable
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from taskgroup_mcp.client import InputValidationError, UnprocessableEntityError

from .._add_runs import AddRunsArgs, Batch, check_batch, dry_run_answer, submit_batch
from .._answer import answer
from .._app import AppState, app_state, caller_tenant, client_for, journaled
from .._arguments import ArgumentProblem
from .._definition import ADDS_ONCE, tool
from .._hosts import Lookups
from .._models import RetryResult, RunsAdded
from .._params import (
    CallKey,
    ConfirmCost,
    DryRun,
    GroupId,
    Inputs,
    InputSchema,
    InputsFile,
    McpServers,
    MetadataArg,
    Output,
    Processor,
    Runs,
    SourcePolicyArg,
)
from .._retry_failed import retry_failed
from .._spend import Reservation, call_identity, guard_shared, refusal, spent_shared
from ._call import reporter


async def checked_batch(args: AddRunsArgs, state: AppState, ctx: Context[Any, Any]) -> Batch:
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


@tool(title="Add runs", annotations=ADDS_ONCE)
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
    """Add research runs to a task group, exactly once; billed per run.

    Repeating the call (same call_key) adds nothing twice. Above the server's spend limit it is
    refused with the estimate; confirm with confirm_cost_usd."""
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
    batch = await checked_batch(args, state, ctx)
    account = paying_account(ctx)
    call = call_identity(call_key, batch.run_inputs)
    if dry_run:
        api = state.settings.parallel_base_url
        spent = await spent_shared(state.spend, state.journal, api, account, task_group_id, call)
        needs = refusal(batch.estimate, None, spent=spent) is not None
        result = dry_run_answer(task_group_id, batch, state.notice, needs_confirm=needs)
    else:
        client = client_for(ctx)
        held = await guard_shared(
            state.spend, state.journal, state.settings.parallel_base_url, account, task_group_id,
            batch.estimate, confirm_cost_usd, call=call,
        )  # fmt: skip
        result = await settled(
            held,
            batch,
            submit_batch(
                client,
                task_group_id,
                batch,
                call_key=call_key,
                report=reporter(ctx),
                notice=state.notice,
                heartbeat=state.settings.progress_interval_seconds,
                journaled=journaled(ctx),
                lease_wait=state.settings.wait_max_seconds,
            ),
        )
    return answer(result)


def paying_account(ctx: Context[Any, Any]) -> str:
    """Whose money a call spends: the per-request key's hash, or the operator's account."""
    return caller_tenant(ctx) or ""


async def settled(held: Reservation, batch: Batch, submitting: Awaitable[RunsAdded]) -> RunsAdded:
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


@tool(title="Retry failed runs", annotations=ADDS_ONCE)
async def retry_failed_runs(
    ctx: Context[Any, Any],
    task_group_id: GroupId,
    processor: Annotated[
        str | None, Field(description="processor of the retries (default: the same)")
    ] = None,
    mcp_servers: Annotated[
        list[dict[str, Any] | str] | None,
        Field(
            description="MCP servers of the retries (default: the failed runs'; pass again those needing headers)"
        ),
    ] = None,
    confirm_cost_usd: ConfirmCost = None,
) -> Annotated[CallToolResult, RetryResult]:
    """Add the inputs of every failed run to the group again (runs cannot be cancelled or
    restarted); adds nothing twice. Billed: above the spend limit it needs confirm_cost_usd."""
    state = app_state(ctx)
    result = await retry_failed(
        client_for(ctx), task_group_id, processor=processor, mcp_servers=mcp_servers,
        settings=state.settings, report=reporter(ctx), notice=state.notice,
        heartbeat=state.settings.progress_interval_seconds, confirm_cost_usd=confirm_cost_usd,
        journaled=journaled(ctx), lease_wait=state.settings.wait_max_seconds,
        lookups=Lookups(resolver=state.resolver),
        ledger=state.spend, account=paying_account(ctx),
    )  # fmt: skip
    return answer(result)
