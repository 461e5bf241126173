"""The default journal: one SQLite file in the state directory, WAL mode, shared by processes.

Every statement runs on a worker thread (never on the event loop); one transaction at a time per
process, and SQLite's own locks (``BEGIN IMMEDIATE``, a busy timeout) order writers across
processes. A file that cannot be written is opened read-only; one that is not a database is never
touched.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from ._backend import Row
from ._errors import JournalError

T = TypeVar("T")
FILE_NAME = "journal.db"
BUSY_TIMEOUT_SECONDS = 10.0
SETTING = "TASKGROUP_MCP_STATE_DIR"


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


class SqliteTx:
    def __init__(self, backend: SqliteBackend) -> None:
        self._b = backend

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        await self._b.call(lambda db: db.execute(sql, tuple(params)))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._b.call(lambda db: db.executemany(sql, [tuple(r) for r in rows]))

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await self._b.call(lambda db: db.execute(sql, tuple(params)).fetchall())

    async def lock(self, name: str) -> None:
        del name  # a write transaction already holds SQLite's one write lock


class SqliteBackend:
    """A :class:`Backend` on ``state_dir/journal.db``."""

    kind = "sqlite"
    setting = SETTING

    def __init__(self, db: sqlite3.Connection, path: Path, *, read_only: bool) -> None:
        self._db = db
        self.path = path
        self.where = str(path)
        self.read_only = read_only
        self._lock = anyio.Lock()

    @classmethod
    async def open(cls, state_dir: Path) -> SqliteBackend:
        return await anyio.to_thread.run_sync(cls._open_sync, state_dir)

    @classmethod
    def _open_sync(cls, state_dir: Path) -> SqliteBackend:
        path = state_dir.expanduser() / FILE_NAME
        try:
            state_dir.expanduser().mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(
                f"{SETTING}: cannot create the state directory {state_dir} ({_reason(exc)}). "
                "Point it at a writable directory, or set TASKGROUP_MCP_STATE=off."
            ) from None
        writable = os.access(path if path.exists() else path.parent, os.W_OK)
        if not writable and not path.exists():
            raise JournalError(
                f"{SETTING}: the state directory {path.parent} is not writable. "
                "Point it at a writable directory, or set TASKGROUP_MCP_STATE=off."
            )
        db: sqlite3.Connection | None = None
        try:
            if writable:
                db = sqlite3.connect(
                    path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
                )
                if not path.stat().st_size:
                    with contextlib.suppress(OSError):
                        path.chmod(0o600)
            else:
                db = sqlite3.connect(
                    f"{path.as_uri()}?mode=ro",
                    uri=True,
                    timeout=BUSY_TIMEOUT_SECONDS,
                    isolation_level=None,
                    check_same_thread=False,
                )
            db.execute("PRAGMA schema_version").fetchone()  # reads the header: fails on a non-database
            if writable:
                mode = db.execute("PRAGMA journal_mode=WAL").fetchone()
                if mode is None or str(mode[0]).lower() != "wal":
                    raise sqlite3.DatabaseError("could not switch to WAL mode")
                db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=OFF")
        except sqlite3.Error as exc:
            if db is not None:
                db.close()
            raise JournalError(
                f"{SETTING}: {path} is not a usable journal ({_reason(exc)}). Move the file away to start "
                "a new journal (the API keeps your groups), or set TASKGROUP_MCP_STATE=off."
            ) from None
        return cls(db, path, read_only=not writable)

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            try:
                return fn(self._db)
            except sqlite3.OperationalError as exc:
                text = str(exc).lower()
                if "readonly" in text or "read-only" in text:
                    raise JournalError(
                        f"{SETTING}: the journal {self.path} is read-only. Make it writable, or set "
                        "TASKGROUP_MCP_STATE=off.",
                        read_only=True,
                    ) from None
                raise JournalError(f"{SETTING}: the journal {self.path} failed ({_reason(exc)}).") from None
            except sqlite3.Error as exc:
                raise JournalError(
                    f"{SETTING}: {self.path} is not a usable journal ({_reason(exc)}). Move the file away "
                    "to start a new journal, or set TASKGROUP_MCP_STATE=off."
                ) from None

        return await anyio.to_thread.run_sync(run)

    @contextlib.asynccontextmanager
    async def transaction(self, *, write: bool) -> AsyncGenerator[SqliteTx]:
        async with self._lock:
            if write and self.read_only:
                raise JournalError(
                    f"{SETTING}: the journal {self.path} is read-only. Make it writable, or set "
                    "TASKGROUP_MCP_STATE=off.",
                    read_only=True,
                )
            await self.call(lambda db: db.execute("BEGIN IMMEDIATE" if write else "BEGIN"))
            try:
                yield SqliteTx(self)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self.call(lambda db: db.execute("ROLLBACK") if db.in_transaction else None)
                raise
            with anyio.CancelScope(shield=True):
                await self.call(lambda db: db.execute("COMMIT"))

    async def close(self) -> None:
        async with self._lock:
            await anyio.to_thread.run_sync(self._db.close)
