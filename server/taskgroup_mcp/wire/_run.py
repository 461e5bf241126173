"""A task run and what it is created from."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from ._base import WireModel, null_means
from ._spec import TaskSpec

RunStatus = Literal["queued", "action_required", "running", "completed", "failed", "cancelling", "cancelled"]
RUN_STATUSES: tuple[RunStatus, ...] = (
    "queued",
    "action_required",
    "running",
    "completed",
    "failed",
    "cancelling",
    "cancelled",
)
ACTIVE_RUN_STATUSES: frozenset[str] = frozenset({"queued", "running", "cancelling"})
"""A run (and a group holding one) is active while in one of these."""

MetadataValue = str | bool | int | float
Metadata = dict[str, MetadataValue]


class McpServer(WireModel):
    """An MCP server a run may call (Streamable HTTP only). Header values are write-only secrets."""

    type: Annotated[Literal["url"], null_means("url")] = "url"
    name: str
    url: str
    headers: dict[str, str] | None = Field(default=None, repr=False)
    allowed_tools: list[str] | None = None


class SourcePolicy(WireModel):
    include_domains: list[str] | None = None
    exclude_domains: list[str] | None = None
    after_date: str | None = None
    """YYYY-MM-DD."""


class Webhook(WireModel):
    url: str
    event_types: Annotated[list[Literal["task_run.status"]], null_means([])] = Field(
        default_factory=list[Literal["task_run.status"]]
    )


class AdvancedSettings(WireModel):
    location: str | None = None
    """ISO 3166-1 alpha-2 country code."""


class RunInput(WireModel):
    """One run to create: the body of POST /v1/tasks/runs and each element of add-runs' ``inputs``."""

    input: str | dict[str, Any]
    processor: str
    metadata: Metadata | None = None
    task_spec: TaskSpec | None = None
    source_policy: SourcePolicy | None = None
    enable_events: bool | None = None
    mcp_servers: list[McpServer] | None = None
    webhook: Webhook | None = None
    previous_interaction_id: str | None = None
    advanced_settings: AdvancedSettings | None = None


class ErrorObject(WireModel):
    ref_id: str
    message: str
    detail: dict[str, Any] | None = None


class Warning(WireModel):  # the API's own name (shadows the builtin inside this module only)
    type: str
    """``spec_validation_warning``, ``input_validation_warning`` or ``warning``; new types may appear."""
    message: str
    detail: dict[str, Any] | None = None


class TaskRun(WireModel):
    """A run's status (no output: that is :class:`TaskRunResult`)."""

    run_id: str
    interaction_id: str
    """Required on the wire (SDK 0.4.2+); pass it as ``previous_interaction_id`` to chain runs."""
    status: RunStatus
    is_active: bool
    processor: str
    created_at: str | None = None
    modified_at: str | None = None
    metadata: Metadata | None = None
    taskgroup_id: str | None = None
    warnings: list[Warning] | None = None
    error: ErrorObject | None = None
