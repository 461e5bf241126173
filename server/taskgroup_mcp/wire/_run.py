"""A task run and what it is created from."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from ._base import WireModel, null_means
from ._json import is_object
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
    ref_id: str | None = None
    """Required in the SPEC; the docs' webhook failure sample has none, so it may be missing."""
    message: str
    detail: dict[str, Any] | None = None


class Warning(WireModel):  # the API's own name (shadows the builtin inside this module only)
    type: str
    """``spec_validation_warning``, ``input_validation_warning`` or ``warning``; new types may appear."""
    message: str
    detail: dict[str, Any] | None = None


def _derive_is_active(data: Any) -> Any:
    """A run object without ``is_active`` (an older or trimmed sample) reads it from its status."""
    if not is_object(data):
        return data
    mapping: dict[str, Any] = data
    status = mapping.get("status")
    if "is_active" in mapping or not isinstance(status, str):
        return mapping
    return {**mapping, "is_active": status in ACTIVE_RUN_STATUSES}


class TaskRun(WireModel):
    """A run's status (no output: that is :class:`TaskRunResult`).

    Read leniently where the API may evolve, as the official SDK does: ``interaction_id`` may be
    missing (the docs' SSE, webhook and MCP samples have none), ``status`` may be a status this
    version does not know (kept as its string, e.g. ``"expired"``), and ``is_active`` missing is
    read from the status."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    run_id: str
    interaction_id: str | None = None
    """Sent by the API today (SDK 0.4.2+); pass it as ``previous_interaction_id`` to chain runs."""
    status: RunStatus | str
    """One of :data:`RUN_STATUSES`, or a newer status kept as its string."""
    is_active: bool

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any) -> Any:
        return _derive_is_active(data)

    processor: str
    created_at: str | None = None
    modified_at: str | None = None
    metadata: Metadata | None = None
    taskgroup_id: str | None = None
    warnings: list[Warning] | None = None
    error: ErrorObject | None = None
