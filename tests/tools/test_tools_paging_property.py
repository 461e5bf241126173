"""Property: paging any stream of runs under any budget returns each run exactly once, and every
page fits its budget (a lone oversized run is cut to fit)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from taskgroup_mcp import wire
from taskgroup_mcp.tools._shaping import estimate_tokens as tokens
from taskgroup_mcp.tools._shaping import read_page, shape_run


def _event(i: int, size: int) -> wire.TaskRunEvent:
    run = wire.TaskRun(
        run_id=f"trun_{i}",
        interaction_id=f"trun_{i}",
        status="completed",
        is_active=False,
        processor="lite",
        created_at=None,
        modified_at=None,
    )
    output = wire.TaskRunJsonOutput(content={"text": "w" * size, "n": i}, basis=[])
    return wire.TaskRunEvent(
        event_id=str(i), run=run, input=wire.RunInput(input=f"q{i}", processor="lite"), output=output
    )


async def _after(events: list[wire.TaskRunEvent], cursor: str | None) -> AsyncIterator[wire.TaskRunEvent]:
    start = 0 if cursor is None else int(cursor) + 1
    for event in events[start:]:
        yield event


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=6_000), min_size=0, max_size=60),
    budget=st.integers(min_value=300, max_value=12_000),
    limit=st.integers(min_value=1, max_value=25),
)
def test_paging_returns_every_run_once_and_fits_every_page(sizes: list[int], budget: int, limit: int) -> None:
    events = [_event(i, size) for i, size in enumerate(sizes)]

    async def page_through() -> list[str]:
        seen: list[str] = []
        cursor: str | None = None
        for _ in range(len(events) + 2):
            page = await read_page(_after(events, cursor), shape=shape_run, limit=limit, budget_tokens=budget)
            assert len(page.items) <= limit
            used = 2 + sum(tokens(item) * 4 for item in page.items)
            assert used <= budget + 4 * len(page.items) + 4
            seen.extend(item["run_id"] for item in page.items)
            if page.exhausted:
                return seen
            cursor = page.event_ids[-1]
        raise AssertionError("paging did not end")

    seen = anyio.run(page_through)
    assert seen == [f"trun_{i}" for i in range(len(events))]
