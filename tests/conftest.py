"""Shared test configuration. Each test folder keeps its own fixtures in its own conftest."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import taskgroup_mcp.config
from file_report import FileReport
from pg_server import PostgresServer, PostgresUnavailable, start_postgres
from subprocess_coverage import carry_coverage_into_subprocesses


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--file-report",
        action="store_true",
        default=False,
        help="one line per test file (outcomes and time) instead of a dot per test",
    )


def pytest_configure(config: pytest.Config) -> None:
    carry_coverage_into_subprocesses()  # only under `make coverage`
    if config.getoption("file_report"):
        config.pluginmanager.register(FileReport(config), "file-report")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers per core. Most tests wait on subprocesses, sockets and the
    sandbox's clock rather than compute, so a 2-core machine runs four files at once best
    (measured: 1 worker 173 s, 2 workers 117 s, 4 workers 75 s). PYTEST_XDIST_AUTO_NUM_WORKERS
    overrides it."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "").isdigit():
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(2, 2 * cores)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test keeps its journal (and persisted sandbox) in its own temporary state directory:
    no test ever writes to ~/.taskgroup-mcp. Subprocesses inherit the variable."""
    state = tmp_path / "state"
    monkeypatch.setenv("TASKGROUP_MCP_STATE_DIR", str(state))
    # Servers that tests start with an environment of their own still get HOME from ours (the
    # SDK's stdio client passes it on): their default state directory is a temporary one too.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(taskgroup_mcp.config, "default_state_dir", lambda: state)
    return state


@pytest.fixture(scope="module", autouse=True)
def _module_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The same for module-scoped fixtures (they are set up before any function-scoped one)."""
    state = tmp_path_factory.mktemp("state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TASKGROUP_MCP_STATE_DIR", str(state))
        patch.setenv("HOME", str(state.parent / f"{state.name}-home"))
        patch.setattr(taskgroup_mcp.config, "default_state_dir", lambda: state)
        yield state


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
