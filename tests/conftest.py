"""Shared test configuration. Each test folder keeps its own fixtures in its own conftest."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import taskgroup_mcp.config
from pg_server import PostgresServer, PostgresUnavailable, start_postgres


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test keeps its journal (and persisted sandbox) in its own temporary state directory:
    no test ever writes to ~/.taskgroup-mcp. Subprocesses inherit the variable."""
    state = tmp_path / "state"
    monkeypatch.setenv("TASKGROUP_MCP_STATE_DIR", str(state))
    monkeypatch.setattr(taskgroup_mcp.config, "default_state_dir", lambda: state)
    return state


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session (fails, never skips, when it cannot start)."""
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL is needed by this test and could not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


_databases = itertools.count()


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Callable[[], str]:
    """Make a fresh, empty database on the session's server and return its URL."""

    def make() -> str:
        name = f"journal_{next(_databases)}"
        postgres_server.psql(f"DROP DATABASE IF EXISTS {name}")
        postgres_server.psql(f"CREATE DATABASE {name}")
        return postgres_server.url_for(name)

    return make
