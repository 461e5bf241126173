"""Adding runs: arguments -> wire inputs -> spend guard -> exactly-once ``client.submit``."""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from taskgroup_mcp import wire
from taskgroup_mcp.client import RESERVED_METADATA_KEY, ParallelClient
from taskgroup_mcp.config import Settings
from taskgroup_mcp.journal import Scope

from ._answer import Heartbeat, Progress
from ._arguments import ArgumentProblem, problems_from_validation
from ._hosts import Lookups
from ._inputs import InputValue, RunOverride, build_run_inputs, read_inputs_file, task_spec
from ._journaling import Journaled, submit_journaled
from ._models import Failure, RunsAdded
from ._shaping import json_text
from ._spend import (
    Estimate,
    SpendRefused,
    confirm_problem,
    estimate,
    refusal,
)
from ._status import next_step_for, summarize

MAX_FAILURES_SHOWN = 20
NO_SCOPE = Scope("", "")
"""The scope of a submission made without the journal (nothing is recorded under it)."""


@dataclass
class AddRunsArgs:
    """The tool arguments of add_runs (and fan_out) that shape the runs."""

    inputs: list[InputValue] | None
    inputs_file: str | None
    processor: str | None
    output: str | dict[str, Any] | None
    input_schema: str | dict[str, Any] | None
    mcp_servers: list[dict[str, Any] | str] | None
    source_policy: dict[str, Any] | None
    metadata: dict[str, str | int | float | bool] | None
    runs: list[dict[str, Any]] | None
    call_key: str | None
    dry_run: bool
    confirm_cost_usd: float | None


def _overrides(raw: list[dict[str, Any]] | None) -> list[RunOverride] | None:
    if raw is None:
        return None
    out: list[RunOverride] = []
    problems: list[tuple[str, str]] = []
    for j, item in enumerate(raw):
        try:
            out.append(RunOverride.model_validate(item))
        except ValidationError as exc:
            problems.extend(problems_from_validation(exc, f"runs[{j}]"))
    if problems:
        raise ArgumentProblem(problems)
    return out


def _source_policy(raw: dict[str, Any] | None) -> wire.SourcePolicy | None:
    if raw is None:
        return None
    unknown = sorted(set(raw) - {"include_domains", "exclude_domains", "after_date"})
    if unknown:
        raise ArgumentProblem([(f"source_policy.{k}", "is not a known field") for k in unknown])
    try:
        policy = wire.SourcePolicy.model_validate(raw)
    except ValidationError as exc:
        raise ArgumentProblem(problems_from_validation(exc, "source_policy")) from None
    if policy.after_date is not None:
        try:
            datetime.date.fromisoformat(policy.after_date)
            valid = len(policy.after_date) == 10
        except ValueError:
            valid = False
        if not valid:
            raise ArgumentProblem(
                [("source_policy.after_date", "must be a date as YYYY-MM-DD, e.g. 2025-01-31")]
            )
    return policy


def build_runs(
    args: AddRunsArgs, settings: Settings, *, inputs_file_allowed: bool, lookups: Lookups | None = None
) -> tuple[list[wire.RunInput], wire.TaskSpec]:
    """Validate every argument and build the wire inputs; raises :class:`ArgumentProblem`."""
    if args.inputs is not None and args.inputs_file is not None:
        raise ArgumentProblem([("inputs_file", "give inputs or inputs_file, not both")])
    if args.inputs_file is not None:
        if not inputs_file_allowed:
            raise ArgumentProblem(
                [("inputs_file", "reading local files is turned off on this server; pass inputs inline")]
            )
        values = read_inputs_file(args.inputs_file, inputs_dirs=settings.inputs_dirs)
    elif args.inputs is not None:
        values = args.inputs
    else:
        raise ArgumentProblem([("inputs", "give inputs (a list) or inputs_file (a local path)")])
    spec = task_spec(args.output, args.input_schema)
    run_inputs = build_run_inputs(
        values,
        processor=args.processor or settings.default_processor,
        mcp_servers=args.mcp_servers,
        source_policy=_source_policy(args.source_policy),
        metadata=args.metadata,
        runs=_overrides(args.runs),
        default_spec=spec,
        settings=settings,
        reserved_metadata_key=RESERVED_METADATA_KEY,
        lookups=lookups,
    )
    return run_inputs, spec


def _processor_fields(run_inputs: list[wire.RunInput], args: AddRunsArgs) -> list[tuple[str, str]]:
    override_at = {int(r.get("index", -1)): j for j, r in enumerate(args.runs or [])}
    out: list[tuple[str, str]] = []
    for i, run in enumerate(run_inputs):
        j = override_at.get(i)
        field = (
            f"runs[{j}].processor" if j is not None and (args.runs or [])[j].get("processor") else "processor"
        )
        out.append((run.processor, field))
    return out


@dataclass
class Batch:
    """A validated batch: wire inputs, the shared task spec, the estimate."""

    run_inputs: list[wire.RunInput]
    spec: wire.TaskSpec
    estimate: Estimate
    repeats: int
    """Inputs identical to an earlier one in the same call (each still becomes its own run)."""


def check_batch(
    args: AddRunsArgs, settings: Settings, *, inputs_file_allowed: bool, lookups: Lookups | None = None
) -> Batch:
    """Validate and estimate; unless ``dry_run``, refuse (:class:`SpendRefused`) an unconfirmed
    batch above the spend limit. Raises :class:`ArgumentProblem` naming each bad field. Blocks
    on host lookups (``lookups``): run it on a worker thread."""
    run_inputs, spec = build_runs(args, settings, inputs_file_allowed=inputs_file_allowed, lookups=lookups)
    est = estimate(_processor_fields(run_inputs, args), settings)
    problem = confirm_problem(args.confirm_cost_usd, est)
    if problem is not None:
        raise ArgumentProblem([problem])
    if not args.dry_run:
        reason = refusal(est, args.confirm_cost_usd)
        if reason is not None:
            raise SpendRefused(reason)
    seen = Counter(json_text(run.to_wire(exclude_none=True)) for run in run_inputs)
    return Batch(run_inputs, spec, est, sum(n - 1 for n in seen.values()))


def dry_run_answer(
    group_id: str, batch: Batch, notice: str | None, *, needs_confirm: bool | None = None
) -> RunsAdded:
    """``needs_confirm``: whether the spend guard (with what was already spent) would ask for
    ``confirm_cost_usd``; default: whether the batch alone is above the limit."""
    est = batch.estimate
    if needs_confirm is None:
        needs_confirm = est.cost_usd > est.limit_usd
    confirm = f" (with confirm_cost_usd={est.cost_usd:.2f})" if needs_confirm else ""
    return RunsAdded(
        task_group_id=group_id,
        added=0,
        already_present=0,
        duplicates_in_call=batch.repeats,
        estimate=est,
        dry_run=True,
        next_step=f"Nothing was submitted. Call again without dry_run to add the runs{confirm}.",
        notice=notice,
    )


def duplicates_note(n: int) -> str:
    """What to tell the caller when the audit found inputs of this call on more than one run."""
    return (
        f"{n} inputs of this call are in the group more than once (the same call was made at the same "
        "moment elsewhere, e.g. by another server without a shared journal): each extra run is billed and "
        "runs cannot be cancelled. Results show every run; export_task_group_results counts them. "
    )


async def submit_batch(
    client: ParallelClient,
    group_id: str,
    batch: Batch,
    *,
    call_key: str | None,
    report: Progress,
    notice: str | None,
    heartbeat: float = 5.0,
    journaled: Journaled | None = None,
    lease_wait: float = 50.0,
) -> RunsAdded:
    """Add a checked batch exactly once and summarize what happened. Large batches take a while
    (pacing at the account's rate limit): progress is re-sent at least every ``heartbeat`` s.
    With the journal, the same call in another process or replica waits (up to ``lease_wait`` s)
    for this one, and a repeat after a restart reconciles what this one sent."""
    total = len(batch.run_inputs)
    beat = Heartbeat(report, heartbeat)

    async def on_progress(done: int, total: int) -> None:
        await beat(float(done), float(total), f"submitted {done}/{total} inputs")

    async def on_wait(message: str) -> None:
        await beat(0.0, float(total), message)

    async with beat.running():
        await beat(0.0, float(total), f"submitting {total} inputs")
        result = await submit_journaled(
            client,
            journaled or Journaled(None, NO_SCOPE),
            group_id,
            batch.run_inputs,
            default_task_spec=batch.spec,
            call_key=call_key,
            on_progress=on_progress,
            on_wait=on_wait,
            lease_wait=lease_wait,
        )
    failures = [Failure(index=f.index, reason=f.reason, field=f.field) for f in result.failed]
    if (
        failures
        and not result.added
        and not result.already_present
        and all(f.retryable for f in result.failed)
    ):
        # An outage, not bad inputs: a retryable error, never a result that reads as success.
        raise ToolError(
            f"Parallel did not accept or confirm any of the {len(failures)} inputs (it kept failing or "
            "has not shown the runs yet; this is temporary). Call add_runs again with the same arguments "
            "in a minute: it is safe to repeat, nothing is ever added twice."
        )
    group = await client.get_task_group(group_id)
    if journaled is not None:
        await journaled.added(
            group_id,
            processors=[run.processor for run in batch.run_inputs],
            spec=batch.spec,
            added=result.added,
            cost_usd=batch.estimate.cost_usd * result.added / max(1, total),
            group=group,
        )
    status = summarize(group, notice=None)
    status.next_step = None
    step = next_step_for(group_id, group.status.is_active, group.status.num_task_runs)
    if failures:
        step = (
            f"{len(failures)} inputs were not added (see failed). Fix them and call add_runs again with the "
            "same arguments: inputs already added are not added twice. "
        ) + step
    if result.duplicates:
        step = duplicates_note(len(result.duplicates)) + step
    return RunsAdded(
        task_group_id=group_id,
        added=result.added,
        already_present=result.already_present,
        failed=failures[:MAX_FAILURES_SHOWN],
        failed_total=len(failures),
        duplicates_in_call=batch.repeats,
        duplicates=len(result.duplicates),
        estimate=batch.estimate,
        status=status,
        next_step=step,
        notice=notice,
    )
