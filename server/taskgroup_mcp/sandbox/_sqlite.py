"""The SQLite store: everything persisted, so a restarted sandbox keeps groups, runs and cursors.

Groups are few and hot (their counts change with every transition), so they are also cached in
memory and written through; runs and events are read from the database in pages.

Several processes may share one file (``--sandbox`` servers share the state directory's): writes
take SQLite's write lock first (``BEGIN IMMEDIATE``), so counters and the ids derived from them are
unique across processes, and the group cache is reloaded whenever another process has committed
(``PRAGMA data_version``).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Generator, Iterator, Sequence
from typing import Any

from taskgroup_mcp.wire import RunInput, TaskSpec

from ._records import EventRecord, GroupRecord, RunRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS groups (
    group_id TEXT PRIMARY KEY, created_at REAL NOT NULL, metadata TEXT, modified_at REAL NOT NULL,
    counts TEXT NOT NULL, num_runs INTEGER NOT NULL, next_index INTEGER NOT NULL, event_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE, group_id TEXT, idx INTEGER NOT NULL,
    input TEXT NOT NULL, task_spec TEXT, created_at REAL NOT NULL, start_at REAL NOT NULL,
    end_at REAL NOT NULL, final_status TEXT NOT NULL, status TEXT NOT NULL, modified_at REAL NOT NULL,
    warnings TEXT, error TEXT, tool_calls TEXT, mcp_state INTEGER NOT NULL, betas TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_by_group ON runs (group_id, idx);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
CREATE TABLE IF NOT EXISTS events (
    group_id TEXT NOT NULL, seq INTEGER NOT NULL, run_id TEXT, status TEXT, PRIMARY KEY (group_id, seq)
);
"""
_RUN_COLUMNS = (
    "seq, run_id, group_id, idx, input, task_spec, created_at, start_at, end_at, final_status, status, "
    "modified_at, warnings, error, tool_calls, mcp_state, betas"
)


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class SqliteStore:
    """A :class:`Store` in one SQLite file (WAL mode)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
        if "betas" not in columns:  # a database written before runs kept their betas
            self._db.execute("ALTER TABLE runs ADD COLUMN betas TEXT NOT NULL DEFAULT ''")
        self._groups: dict[str, GroupRecord] = {}
        self._data_version = -1
        self._changed_elsewhere = False
        self._load_groups()

    def _load_groups(self) -> None:
        self._data_version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
        self._groups = {}
        for row in self._db.execute(
            "SELECT group_id, created_at, metadata, modified_at, counts, num_runs, next_index, event_seq FROM groups"
        ):
            self._groups[row[0]] = GroupRecord(
                group_id=row[0],
                created_at=row[1],
                metadata=_load(row[2]),
                modified_at=row[3],
                counts=json.loads(row[4]),
                num_runs=row[5],
                next_index=row[6],
                event_seq=row[7],
            )

    def _sync(self) -> None:
        if int(self._db.execute("PRAGMA data_version").fetchone()[0]) != self._data_version:
            self._load_groups()
            self._changed_elsewhere = True

    def refresh(self) -> bool:
        """Reload what another process committed; True when it had since the last call."""
        self._sync()
        changed, self._changed_elsewhere = self._changed_elsewhere, False
        return changed

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def batch(self) -> Generator[None, None, None]:
        """One transaction around many writes (nested calls join the outer one)."""
        if self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._sync()  # under the write lock: the cache is now what the file holds
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def clear(self) -> None:
        with self.batch():
            for table in ("meta", "groups", "runs", "events"):
                self._db.execute(f"DELETE FROM {table}")
        self._groups.clear()

    def _counter(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _bump(self, key: str, n: int) -> int:
        first = self._counter(key)
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, first + n),
        )
        return first

    def counters(self) -> tuple[int, int]:
        return self._counter("groups_created"), self._counter("runs_created")

    def counts(self) -> tuple[int, int]:
        (runs,) = self._db.execute("SELECT COUNT(*) FROM runs").fetchone()
        return len(self._groups), int(runs)

    def add_group(self, group: GroupRecord) -> None:
        with self.batch():
            self._bump("groups_created", 1)
            self._db.execute(
                "INSERT INTO groups VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    group.group_id,
                    group.created_at,
                    _dump(group.metadata),
                    group.modified_at,
                    _dump(group.counts),
                    group.num_runs,
                    group.next_index,
                    group.event_seq,
                ),
            )
        self._groups[group.group_id] = group

    def get_group(self, group_id: str) -> GroupRecord | None:
        return self._groups.get(group_id)

    def save_group(self, group: GroupRecord) -> None:
        self._groups[group.group_id] = group
        self._db.execute(
            "UPDATE groups SET modified_at = ?, counts = ?, num_runs = ?, next_index = ?, event_seq = ? "
            "WHERE group_id = ?",
            (
                group.modified_at,
                _dump(group.counts),
                group.num_runs,
                group.next_index,
                group.event_seq,
                group.group_id,
            ),
        )

    def reserve_runs(self, n: int) -> int:
        with self.batch():
            return self._bump("runs_created", n)

    def add_runs(self, runs: Sequence[RunRecord]) -> None:
        rows = [
            (
                r.seq,
                r.run_id,
                r.group_id,
                r.index,
                r.input.model_dump_json(by_alias=True),
                r.task_spec.model_dump_json(by_alias=True) if r.task_spec is not None else None,
                r.created_at,
                r.start_at,
                r.end_at,
                r.final_status,
                r.status,
                r.modified_at,
                _dump(r.warnings),
                _dump(r.error),
                _dump(r.tool_calls),
                r.mcp_state,
                ",".join(r.betas),
            )
            for r in runs
        ]
        with self.batch():
            self._db.executemany(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({', '.join('?' * 17)})", rows)

    @staticmethod
    def _run(row: tuple[Any, ...]) -> RunRecord:
        return RunRecord(
            seq=row[0],
            run_id=row[1],
            group_id=row[2],
            index=row[3],
            input=RunInput.model_validate_json(row[4]),
            task_spec=TaskSpec.model_validate_json(row[5]) if row[5] is not None else None,
            created_at=row[6],
            start_at=row[7],
            end_at=row[8],
            final_status=row[9],
            status=row[10],
            modified_at=row[11],
            warnings=_load(row[12]),
            error=_load(row[13]),
            tool_calls=_load(row[14]),
            mcp_state=row[15],
            betas=tuple(b for b in row[16].split(",") if b),
        )

    def get_run(self, run_id: str) -> RunRecord | None:
        row = self._db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return self._run(row) if row else None

    def set_status(
        self, run: RunRecord, status: str, modified_at: float, error: dict[str, Any] | None = None
    ) -> None:
        run.status = status
        run.modified_at = modified_at
        if error is not None:
            run.error = error
        self._db.execute(
            "UPDATE runs SET status = ?, modified_at = ?, error = ? WHERE run_id = ?",
            (status, modified_at, _dump(run.error), run.run_id),
        )

    def set_tool_calls(
        self,
        run: RunRecord,
        tool_calls: list[dict[str, Any]] | None,
        warnings: list[dict[str, Any]] | None,
        mcp_state: int,
    ) -> None:
        run.tool_calls = tool_calls
        run.warnings = warnings
        run.mcp_state = mcp_state
        self._db.execute(
            "UPDATE runs SET tool_calls = ?, warnings = ?, mcp_state = ? WHERE run_id = ?",
            (_dump(tool_calls), _dump(warnings), mcp_state, run.run_id),
        )

    def group_runs(self, group_id: str, after_index: int, status: str | None, limit: int) -> list[RunRecord]:
        sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE group_id = ? AND idx > ?"
        args: list[Any] = [group_id, after_index]
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        sql += " ORDER BY idx LIMIT ?"
        args.append(limit)
        return [self._run(row) for row in self._db.execute(sql, args)]

    def add_event(self, event: EventRecord) -> None:
        self._db.execute(
            "INSERT INTO events (group_id, seq, run_id, status) VALUES (?, ?, ?, ?)",
            (event.group_id, event.seq, event.run_id, _dump(event.status)),
        )

    def group_events(self, group_id: str, after_seq: int, limit: int) -> list[EventRecord]:
        rows = self._db.execute(
            "SELECT group_id, seq, run_id, status FROM events WHERE group_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (group_id, after_seq, limit),
        )
        return [EventRecord(r[0], r[1], r[2], _load(r[3])) for r in rows]

    def unfinished_runs(self) -> Iterator[RunRecord]:
        rows = self._db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE status NOT IN ('completed', 'failed', 'cancelled')"
        ).fetchall()
        return (self._run(row) for row in rows)
