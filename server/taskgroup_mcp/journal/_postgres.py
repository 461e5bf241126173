"""The journal in PostgreSQL, for replicated deployments: psycopg 3 (async) with a small pool.

Every replica points ``TASKGROUP_MCP_DATABASE_URL`` at the same database; the schema is created
and migrated by whichever starts first. Named locks are transaction-scoped advisory locks. Errors
name the setting and the server's reason, never the URL (it holds the password).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._backend import Row
from ._errors import JournalError

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

SETTING = "TASKGROUP_MCP_DATABASE_URL"
CONNECT_TIMEOUT_SECONDS = 5
POOL_MAX = 8
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
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        await self._conn.execute(sql.replace("?", "%s"), tuple(params))  # pyright: ignore[reportArgumentType]

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        async with self._conn.cursor() as cur:
            await cur.executemany(sql.replace("?", "%s"), [tuple(r) for r in rows])  # pyright: ignore[reportArgumentType]

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cur = await self._conn.execute(sql.replace("?", "%s"), tuple(params))  # pyright: ignore[reportArgumentType]
        return list(await cur.fetchall())

    async def lock(self, name: str) -> None:
        await self._conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (name,))


class PostgresBackend:
    """A :class:`Backend` on a PostgreSQL database."""

    kind = "postgresql"
    setting = SETTING
    read_only = False

    def __init__(self, pool: AsyncConnectionPool[Any], url: str) -> None:
        self._pool = pool
        self._secret = urlsplit(url).password or ""
        self.where = describe_url(url)

    @classmethod
    async def open(cls, url: str) -> PostgresBackend:
        try:
            import psycopg
            from psycopg_pool import AsyncConnectionPool, PoolTimeout
        except ImportError:  # pragma: no cover - a dependency of the package
            raise JournalError(
                f"{SETTING}: the psycopg package is missing; reinstall parallel-taskgroup-mcp."
            ) from None
        where = describe_url(url)
        secret = urlsplit(url).password or ""
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=POOL_MAX,
            open=False,
            timeout=CONNECT_TIMEOUT_SECONDS,
            reconnect_timeout=CONNECT_TIMEOUT_SECONDS,
            kwargs={
                "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                "autocommit": True,
                "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                "application_name": "taskgroup-mcp",
            },
            name="taskgroup-mcp-journal",
        )
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
        except (PoolTimeout, psycopg.Error, OSError) as exc:
            with contextlib.suppress(Exception):
                await pool.close(timeout=1)
            raise JournalError(
                f"{SETTING}: cannot connect to the PostgreSQL database at {where} ({_reason(exc, secret)}). "
                "Check the URL, the server and the credentials, or unset it to use the local SQLite journal."
            ) from None
        return cls(pool, url)

    @contextlib.asynccontextmanager
    async def transaction(self, *, write: bool) -> AsyncGenerator[PostgresTx]:
        del write
        import psycopg
        from psycopg_pool import PoolTimeout

        try:
            async with self._pool.connection() as conn, conn.transaction():
                yield PostgresTx(conn)
        except (PoolTimeout, psycopg.Error, OSError) as exc:
            raise JournalError(
                f"{SETTING}: the PostgreSQL database at {self.where} failed ({_reason(exc, self._secret)})."
            ) from None

    async def close(self) -> None:
        await self._pool.close(timeout=5)
