"""Token budget: a 2,000-run group read page by page fits every page and returns each run once."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import anyio
import pytest

from taskgroup_mcp.tools._budget import result_tokens
from taskgroup_mcp.tools._shaping import estimate_tokens

pytestmark = pytest.mark.anyio

RUNS = 2_000


@pytest.mark.parametrize("max_tokens", [8_000])
async def test_a_2000_run_group_is_paged_under_max_tokens_with_every_run_exactly_once(
    sandbox: Any, max_tokens: int
) -> None:
    async with sandbox(speed=100_000.0) as (client, _, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        inputs: list[Any] = [
            {"company": f"Company {i}", "country": "NL" if i % 2 else "DE"} for i in range(RUNS)
        ]
        added = await client.call_tool(
            "add_runs",
            {
                "task_group_id": gid,
                "inputs": inputs,
                "output": {
                    "type": "object",
                    "properties": {"hq": {"type": "string"}, "summary": {"type": "string"}},
                },
            },
        )
        assert not added.is_error, added.content[0].text
        assert added.structured_content["added"] == RUNS
        with anyio.fail_after(60):
            while (await client.call_tool("wait_for_task_group", {"task_group_id": gid})).structured_content[
                "status"
            ]["active"]:
                pass
        seen: Counter[str] = Counter()
        cursor: str | None = None
        pages = 0
        with anyio.fail_after(120):
            while True:
                args: dict[str, Any] = {"task_group_id": gid, "limit": 1_000, "max_tokens": max_tokens}
                if cursor:
                    args["cursor"] = cursor
                result = await client.call_tool("get_task_group_results", args)
                assert not result.is_error, result.content[0].text
                page = result.structured_content
                assert estimate_tokens(page) <= max_tokens
                assert math.ceil(len(result.content[0].text) / 4) <= max_tokens
                assert result_tokens(page) <= max_tokens
                seen.update(item["run_id"] for item in page["items"])
                pages += 1
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        assert len(seen) == RUNS and set(seen.values()) == {1}
        assert pages >= 2
