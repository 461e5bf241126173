"""Counters behind ``GET /_sandbox/stats``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def _no_counts() -> tuple[int, int]:
    return (0, 0)


@dataclass
class Stats:
    """Counters by endpoint and outcome, faults injected, runs created, webhooks, MCP calls,
    POSTs refused by the rate limit.

    Calling it (``sb.stats()``) gives the same JSON as ``GET /_sandbox/stats``, with the groups
    and runs the store holds; the counters are also readable as attributes."""

    requests: dict[str, Counter[str]] = field(default_factory=dict[str, Counter[str]])
    faults: Counter[str] = field(default_factory=Counter[str])
    runs_created: int = 0
    webhooks_delivered: int = 0
    webhooks_failed: int = 0
    mcp_calls: int = 0
    rate_limited: int = 0
    """Run-creating POSTs refused with 429 by the documented rate limit."""
    held: Callable[[], tuple[int, int]] = field(default=_no_counts, repr=False)
    """(groups, runs) the store holds."""

    def __call__(self) -> dict[str, Any]:
        groups, runs = self.held()
        return {**self.to_json(), "groups": groups, "runs": runs}

    def request(self, endpoint: str, outcome: str) -> None:
        self.requests.setdefault(endpoint, Counter())[outcome] += 1

    def fault(self, name: str) -> None:
        self.faults[name] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": {ep: dict(c) for ep, c in sorted(self.requests.items())},
            "faults_injected": dict(self.faults),
            "runs_created": self.runs_created,
            "webhooks": {"delivered": self.webhooks_delivered, "failed": self.webhooks_failed},
            "mcp_tool_calls": self.mcp_calls,
            "rate_limited": self.rate_limited,
        }
