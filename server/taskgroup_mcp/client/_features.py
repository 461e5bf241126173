"""Which beta tokens and which secrets a set of inputs brings with it."""

from __future__ import annotations

from collections.abc import Sequence

from taskgroup_mcp.wire import BETA_EVENTS_SSE, BETA_MCP_SERVERS, BETA_WEBHOOK, RunInput


def mcp_header_values(inputs: Sequence[RunInput]) -> list[str]:
    """Every forwarded MCP header value in ``inputs`` (to be masked wherever it might be echoed)."""
    return [v for run in inputs for s in (run.mcp_servers or []) for v in (s.headers or {}).values()]


def betas_for(inputs: Sequence[RunInput]) -> list[str]:
    """The ``parallel-beta`` tokens the features used by ``inputs`` need (none when none is used)."""
    out: list[str] = []
    if any(run.mcp_servers for run in inputs):
        out.append(BETA_MCP_SERVERS)
    if any(run.webhook is not None for run in inputs):
        out.append(BETA_WEBHOOK)
    if any(run.enable_events for run in inputs):
        out.append(BETA_EVENTS_SSE)
    return out
