"""The spend guard: what a batch will cost, how long it takes to enqueue, how long runs take.

Prices and latencies come from ``wire.PROCESSORS``, the one table every layer reads.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, Field

from taskgroup_mcp import wire
from taskgroup_mcp.config import Settings

from ._arguments import ArgumentProblem


class SpendRefused(Exception):
    """The spend guard refused a call; the message gives the estimate and how to confirm."""


class Estimate(BaseModel):
    runs: int
    cost_usd: float = Field(description="runs x the processor's documented price")
    by_processor: dict[str, int]
    enqueue_seconds: float = Field(description="time to submit every run at the account's rate limit")
    run_latency_seconds: tuple[float, float] = Field(description="documented (min, max) latency of one run")
    limit_usd: float


def unknown_processor_problem(name: str, field: str) -> tuple[str, str]:
    base = sorted({p.removesuffix("-fast") for p in wire.PROCESSORS})
    return (field, f"is not a known processor; use one of {', '.join(base)} (each also as '<name>-fast')")


def estimate(processors: Iterable[tuple[str, str]], settings: Settings) -> Estimate:
    """Estimate a batch from one ``(processor, field)`` pair per run; unknown names are argument errors."""
    counts: Counter[str] = Counter()
    problems: list[tuple[str, str]] = []
    for name, field in processors:
        if wire.get_processor(name) is None:
            problems.append(unknown_processor_problem(name, field))
        counts[name] += 1
    if problems:
        raise ArgumentProblem(sorted(set(problems)))
    runs = sum(counts.values())
    cost = sum(n * wire.PROCESSORS[p].usd_per_run for p, n in counts.items())
    requests = math.ceil(runs / settings.chunk_size) if runs else 0
    enqueue = max(runs / settings.runs_per_minute, requests / settings.requests_per_minute) * 60.0
    lows = [wire.PROCESSORS[p].latency_seconds[0] for p in counts] or [0.0]
    highs = [wire.PROCESSORS[p].latency_seconds[1] for p in counts] or [0.0]
    return Estimate(
        runs=runs,
        cost_usd=round(cost, 4),
        by_processor=dict(counts),
        enqueue_seconds=round(enqueue, 1),
        run_latency_seconds=(min(lows), max(highs)),
        limit_usd=settings.spend_limit_usd,
    )


def refusal(est: Estimate, confirm_cost_usd: float | None, *, offer_dry_run: bool = True) -> str | None:
    """Why this batch may not run unconfirmed, or None if it may."""
    if est.cost_usd <= est.limit_usd:
        return None
    if confirm_cost_usd is not None and confirm_cost_usd + 1e-9 >= est.cost_usd:
        return None
    confirm = math.ceil(est.cost_usd * 100) / 100
    given = "" if confirm_cost_usd is None else f" (confirm_cost_usd={confirm_cost_usd:g} is below it)"
    return (
        f"Refused: {est.runs} runs would cost about ${est.cost_usd:,.2f}, above this server's limit of "
        f"${est.limit_usd:,.2f}{given}. Nothing was submitted. To proceed, ask the user, then call again "
        f"with confirm_cost_usd={confirm:.2f}"
        + ("; or call with dry_run=true to see the full estimate." if offer_dry_run else ".")
    )
