"""A run's result: text or JSON output with its basis and MCP tool calls."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from ._base import WireModel, null_means
from ._run import TaskRun


class Citation(WireModel):
    url: str
    title: str | None = None
    excerpts: list[str] | None = None


class FieldBasis(WireModel):
    """Why one output field holds what it holds."""

    field: str
    reasoning: str
    citations: Annotated[list[Citation], null_means([])] = Field(default_factory=list[Citation])
    confidence: str | None = None
    """``high``, ``medium`` or ``low`` (sometimes empty)."""


class McpToolCall(WireModel):
    tool_call_id: str
    server_name: str
    tool_name: str
    arguments: str
    """The call's arguments as a JSON-encoded string."""
    content: str | None = None
    error: str | None = None


class TaskRunTextOutput(WireModel):
    type: Literal["text"] = "text"
    content: str
    basis: list[FieldBasis]
    mcp_tool_calls: list[McpToolCall] | None = None
    beta_fields: dict[str, Any] | None = None


class TaskRunJsonOutput(WireModel):
    type: Literal["json"] = "json"
    content: dict[str, Any]
    basis: list[FieldBasis]
    mcp_tool_calls: list[McpToolCall] | None = None
    beta_fields: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    """Present only when the run used an auto schema."""


TaskRunOutput = Annotated[TaskRunTextOutput | TaskRunJsonOutput, Field(discriminator="type")]


class TaskRunResult(WireModel):
    run: TaskRun
    output: TaskRunOutput
