"""What the journal needs of a database: a transaction, run whole on one of its worker threads.

The journal writes each transaction as one plain function of a :class:`Tx` and hands it to
:meth:`Backend.run` (or :meth:`Backend.post`): one hop off the event loop per transaction, never
per statement. Each backend has one worker thread and one connection, so a process's journal work
happens in the order it was asked for (a read sees the writes posted before it). SQL is
written once, with ``?`` placeholders; each backend adapts it (``tx.kind`` tells the few bulk
statements apart that each database does best its own way). A write transaction holds the
database's write lock (SQLite ``BEGIN IMMEDIATE``); :meth:`Tx.lock` adds a named lock for
read-modify-write sequences that SQLite already serializes (PostgreSQL: a transaction-scoped
advisory lock).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from ._errors import JournalError

Row = tuple[Any, ...]
T = TypeVar("T")


class Tx(Protocol):
    kind: str
    """``sqlite`` or ``postgresql``."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def fetch_each(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        """Each query's rows, the queries sent together (PostgreSQL: one round trip for all)."""
        ...

    def lock(self, name: str) -> None:
        """Hold a lock named ``name`` until this transaction ends (writers of the same name queue)."""
        ...


class Backend(Protocol):
    kind: str
    """``sqlite`` or ``postgresql``."""
    setting: str
    """The setting that chose this database (named in every error)."""
    where: str
    """Where the journal lives, for people (a path, or host/database: never a password)."""
    read_only: bool

    async def run(self, fn: Callable[[Tx], T], *, write: bool, relaxed: bool = False) -> T:
        """``fn`` in one transaction on the worker thread: committed when it returns, rolled back
        when it raises. Raises :class:`JournalError` (naming the setting) for anything the
        database refuses. ``relaxed``: the commit need not reach the disk before this returns
        (visible to every process at once; made durable by the next durable commit of this
        process, which a write ahead is)."""
        ...

    def post(self, fn: Callable[[Tx], object], *, on_error: Callable[[JournalError], None]) -> None:
        """``fn`` in one write transaction in its turn, not waited for: before anything queued
        after it, and before :meth:`close` returns. ``on_error`` hears of a failure (on the
        worker thread)."""
        ...

    async def close(self) -> None: ...


def in_order(fns: Sequence[Callable[[Tx], object]]) -> Callable[[Tx], None]:
    """One transaction's work made of several: each of ``fns`` in turn."""

    def run(tx: Tx) -> None:
        for fn in fns:
            fn(tx)

    return run
