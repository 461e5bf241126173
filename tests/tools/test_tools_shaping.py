"""Plain tests of result shaping, cursors, sanitising and redaction (no MCP)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from taskgroup_mcp import wire
from taskgroup_mcp.tools import SECRETS, ArgumentProblem, install_log_redaction, summarize
from taskgroup_mcp.tools._sanitize import SANDBOX_NOTICE, sanitize, strip_invisible
from taskgroup_mcp.tools._shaping import (
    decode_cursor,
    encode_cursor,
    estimate_tokens,
    fit,
    read_page,
    shape_run,
)


def _event(i: int, content: Any = None, *, basis: list[wire.FieldBasis] | None = None) -> wire.TaskRunEvent:
    run = wire.TaskRun(
        run_id=f"trun_{i}",
        interaction_id=f"trun_{i}",
        status="completed",
        is_active=False,
        processor="lite",
        created_at=None,
        modified_at=None,
        metadata={"mcp_cid": f"cid{i}", "team": "a"},
    )
    output = wire.TaskRunJsonOutput(content=content or {"answer": f"a{i}", "n": i}, basis=basis or [])
    run_input = wire.RunInput(
        input={"company": f"Co {i}"},
        processor="lite",
        mcp_servers=[
            wire.McpServer(name="m", url="https://m.example.com", headers={"Authorization": "Bearer zzz"})
        ],
    )
    return wire.TaskRunEvent(event_id=f"ev{i}", run=run, input=run_input, output=output)


async def _aiter(events: list[wire.TaskRunEvent]) -> AsyncIterator[wire.TaskRunEvent]:
    for e in events:
        yield e


def test_invisible_tag_zero_width_and_bidi_characters_are_removed() -> None:
    hidden = "ok\U000e0049\U000e0047\u200b\u202e\u2066\ufeffdone"
    assert strip_invisible(hidden) == "okdone"
    assert sanitize({"k\u200b": ["a\U000e0041b"]}) == {"k": ["ab"]}


def test_a_shaped_run_is_keyed_by_input_and_hides_headers_and_the_client_id() -> None:
    item = shape_run(_event(1), reserved_key="mcp_cid", include_input=True)
    assert item["key"] == "Co 1"
    assert item["output"] == {"answer": "a1", "n": 1}
    assert item["metadata"] == {"team": "a"}
    assert "Bearer zzz" not in str(item) and "mcp_cid" not in str(item)


def test_fields_project_the_json_output() -> None:
    assert shape_run(_event(2), fields=["n"])["output"] == {"n": 2}


def test_low_confidence_basis_keeps_only_low_fields() -> None:
    basis = [
        wire.FieldBasis(field="answer", reasoning="r", confidence="low"),
        wire.FieldBasis(field="n", reasoning="r", confidence="high"),
    ]
    item = shape_run(_event(3, basis=basis), include_basis="low_confidence")
    assert [b["field"] for b in item["basis"]] == ["answer"]
    assert "basis" not in shape_run(_event(3, basis=basis))


def test_a_cursor_round_trips_and_rejects_another_group() -> None:
    cursor = encode_cursor("tgrp_a", "ev9", None)
    assert decode_cursor(cursor, "tgrp_a", None) == "ev9"
    with pytest.raises(ArgumentProblem):
        decode_cursor(cursor, "tgrp_b", None)
    with pytest.raises(ArgumentProblem):
        decode_cursor("not a cursor!", "tgrp_a", None)


def test_a_long_value_is_cut_with_a_note_to_fit() -> None:
    item = {"key": "k", "run_id": "r", "output": {"text": "x" * 50_000}}
    cut, changed = fit(item, 2_000)
    assert changed and estimate_tokens(cut) * 4 <= 2_000 + 4
    assert "cut" in cut["output"]["text"]


@pytest.mark.anyio
async def test_a_page_stops_at_its_budget_and_resumes_after_the_last_item() -> None:
    events = [_event(i) for i in range(100)]
    page = await read_page(_aiter(events), shape=lambda e: shape_run(e), limit=1000, budget_tokens=2_000)
    assert 0 < len(page.items) < 100 and not page.exhausted
    assert sum(len(str(i)) for i in page.items) < 2_500
    assert page.event_ids[-1] == f"ev{len(page.items) - 1}"


@pytest.mark.anyio
async def test_a_page_knows_when_the_stream_is_exhausted() -> None:
    page = await read_page(
        _aiter([_event(i) for i in range(3)]), shape=shape_run, limit=3, budget_tokens=100_000
    )
    assert len(page.items) == 3 and page.exhausted


@pytest.mark.anyio
async def test_an_oversized_first_run_is_cut_rather_than_failing() -> None:
    big = _event(0, content={"text": "y" * 100_000})
    page = await read_page(_aiter([big, _event(1)]), shape=shape_run, limit=10, budget_tokens=3_000)
    assert page.cut == 1 and page.exhausted
    assert "cut" in page.items[0]["output"]["text"]
    assert sum(estimate_tokens(i) * 4 for i in page.items) <= 3_000 + 8


def test_a_registered_secret_is_redacted_from_values_and_log_records(
    caplog: pytest.LogCaptureFixture,
) -> None:
    SECRETS.add("CANARY-secret-5a4b3c2d")
    assert SECRETS.redact({"a": ["x CANARY-secret-5a4b3c2d y"]}) == {"a": ["x [REDACTED] y"]}
    install_log_redaction()
    with caplog.at_level(logging.INFO):
        logging.getLogger("taskgroup_mcp.test").info("key=%s", "CANARY-secret-5a4b3c2d")
    assert "CANARY-secret" not in caplog.text and "[REDACTED]" in caplog.text


def test_a_busy_groups_status_stays_within_about_100_tokens() -> None:
    counts = {"queued": 1000, "running": 2000, "completed": 9000, "failed": 345, "action_required": 3}
    group = wire.TaskGroup(
        taskgroup_id="tgrp_1934800f3dd419885ef784f5",
        created_at="2026-11-29T10:00:00Z",
        status=wire.TaskGroupStatus(
            num_task_runs=12_348,
            task_run_status_counts=counts,
            is_active=True,
            status_message=None,
            modified_at=None,
        ),
    )
    status = summarize(group, notice=SANDBOX_NOTICE)
    assert status.eta_s is not None and status.done_pct == pytest.approx(75.7, abs=0.1)
    assert estimate_tokens(status.model_dump(mode="json", exclude_none=True)) <= 100
