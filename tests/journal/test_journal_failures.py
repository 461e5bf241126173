"""Bad state: a corrupt, unwritable or newer journal file, a wrong database URL, a database that
goes away mid-call. Each gives a clear sentence naming the setting (never a password, never a
traceback), nothing half-written, and a journal that degrades instead of stopping the tools."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from journal_harness import JournalMaker

import taskgroup_mcp.journal._journal as journal_impl
import taskgroup_mcp.journal._sqlite as sqlite_impl
from pg_server import PostgresServer
from taskgroup_mcp.config import Settings
from taskgroup_mcp.journal import Journal, JournalError, Scope, open_journal

pytestmark = pytest.mark.anyio

ME = Scope("https://api.example.test", "")


async def started(settings: Settings) -> Journal:
    journal = open_journal(settings)
    assert journal is not None
    await journal.start()
    return journal


async def test_the_state_directory_is_created_private_and_the_journal_file_is_owner_only(
    tmp_path: Path,
) -> None:
    state = tmp_path / "deep" / "state"
    journal = await started(Settings.from_env({}, state_dir=state))
    assert journal.problem is None
    assert await journal.record_group(ME, "tgrp_1", created_at=1.0)
    await journal.close()
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "journal.db").stat().st_mode) == 0o600


def test_with_the_state_off_there_is_no_journal_and_nothing_on_disk(tmp_path: Path) -> None:
    settings = Settings.from_env({"TASKGROUP_MCP_STATE": "off"}, state_dir=tmp_path / "state")
    assert open_journal(settings) is None
    assert not (tmp_path / "state").exists()


async def test_a_corrupt_journal_file_is_named_left_untouched_and_the_journal_degrades(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    garbage = b"this is not a database\x00" * 200
    (state / "journal.db").write_bytes(garbage)
    journal = await started(Settings.from_env({}, state_dir=state))
    assert journal.problem is not None
    assert "TASKGROUP_MCP_STATE_DIR" in journal.problem and str(state / "journal.db") in journal.problem
    assert "Traceback" not in journal.problem
    assert not await journal.record_group(ME, "tgrp_1", created_at=1.0)
    with pytest.raises(JournalError, match="TASKGROUP_MCP_STATE_DIR"):
        await journal.list_groups(ME)
    assert journal.notice is not None and "keep working" in journal.notice
    assert (state / "journal.db").read_bytes() == garbage, "a corrupt journal is never written to"
    await journal.close()


async def test_an_unwritable_journal_is_opened_read_only_lists_what_it_has_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    first = await started(Settings.from_env({}, state_dir=state))
    await first.record_group(ME, "tgrp_old", created_at=1.0, label="kept")
    await first.close()
    # Root ignores permission bits, so "not writable" is what os.access reports; the file is then
    # really opened read-only (mode=ro) and SQLite refuses every write.
    monkeypatch.setattr(sqlite_impl.os, "access", lambda path, mode: mode != os.W_OK)  # pyright: ignore[reportUnknownLambdaType]
    journal = await started(Settings.from_env({}, state_dir=state))
    assert journal.read_only and journal.problem is not None
    assert "read-only" in journal.problem and "TASKGROUP_MCP_STATE_DIR" in journal.problem
    assert [g.label for g in await journal.list_groups(ME)] == ["kept"]
    assert not await journal.record_group(ME, "tgrp_new", created_at=2.0)
    async with journal.lease("submit:x", wait=1) as locked:
        assert locked is False, "no shared lock on a read-only journal: the caller is told to go on alone"
    await journal.close()


async def test_a_journal_written_by_a_newer_version_is_refused_not_guessed_at(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = await started(Settings.from_env({}, state_dir=state))
    await first.close()
    import sqlite3

    db = sqlite3.connect(state / "journal.db")
    db.execute("INSERT INTO tg_schema VALUES (99, 0, 'from the future')")
    db.commit()
    db.close()
    journal = await started(Settings.from_env({}, state_dir=state))
    assert journal.problem is not None and "newer" in journal.problem and "upgrade" in journal.problem
    await journal.close()


async def test_a_wrong_database_url_names_the_setting_and_never_the_password() -> None:
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, not listening: refused, and no one else can take it meanwhile
        port = s.getsockname()[1]
        url = f"postgresql://taskgroup:pw-s3cret-value@127.0.0.1:{port}/journal"
        started_at = time.monotonic()
        journal = await started(Settings.from_env({}, database_url=url))
    assert time.monotonic() - started_at < 15, "a dead database costs at most its connect timeout"
    assert journal.problem is not None
    assert "TASKGROUP_MCP_DATABASE_URL" in journal.problem and f"127.0.0.1:{port}/journal" in journal.problem
    assert "pw-s3cret-value" not in journal.problem
    assert "pw-s3cret-value" not in repr(journal.__dict__)
    assert not await journal.record_group(ME, "tgrp_1", created_at=1.0)
    await journal.close()


async def test_a_database_going_away_mid_use_degrades_then_recovers_when_it_is_back(
    postgres_server: PostgresServer, postgres_database: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_impl, "RETRY_AFTER_FAILURE_SECONDS", 0.2)
    url: str = postgres_database()
    name = url.rsplit("/", 1)[1]
    journal = await started(Settings.from_env({}, database_url=url))
    assert await journal.record_group(ME, "tgrp_before", created_at=1.0)
    postgres_server.psql(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
    postgres_server.psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    with anyio.fail_after(30):
        assert not await journal.record_group(ME, "tgrp_during", created_at=2.0)
    assert journal.problem is not None and "TASKGROUP_MCP_DATABASE_URL" in journal.problem
    assert "Traceback" not in journal.problem
    postgres_server.psql(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
    with anyio.fail_after(30):
        for _ in range(150):  # the pool reconnects in the background; the journal tries again on use
            if await journal.record_group(ME, "tgrp_after", created_at=3.0):
                break
            await anyio.sleep(0.2)
    assert journal.problem is None
    assert [g.group_id for g in await journal.list_groups(ME)] == ["tgrp_after", "tgrp_before"]
    await journal.close()


async def test_a_write_that_fails_half_way_leaves_nothing_behind(
    journals: JournalMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = await journals()
    backend: Any = journal._backend  # pyright: ignore[reportPrivateUsage]
    real = backend.run

    class FailsOnSubmissions:
        """The transaction as given, except that writing the call's row fails (after the ids)."""

        def __init__(self, tx: Any) -> None:
            self._tx = tx
            self.kind = tx.kind

        def __getattr__(self, name: str) -> Any:
            return getattr(self._tx, name)

        def execute(self, sql: str, params: Any = ()) -> None:
            if "tg_submissions" in sql:
                raise JournalError("TASKGROUP_MCP_STATE_DIR: simulated failure")
            self._tx.execute(sql, params)

    async def failing(fn: Any, *, write: bool) -> Any:
        return await real(lambda tx: fn(FailsOnSubmissions(tx)), write=write)

    monkeypatch.setattr(backend, "run", failing)
    assert not await journal.write_ahead(ME.api, "tgrp_h", "k", ["c1", "c2"])
    monkeypatch.setattr(backend, "run", real)
    assert await journal.sent_ids(ME.api, "tgrp_h", "k") == {}, "the client ids went with the failed write"
