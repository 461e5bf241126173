"""The tools' argument types: each with a description, shallow, and constrained where it matters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from ._inputs import InputValue

ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
"""Ids become URL path segments: nothing that could change the path or the query gets through."""
GroupId = Annotated[
    str,
    Field(pattern=ID_PATTERN, description="the task group id (tgrp_...) from create_task_group or fan_out"),
]
Inputs = Annotated[
    list[InputValue] | None,
    Field(description="one entry per run: a research question (string) or a JSON object of fields"),
]
InputsFile = Annotated[
    str | None,
    Field(
        description="instead of inputs: a .jsonl, .json (array) or .csv file (one input per row) on the "
        "server, under the directories it allows (default: its working directory)"
    ),
]
Processor = Annotated[
    str | None,
    Field(
        description="lite, base, core, core2x, pro, ultra, ultra2x, ultra4x, ultra8x (add -fast for lower "
        "latency); default from the server settings (lite). Prices: resource taskgroup://processors"
    ),
]
Output = Annotated[
    str | dict[str, Any] | None,
    Field(
        description="what each run returns: a text description, or a JSON schema object "
        '({"type":"object","properties":{...}}); absent: the processor chooses (auto)'
    ),
]
InputSchema = Annotated[
    str | dict[str, Any] | None, Field(description="optional description or JSON schema of the inputs")
]
McpServers = Annotated[
    list[dict[str, Any] | str] | None,
    Field(
        description="MCP servers each run may call (at most 10): the name of a server the operator "
        "configured (preferred: its credentials stay on this server), or {url (https), name?, headers?, "
        "allowed_tools?} whose header values are sent as written (${...} references are refused)"
    ),
]
SourcePolicyArg = Annotated[
    dict[str, Any] | None,
    Field(description="optional {include_domains?, exclude_domains?, after_date? (YYYY-MM-DD)}"),
]
MetadataArg = Annotated[
    dict[str, str | int | float | bool] | None,
    Field(description="metadata stored on every run (keys <= 16 chars, values <= 512 chars)"),
]
Runs = Annotated[
    list[dict[str, Any]] | None,
    Field(
        description="per-input overrides: [{index (0-based), processor?, output?, mcp_servers?, metadata?}]"
    ),
]
CallKey = Annotated[
    str | None,
    Field(
        description="optional; by default the key is derived from the call itself, so the same call "
        "repeated adds nothing twice. Give a new key to deliberately add the same inputs again"
    ),
]
DryRun = Annotated[
    bool, Field(description="true: only estimate cost, enqueue time and latency; submit nothing")
]
ConfirmCost = Annotated[
    float | None,
    Field(
        description="confirm a batch whose estimate exceeds the server's spend limit (USD, >= the estimate)"
    ),
]
BasisArg = Annotated[
    Literal["none", "low_confidence", "all"],
    Field(description="citations and reasoning: none (default), only low-confidence fields, or all"),
]
StatusFilter = Annotated[
    Literal["completed", "failed", "queued", "running", "action_required", "cancelling", "cancelled"] | None,
    Field(description="only runs in this status (default: all runs)"),
]
Label = Annotated[
    str | None,
    Field(
        max_length=120,
        description="optional short name for the job, shown by list_task_groups (kept in the group's metadata)",
    ),
]
