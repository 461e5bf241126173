"""Counters behind ``GET /_sandbox/stats``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    requests: dict[str, Counter[str]] = field(default_factory=dict[str, Counter[str]])
    faults: Counter[str] = field(default_factory=Counter[str])
    runs_created: int = 0
    webhooks_delivered: int = 0
    webhooks_failed: int = 0
    mcp_calls: int = 0

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
        }
