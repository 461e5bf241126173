"""Fixtures for the journal: the same tests run on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from pathlib import Path

import pytest
from journal_harness import JournalMaker

from taskgroup_mcp.config import Settings
from taskgroup_mcp.journal import Journal, open_journal


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings of a journal on a fresh database of each kind (two journals from the same
    settings are two processes sharing one database)."""
    if request.param == "sqlite":
        return Settings.from_env({}, state_dir=tmp_path / "journal-state")
    make_db: Callable[[], str] = request.getfixturevalue("postgres_database")
    return Settings.from_env({}, database_url=make_db())


@pytest.fixture
async def journals(journal_settings: Settings) -> AsyncGenerator[JournalMaker]:
    """``await journals()``: another started journal on the same database."""
    opened: list[Journal] = []

    async def make() -> Journal:
        journal = open_journal(journal_settings)
        assert journal is not None
        await journal.start()
        opened.append(journal)
        return journal

    yield make
    for journal in opened:
        await journal.close()


@pytest.fixture
async def journal(journals: JournalMaker) -> Journal:
    return await journals()
