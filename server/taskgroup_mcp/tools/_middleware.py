"""Defence in depth on every message: learn forwarded header values, redact them from results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from pydantic import BaseModel

from ._forwarding import register_header_secrets
from ._sanitize import SECRETS


def _learn_secrets(params: Mapping[str, Any] | None) -> None:
    if params is None:
        return
    args = params.get("arguments")
    if not isinstance(args, Mapping):
        return
    fields: Mapping[str, Any] = args  # pyright: ignore[reportUnknownVariableType]
    register_header_secrets(fields.get("mcp_servers"))
    runs = fields.get("runs")
    if isinstance(runs, list):
        items: list[Any] = runs  # pyright: ignore[reportUnknownVariableType]
        for run in items:
            if isinstance(run, Mapping):
                entry: Mapping[str, Any] = run  # pyright: ignore[reportUnknownVariableType]
                register_header_secrets(entry.get("mcp_servers"))


async def redaction_middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Register header values of a tool call before anything can echo them (argument validation
    errors included), then redact every known secret from the result."""
    if ctx.method == "tools/call":
        _learn_secrets(ctx.params)
    result = await call_next(ctx)
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(result, dict):
        return SECRETS.redact(result)
    return result
