"""The spend guard counts what was already spent, not one call at a time, and a confirmation is
a finite amount near the estimate.

Prices: lite runs cost $0.005, so with a $0.05 limit six runs ($0.03) pass alone and twelve in
two calls ($0.06) need confirmation."""

from __future__ import annotations

import math
from typing import Any

import pytest

from taskgroup_mcp.config import Settings
from taskgroup_mcp.tools import ArgumentProblem
from taskgroup_mcp.tools._spend import SpendLedger, estimate, guard, refusal

pytestmark = pytest.mark.anyio
LIMIT = 0.05


def _inputs(prefix: str, n: int = 6) -> list[str]:
    return [f"{prefix} question {i}" for i in range(n)]


async def test_two_calls_on_one_group_that_together_exceed_the_limit_need_confirmation(sandbox: Any) -> None:
    async with sandbox(spend_limit_usd=LIMIT) as (client, backend, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        first = await client.call_tool("add_runs", {"task_group_id": gid, "inputs": _inputs("a")})
        assert not first.is_error and first.structured_content["added"] == 6
        runs_before = backend.sandbox.store.counters()[1]
        second = await client.call_tool("add_runs", {"task_group_id": gid, "inputs": _inputs("b")})
        assert second.is_error, "the group's spend went over the limit unconfirmed"
        text = second.content[0].text
        assert "already been given $0.03" in text and "confirm_cost_usd=0.03" in text
        assert backend.sandbox.store.counters()[1] == runs_before, "runs were sent"
        dry = await client.call_tool(
            "add_runs", {"task_group_id": gid, "inputs": _inputs("b"), "dry_run": True}
        )
        assert "confirm_cost_usd=0.03" in dry.structured_content["next_step"]
        confirmed = await client.call_tool(
            "add_runs", {"task_group_id": gid, "inputs": _inputs("b"), "confirm_cost_usd": 0.03}
        )
        assert not confirmed.is_error and confirmed.structured_content["added"] == 6


async def test_the_same_inputs_under_a_new_call_key_count_as_new_spend(sandbox: Any) -> None:
    async with sandbox(spend_limit_usd=LIMIT) as (client, _, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        args = {"task_group_id": gid, "inputs": _inputs("a")}
        assert (await client.call_tool("add_runs", args)).structured_content["added"] == 6
        repeat = await client.call_tool("add_runs", args)  # the same call: adds nothing, costs nothing
        assert not repeat.is_error and repeat.structured_content["already_present"] == 6
        again = await client.call_tool("add_runs", {**args, "call_key": "second batch"})
        assert again.is_error and "Refused" in again.content[0].text


async def test_new_groups_share_the_process_window(sandbox: Any) -> None:
    async with sandbox(spend_limit_usd=LIMIT) as (client, _, _):
        first = await client.call_tool("fan_out", {"inputs": _inputs("a"), "wait_seconds": 0})
        assert not first.is_error, first.content[0].text
        second = await client.call_tool("fan_out", {"inputs": _inputs("b"), "wait_seconds": 0})
        assert second.is_error and "in the last hour" in second.content[0].text
        assert "was already created" not in second.content[0].text, "a group was created before the refusal"


@pytest.mark.parametrize("confirm", [math.inf, 1e308, math.nan, float("1e999"), -1.0, 1_600.0])
def test_a_confirmation_that_is_not_a_finite_amount_near_the_estimate_is_refused_naming_the_field(
    confirm: float,
) -> None:
    est = estimate([("lite", "processor")] * 3_000, Settings(spend_limit_usd=LIMIT))  # $15
    assert est.cost_usd == pytest.approx(15.0)
    with pytest.raises(ArgumentProblem) as caught:
        refusal(est, confirm)  # 1,600 is above 100x the $15 estimate
    assert "confirm_cost_usd" in str(caught.value) and "finite" in str(caught.value)
    assert refusal(est, 15.0) is None


async def test_an_infinite_confirmation_through_the_tool_is_refused(sandbox: Any) -> None:
    async with sandbox(spend_limit_usd=LIMIT) as (client, backend, _):
        gid = (await client.call_tool("create_task_group", {})).structured_content["task_group_id"]
        before = backend.sandbox.store.counters()[1]
        result = await client.call_tool(
            "add_runs", {"task_group_id": gid, "inputs": _inputs("a", 20), "confirm_cost_usd": 1e308}
        )
        assert result.is_error and "confirm_cost_usd" in result.content[0].text
        assert backend.sandbox.store.counters()[1] == before


def test_the_window_forgets_spend_older_than_its_length() -> None:
    now = [0.0]
    ledger = SpendLedger(window_seconds=3600, clock=lambda: now[0])
    est = estimate([("lite", "processor")] * 6, Settings(spend_limit_usd=LIMIT))
    guard(ledger, "acct", "tgrp_a", est, None).settle(est.cost_usd)
    with pytest.raises(Exception, match="in the last hour"):
        guard(ledger, "acct", "tgrp_b", est, None)
    assert ledger.spent("other", None).window_usd == 0  # another account is not affected
    now[0] = 3601.0
    guard(ledger, "acct", "tgrp_b", est, None)
    with pytest.raises(Exception, match="already been given"):
        guard(ledger, "acct", "tgrp_a", est, None)  # a group's own total does not expire
