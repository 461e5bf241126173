"""A run's result: text or JSON output with its basis and MCP tool calls."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag

from ._base import WireModel, null_means
from ._json import is_object
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


def _json_object_text(value: Any) -> Any:
    """JSON content sent as a string holding a JSON object (the docs' access-research-basis
    example) reads as that object; anything else is left for validation to refuse."""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        if is_object(decoded):
            return decoded
    return value


class TaskRunJsonOutput(WireModel):
    type: Literal["json"] = "json"
    content: Annotated[dict[str, Any], BeforeValidator(_json_object_text)]
    basis: list[FieldBasis]
    mcp_tool_calls: list[McpToolCall] | None = None
    beta_fields: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    """Present only when the run used an auto schema."""


def _output_kind(value: Any) -> str | None:
    """``type`` when the output names one; without it, the kind its content has."""
    if is_object(value):
        mapping: dict[str, Any] = value
        kind = mapping.get("type")
        if kind is not None:
            return kind if isinstance(kind, str) else None
        content = _json_object_text(mapping.get("content"))
        return "json" if is_object(content) else "text"
    kind = getattr(value, "type", None)
    return kind if isinstance(kind, str) else None


TaskRunOutput = Annotated[
    Annotated[TaskRunTextOutput, Tag("text")] | Annotated[TaskRunJsonOutput, Tag("json")],
    Discriminator(_output_kind),
]
"""Text or JSON output, told apart by ``type`` (or, when it is missing, by the content)."""


class TaskRunResult(WireModel):
    run: TaskRun
    output: TaskRunOutput
