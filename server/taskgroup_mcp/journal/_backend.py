"""What the journal needs of a database: transactions of a few plain SQL statements.

SQL is written once, with ``?`` placeholders; each backend adapts it. A write transaction holds the
database's write lock (SQLite ``BEGIN IMMEDIATE``); :meth:`Tx.lock` adds a named lock for
read-modify-write sequences that SQLite already serializes (PostgreSQL: a transaction-scoped
advisory lock).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

Row = tuple[Any, ...]


class Tx(Protocol):
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    async def lock(self, name: str) -> None:
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

    def transaction(self, *, write: bool) -> AbstractAsyncContextManager[Tx]:
        """A transaction; committed when the block ends normally, rolled back otherwise. Raises
        :class:`JournalError` (naming the setting) for anything the database refuses."""
        ...

    async def close(self) -> None: ...
