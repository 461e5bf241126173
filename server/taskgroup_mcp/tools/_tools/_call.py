"""What a tool reads from the call it serves: its progress channel and the budget of a results page."""

from __future__ import annotations

from typing import Any

from mcp.server.apps import client_supports_apps
from mcp.server.mcpserver import Context

from .._answer import Progress


def reporter(ctx: Context[Any, Any]) -> Progress:
    """Progress notifications to the caller (dropped when it sent no progress token)."""

    async def report(done: float, total: float | None, message: str | None) -> None:
        await ctx.report_progress(done, total=total, message=message)

    return report


APP_PAGE_MAX_TOKENS = 1_000_000
"""Under MCP Apps a results page's structured content is the explorer's data (the app shows it);
the model gets a short summary as the text block, cut to fit (``_explorer``)."""


def page_budget(ctx: Context[Any, Any], max_tokens: int) -> int:
    """The budget of a results page: ``max_tokens``, or the app's when the host shows it in the
    explorer and gives the model the summary instead."""
    return APP_PAGE_MAX_TOKENS if client_supports_apps(ctx) else max_tokens
