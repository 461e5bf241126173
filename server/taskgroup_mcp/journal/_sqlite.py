"""The default journal: one SQLite file in the state directory, WAL mode, shared by processes.

One worker thread owns the connection and runs each transaction whole (never on the event loop,
one hop per transaction); SQLite's own locks (``BEGIN IMMEDIATE``, a busy timeout) order writers
across processes. A file that cannot be written is opened read-only; one that is not a database is
never touched.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread

from ._backend import Row, Tx, in_order
from ._errors import JournalError
from ._worker import MergedPosts, Slot, Workers

T = TypeVar("T")
FILE_NAME = "journal.db"
BUSY_TIMEOUT_SECONDS = 10.0
SETTING = "TASKGROUP_MCP_STATE_DIR"


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _as_journal_error(exc: BaseException) -> JournalError:
    if isinstance(exc, JournalError):
        return exc
    return JournalError(f"{SETTING}: the journal failed ({_reason(exc)}).")


class SqliteTx:
    kind = "sqlite"

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._db.execute(sql, tuple(params))

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._db.execute(sql, tuple(params)).fetchall()

    def fetch_each(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        return [self.fetchall(sql, params) for sql, params in queries]

    def lock(self, name: str) -> None:
        del name  # a write transaction already holds SQLite's one write lock


def _close(slot: Slot[sqlite3.Connection]) -> None:
    if slot.conn is not None:
        with contextlib.suppress(sqlite3.Error):
            slot.conn.close()
        slot.conn = None


class SqliteBackend:
    """A :class:`Backend` on ``state_dir/journal.db``."""

    kind = "sqlite"
    setting = SETTING

    def __init__(self, workers: Workers[sqlite3.Connection], path: Path, *, read_only: bool) -> None:
        self._workers = workers
        self._posted = MergedPosts(workers, lambda fns: self._transaction(in_order(fns), True))
        self.path = path
        self.where = str(path)
        self.read_only = read_only

    @classmethod
    async def open(cls, state_dir: Path) -> SqliteBackend:
        workers: Workers[sqlite3.Connection] = Workers("taskgroup-mcp-journal", 1, _close)
        try:
            path, read_only = await workers.run(lambda slot: _open_sync(slot, state_dir))
        except BaseException:
            await anyio.to_thread.run_sync(workers.close)
            raise
        return cls(workers, path, read_only=read_only)

    def _refused(self, exc: sqlite3.Error) -> JournalError:
        if isinstance(exc, sqlite3.OperationalError):
            text = str(exc).lower()
            if "readonly" in text or "read-only" in text:
                return JournalError(
                    f"{SETTING}: the journal {self.path} is read-only. Make it writable, or set "
                    "TASKGROUP_MCP_STATE=off.",
                    read_only=True,
                )
            return JournalError(f"{SETTING}: the journal {self.path} failed ({_reason(exc)}).")
        return JournalError(
            f"{SETTING}: {self.path} is not a usable journal ({_reason(exc)}). Move the file away "
            "to start a new journal, or set TASKGROUP_MCP_STATE=off."
        )

    def _read_only(self) -> JournalError:
        return JournalError(
            f"{SETTING}: the journal {self.path} is read-only. Make it writable, or set TASKGROUP_MCP_STATE=off.",
            read_only=True,
        )

    def _transaction(self, fn: Callable[[Tx], T], write: bool) -> Callable[[Slot[sqlite3.Connection]], T]:
        def transaction(slot: Slot[sqlite3.Connection]) -> T:
            db = slot.conn
            if db is None:
                raise JournalError(f"{SETTING}: the journal {self.path} is closed.")
            try:
                db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    result = fn(SqliteTx(db))
                except BaseException:
                    if db.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise self._refused(exc) from None
            return result

        return transaction

    async def run(self, fn: Callable[[Tx], T], *, write: bool, relaxed: bool = False) -> T:
        del relaxed  # WAL with synchronous=NORMAL: no commit waits for the disk
        if write and self.read_only:
            raise self._read_only()
        return await self._workers.run(self._transaction(fn, write))

    def post(self, fn: Callable[[Tx], object], *, on_error: Callable[[JournalError], None]) -> None:
        if self.read_only:
            on_error(self._read_only())
            return
        self._posted.post(fn, lambda exc: on_error(_as_journal_error(exc)))

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self._workers.close)


def _open_sync(slot: Slot[sqlite3.Connection], state_dir: Path) -> tuple[Path, bool]:
    """Opens the file on the worker's own thread; returns (path, read_only)."""
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
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
            if not path.stat().st_size:
                with contextlib.suppress(OSError):
                    path.chmod(0o600)
        else:
            db = sqlite3.connect(
                f"{path.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
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
    slot.conn = db
    return path, not writable
