"""Every tool call runs in its own secret scope: its header values are bounded before any other
work, masked in its result, errors and log lines, and forgotten when it ends."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, cast

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from ._arguments import format_problems
from ._forwarding import call_header_values
from ._sanitize import SECRETS

logger = logging.getLogger("taskgroup_mcp.tools")
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")


def _arguments(params: Mapping[str, Any] | None) -> Mapping[str, Any]:
    args = None if params is None else params.get("arguments")
    return cast("Mapping[str, Any]", args) if isinstance(args, Mapping) else {}


def _refusal(tool: str, problems: list[tuple[str, str]]) -> dict[str, Any]:
    text = f"Error executing tool {tool}: {format_problems(problems)}"
    result = CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


async def redaction_middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Refuse a tool call whose MCP header values are out of bounds (before argument validation
    or any other work), then run every request in a fresh secret scope holding its header values
    (and, once :func:`client_for` has read it, its per-request API key): they are masked from this
    request's result, errors and logs, and from no other caller's."""
    values: list[str] = []
    if ctx.method == "tools/call":
        values, problems = call_header_values(_arguments(ctx.params))
        if problems:
            name = (ctx.params or {}).get("name")
            tool = name if isinstance(name, str) and _TOOL_NAME.match(name) else "?"
            logger.info("Tool %r refused: %s", tool, ", ".join(field for field, _ in problems))
            return _refusal(tool, problems)
    with SECRETS.call_scope() as scope:
        for value in values:
            scope.add(value)
        result = await call_next(ctx)
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json", by_alias=True, exclude_none=True)
        if isinstance(result, dict):
            return SECRETS.redact(result)
        return result
