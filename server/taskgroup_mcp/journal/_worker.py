"""Database work off the event loop: dedicated threads, each owning one connection.

A transaction is one plain function run whole on a worker thread: one hand-over from the loop and
one back, however many statements it holds (a thread pool would cost a hop per statement, or per
job with the loop in between). Jobs queue in arrival order; a worker runs the ones waiting back to
back. The awaiting task gets the result (or the exception) through the loop's thread-safe
callback. A job can also be posted and not waited for: it runs in its turn (with one worker, before
anything queued after it), and :meth:`Workers.close` runs every job queued before it.

A job whose caller was cancelled still runs to its end (a transaction is never cut half way); its
result is dropped. Writes posted back to back are merged into one transaction (:class:`MergedPosts`).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
C = TypeVar("C")

JOIN_SECONDS = 5.0
"""How long closing waits for a worker to finish the job it is running."""


class Slot(Generic[C]):
    """A worker's own state: its connection (None until opened, or after it broke)."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.conn: C | None = None


_Job = tuple[
    Callable[[Slot[Any]], Any],
    asyncio.AbstractEventLoop | None,
    "asyncio.Future[Any] | None",
    Callable[[BaseException], None] | None,
]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class Workers(Generic[C]):
    """``count`` daemon threads named ``name``, taking jobs from one queue. ``release(slot)`` runs
    on each worker's thread when it stops (closes its connection)."""

    def __init__(self, name: str, count: int, release: Callable[[Slot[C]], None]) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._release = release
        self._threads = [
            threading.Thread(target=self._work, args=(Slot[C](i),), name=f"{name}-{i}", daemon=True)
            for i in range(count)
        ]
        self._closed = False
        for thread in self._threads:
            thread.start()

    async def run(self, fn: Callable[[Slot[C]], T]) -> T:
        """``fn(slot)`` on a worker thread; its result or exception here."""
        if self._closed:
            raise RuntimeError("the journal's database workers are closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((fn, loop, future, None))
        return await future

    def post(self, fn: Callable[[Slot[C]], object], on_error: Callable[[BaseException], None]) -> None:
        """``fn(slot)`` on a worker thread in its turn, not waited for; ``on_error(exc)`` (on that
        thread) when it raises."""
        if self._closed:
            raise RuntimeError("the journal's database workers are closed")
        self._jobs.put((fn, None, None, on_error))

    def _work(self, slot: Slot[C]) -> None:
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                fn, loop, future, on_error = job
                result: Any = None
                error: BaseException | None = None
                try:
                    result = fn(slot)
                except BaseException as exc:  # handed to the awaiting task, never lost in the thread
                    error = exc
                if loop is not None and future is not None:
                    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                        loop.call_soon_threadsafe(_settle, future, result, error)
                elif error is not None and on_error is not None:
                    with contextlib.suppress(Exception):  # a report that fails must not stop the worker
                        on_error(error)
        finally:
            self._release(slot)

    def close(self) -> None:
        """Let the workers finish the jobs queued so far, then stop them (blocks: call from a thread)."""
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(JOIN_SECONDS)


class MergedPosts(Generic[C]):
    """Write transactions posted and not waited for, merged: those that arrive while the first
    still waits for its turn join it, and all of them run as one transaction (one commit, one hop,
    however many records a call leaves behind). ``transaction(fns)`` builds the worker job that
    runs ``fns`` in order in one transaction. When the merged transaction fails, each is tried
    again alone, so one bad record never takes the others with it; ``on_error`` hears of each that
    still fails."""

    def __init__(
        self,
        workers: Workers[C],
        transaction: Callable[[list[Callable[[Any], object]]], Callable[[Slot[C]], object]],
    ) -> None:
        self._workers = workers
        self._transaction = transaction
        self._lock = threading.Lock()
        self._waiting: list[tuple[Callable[[Any], object], Callable[[BaseException], None]]] = []

    def post(self, fn: Callable[[Any], object], on_error: Callable[[BaseException], None]) -> None:
        with self._lock:
            self._waiting.append((fn, on_error))
            if len(self._waiting) > 1:  # a job already queued will take it along
                return
        self._workers.post(self._flush, lambda exc: None)

    def _flush(self, slot: Slot[C]) -> None:
        with self._lock:
            jobs, self._waiting = self._waiting, []
        try:
            self._transaction([fn for fn, _ in jobs])(slot)
        except BaseException as exc:
            if len(jobs) == 1:
                with contextlib.suppress(Exception):  # a report that fails must not stop the worker
                    jobs[0][1](exc)
                return
            for fn, on_error in jobs:
                try:
                    self._transaction([fn])(slot)
                except BaseException as alone:
                    with contextlib.suppress(Exception):
                        on_error(alone)
