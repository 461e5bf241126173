"""fan_out: a small job in one call (create a group, add its runs, wait, read the first page)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from .._add_runs import AddRunsArgs, dry_run_answer, submit_batch
from .._answer import answer, payload
from .._app import app_state, client_for, journaled, long_call, remember_fan_out, remembered_fan_out
from .._budget import result_tokens
from .._definition import ADDS, tool
from .._errors import to_tool_error
from .._follow import follow_group
from .._journaling import clean_label, fan_out_group
from .._models import FanOutResult, ResultsPage, RunsAdded, WaitResult
from .._params import (
    AS_IN_ADD_RUNS,
    ConfirmCost,
    DryRun,
    Inputs,
    InputSchema,
    InputsFile,
    Label,
    McpServers,
    MetadataArg,
    Output,
    Processor,
    SourcePolicyArg,
)
from .._read import DEFAULT_LIMIT, DEFAULT_MAX_TOKENS, MAX_MAX_TOKENS, MIN_MAX_TOKENS, results_page
from .._spend import guard_shared, refusal, spent_shared
from ._call import page_budget, reporter
from .runs import checked_batch, paying_account, settled


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
    inputs_file: Annotated[InputsFile, Field(description=AS_IN_ADD_RUNS)] = None,
    output: Output = None,
    processor: Annotated[Processor, Field(description=AS_IN_ADD_RUNS)] = None,
    input_schema: Annotated[InputSchema, Field(description=AS_IN_ADD_RUNS)] = None,
    mcp_servers: Annotated[McpServers, Field(description=AS_IN_ADD_RUNS)] = None,
    source_policy: Annotated[SourcePolicyArg, Field(description=AS_IN_ADD_RUNS)] = None,
    metadata: Annotated[MetadataArg, Field(description=AS_IN_ADD_RUNS)] = None,
    label: Annotated[Label, Field(description="as in create_task_group")] = None,
    wait_seconds: Annotated[
        float | None,
        Field(
            ge=0,
            description="seconds to wait for results: default 45, at most 50; 0: no wait",
        ),
    ] = None,
    max_tokens: Annotated[
        int,
        Field(
            ge=MIN_MAX_TOKENS,
            le=MAX_MAX_TOKENS,
            description="budget of the whole answer in tokens; the first page gets what is left",
        ),
    ] = DEFAULT_MAX_TOKENS,
    dry_run: Annotated[DryRun, Field(description=AS_IN_ADD_RUNS)] = False,
    confirm_cost_usd: Annotated[ConfirmCost, Field(description=AS_IN_ADD_RUNS)] = None,
) -> Annotated[CallToolResult, FanOutResult]:
    """A small job in one call: create a group, add a run per input, wait with progress, and return
    the status and, when done, the first results page.

    Waits up to wait_seconds: 45 s by default, never more than 50 (less if your client gives up
    sooner). Not done by then: call wait_for_task_group with the task_group_id. Repeating the
    call reuses its group; for other inputs use add_runs on it."""
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
        batch = await checked_batch(args, state, ctx)
        if dry_run:
            api = state.settings.parallel_base_url
            spent = await spent_shared(state.spend, state.journal, api, paying_account(ctx), None)
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
            held = await guard_shared(
                state.spend, state.journal, state.settings.parallel_base_url, paying_account(ctx), reused,
                batch.estimate, confirm_cost_usd, call=call_hash,
            )  # fmt: skip
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
            added = await settled(
                held,
                batch,
                submit_batch(
                    client, gid, batch, call_key=None, report=reporter(ctx), notice=state.notice,
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
                    report=reporter(ctx), notice=state.notice, heartbeat=state.settings.progress_interval_seconds,
                )  # fmt: skip
                if not wait.status.active:
                    # The page gets what the rest of the answer leaves of max_tokens.
                    rest = FanOutResult(
                        task_group_id=gid, added=_nested(added, wait), reused_group=reused is not None,
                        wait=_nested(wait, None), next_step=wait.next_step, notice=state.notice,
                    )  # fmt: skip
                    budget = page_budget(ctx, max_tokens)
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
        max_tokens=page_budget(ctx, max_tokens),
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
