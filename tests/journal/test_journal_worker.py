"""The journal's worker thread: writes posted back to back are merged into one transaction, and a
write that fails alone never takes the others with it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from taskgroup_mcp.journal._worker import MergedPosts, Slot, Workers

pytestmark = pytest.mark.anyio


async def test_writes_posted_while_the_worker_is_busy_run_as_one_transaction_and_a_bad_one_alone() -> None:
    workers: Workers[None] = Workers("test-journal", 1, lambda slot: None)
    transactions: list[list[str]] = []

    def transaction(fns: list[Callable[[Any], object]]) -> Callable[[Slot[None]], object]:
        def run(slot: Slot[None]) -> None:
            done: list[str] = []
            for fn in fns:
                fn(done)  # raises for a bad record: the whole transaction is rolled back
            transactions.append(done)

        return run

    def record(name: str) -> Callable[[Any], object]:
        def write(done: list[str]) -> None:
            if name == "bad":
                raise ValueError("refused")
            done.append(name)

        return write

    posted = MergedPosts(workers, transaction)
    failures: list[str] = []
    busy, release = threading.Event(), threading.Event()

    def hold(slot: Slot[None]) -> None:
        busy.set()
        release.wait(10)

    async with anyio.create_task_group() as tg:
        tg.start_soon(workers.run, hold)
        await anyio.to_thread.run_sync(busy.wait, 10)
        for name in ("a", "b", "c"):
            posted.post(record(name), lambda exc: failures.append(str(exc)))
        release.set()
    await workers.run(lambda slot: None)  # everything posted before it has run
    assert transactions == [["a", "b", "c"]], "three records, one transaction"

    busy.clear()
    release.clear()
    async with anyio.create_task_group() as tg:
        tg.start_soon(workers.run, hold)
        await anyio.to_thread.run_sync(busy.wait, 10)
        for name in ("d", "bad", "e"):
            posted.post(record(name), lambda exc: failures.append(str(exc)))
        release.set()
    await workers.run(lambda slot: None)
    await anyio.to_thread.run_sync(workers.close)
    assert transactions[1:] == [["d"], ["e"]], "merged failed: each tried alone, the good ones kept"
    assert failures == ["refused"]
