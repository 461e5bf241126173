"""Wiring the MCP server to its backend: the real API, or the embedded sandbox in process.

Both transports (stdio in ``serve``, HTTP in ``http``) use :func:`open_backend`; only this
layer may start the sandbox and hand the tools a client pointed at it.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import SecretStr

from taskgroup_mcp.client import ParallelClient
from taskgroup_mcp.config import Settings
from taskgroup_mcp.sandbox import Sandbox, SandboxConfig
from taskgroup_mcp.tools import ClientFactory

__all__ = [
    "SANDBOX_API_KEY",
    "SANDBOX_BASE_URL",
    "SANDBOX_FILE",
    "Backend",
    "open_backend",
    "sandbox_file",
    "sandbox_settings",
]

logger = logging.getLogger("taskgroup_mcp.serve")

SANDBOX_BASE_URL = "http://sandbox.invalid"
"""Never resolved: requests reach the sandbox through its in-process transport."""
SANDBOX_API_KEY = "sandbox-key-not-a-secret"
SANDBOX_FILE = "sandbox.db"
"""The embedded sandbox's groups and runs, beside the journal in the state directory."""


def sandbox_file(settings: Settings) -> Path:
    return settings.state_dir.expanduser() / SANDBOX_FILE


@dataclass(frozen=True)
class Backend:
    """What ``build_server`` needs: the effective settings and a client factory (None: the real API)."""

    settings: Settings
    client_factory: ClientFactory | None
    sandbox: Sandbox | None = None


def sandbox_settings(settings: Settings) -> Settings:
    """Settings for serving against the embedded sandbox: a placeholder key, and forwarded MCP
    servers on loopback over plain http allowed (the demo and tests run them on 127.0.0.1)."""
    return settings.model_copy(
        update={
            "sandbox": True,
            "parallel_api_key": SecretStr(SANDBOX_API_KEY),
            "parallel_base_url": SANDBOX_BASE_URL,
            "allow_http_mcp_urls": True,
            "allow_private_mcp_urls": True,
            "per_request_api_key": False,
        }
    )


@asynccontextmanager
async def open_backend(
    settings: Settings, *, sandbox_config: SandboxConfig | None = None
) -> AsyncGenerator[Backend]:
    """The backend for ``settings``: the real API, or a sandbox started here and stopped on exit."""
    if not settings.sandbox:
        yield Backend(settings=settings, client_factory=None)
        return
    effective = sandbox_settings(settings)
    config = sandbox_config or SandboxConfig(
        speed=settings.sandbox_speed,
        seed=settings.sandbox_seed,
        rate_limit_per_minute=settings.sandbox_rate_limit_per_minute,
    )
    if sandbox_config is None and settings.state:
        # Persist with the journal: every --sandbox process on this state directory sees the same
        # groups, and ids stay unique across processes and restarts.
        path = sandbox_file(settings)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            sandbox = Sandbox(replace(config, db_path=str(path)))
        except (OSError, sqlite3.Error) as exc:
            logger.warning(
                "TASKGROUP_MCP_STATE_DIR: the sandbox file %s is not usable (%s); using an in-memory "
                "sandbox instead (taskgroup-mcp sandbox --reset clears the file)",
                path,
                " ".join(str(exc).split())[:200],
            )
            sandbox = Sandbox(config)
    else:
        sandbox = Sandbox(config)
    if sandbox.config.db_path is None:
        # Forgotten at exit: its ids must never meet another sandbox's in the journal.
        effective = effective.model_copy(
            update={"parallel_base_url": f"http://sandbox-{secrets.token_hex(6)}.invalid"}
        )
    try:
        async with sandbox:

            def factory() -> ParallelClient:
                return ParallelClient.from_settings(effective, transport=sandbox.transport)

            yield Backend(settings=effective, client_factory=factory, sandbox=sandbox)
    finally:
        sandbox.close()
