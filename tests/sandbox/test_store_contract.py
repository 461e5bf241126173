"""The store contract: the in-memory and the SQLite store behave the same; SQLite survives a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from taskgroup_mcp.sandbox import ManualClock, Sandbox, SandboxConfig, open_store
from taskgroup_mcp.sandbox._memory import MemoryStore
from taskgroup_mcp.sandbox._records import EventRecord, GroupRecord, RunRecord
from taskgroup_mcp.sandbox._store import Store
from taskgroup_mcp.wire import RunInput

from .conftest import add, api, new_group, run_input, sse_events


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = MemoryStore() if request.param == "memory" else open_store(str(tmp_path / "s.db"))
    yield s
    s.close()


def _run(seq: int, gid: str | None, index: int, status: str = "queued") -> RunRecord:
    return RunRecord(
        seq=seq,
        run_id=f"trun_{seq:032x}",
        group_id=gid,
        index=index,
        input=RunInput(input=f"q{seq}", processor="lite", metadata={"n": seq}),
        task_spec=None,
        created_at=1.0,
        start_at=2.0,
        end_at=3.0,
        final_status="completed",
        status=status,
    )


def test_a_store_counts_what_it_reserved_and_holds(store: Store) -> None:
    assert store.counters() == (0, 0)
    store.add_group(GroupRecord("tgrp_a", 1.0, {"k": "v"}, 1.0))
    assert store.reserve_runs(3) == 0 and store.reserve_runs(2) == 3
    store.add_runs([_run(i, "tgrp_a", i) for i in range(3)])
    assert store.counters() == (1, 5)
    assert store.counts() == (1, 3)


def test_a_store_returns_group_runs_in_index_order_after_a_cursor_and_by_status(store: Store) -> None:
    store.add_group(GroupRecord("tgrp_a", 1.0, None, 1.0))
    store.add_runs([_run(i, "tgrp_a", i) for i in range(0, 5)])
    store.add_runs([_run(i, "tgrp_a", i) for i in range(8, 10)])
    store.add_runs([_run(i, "tgrp_a", i) for i in range(5, 8)])  # a delayed commit lands late
    assert [r.index for r in store.group_runs("tgrp_a", -1, None, 100)] == list(range(10))
    assert [r.index for r in store.group_runs("tgrp_a", 3, None, 4)] == [4, 5, 6, 7]
    run = store.get_run(_run(6, "tgrp_a", 6).run_id)
    assert run is not None and run.input.metadata == {"n": 6}
    store.set_status(run, "running", 5.0)
    assert [r.index for r in store.group_runs("tgrp_a", -1, "running", 100)] == [6]
    again = store.get_run(run.run_id)
    assert again is not None and again.status == "running" and again.modified_at == 5.0


def test_a_store_keeps_tool_calls_warnings_and_errors(store: Store) -> None:
    store.add_runs([_run(0, None, -1)])
    run = store.get_run(_run(0, None, -1).run_id)
    assert run is not None
    call = {
        "tool_call_id": "c",
        "server_name": "s",
        "tool_name": "t",
        "arguments": "{}",
        "content": "x",
        "error": None,
    }
    store.set_tool_calls(run, [call], [{"type": "warning", "message": "m", "detail": {}}], 3)
    store.set_status(run, "failed", 9.0, {"ref_id": "r", "message": "m", "detail": None})
    again = store.get_run(run.run_id)
    assert again is not None
    assert again.tool_calls == [call] and again.mcp_state == 3
    assert again.error == {"ref_id": "r", "message": "m", "detail": None}
    assert [r.run_id for r in store.unfinished_runs()] == []


def test_a_store_pages_group_events_after_a_sequence_number(store: Store) -> None:
    store.add_group(GroupRecord("tgrp_a", 1.0, None, 1.0))
    for seq in range(1, 8):
        store.add_event(
            EventRecord(
                "tgrp_a",
                seq,
                run_id=f"trun_{seq}" if seq != 4 else None,
                status={"x": 1} if seq == 4 else None,
            )
        )
    assert [e.seq for e in store.group_events("tgrp_a", 2, 3)] == [3, 4, 5]
    assert store.group_events("tgrp_a", 3, 1)[0].status == {"x": 1}
    assert store.group_events("tgrp_a", 7, 10) == []


def test_clearing_a_store_forgets_everything(store: Store) -> None:
    store.add_group(GroupRecord("tgrp_a", 1.0, None, 1.0))
    store.add_runs([_run(0, "tgrp_a", 0)])
    store.clear()
    assert store.get_group("tgrp_a") is None and store.counts() == (0, 0) and store.counters() == (0, 0)


@pytest.mark.anyio
async def test_a_restarted_sqlite_sandbox_keeps_groups_runs_cursors_and_schedule(tmp_path: Path) -> None:
    db = str(tmp_path / "persist.db")
    clock = ManualClock()
    first = Sandbox(SandboxConfig(db_path=db), clock=clock)
    async with api(first) as c:
        gid = await new_group(c)
        ids = (await add(c, gid, [run_input(f"q{i}") for i in range(30)])).json()["run_ids"]
        clock.advance(0.5)
        before = (await c.get(f"/v1/tasks/groups/{gid}")).json()["status"]
        events_before = sse_events(
            (await c.get(f"/v1/tasks/groups/{gid}/events", params={"timeout": 0})).text
        )
    first.close()
    second = Sandbox(SandboxConfig(db_path=db), clock=clock)
    cursor = events_before[-1]["event_id"]
    async with api(second) as c:
        assert (await c.get(f"/v1/tasks/groups/{gid}")).json()["status"] == before
        with anyio.fail_after(10):
            now = await c.get(
                f"/v1/tasks/groups/{gid}/events", params={"last_event_id": cursor, "timeout": 0}
            )
        assert sse_events(now.text) == []
        clock.advance(3600)
        after = (await c.get(f"/v1/tasks/groups/{gid}")).json()["status"]
        with anyio.fail_after(10):  # the group is idle now, so the stream ends by itself
            resumed = sse_events(
                (await c.get(f"/v1/tasks/groups/{gid}/events", params={"last_event_id": cursor})).text
            )
        more = (await add(c, gid, [run_input("late")])).json()
    second.close()
    assert after["task_run_status_counts"] == {"completed": 30} and after["is_active"] is False
    assert more["run_ids"][0] not in ids
    done_now = [e["run"]["run_id"] for e in resumed if e["type"] == "task_run.state"]
    done_before = {e["run"]["run_id"] for e in events_before if e["type"] == "task_run.state"}
    assert sorted(done_now) == sorted(set(ids) - done_before)
    assert resumed[-1]["type"] == "task_group_status" and resumed[-1]["status"]["is_active"] is False


def test_a_store_keeps_each_runs_betas_and_an_older_sqlite_file_gains_the_column(tmp_path: Path) -> None:
    import sqlite3

    db = str(tmp_path / "old.db")
    store = open_store(db)
    store.add_runs([_run(0, None, -1)])
    store.close()
    with sqlite3.connect(db) as raw:  # as a file written before runs kept their betas
        raw.execute("ALTER TABLE runs DROP COLUMN betas")
    reopened = open_store(db)
    old = reopened.get_run(f"trun_{0:032x}")
    beta = _run(1, None, -1)
    beta.betas = ("field-basis-2025-11-25", "mcp-server-2025-07-17")
    reopened.add_runs([beta])
    kept = reopened.get_run(beta.run_id)
    reopened.close()
    assert old is not None and old.betas == ()
    assert kept is not None and kept.betas == ("field-basis-2025-11-25", "mcp-server-2025-07-17")
