"""retry_failed_runs: the inputs of a group's failed runs added to it again, exactly once.

Runs cannot be cancelled or restarted, so this is the lever left: each failed run's input (its
processor, spec, forwarded servers restored from the operator's configuration, metadata naming the
run it replaces) goes through the same spend guard and exactly-once submission as ``add_runs``.
"""

from __future__ import annotations

import functools
from typing import Any

import anyio

from taskgroup_mcp import wire
from taskgroup_mcp.client import RESERVED_METADATA_KEY, ParallelClient
from taskgroup_mcp.config import Settings

from ._add_runs import MAX_FAILURES_SHOWN, NO_SCOPE
from ._answer import Heartbeat, Progress, closing
from ._arguments import ArgumentProblem
from ._forwarding import recheck_echoed, resolve_mcp_servers
from ._hosts import Lookups
from ._journaling import Journaled, submit_journaled
from ._models import Failure, RetryResult
from ._spend import (
    Reservation,
    SpendLedger,
    SpendRefused,
    call_identity,
    estimate,
    guard_shared,
    refusal,
    unknown_processor_problem,
)

RETRY_OF_KEY = "retry_of"
"""Metadata key naming the failed run a retried input replaces."""
RETRY_CALL_KEY = "retry_failed_runs"


async def retry_failed(
    client: ParallelClient,
    group_id: str,
    *,
    processor: str | None,
    mcp_servers: list[dict[str, Any] | str] | None,
    settings: Settings,
    report: Progress,
    notice: str | None,
    heartbeat: float = 5.0,
    confirm_cost_usd: float | None = None,
    journaled: Journaled | None = None,
    lease_wait: float = 50.0,
    lookups: Lookups | None = None,
    ledger: SpendLedger | None = None,
    account: str = "",
) -> RetryResult:
    """Add every failed run's input again to the same group, idempotently: each retried input
    carries the failed run's id, so repeating this call adds nothing twice.

    The API never returns forwarded MCP header values, so a retried input gets its servers from
    ``mcp_servers`` when given, else from the operator's named servers of the same name; any
    other server is retried without headers (and the answer says so). Echoed servers pass the
    forwarding policy again: one it refuses now refuses the retry (pass ``mcp_servers``)."""
    if processor is not None and wire.get_processor(processor) is None:
        raise ArgumentProblem([unknown_processor_problem(processor, "processor")])
    lookups = lookups or Lookups()
    servers = None
    if mcp_servers is not None:  # host lookups block: off the event loop
        resolve = functools.partial(resolve_mcp_servers, mcp_servers, settings, lookups=lookups)
        servers = await anyio.to_thread.run_sync(resolve)
    failed_ids: list[str] = []
    inputs: list[wire.RunInput] = []
    headerless = 0
    stream = client.iter_results(group_id, status="failed", include_input=True, include_output=False)
    async with closing(stream) as events:
        async for event in events:
            if event.input is None:
                continue
            failed_ids.append(event.run.run_id)
            meta = {k: v for k, v in (event.input.metadata or {}).items() if k != RESERVED_METADATA_KEY}
            # The failed run's id makes each retry its own input: retrying the same failed run
            # again adds nothing, while a retry that fails in turn can itself be retried.
            meta[RETRY_OF_KEY] = event.run.run_id
            run_servers = event.input.mcp_servers
            if servers is not None:
                run_servers = servers or None
            elif run_servers:
                run_servers, lost = _restore_named(run_servers, settings)
                headerless += lost
            inputs.append(
                event.input.model_copy(
                    update={
                        "metadata": meta or None,
                        "processor": processor or event.input.processor,
                        "mcp_servers": run_servers,
                    }
                )
            )
    if not inputs:
        return RetryResult(
            task_group_id=group_id,
            failed_found=0,
            added=0,
            already_present=0,
            next_step=f"No failed runs. Call get_task_group_status(task_group_id='{group_id}').",
            notice=notice,
        )

    if servers is None:  # the failed runs' own servers go out again: the policy applies again
        echoed = [server for i in inputs for server in (i.mcp_servers or [])]
        why = await anyio.to_thread.run_sync(functools.partial(recheck_echoed, echoed, settings, lookups))
        if why is not None:
            raise ArgumentProblem(
                [
                    (
                        "mcp_servers",
                        f"the failed runs forward an MCP server this server refuses now ({why}); pass "
                        "mcp_servers to choose the retries' servers (an empty list for none)",
                    )
                ]
            )

    # The same spend guard as add_runs: retries are billed runs too.
    est = estimate(((i.processor, "processor") for i in inputs), settings)
    held: Reservation | None = None
    if ledger is None:
        reason = refusal(est, confirm_cost_usd, offer_dry_run=False)
        if reason is not None:
            raise SpendRefused(reason)
    else:
        call = call_identity(RETRY_CALL_KEY, inputs)
        shared, api = (journaled.journal, journaled.scope.api) if journaled is not None else (None, "")
        held = await guard_shared(
            ledger, shared, api, account, group_id, est, confirm_cost_usd, call=call, offer_dry_run=False
        )

    beat = Heartbeat(report, heartbeat)

    async def on_progress(done: int, total: int) -> None:
        await beat(float(done), float(total), f"resubmitted {done}/{total} failed inputs")

    async def on_wait(message: str) -> None:
        await beat(0.0, float(len(inputs)), message)

    async with beat.running():
        result = await submit_journaled(
            client,
            journaled or Journaled(None, NO_SCOPE),
            group_id,
            inputs,
            default_task_spec=None,
            call_key=RETRY_CALL_KEY,
            on_progress=on_progress,
            on_wait=on_wait,
            lease_wait=lease_wait,
        )
    if journaled is not None:
        est = estimate(((i.processor, "processor") for i in inputs), settings)
        await journaled.added(
            group_id,
            processors=[i.processor for i in inputs],
            spec=None,
            added=result.added,
            cost_usd=est.cost_usd * result.added / max(1, len(inputs)),
        )
    if held is not None:
        held.settle(est.cost_usd * result.added / max(est.runs, 1))
    return RetryResult(
        task_group_id=group_id,
        failed_found=len(inputs),
        added=result.added,
        already_present=result.already_present,
        failed=[Failure(index=f.index, reason=f.reason, field=f.field) for f in result.failed][
            :MAX_FAILURES_SHOWN
        ],
        notes=[
            f"{headerless} retried inputs forward MCP servers without their headers (the API does not "
            "return header values): pass mcp_servers to retry_failed_runs if those servers need them."
        ]
        if headerless
        else None,
        next_step=(
            f"Call wait_for_task_group(task_group_id='{group_id}'). The failed runs stay in the group "
            "(runs cannot be cancelled); the new runs are added beside them."
        ),
        notice=notice,
    )


def _restore_named(servers: list[wire.McpServer], settings: Settings) -> tuple[list[wire.McpServer], int]:
    """Echoed servers with the headers of the operator's named server of the same name restored;
    the count of servers left without headers."""
    out: list[wire.McpServer] = []
    lost = 0
    for server in servers:
        if server.name in settings.mcp_servers and not server.headers:
            restored = resolve_mcp_servers([server.name], settings)
            out.extend(restored or [server])
        else:
            lost += 0 if server.headers else 1
            out.append(server)
    return out, lost
