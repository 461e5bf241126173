"""``taskgroup-mcp`` / ``taskgroup-mcp serve``: the MCP server over stdio (what desktop clients
launch), against the real API or, with ``--sandbox``, the embedded sandbox.

On stdio, stdout belongs to the protocol: every log line goes to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys

import anyio
from mcp.server.stdio import stdio_server

from taskgroup_mcp.config import Settings
from taskgroup_mcp.tools import build_server, install_log_redaction

from ._http_logs import configure_logging
from ._sdk import serve_streams
from ._stdio_errors import AnswerMalformed
from ._wiring import open_backend

__all__ = ["quiet_duplicate_request_lines", "run", "settings_from_args"]

logger = logging.getLogger("taskgroup_mcp.serve")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Environment settings with the command-line flags layered on top."""
    return Settings.from_env(
        sandbox=getattr(args, "sandbox", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        insecure_no_auth=getattr(args, "insecure_no_auth", None),
        log_level=getattr(args, "log_level", None),
        log_format=getattr(args, "log_format", None),
    )


def _configure_stdio_logging(settings: Settings) -> None:
    """stderr only (stdout is the protocol's), text or JSON lines, secrets redacted."""
    configure_logging(settings.log_level, settings.log_format)
    install_log_redaction()
    quiet_duplicate_request_lines(settings)


def quiet_duplicate_request_lines(settings: Settings) -> None:
    """With the embedded sandbox every API request already has its sandbox line (status and
    time); httpx2's own INFO line for the same request would say it twice."""
    if settings.sandbox:
        httpx_logger = logging.getLogger("httpx2")
        httpx_logger.setLevel(max(logging.WARNING, httpx_logger.level))


TERMINAL_NOTE = (
    "taskgroup-mcp: serving MCP over stdio, waiting for an MCP client to talk on stdin. "
    "Clients start this command themselves: `taskgroup-mcp config CLIENT` sets one up, "
    "`taskgroup-mcp demo` shows it working, `taskgroup-mcp serve --transport http` serves HTTP. "
    "Ctrl-C stops it.\n"
)


def _say_what_it_waits_for() -> None:
    """A person who starts the server in a terminal sees a silent process: say what it is doing."""
    try:
        interactive = sys.stdin.isatty()
    except (AttributeError, ValueError):
        interactive = False
    if interactive:
        sys.stderr.write(TERMINAL_NOTE)
        sys.stderr.flush()


async def serve_stdio(settings: Settings) -> None:
    async with open_backend(settings) as backend:
        server = build_server(backend.settings, backend.client_factory)
        logger.info(
            "serving MCP over stdio against %s", "the embedded sandbox (synthetic data)" if settings.sandbox else
            settings.parallel_base_url,
        )  # fmt: skip
        async with stdio_server() as (read_stream, write_stream):
            # As run_stdio_async(), but a malformed frame gets its JSON-RPC error, not silence.
            await serve_streams(server, AnswerMalformed(read_stream, write_stream), write_stream)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if getattr(args, "transport", "stdio") == "http":
        from taskgroup_mcp.commands import http  # imported only when serving HTTP

        return http.run(args)
    _configure_stdio_logging(settings)
    if not settings.sandbox and not settings.api_key_configured:
        logger.warning("no PARALLEL_API_KEY: every tool will explain how to set it or use --sandbox")
    _say_what_it_waits_for()
    anyio.run(serve_stdio, settings)
    return 0
