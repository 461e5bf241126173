"""What each tool answers with: flat pydantic models (shallow schemas suit every client).

Optional fields are left out of a result when empty (never sent as null), so their schema is the
plain type (``SkipJsonSchema[None]``): no ``anyOf`` for clients to validate on every call.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from ._spend import Estimate


class Answer(BaseModel):
    """Fields every tool result carries."""

    next_step: str | SkipJsonSchema[None] = Field(default=None, description="what to call next")
    notice: str | SkipJsonSchema[None] = Field(
        default=None, description="set when the data is synthetic (sandbox) or the journal is degraded"
    )


class GroupCreated(Answer):
    task_group_id: str
    created_at: str | SkipJsonSchema[None] = None


class GroupStatus(Answer):
    task_group_id: str
    label: str | SkipJsonSchema[None] = None
    active: bool
    total: int = Field(description="runs in the group")
    counts: dict[str, int] = Field(description="runs by status (non-zero only)")
    done_pct: float = Field(description="percent of runs no longer active")
    elapsed_s: float | SkipJsonSchema[None] = None
    eta_s: float | SkipJsonSchema[None] = Field(
        default=None, description="rough time left, from the pace so far"
    )


class Failure(BaseModel):
    index: int = Field(description="0-based position of the input")
    reason: str
    field: str | SkipJsonSchema[None] = None


class RunsAdded(Answer):
    task_group_id: str
    added: int
    already_present: int = Field(description="inputs already in the group from an earlier identical call")
    failed: list[Failure] = Field(default_factory=lambda: [])
    failed_total: int = 0
    duplicates_in_call: int = Field(default=0, description="inputs repeated within this call (each kept)")
    duplicates: int = Field(
        default=0,
        description="inputs of this call found on more than one run (should be 0; each extra run is billed)",
    )
    estimate: Estimate | SkipJsonSchema[None] = None
    status: GroupStatus | SkipJsonSchema[None] = None
    dry_run: bool = False


class WaitResult(Answer):
    status: GroupStatus
    finished_while_waiting: int = Field(description="runs that reached a final status during this wait")
    waited_s: float
    timed_out: bool = Field(description="true when the wait ended before the group finished")


class ResultsPage(Answer):
    task_group_id: str
    items: list[dict[str, Any]] = Field(description="one record per run, keyed by its input")
    returned: int
    next_cursor: str | SkipJsonSchema[None] = Field(
        default=None, description="pass to get the next page; null at the end"
    )
    group_active: bool | SkipJsonSchema[None] = None
    content_notice: str | SkipJsonSchema[None] = None
    notes: list[str] | SkipJsonSchema[None] = None


class FanOutResult(Answer):
    task_group_id: str
    added: RunsAdded
    reused_group: bool = False
    """True when an identical earlier fan_out call of this server already created the group."""
    wait: WaitResult | SkipJsonSchema[None] = None
    results: ResultsPage | SkipJsonSchema[None] = None


class RunDetail(Answer):
    run_id: str
    status: str
    active: bool
    processor: str
    task_group_id: str | SkipJsonSchema[None] = None
    key: str | SkipJsonSchema[None] = None
    output: Any = None
    basis: list[dict[str, Any]] | SkipJsonSchema[None] = None
    mcp_tool_calls: list[dict[str, Any]] | SkipJsonSchema[None] = None
    error: str | SkipJsonSchema[None] = None
    warnings: list[str] | SkipJsonSchema[None] = None
    metadata: dict[str, Any] | SkipJsonSchema[None] = None
    content_notice: str | SkipJsonSchema[None] = None
    note: str | SkipJsonSchema[None] = None


class ExportResult(Answer):
    task_group_id: str
    path: str
    uri: str
    format: str
    rows: int
    bytes: int
    distinct_inputs: int
    duplicate_inputs: int = Field(description="inputs present more than once (should be 0)")
    duplicate_runs: int = Field(
        default=0, description="runs beyond the first of each input (each one billed)"
    )
    runs_without_client_id: int = Field(description="runs not added through this server (not checked)")
    no_duplicates: bool = Field(description="no input added through this server appears more than once")
    missing_inputs: int | SkipJsonSchema[None] = Field(
        default=None,
        description="inputs this server recorded sending that have no run in the group (absent without a journal)",
    )
    content_notice: str | SkipJsonSchema[None] = None


class RetryResult(Answer):
    task_group_id: str
    failed_found: int
    added: int
    already_present: int
    failed: list[Failure] = Field(default_factory=lambda: [])
    notes: list[str] | SkipJsonSchema[None] = None


class GroupListed(BaseModel):
    task_group_id: str
    label: str | SkipJsonSchema[None] = None
    created_at: str
    active: bool | SkipJsonSchema[None] = Field(default=None, description="absent: status never read")
    total: int | SkipJsonSchema[None] = None
    counts: dict[str, int] = Field(default_factory=lambda: {})
    inputs_added: int = Field(default=0, description="inputs this server added")
    cost_usd: float = Field(default=0.0, description="estimated cost of those runs")
    processors: list[str] | SkipJsonSchema[None] = None


class GroupsPage(Answer):
    groups: list[GroupListed] = Field(description="newest first")
    returned: int
    next_cursor: str | SkipJsonSchema[None] = Field(
        default=None, description="pass to get more; null at the end"
    )
