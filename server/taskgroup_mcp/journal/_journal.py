"""The journal: the server's durable record of the groups it created and the client ids it sent.

:func:`open_journal` picks the database (PostgreSQL when ``TASKGROUP_MCP_DATABASE_URL`` is set,
else SQLite in the state directory), migrates it, and returns a :class:`Journal`. The journal never
stops a tool: a write that fails is noted (``problem``, shown to the model through ``notice``) and
the tool carries on against the API; a journal that could not be opened is retried now and then.
Reads that a tool cannot do without (listing groups) raise :class:`JournalError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, cast

import anyio

from ._backend import Backend, Row
from ._errors import JournalError
from ._records import GroupEntry, Scope, SentId
from ._schema import LATEST, MIGRATIONS, VERSION_TABLE

if TYPE_CHECKING:
    from taskgroup_mcp.config import Settings

logger = logging.getLogger("taskgroup_mcp.journal")

REOPEN_SECONDS = 30.0
"""A journal that could not be opened is tried again on use after this long."""
RETRY_AFTER_FAILURE_SECONDS = 5.0
"""After a failed operation, skip the database this long (a database that is down would otherwise
cost every call its connect timeout)."""
LEASE_TTL_SECONDS = 30.0
"""A lease not renewed for this long (its holder died) may be taken over."""
SENT_KEPT_SECONDS = 7 * 24 * 3600.0
"""Client ids older than this are pruned at start (the API's read lag is seconds)."""
FAN_OUT_REUSE_SECONDS = 24 * 3600.0
"""An identical fan_out call reuses its group for this long."""


def tenant_of(api_key: str) -> str:
    """The tenant of a caller's API key: a one-way hash (the key itself is never stored)."""
    return hashlib.sha256(b"taskgroup-mcp tenant\0" + api_key.encode()).hexdigest()[:32]


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class LeaseBusy(Exception):
    """Another process or replica holds the lease on the same call (it is running it now)."""

    def __init__(self, name: str, expires_at: float) -> None:
        super().__init__(name)
        self.name = name
        self.expires_at = expires_at


Opener = Callable[[], Awaitable[Backend]]

_GROUP_COLUMNS = (
    "group_id, created_at, label, processors, schema_fp, inputs_sent, cost_usd, status, active, status_at"
)


def _entry(row: Row) -> GroupEntry:
    loaded: Any = json.loads(row[7]) if row[7] else None
    status = cast("dict[str, Any]", loaded) if isinstance(loaded, dict) else None
    return GroupEntry(
        group_id=str(row[0]),
        created_at=float(row[1]),
        label=row[2],
        processors=list(json.loads(row[3] or "[]")),
        schema_fp=row[4],
        inputs_sent=int(row[5]),
        cost_usd=float(row[6]),
        status=status,
        active=None if row[8] is None else bool(row[8]),
        status_at=None if row[9] is None else float(row[9]),
    )


class Journal:
    """The journal over one database. Build with :func:`open_journal`."""

    def __init__(self, opener: Opener, *, kind: str, setting: str) -> None:
        self._opener = opener
        self._backend: Backend | None = None
        self.kind = kind
        self.setting = setting
        self.where = ""
        self.problem: str | None = None
        """Why the journal is not fully working right now (None: it is)."""
        self.read_only = False
        self._next_try = 0.0
        self._open_lock = anyio.Lock()
        self.instance = secrets.token_hex(8)
        """Names this process in the leases it holds."""

    # -- opening ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open and migrate; on failure the journal stays usable in degraded form (``problem`` says why)."""
        with contextlib.suppress(JournalError):  # noted in ``problem``; tried again on use
            await self._ensure()

    async def _ensure(self) -> Backend:
        if self._backend is not None:
            return self._backend
        async with self._open_lock:
            if self._backend is not None:
                return self._backend
            if time.monotonic() < self._next_try and self.problem is not None:
                raise JournalError(self.problem)
            try:
                backend = await self._opener()
            except JournalError as exc:
                self._note(exc, REOPEN_SECONDS)
                raise
            try:
                await self._migrate(backend)
                if not backend.read_only:
                    await self._prune(backend)
            except JournalError as exc:
                await backend.close()
                self._note(exc, REOPEN_SECONDS)
                raise
            self._backend = backend
            self.where = backend.where
            self.read_only = backend.read_only
            self.problem = (
                f"{backend.setting}: the journal {backend.where} is read-only (the file or its directory "
                "is not writable); make it writable, or set TASKGROUP_MCP_STATE=off."
                if backend.read_only
                else None
            )
            logger.info("journal: %s at %s (schema %d)", backend.kind, backend.where, LATEST)
            return backend

    def _note(self, exc: JournalError, pause: float) -> None:
        if self.problem != exc.message:
            logger.warning("journal: %s", exc.message)
        self.problem = exc.message
        self.read_only = self.read_only or exc.read_only
        self._next_try = time.monotonic() + pause

    async def _migrate(self, backend: Backend) -> None:
        if backend.read_only:
            async with backend.transaction(write=False) as tx:
                try:
                    rows = await tx.fetchall("SELECT MAX(version) FROM tg_schema")
                except JournalError:
                    rows = [(0,)]
            version = int(rows[0][0] or 0)
            if version != LATEST:
                raise JournalError(
                    f"{backend.setting}: the journal {backend.where} is read-only and at schema version "
                    f"{version}, not {LATEST}; make it writable so it can be migrated.",
                    read_only=True,
                )
            return
        async with backend.transaction(write=True) as tx:
            await tx.lock("taskgroup-mcp schema")
            await tx.execute(VERSION_TABLE)
            rows = await tx.fetchall("SELECT MAX(version) FROM tg_schema")
            current = int(rows[0][0] or 0)
            if current > LATEST:
                raise JournalError(
                    f"{backend.setting}: the journal {backend.where} has schema version {current}, newer than "
                    f"this taskgroup-mcp understands ({LATEST}); upgrade taskgroup-mcp."
                )
            for version, description, statements in MIGRATIONS:
                if version <= current:
                    continue
                for statement in statements:
                    await tx.execute(statement)
                await tx.execute(
                    "INSERT INTO tg_schema (version, applied_at, description) VALUES (?, ?, ?)",
                    (version, time.time(), description),
                )
                logger.info(
                    "journal: migrated %s to schema version %d (%s)", backend.where, version, description
                )

    async def _prune(self, backend: Backend) -> None:
        now = time.time()
        async with backend.transaction(write=True) as tx:
            await tx.execute("DELETE FROM tg_sent WHERE sent_at < ?", (now - SENT_KEPT_SECONDS,))
            await tx.execute("DELETE FROM tg_leases WHERE expires_at < ?", (now - 3600.0,))
            await tx.execute("DELETE FROM tg_fan_outs WHERE created_at < ?", (now - FAN_OUT_REUSE_SECONDS,))

    async def close(self) -> None:
        backend, self._backend = self._backend, None
        if backend is not None:
            await backend.close()

    @property
    def schema_version(self) -> int:
        return LATEST

    # -- plumbing -----------------------------------------------------------------------------

    async def _write(self, what: str, fn: Callable[[Any], Awaitable[None]]) -> bool:
        """Run a write; on failure note the problem and carry on. True when it was written."""
        try:
            backend = await self._ensure()
            if self.read_only:
                return False
            if self.problem is not None and time.monotonic() < self._next_try:
                return False
            async with backend.transaction(write=True) as tx:
                await fn(tx)
        except JournalError as exc:
            self._note(exc, RETRY_AFTER_FAILURE_SECONDS)
            logger.debug("journal: %s not recorded", what)
            return False
        if not self.read_only:
            self.problem = None
        return True

    async def _read(self, fn: Callable[[Any], Awaitable[Any]]) -> Any:
        """Run a read; raises :class:`JournalError` (noted) when the journal cannot answer."""
        try:
            backend = await self._ensure()
            async with backend.transaction(write=False) as tx:
                return await fn(tx)
        except JournalError as exc:
            self._note(exc, RETRY_AFTER_FAILURE_SECONDS)
            raise

    # -- groups -------------------------------------------------------------------------------

    async def record_group(
        self,
        scope: Scope,
        group_id: str,
        *,
        created_at: float,
        label: str | None = None,
        status: Mapping[str, Any] | None = None,
        active: bool | None = None,
    ) -> bool:
        """A group this caller created or read: keep (or refresh) its entry."""
        status_text = json.dumps(dict(status), separators=(",", ":")) if status is not None else None
        at = time.time() if status is not None else None
        active_value = None if active is None else int(active)

        async def write(tx: Any) -> None:
            await tx.execute(
                "INSERT INTO tg_groups (api, tenant, group_id, label, created_at, status, active, status_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (api, tenant, group_id) DO UPDATE SET "
                "label = COALESCE(excluded.label, tg_groups.label), "
                "status = COALESCE(excluded.status, tg_groups.status), "
                "active = COALESCE(excluded.active, tg_groups.active), "
                "status_at = COALESCE(excluded.status_at, tg_groups.status_at)",
                (scope.api, scope.tenant, group_id, label, created_at, status_text, active_value, at),
            )

        return await self._write("group", write)

    async def record_batch(
        self,
        scope: Scope,
        group_id: str,
        *,
        created_at: float,
        processors: Iterable[str],
        schema_fp: str | None,
        added: int,
        cost_usd: float,
    ) -> bool:
        """Runs this server added to a group: processors used, output schema, inputs and cost added."""
        new = sorted(set(processors))

        async def write(tx: Any) -> None:
            await tx.lock(f"group:{scope.api}:{group_id}")
            rows = await tx.fetchall(
                "SELECT processors FROM tg_groups WHERE api = ? AND tenant = ? AND group_id = ?",
                (scope.api, scope.tenant, group_id),
            )
            if not rows:
                await tx.execute(
                    "INSERT INTO tg_groups (api, tenant, group_id, created_at, processors, schema_fp, "
                    "inputs_sent, cost_usd) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        scope.api,
                        scope.tenant,
                        group_id,
                        created_at,
                        json.dumps(new),
                        schema_fp,
                        added,
                        cost_usd,
                    ),
                )
                return
            merged = sorted(set(json.loads(rows[0][0] or "[]")) | set(new))
            await tx.execute(
                "UPDATE tg_groups SET processors = ?, schema_fp = COALESCE(?, schema_fp), "
                "inputs_sent = inputs_sent + ?, cost_usd = cost_usd + ? "
                "WHERE api = ? AND tenant = ? AND group_id = ?",
                (json.dumps(merged), schema_fp, added, cost_usd, scope.api, scope.tenant, group_id),
            )

        return await self._write("batch", write)

    async def get_group(self, scope: Scope, group_id: str) -> GroupEntry | None:
        async def read(tx: Any) -> GroupEntry | None:
            rows = await tx.fetchall(
                f"SELECT {_GROUP_COLUMNS} FROM tg_groups WHERE api = ? AND tenant = ? AND group_id = ?",
                (scope.api, scope.tenant, group_id),
            )
            return _entry(rows[0]) if rows else None

        return await self._read(read)

    async def list_groups(
        self,
        scope: Scope,
        *,
        label: str | None = None,
        active: bool | None = None,
        after: tuple[float, str] | None = None,
        limit: int = 20,
    ) -> list[GroupEntry]:
        """The scope's groups, newest first; ``after``: the (created_at, group_id) of the last one seen."""
        sql = f"SELECT {_GROUP_COLUMNS} FROM tg_groups WHERE api = ? AND tenant = ?"
        params: list[Any] = [scope.api, scope.tenant]
        if label:
            sql += " AND LOWER(COALESCE(label, '')) LIKE ? ESCAPE '\\'"
            params.append(_like(label))
        if active is not None:
            sql += " AND COALESCE(active, 1) = ?"
            params.append(int(active))
        if after is not None:
            sql += " AND (created_at < ? OR (created_at = ? AND group_id < ?))"
            params.extend([after[0], after[0], after[1]])
        sql += " ORDER BY created_at DESC, group_id DESC LIMIT ?"
        params.append(limit)

        async def read(tx: Any) -> list[GroupEntry]:
            return [_entry(r) for r in await tx.fetchall(sql, params)]

        return await self._read(read)

    async def forget_api(self, api: str) -> bool:
        """Drop everything recorded about groups on ``api`` (the sandbox, when it is reset)."""

        async def write(tx: Any) -> None:
            for table in ("tg_groups", "tg_submissions", "tg_sent", "tg_fan_outs"):
                await tx.execute(f"DELETE FROM {table} WHERE api = ?", (api,))

        return await self._write("reset", write)

    # -- fan_out ------------------------------------------------------------------------------

    async def fan_out_group(self, scope: Scope, call_hash: str) -> str | None:
        """The group an identical fan_out call of this tenant created in the last day, if any."""

        async def read(tx: Any) -> str | None:
            rows = await tx.fetchall(
                "SELECT group_id FROM tg_fan_outs WHERE api = ? AND tenant = ? AND call_hash = ? "
                "AND created_at >= ?",
                (scope.api, scope.tenant, call_hash, time.time() - FAN_OUT_REUSE_SECONDS),
            )
            return str(rows[0][0]) if rows else None

        try:
            return await self._read(read)
        except JournalError:
            return None

    async def remember_fan_out(self, scope: Scope, call_hash: str, group_id: str) -> bool:
        async def write(tx: Any) -> None:
            await tx.execute(
                "INSERT INTO tg_fan_outs (api, tenant, call_hash, group_id, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (api, tenant, call_hash) DO UPDATE SET group_id = excluded.group_id, "
                "created_at = excluded.created_at",
                (scope.api, scope.tenant, call_hash, group_id, time.time()),
            )

        return await self._write("fan_out", write)

    # -- submissions: client ids written ahead of each request --------------------------------

    async def sent_ids(self, api: str, group_id: str, call_key: str) -> dict[str, SentId]:
        """Every client id of this call written ahead (and what the API confirmed); {} when unknown."""

        async def read(tx: Any) -> dict[str, SentId]:
            rows = await tx.fetchall(
                "SELECT cid, sent_at, run_id, sender FROM tg_sent WHERE api = ? AND group_id = ? AND call_key = ?",
                (api, group_id, call_key),
            )
            return {str(r[0]): SentId(str(r[0]), float(r[1]), r[2], r[3]) for r in rows}

        try:
            return await self._read(read)
        except JournalError:
            return {}

    async def group_sent_ids(self, api: str, group_id: str) -> set[str] | None:
        """Every client id still recorded as sent to the group, by any call; None when the journal
        cannot answer. Ids older than the retention window are pruned, so this is a lower bound."""

        async def read(tx: Any) -> set[str]:
            rows = await tx.fetchall(
                "SELECT cid FROM tg_sent WHERE api = ? AND group_id = ?", (api, group_id)
            )
            return {str(r[0]) for r in rows}

        try:
            return await self._read(read)
        except JournalError:
            return None

    async def write_ahead(self, api: str, group_id: str, call_key: str, cids: Sequence[str]) -> bool:
        """Before a request carrying ``cids`` is sent: from now on they may exist in the group."""
        now = time.time()
        rows = [(api, group_id, cid, call_key, now, self.instance) for cid in cids]

        async def write(tx: Any) -> None:
            await tx.executemany(
                "INSERT INTO tg_sent (api, group_id, cid, call_key, sent_at, sender) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (api, group_id, cid) DO UPDATE SET sent_at = excluded.sent_at, "
                "sender = excluded.sender WHERE tg_sent.run_id IS NULL",
                rows,
            )
            await tx.execute(
                "INSERT INTO tg_submissions (api, group_id, call_key, first_at, last_at, inputs) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (api, group_id, call_key) DO UPDATE SET "
                "last_at = excluded.last_at",
                (api, group_id, call_key, now, now, len(cids)),
            )

        return await self._write("write-ahead", write)

    async def confirm(self, api: str, group_id: str, call_key: str, runs: Mapping[str, str]) -> bool:
        """The API answered: ``runs`` maps client id -> run id."""
        if not runs:
            return True
        now = time.time()
        rows = [(api, group_id, cid, call_key, now, run_id, self.instance) for cid, run_id in runs.items()]

        async def write(tx: Any) -> None:
            await tx.executemany(
                "INSERT INTO tg_sent (api, group_id, cid, call_key, sent_at, run_id, sender) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (api, group_id, cid) DO UPDATE SET run_id = excluded.run_id",
                rows,
            )

        return await self._write("confirm", write)

    async def not_sent(self, api: str, group_id: str, cids: Sequence[str]) -> bool:
        """The request carrying ``cids`` was refused outright (nothing of it landed)."""
        rows = [(api, group_id, cid) for cid in cids]

        async def write(tx: Any) -> None:
            await tx.executemany(
                "DELETE FROM tg_sent WHERE api = ? AND group_id = ? AND cid = ? AND run_id IS NULL", rows
            )

        return await self._write("not-sent", write)

    async def finish_submission(self, api: str, group_id: str, call_key: str, added: int) -> bool:
        async def write(tx: Any) -> None:
            await tx.execute(
                "UPDATE tg_submissions SET added = added + ?, last_at = ? "
                "WHERE api = ? AND group_id = ? AND call_key = ?",
                (added, time.time(), api, group_id, call_key),
            )

        return await self._write("submission", write)

    # -- leases: one holder of a call across processes and replicas ---------------------------

    async def _try_lease(self, name: str, owner: str) -> float | None:
        backend = await self._ensure()
        now = time.time()
        async with backend.transaction(write=True) as tx:
            await tx.lock("lease:" + name)
            rows = await tx.fetchall("SELECT owner, expires_at FROM tg_leases WHERE name = ?", (name,))
            if rows and rows[0][0] != owner and float(rows[0][1]) > now:
                return float(rows[0][1])
            await tx.execute(
                "INSERT INTO tg_leases (name, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) "
                "DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at",
                (name, owner, now + LEASE_TTL_SECONDS),
            )
        return None

    async def _renew(self, name: str, owner: str) -> None:
        while True:
            await anyio.sleep(LEASE_TTL_SECONDS / 3)

            async def write(tx: Any) -> None:
                await tx.execute(
                    "UPDATE tg_leases SET expires_at = ? WHERE name = ? AND owner = ?",
                    (time.time() + LEASE_TTL_SECONDS, name, owner),
                )

            await self._write("lease", write)

    async def _release(self, name: str, owner: str) -> None:
        async def write(tx: Any) -> None:
            await tx.execute("DELETE FROM tg_leases WHERE name = ? AND owner = ?", (name, owner))

        await self._write("lease", write)

    @asynccontextmanager
    async def lease(
        self, name: str, *, wait: float, on_wait: Callable[[], Awaitable[None]] | None = None
    ) -> AsyncGenerator[bool]:
        """Hold the lease ``name`` for the block: other processes and replicas asking for the same
        name wait (up to ``wait`` seconds, then :class:`LeaseBusy`). Yields False when the journal
        cannot lock (it is unavailable or read-only): the caller goes on without a shared lock."""
        owner = f"{self.instance}:{secrets.token_hex(6)}"
        deadline = anyio.current_time() + wait
        delay = 0.02
        while True:
            try:
                if self.read_only:
                    raise JournalError(self.problem or "the journal is read-only", read_only=True)
                holder = await self._try_lease(name, owner)
            except JournalError as exc:
                self._note(exc, RETRY_AFTER_FAILURE_SECONDS)
                yield False
                return
            if holder is None:
                break
            now = anyio.current_time()
            if now >= deadline:
                raise LeaseBusy(name, holder)
            if on_wait is not None:
                await on_wait()
            await anyio.sleep(min(delay, deadline - now))
            delay = min(delay * 2, 0.5)
        renewing = anyio.create_task_group()
        await renewing.__aenter__()
        renewing.start_soon(self._renew, name, owner)
        try:
            yield True
        finally:
            renewing.cancel_scope.cancel()
            await renewing.__aexit__(None, None, None)
            with anyio.CancelScope(shield=True):
                await self._release(name, owner)

    # -- for people ---------------------------------------------------------------------------

    @property
    def notice(self) -> str | None:
        """One sentence for tool results while the journal is degraded (None when it works)."""
        if self.problem is None:
            return None
        return (
            f"Journal not fully available: {self.problem} Tools keep working against the API, but "
            "this call may not be listed by list_task_groups and exactly-once holds within this process only."
        )


def open_journal(settings: Settings) -> Journal | None:
    """The journal ``settings`` ask for (None when ``TASKGROUP_MCP_STATE=off``); call
    :meth:`Journal.start` in the event loop that uses it, and :meth:`Journal.close` at the end."""
    if not settings.state:
        return None
    url = settings.database_url.get_secret_value() if settings.database_url is not None else None
    if url:
        from ._postgres import SETTING as PG_SETTING
        from ._postgres import PostgresBackend, describe_url

        async def open_postgres() -> Backend:
            return await PostgresBackend.open(url)

        journal = Journal(open_postgres, kind="postgresql", setting=PG_SETTING)
        journal.where = describe_url(url)
        return journal
    from ._sqlite import FILE_NAME, SqliteBackend
    from ._sqlite import SETTING as SQLITE_SETTING

    state_dir = settings.state_dir

    async def open_sqlite() -> Backend:
        return await SqliteBackend.open(state_dir)

    journal = Journal(open_sqlite, kind="sqlite", setting=SQLITE_SETTING)
    journal.where = str(state_dir.expanduser() / FILE_NAME)
    return journal
