"""Processors: price and latency, the one table every layer reads (docs snapshot 2026-05)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Processor:
    name: str
    usd_per_1000_runs: float
    latency_seconds: tuple[float, float]
    """Documented (min, max) latency of one run."""
    max_output_fields: int
    max_mcp_tool_calls: int | None
    """At most this many MCP tool calls per run (None: several)."""
    deep_research: bool = False
    """``pro`` and above: without a task spec the output is auto (deep-research JSON), and run
    events are on by default. Below ``pro`` the output without a task spec is plain text."""

    @property
    def usd_per_run(self) -> float:
        return self.usd_per_1000_runs / 1000


def _table() -> dict[str, Processor]:
    m = 60.0
    h = 3600.0
    # name: ($/1000, standard latency, -fast latency, output fields, MCP tool calls)
    rows: list[tuple[str, float, tuple[float, float], tuple[float, float], int, int | None]] = [
        ("lite", 5, (10, 60), (10, 20), 2, 1),
        ("base", 10, (15, 100), (15, 50), 5, None),
        ("core", 25, (60, 5 * m), (15, 100), 10, 1),
        ("core2x", 50, (60, 10 * m), (15, 3 * m), 10, None),
        ("pro", 100, (2 * m, 10 * m), (30, 5 * m), 20, None),
        ("ultra", 300, (5 * m, 25 * m), (1 * m, 10 * m), 20, None),
        ("ultra2x", 600, (5 * m, 50 * m), (1 * m, 20 * m), 25, None),
        ("ultra4x", 1200, (5 * m, 90 * m), (1 * m, 40 * m), 25, None),
        ("ultra8x", 2400, (5 * m, 2 * h), (1 * m, 1 * h), 25, None),
    ]
    table: dict[str, Processor] = {}
    deep = False
    for name, price, std, fast, fields, calls in rows:
        deep = deep or name == "pro"  # the rows run from the cheapest up
        table[name] = Processor(name, price, std, fields, calls, deep)
        table[f"{name}-fast"] = Processor(f"{name}-fast", price, fast, fields, calls, deep)
    return table


PROCESSORS: dict[str, Processor] = _table()
"""Every documented processor by name, the `-fast` variants included."""


def get_processor(name: str) -> Processor | None:
    """The processor of that name, or None if the API does not know it (it answers 403)."""
    return PROCESSORS.get(name)
