"""The tools' argument types: each with a description, shallow, and constrained where it matters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from ._inputs import InputValue

AS_IN_ADD_RUNS = "as in add_runs"
"""fan_out's description of an argument it shares with add_runs: the model reads both, once."""
ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
"""Ids become URL path segments: nothing that could change the path or the query gets through."""
GroupId = Annotated[
    str,
    Field(pattern=ID_PATTERN, description="tgrp_..."),
]
Inputs = Annotated[
    list[InputValue] | None,
    Field(description="one per run: a question, or an object of fields"),
]
InputsFile = Annotated[
    str | None,
    Field(description="instead of inputs: a .jsonl, .json or .csv file on the server"),
]
Processor = Annotated[
    str | None,
    Field(
        description="lite (default), base, core, core2x, pro, ultra, ultra2x, ultra4x, ultra8x; -fast: lower latency; "
        "prices: taskgroup://processors"
    ),
]
Output = Annotated[
    str | dict[str, Any] | None,
    Field(
        description="what each run returns: a text description or a JSON schema (absent: the processor chooses)"
    ),
]
InputSchema = Annotated[
    str | dict[str, Any] | None, Field(description="description or JSON schema of the inputs")
]
McpServers = Annotated[
    list[dict[str, Any] | str] | None,
    Field(
        description="MCP servers runs may call (max 10): a name the operator configured (preferred) or {url (https), "
        "name?, headers?, allowed_tools?}"
    ),
]
SourcePolicyArg = Annotated[
    dict[str, Any] | None,
    Field(description="{include_domains?, exclude_domains?, after_date? (YYYY-MM-DD)}"),
]
MetadataArg = Annotated[
    dict[str, str | int | float | bool] | None,
    Field(description="stored on every run; keys <= 16 chars, values <= 512"),
]
Runs = Annotated[
    list[dict[str, Any]] | None,
    Field(
        description="per-input overrides: [{index (0-based), processor?, output?, mcp_servers?, metadata?}]"
    ),
]
CallKey = Annotated[
    str | None,
    Field(description="a new key adds the same inputs again (default: derived from the call)"),
]
DryRun = Annotated[bool, Field(description="estimate cost and time only; submit nothing")]
ConfirmCost = Annotated[
    float | None,
    Field(description="USD >= the estimate: confirms a batch above the spend limit"),
]
BasisArg = Annotated[
    Literal["none", "low_confidence", "all"],
    Field(description="citations and reasoning (low_confidence: those fields only)"),
]
StatusFilter = Annotated[
    Literal["completed", "failed", "queued", "running", "action_required", "cancelling", "cancelled"] | None,
    Field(description="only runs in this status"),
]
Label = Annotated[
    str | None,
    Field(
        max_length=120,
        description="short name of the job, shown by list_task_groups",
    ),
]
