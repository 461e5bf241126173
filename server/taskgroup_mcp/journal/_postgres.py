"""The journal in PostgreSQL, for replicated deployments: psycopg 3 on a few worker threads.

Every replica points ``TASKGROUP_MCP_DATABASE_URL`` at the same database; the schema is created
and migrated by whichever starts first. A worker thread owns the connection (opened again after it
broke) and runs a transaction whole in pipeline mode: its statements go out together and the
answers come back together, so a write costs one round trip, not one per statement. Named locks are transaction-scoped advisory locks. Errors name the setting and the
server's reason, never the URL (it holds the password).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import anyio.to_thread

from ._backend import Row, Tx, in_order
from ._errors import JournalError
from ._worker import MergedPosts, Slot, Workers

if TYPE_CHECKING:
    from psycopg import Connection, Cursor

T = TypeVar("T")
SETTING = "TASKGROUP_MCP_DATABASE_URL"
CONNECT_TIMEOUT_SECONDS = 5
WORKERS = 1
"""Connections (and threads) per server process: one, so a process's journal work happens in the
order it was asked for; its transactions are a few statements long."""
STATEMENT_TIMEOUT_MS = 15_000


def describe_url(url: str) -> str:
    """``host:port/database`` of a PostgreSQL URL, for messages (no user, no password)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "the configured database"
    return f"{host}{port}{parts.path or '/'}"


def _reason(exc: BaseException, secret: str) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if secret:
        text = text.replace(secret, "***")
    return text[:200]


class PostgresTx:
    """Statements of one transaction, sent in pipeline mode. A write transaction of a single
    statement goes out alone (it is atomic by itself); ``BEGIN`` is sent before a second one, or
    before a read, and ``COMMIT`` at the end."""

    kind = "postgresql"

    def __init__(self, conn: Connection[Any], *, write: bool, relaxed: bool = False) -> None:
        self._conn = conn
        self._held: tuple[str, tuple[Any, ...]] | None = None
        self._pending_begin = write
        self._relaxed = relaxed
        self.in_block = False

    def _send(self, sql: str, params: tuple[Any, ...]) -> Cursor[Any]:
        return self._conn.execute(sql.replace("?", "%s"), params)  # pyright: ignore[reportArgumentType]

    def _open_block(self) -> None:
        if self._pending_begin:
            self._pending_begin = False
            self.in_block = True
            self._conn.execute("BEGIN")
            if self._relaxed:
                self._conn.execute("SET LOCAL synchronous_commit TO OFF")
            if self._held is not None:
                self._send(*self._held)
                self._held = None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if self._pending_begin and self._held is None and not self._relaxed:
            self._held = (sql, tuple(params))  # alone, it needs no BEGIN
            return
        self._open_block()
        self._send(sql, tuple(params))

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._open_block()
        return list(self._send(sql, tuple(params)).fetchall())

    def fetch_each(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        self._open_block()
        cursors = [self._send(sql, tuple(params)) for sql, params in queries]  # all out before any answer
        return [list(cursor.fetchall()) for cursor in cursors]

    def lock(self, name: str) -> None:
        self.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (name,))

    def finish(self) -> None:
        """Send what is held, and ``COMMIT`` if a block was opened."""
        if self._held is not None:
            self._send(*self._held)
            self._held = None
        if self.in_block:
            self._conn.execute("COMMIT")


def _close(slot: Slot[Connection[Any]]) -> None:
    if slot.conn is not None:
        with contextlib.suppress(Exception):
            slot.conn.close()
        slot.conn = None


class PostgresBackend:
    """A :class:`Backend` on a PostgreSQL database."""

    kind = "postgresql"
    setting = SETTING
    read_only = False

    def __init__(self, workers: Workers[Connection[Any]], url: str) -> None:
        self._workers = workers
        self._posted = MergedPosts(workers, lambda fns: self._transaction(in_order(fns), True, relaxed=True))
        self._url = url
        self._secret = urlsplit(url).password or ""
        self.where = describe_url(url)

    def __repr__(self) -> str:
        return f"PostgresBackend(where={self.where!r})"

    @classmethod
    async def open(cls, url: str) -> PostgresBackend:
        try:
            import psycopg  # a dependency of the package
        except ImportError:  # pragma: no cover
            raise JournalError(
                f"{SETTING}: the psycopg package is missing; reinstall parallel-taskgroup-mcp."
            ) from None
        del psycopg
        workers: Workers[Connection[Any]] = Workers("taskgroup-mcp-journal-pg", WORKERS, _close)
        backend = cls(workers, url)
        try:
            await backend._workers.run(backend._connection)  # fails here, not on first use, when it is wrong
        except BaseException:
            await backend.close()
            raise
        return backend

    def _connection(self, slot: Slot[Connection[Any]]) -> Connection[Any]:
        import psycopg

        conn = slot.conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        _close(slot)
        try:
            slot.conn = psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                application_name="taskgroup-mcp",
            )
        except (psycopg.Error, OSError) as exc:
            raise JournalError(
                f"{SETTING}: cannot connect to the PostgreSQL database at {self.where} "
                f"({_reason(exc, self._secret)}). Check the URL, the server and the credentials, or unset "
                "it to use the local SQLite journal."
            ) from None
        return slot.conn

    def _transaction(
        self, fn: Callable[[Tx], T], write: bool, *, relaxed: bool = False
    ) -> Callable[[Slot[Connection[Any]]], T]:
        """The worker job running ``fn`` in one transaction. ``relaxed``: its commit does not wait
        for the WAL flush (``synchronous_commit`` off for it alone): for records no answer waits
        for, which a crash of the database server may lose and nothing else can (a lost one costs
        a repeat of the call a settle wait, never a duplicate). Writes ahead are never relaxed."""

        def transaction(slot: Slot[Connection[Any]]) -> T:
            import psycopg

            conn = self._connection(slot)
            try:
                # Pipeline mode: the statements leave together and their answers come back
                # together; a read waits only for what was sent before it.
                with conn.pipeline():
                    tx = PostgresTx(conn, write=write, relaxed=relaxed)
                    result = fn(tx)
                    tx.finish()
            except BaseException as exc:
                self._after_failure(slot, conn)
                if isinstance(exc, (psycopg.Error, OSError)):
                    raise JournalError(
                        f"{SETTING}: the PostgreSQL database at {self.where} failed "
                        f"({_reason(exc, self._secret)})."
                    ) from None
                raise
            return result

        return transaction

    async def run(self, fn: Callable[[Tx], T], *, write: bool, relaxed: bool = False) -> T:
        return await self._workers.run(self._transaction(fn, write, relaxed=relaxed and write))

    def post(self, fn: Callable[[Tx], object], *, on_error: Callable[[JournalError], None]) -> None:
        def report(exc: BaseException) -> None:
            on_error(
                exc
                if isinstance(exc, JournalError)
                else JournalError(f"{SETTING}: the PostgreSQL database at {self.where} failed.")
            )

        self._posted.post(fn, report)

    @staticmethod
    def _after_failure(slot: Slot[Connection[Any]], conn: Connection[Any]) -> None:
        """Roll back what a failed transaction left open; a broken connection is opened again later."""
        import psycopg
        from psycopg.pq import TransactionStatus

        if conn.closed or conn.broken:
            _close(slot)
            return
        try:
            if conn.info.transaction_status != TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
        except psycopg.Error:
            _close(slot)

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self._workers.close)
