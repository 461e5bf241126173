"""Fixtures for the MCP tools: a server on an in-process sandbox, reached with no socket."""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import pytest
from mcp import Client
from mcp.server import MCPServer

from taskgroup_mcp.commands._wiring import Backend, open_backend
from taskgroup_mcp.config import Settings
from taskgroup_mcp.sandbox import Faults, SandboxConfig
from taskgroup_mcp.tools import build_server

FAST = 2_000.0
"""Sandbox speed for tests: a lite run takes 5-30 ms."""


@asynccontextmanager
async def sandbox_client(
    tmp_path: Path,
    *,
    mode: str = "auto",
    speed: float = FAST,
    fail_rate: float = 0.0,
    faults: Faults | None = None,
    **overrides: Any,
) -> AsyncGenerator[tuple[Client, Backend, MCPServer[Any]]]:
    """An in-memory MCP client of ``build_server`` on an embedded sandbox."""
    # The test's own directory is where its operator lets inputs_file read from.
    values: dict[str, Any] = {"export_dir": tmp_path / "exports", "inputs_dirs": [tmp_path]}
    values.update(overrides)
    settings = Settings.from_env({}, sandbox=True, **values)
    config = SandboxConfig(speed=speed, seed=7, fail_rate=fail_rate, faults=faults or Faults())
    async with open_backend(settings, sandbox_config=config) as backend:
        server = build_server(backend.settings, backend.client_factory)
        async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
            yield client, backend, server


class SandboxClient(Protocol):
    def __call__(
        self, *, mode: str = "auto", speed: float = FAST, fail_rate: float = 0.0, **overrides: Any
    ) -> Any: ...


@pytest.fixture
def sandbox(tmp_path: Path) -> SandboxClient:
    """``async with sandbox(mode=...) as (client, backend, server)``."""

    def make(**kwargs: Any) -> Any:
        return sandbox_client(tmp_path, **kwargs)

    return make


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long profiles (``@pytest.mark.slow``) run only under ``make test-long``."""
    del config
    if os.environ.get("TASKGROUP_MCP_LONG_TESTS") == "1":
        return
    here = str(Path(__file__).parent)
    keep = [
        item for item in items if not (str(item.path).startswith(here) and item.get_closest_marker("slow"))
    ]
    items[:] = keep
