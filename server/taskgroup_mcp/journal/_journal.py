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
import sqlite3
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio

from ._backend import Backend, Row, Tx
from ._errors import JournalError
from ._records import GroupEntry, Scope, SentId
from ._schema import LATEST, MIGRATIONS, VERSION_TABLE
from ._submission import (
    Submission,
    fold_sends,
    put_sends,
    put_submission,
    read_sent,
    release_lease,
    take_lease,
    take_lease_and_read_sent,
)

if TYPE_CHECKING:
    from taskgroup_mcp.config import Settings

logger = logging.getLogger("taskgroup_mcp.journal")
T = TypeVar("T")

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
SPEND_KEPT_SECONDS = 30 * 24 * 3600.0
"""Spend records older than this are pruned at start (a group's total counts them until then)."""
SEEN_REWRITE_SECONDS = 60.0
"""A group read again with the status this process last recorded for it is written again (its
``status_at`` moved on) at most this often; a status, label or activity that changed is written at once."""
SEEN_REMEMBERED = 4_096
"""Groups whose last recorded status this process remembers (the least recently read are forgotten)."""


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

_MERGED_PROCESSORS = {
    # The union of the processors recorded and those just added, in one statement (no read first:
    # the upsert's row lock orders replicas adding to the same group).
    "sqlite": "(SELECT json_group_array(value) FROM (SELECT value FROM json_each(tg_groups.processors) "
    "UNION SELECT value FROM json_each(excluded.processors) ORDER BY value))",
    "postgresql": "(SELECT COALESCE(json_agg(value ORDER BY value), '[]')::text FROM "
    "(SELECT json_array_elements_text(tg_groups.processors::json) AS value UNION "
    "SELECT json_array_elements_text(excluded.processors::json)) AS merged)",
}

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
        processors=sorted(json.loads(row[3] or "[]")),
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
        self._last_at = 0.0
        self._seen: OrderedDict[tuple[str, str, str], tuple[tuple[Any, ...], float, int]] = OrderedDict()
        """Per group, what :meth:`record_seen` last queued, when (monotonic), and in which epoch."""
        self._seen_epoch = 0
        """Moves on whenever a queued write fails: nothing remembered before it counts as written."""

    def clock(self) -> float:
        """Unix seconds for a write, never equal to or before this process's previous one (a call's
        writes are read back in this order)."""
        self._last_at = max(time.time(), self._last_at + 1e-6)
        return self._last_at

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
                    await backend.run(_prune, write=True)
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

            def version(tx: Tx) -> int:
                try:
                    rows = tx.fetchall("SELECT MAX(version) FROM tg_schema")
                except sqlite3.Error:  # no version table: an empty file
                    return 0
                return int(rows[0][0] or 0)

            current = await backend.run(version, write=False)
            if current != LATEST:
                raise JournalError(
                    f"{backend.setting}: the journal {backend.where} is read-only and at schema version "
                    f"{current}, not {LATEST}; make it writable so it can be migrated.",
                    read_only=True,
                )
            return

        def migrate(tx: Tx) -> list[tuple[int, str]]:
            tx.lock("taskgroup-mcp schema")
            tx.execute(VERSION_TABLE)
            rows = tx.fetchall("SELECT MAX(version) FROM tg_schema")
            current = int(rows[0][0] or 0)
            if current > LATEST:
                raise JournalError(
                    f"{backend.setting}: the journal {backend.where} has schema version {current}, newer than "
                    f"this taskgroup-mcp understands ({LATEST}); upgrade taskgroup-mcp."
                )
            applied: list[tuple[int, str]] = []
            for number, description, statements in MIGRATIONS:
                if number <= current:
                    continue
                for statement in statements:
                    tx.execute(statement)
                tx.execute(
                    "INSERT INTO tg_schema (version, applied_at, description) VALUES (?, ?, ?)",
                    (number, time.time(), description),
                )
                applied.append((number, description))
            return applied

        for number, description in await backend.run(migrate, write=True):
            logger.info("journal: migrated %s to schema version %d (%s)", backend.where, number, description)

    async def close(self) -> None:
        backend, self._backend = self._backend, None
        if backend is not None:
            await backend.close()

    @property
    def schema_version(self) -> int:
        return LATEST

    # -- plumbing -----------------------------------------------------------------------------

    async def _writable(self) -> Backend | None:
        """The backend for a write, or None while the journal is read-only or resting after a failure."""
        backend = await self._ensure()
        if self.read_only:
            return None
        if self.problem is not None and time.monotonic() < self._next_try:
            return None
        return backend

    async def write(self, what: str, fn: Callable[[Tx], None]) -> bool:
        """``fn`` in one write transaction; on failure note the problem and carry on. True when
        it was written."""
        try:
            backend = await self._writable()
            if backend is None:
                return False
            await backend.run(fn, write=True)
        except JournalError as exc:
            self._note(exc, RETRY_AFTER_FAILURE_SECONDS)
            logger.debug("journal: %s not recorded", what)
            return False
        if not self.read_only:
            self.problem = None
        return True

    def _queueable(self) -> bool:
        """Whether :meth:`write_soon` would queue a write now (the journal is open and writable)."""
        if self._backend is None or self.read_only:
            return False
        return self.problem is None or time.monotonic() >= self._next_try

    def write_soon(self, what: str, fn: Callable[[Tx], None]) -> None:
        """``fn`` in one write transaction queued behind this process's earlier journal work and
        not waited for (the next read of this process sees it; closing the journal waits for it).
        For records no answer depends on; a failure is noted as :meth:`write` notes it."""
        backend = self._backend
        if backend is None or not self._queueable():
            return

        def failed(exc: JournalError) -> None:
            self._seen_epoch += 1
            self._note(exc, RETRY_AFTER_FAILURE_SECONDS)
            logger.debug("journal: %s not recorded", what)

        backend.post(fn, on_error=failed)

    async def _read(self, fn: Callable[[Tx], T]) -> T:
        """``fn`` in one read transaction; raises :class:`JournalError` (noted) when the journal cannot answer."""
        try:
            backend = await self._ensure()
            return await backend.run(fn, write=False)
        except JournalError as exc:
            self._note(exc, RETRY_AFTER_FAILURE_SECONDS)
            raise

    async def probe(self) -> str | None:
        """Try the journal now (a write, or a read when it is read-only): None when it works, else
        why not (the sentence ``problem`` holds, naming the setting). For readiness checks."""

        def touch(tx: Tx) -> None:
            tx.fetchall("SELECT MAX(version) FROM tg_schema")

        try:
            backend = await self._ensure()
            if not self.read_only and (self.problem is None or time.monotonic() >= self._next_try):
                await backend.run(touch, write=True)
                self.problem = None
        except JournalError as exc:
            self._note(exc, RETRY_AFTER_FAILURE_SECONDS)
        return self.problem

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
        return await self.record_added(
            scope, group_id, created_at=created_at, label=label, status=status, active=active
        )

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
        return await self.record_added(
            scope,
            group_id,
            created_at=created_at,
            processors=processors,
            schema_fp=schema_fp,
            added=added,
            cost_usd=cost_usd,
        )

    async def record_added(
        self,
        scope: Scope,
        group_id: str,
        *,
        created_at: float,
        label: str | None = None,
        status: Mapping[str, Any] | None = None,
        active: bool | None = None,
        processors: Iterable[str] = (),
        schema_fp: str | None = None,
        added: int = 0,
        cost_usd: float = 0.0,
        wait: bool = True,
    ) -> bool:
        """A group's entry in one transaction: its status as just read (when given), and the runs
        this server just added (processors used, output schema, inputs and cost added).
        ``wait=False``: queued (:meth:`write_soon`), True returned at once."""
        status_text = json.dumps(dict(status), separators=(",", ":")) if status is not None else None
        status_at = time.time() if status is not None else None
        if status is not None or label is not None:
            self._seen.pop((scope.api, scope.tenant, group_id), None)  # record_seen writes the next read
        active_value = None if active is None else int(active)
        new = sorted(set(processors))

        def write(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO tg_groups (api, tenant, group_id, label, created_at, processors, schema_fp, "
                "inputs_sent, cost_usd, status, active, status_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (api, tenant, group_id) DO UPDATE SET "
                "label = COALESCE(excluded.label, tg_groups.label), "
                f"processors = {_MERGED_PROCESSORS[tx.kind]}, "
                "schema_fp = COALESCE(excluded.schema_fp, tg_groups.schema_fp), "
                "inputs_sent = tg_groups.inputs_sent + excluded.inputs_sent, "
                "cost_usd = tg_groups.cost_usd + excluded.cost_usd, "
                "status = COALESCE(excluded.status, tg_groups.status), "
                "active = COALESCE(excluded.active, tg_groups.active), "
                "status_at = COALESCE(excluded.status_at, tg_groups.status_at)",
                (
                    scope.api,
                    scope.tenant,
                    group_id,
                    label,
                    created_at,
                    json.dumps(new),
                    schema_fp,
                    added,
                    cost_usd,
                    status_text,
                    active_value,
                    status_at,
                ),
            )

        if not wait:
            self.write_soon("group", write)
            return True
        return await self.write("group", write)

    async def record_seen(
        self,
        scope: Scope,
        group_id: str,
        *,
        created_at: float,
        label: str | None,
        status: Mapping[str, Any],
        active: bool,
    ) -> bool:
        """A group as just read from the API (status polls): its entry refreshed, queued and not
        waited for. A read that finds what this process last queued for the group writes nothing
        unless :data:`SEEN_REWRITE_SECONDS` have passed (then ``status_at`` moves on); a changed
        status, label or activity is written at once. True when queued or already recorded."""
        key = (scope.api, scope.tenant, group_id)
        what = (label, json.dumps(dict(status), sort_keys=True, separators=(",", ":")), active)
        now = time.monotonic()
        last = self._seen.get(key)
        if (
            last is not None
            and last[0] == what
            and last[2] == self._seen_epoch
            and now - last[1] < SEEN_REWRITE_SECONDS
        ):
            self._seen.move_to_end(key)
            return True
        epoch = self._seen_epoch
        queued = self._queueable()
        await self.record_added(
            scope, group_id, created_at=created_at, label=label, status=status, active=active, wait=False
        )
        if queued:
            self._seen[key] = (what, now, epoch)
            self._seen.move_to_end(key)
            while len(self._seen) > SEEN_REMEMBERED:
                self._seen.popitem(last=False)
        return queued

    async def get_group(self, scope: Scope, group_id: str) -> GroupEntry | None:
        def read(tx: Tx) -> GroupEntry | None:
            rows = tx.fetchall(
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

        def read(tx: Tx) -> list[GroupEntry]:
            return [_entry(r) for r in tx.fetchall(sql, params)]

        return await self._read(read)

    async def forget_api(self, api: str) -> bool:
        """Drop everything recorded about groups on ``api`` (the sandbox, when it is reset)."""

        def write(tx: Tx) -> None:
            for table in ("tg_groups", "tg_submissions", "tg_sends", "tg_fan_outs", "tg_spend"):
                tx.execute(f"DELETE FROM {table} WHERE api = ?", (api,))

        self._seen.clear()

        return await self.write("reset", write)

    # -- fan_out ------------------------------------------------------------------------------

    async def fan_out_group(self, scope: Scope, call_hash: str) -> str | None:
        """The group an identical fan_out call of this tenant created in the last day, if any."""

        def read(tx: Tx) -> str | None:
            rows = tx.fetchall(
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
        def write(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO tg_fan_outs (api, tenant, call_hash, group_id, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (api, tenant, call_hash) DO UPDATE SET group_id = excluded.group_id, "
                "created_at = excluded.created_at",
                (scope.api, scope.tenant, call_hash, group_id, time.time()),
            )

        return await self.write("fan_out", write)

    # -- submissions: client ids written ahead of each request --------------------------------

    async def sent_ids(self, api: str, group_id: str, call_key: str) -> dict[str, SentId]:
        """Every client id of this call written ahead (and what the API confirmed); {} when unknown."""
        try:
            return await self._read(lambda tx: read_sent(tx, api, group_id, call_key))
        except JournalError:
            return {}

    async def group_sent_ids(self, api: str, group_id: str) -> set[str] | None:
        """Every client id still recorded as sent to the group, by any call; None when the journal
        cannot answer. Ids older than the retention window are pruned, so this is a lower bound."""

        def read(tx: Tx) -> set[str]:
            by_call: dict[str, list[Row]] = {}
            for key, *row in tx.fetchall(
                "SELECT call_key, at, sender, sent, confirmed, refused FROM tg_sends "
                "WHERE api = ? AND group_id = ? ORDER BY at",
                (api, group_id),
            ):
                by_call.setdefault(str(key), []).append(tuple(row))
            return {cid for rows in by_call.values() for cid in fold_sends(rows)}

        try:
            return await self._read(read)
        except JournalError:
            return None

    async def write_ahead(self, api: str, group_id: str, call_key: str, cids: Sequence[str]) -> bool:
        """Before a request carrying ``cids`` is sent: from now on they may exist in the group."""
        at = self.clock()

        def write(tx: Tx) -> None:
            put_sends(tx, api, group_id, call_key, at, self.instance, sent=cids)
            put_submission(tx, api, group_id, call_key, len(cids), 0, at)

        return await self.write("write-ahead", write)

    async def confirm(self, api: str, group_id: str, call_key: str, runs: Mapping[str, str]) -> bool:
        """The API answered: ``runs`` maps client id -> run id."""
        if not runs:
            return True
        at = self.clock()
        return await self.write(
            "confirm", lambda tx: put_sends(tx, api, group_id, call_key, at, self.instance, confirmed=runs)
        )

    async def not_sent(self, api: str, group_id: str, cids: Sequence[str]) -> bool:
        """The request carrying ``cids`` was refused outright (nothing of it landed), whichever
        call sent it."""
        at = self.clock()

        def write(tx: Tx) -> None:
            keys = tx.fetchall(
                "SELECT DISTINCT call_key FROM tg_sends WHERE api = ? AND group_id = ?", (api, group_id)
            )
            for (key,) in keys:
                put_sends(tx, api, group_id, str(key), at, self.instance, refused=cids)

        return await self.write("not-sent", write)

    async def finish_submission(self, api: str, group_id: str, call_key: str, added: int) -> bool:
        at = self.clock()
        return await self.write(
            "submission", lambda tx: put_submission(tx, api, group_id, call_key, 0, added, at)
        )

    @asynccontextmanager
    async def submission(
        self,
        api: str,
        group_id: str,
        call_key: str,
        *,
        inputs: int,
        wait: float,
        on_wait: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncGenerator[Submission]:
        """One add_runs call: the same call in other processes and replicas waits for this one (up
        to ``wait`` seconds, then :class:`LeaseBusy`). One transaction takes the call's lease and
        reads the client ids earlier attempts wrote (``Submission.sent``); one at the end keeps
        the outcome and releases the lease. When the journal cannot lock (unavailable,
        read-only) the call goes on alone (``Submission.locked`` is False)."""
        name = f"submit:{api}:{group_id}:{call_key}"
        owner = f"{self.instance}:{secrets.token_hex(6)}"

        async def begin() -> tuple[float | None, dict[str, SentId], bool]:
            backend = await self._ensure()
            writable = await self._writable()
            if writable is None:  # read-only or resting: what was sent can still be read
                sent = await backend.run(lambda tx: read_sent(tx, api, group_id, call_key), write=False)
                return None, sent, False
            now = time.time()

            def take(tx: Tx) -> tuple[float | None, dict[str, SentId]]:
                return take_lease_and_read_sent(
                    tx, name, owner, now, LEASE_TTL_SECONDS, (api, group_id, call_key)
                )

            # Relaxed: the lease is seen by every replica at once, and the first write ahead (a
            # durable commit after it) makes it durable too; a call that sends nothing needs neither.
            holder, sent = await writable.run(take, write=True, relaxed=True)
            self.problem = None if not self.read_only else self.problem
            return holder, sent, True

        deadline = anyio.current_time() + wait
        delay = 0.02
        while True:
            try:
                holder, sent, locking = await begin()
            except JournalError as exc:
                self._note(exc, RETRY_AFTER_FAILURE_SECONDS)
                holder, sent, locking = None, {}, False
            if holder is None:
                break
            now = anyio.current_time()
            if now >= deadline:
                raise LeaseBusy(name, holder)
            if on_wait is not None:
                await on_wait()
            await anyio.sleep(min(delay, deadline - now))
            delay = min(delay * 2, 0.5)
        call = Submission(
            self, api, group_id, call_key, inputs=inputs, sent=sent, lease=(name, owner) if locking else None
        )
        async with anyio.create_task_group() as renewing:
            if locking:
                renewing.start_soon(self._renew, name, owner)
            try:
                yield call
            finally:
                renewing.cancel_scope.cancel()
                call.end()

    # -- leases: one holder of a call across processes and replicas ---------------------------

    async def _try_lease(self, name: str, owner: str) -> float | None:
        backend = await self._ensure()
        now = time.time()
        return await backend.run(lambda tx: take_lease(tx, name, owner, now, LEASE_TTL_SECONDS), write=True)

    async def _renew(self, name: str, owner: str) -> None:
        while True:
            await anyio.sleep(LEASE_TTL_SECONDS / 3)

            def write(tx: Tx) -> None:
                tx.execute(
                    "UPDATE tg_leases SET expires_at = ? WHERE name = ? AND owner = ?",
                    (time.time() + LEASE_TTL_SECONDS, name, owner),
                )

            await self.write("lease", write)

    async def _release(self, name: str, owner: str) -> None:
        await self.write("lease", lambda tx: release_lease(tx, name, owner))

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
        async with anyio.create_task_group() as renewing:
            renewing.start_soon(self._renew, name, owner)
            try:
                yield True
            finally:
                renewing.cancel_scope.cancel()
                with anyio.CancelScope(shield=True):
                    await self._release(name, owner)

    # -- spend: the guard's ledger across processes and replicas ------------------------------

    async def reserve_spend(
        self,
        scope: Scope,
        group_id: str | None,
        call: str,
        usd: float,
        window_seconds: float,
        decide: Callable[[float, float], None],
    ) -> str | None:
        """Check and reserve a batch's spend in one transaction, under a lock on the account
        (``scope``): ``decide(group_usd, window_usd)`` hears what every process sharing the journal
        already spent on the group (not counting earlier runs of the same ``call`` there) and within
        the window, and raises to refuse (nothing is written; its exception propagates). Returns
        the reservation's id, or None when the journal cannot do it (the caller's own ledger then
        decides)."""
        group = group_id or ""
        reservation = secrets.token_hex(12)

        def reserve(tx: Tx) -> str:
            tx.lock(f"spend:{scope.api}:{scope.tenant}")
            now = time.time()
            decide(*_spend_sums(tx, scope, group, call, now - window_seconds))
            tx.execute(
                "INSERT INTO tg_spend (id, api, account, group_id, call, at, usd) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (reservation, scope.api, scope.tenant, group, call, now, usd),
            )
            return reservation

        try:
            backend = await self._writable()
            if backend is None:
                return None
            # Relaxed (seen by every replica at once): the batch's write ahead, a durable commit after
            # it, makes it durable too; a database crash before that loses a reservation, not runs.
            return await backend.run(reserve, write=True, relaxed=True)
        except JournalError as exc:
            self._note(exc, RETRY_AFTER_FAILURE_SECONDS)
            return None

    async def spent(
        self, scope: Scope, group_id: str | None, call: str, window_seconds: float
    ) -> tuple[float, float] | None:
        """What every process sharing the journal spent for ``scope``'s account: (on the group, not
        counting earlier runs of the same ``call`` there; within the window), or None when the
        journal cannot answer."""
        since = time.time() - window_seconds
        try:
            return await self._read(lambda tx: _spend_sums(tx, scope, group_id or "", call, since))
        except JournalError:
            return None

    def settle_spend(self, reservation: str, usd: float) -> None:
        """What a reserved batch really cost (queued: nothing waits for it)."""
        self.write_soon(
            "spend", lambda tx: tx.execute("UPDATE tg_spend SET usd = ? WHERE id = ?", (usd, reservation))
        )

    def move_spend(self, reservation: str, group_id: str) -> None:
        """A reservation made before its group existed (fan_out) belongs to ``group_id``."""
        self.write_soon(
            "spend",
            lambda tx: tx.execute("UPDATE tg_spend SET group_id = ? WHERE id = ?", (group_id, reservation)),
        )

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


def _spend_sums(tx: Tx, scope: Scope, group: str, call: str, since: float) -> tuple[float, float]:
    """(spent on ``group`` not counting earlier runs of ``call`` there, spent since ``since`` not
    counting ``call`` on ``group``): the spend guard's two sums, as the in-process ledger keeps them,
    in one statement (one round trip to PostgreSQL)."""
    rows = tx.fetchall(
        "SELECT (SELECT COALESCE(SUM(usd), 0) FROM tg_spend WHERE api = ? AND account = ? AND group_id = ? "
        "AND ? <> '' AND (? = '' OR call <> ?)), "
        "(SELECT COALESCE(SUM(usd), 0) FROM tg_spend WHERE api = ? AND account = ? AND at >= ? "
        "AND NOT (? <> '' AND group_id = ? AND call = ?))",
        (
            scope.api,
            scope.tenant,
            group,
            group,
            call,
            call,
            scope.api,
            scope.tenant,
            since,
            call,
            group,
            call,
        ),
    )
    return float(rows[0][0] or 0.0), float(rows[0][1] or 0.0)


def _prune(tx: Tx) -> None:
    now = time.time()
    tx.execute("DELETE FROM tg_sends WHERE at < ?", (now - SENT_KEPT_SECONDS,))
    tx.execute("DELETE FROM tg_leases WHERE expires_at < ?", (now - 3600.0,))
    tx.execute("DELETE FROM tg_fan_outs WHERE created_at < ?", (now - FAN_OUT_REUSE_SECONDS,))
    tx.execute("DELETE FROM tg_spend WHERE at < ?", (now - SPEND_KEPT_SECONDS,))


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
