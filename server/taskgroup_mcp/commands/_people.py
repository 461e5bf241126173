"""The commands for people (``groups``, ``status``, ``results``, ``export``) over the same code as
the tools: the same client, journal, status summary, result shaping and export writer.

Exit codes mean something to scripts: 0 ok, 2 usage or settings (argparse uses 2 as well), 3 the
group was not found, 4 the API failed. ``--json`` prints one JSON document (or JSON lines) on
stdout; everything for people goes to stdout too, and errors go to stderr in one line.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from taskgroup_mcp.client import NotFoundError, ParallelClient, ParallelError
from taskgroup_mcp.config import Settings
from taskgroup_mcp.journal import Journal, JournalError, Scope, open_journal
from taskgroup_mcp.tools import (
    NO_KEY_MESSAGE,
    ArgumentProblem,
    innermost_exception,
    install_log_redaction,
    to_tool_error,
)

from ._http_logs import configure_logging
from ._wiring import open_backend

__all__ = ["EXIT_API", "EXIT_NOT_FOUND", "EXIT_OK", "EXIT_USAGE", "CommandFailed", "Context", "run_command"]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_API = 4

T = TypeVar("T")


class CommandFailed(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class Context:
    """What a command body gets: a client, the journal (None when the state is off), the scope."""

    settings: Settings
    client: ParallelClient
    journal: Journal | None
    scope: Scope


async def _open_and_run(settings: Settings, body: Callable[[Context], Awaitable[int]]) -> int:
    async with open_backend(settings) as backend:
        effective = backend.settings
        if not effective.sandbox and not effective.api_key_configured:
            raise CommandFailed(NO_KEY_MESSAGE, EXIT_USAGE)
        factory = backend.client_factory or (lambda: ParallelClient.from_settings(effective))
        journal = open_journal(effective)
        if journal is not None:
            await journal.start()
        try:
            async with factory() as client:
                return await body(Context(effective, client, journal, Scope(effective.parallel_base_url, "")))
        finally:
            if journal is not None:
                await journal.close()


def run_command(
    settings: Settings, body: Callable[[Context], Awaitable[int]], *, group_id: str | None = None
) -> int:
    """Run ``body`` against the configured API (or ``--sandbox``); map failures to exit codes."""
    configure_logging("WARNING" if settings.log_level.upper() == "INFO" else settings.log_level, "text")
    install_log_redaction()
    try:
        return anyio.run(_open_and_run, settings, body)
    except KeyboardInterrupt:
        raise
    except BaseException as raised:
        exc = innermost_exception(raised)
        if isinstance(exc, CommandFailed):
            message, code = exc.message, exc.code
        elif isinstance(exc, NotFoundError):
            message, code = str(to_tool_error(exc, group_id=group_id)), EXIT_NOT_FOUND
        elif isinstance(exc, ParallelError):
            message, code = str(to_tool_error(exc, group_id=group_id)), EXIT_API
        elif isinstance(exc, ArgumentProblem | ToolError):
            message, code = str(exc), EXIT_USAGE
        elif isinstance(exc, JournalError):
            message, code = exc.message, EXIT_USAGE
        elif isinstance(exc, Exception):
            message, code = str(to_tool_error(exc, group_id=group_id)), EXIT_API
        else:
            raise
        sys.stderr.write(f"taskgroup-mcp: {message}\n")
        return code


def json_out(value: Any) -> None:
    import json

    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")
