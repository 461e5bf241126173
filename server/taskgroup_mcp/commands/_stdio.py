"""Launch our own server as a stdio subprocess and talk to it with the SDK's client, as an agent would.

Used by ``demo`` and ``check``. The child's stderr (its logs) goes to a temporary file, so the
person at the terminal sees the command's own output; :func:`log_tail` reads the file back
when something went wrong.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TextIO

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult, TextContent

from taskgroup_mcp.tools import innermost_exception
from taskgroup_mcp.wire import is_object

__all__ = ["ToolFailed", "connect", "describe_failure", "log_tail", "server_parameters", "structured"]


class ToolFailed(Exception):
    """A tool answered ``isError``; the message is the tool's own text (secret-free by design)."""

    def __init__(self, tool: str, text: str) -> None:
        self.tool = tool
        self.text = text
        super().__init__(f"{tool}: {text}")


def server_parameters(args: Sequence[str], env: Mapping[str, str]) -> StdioServerParameters:
    """``python -m taskgroup_mcp ARGS`` with this interpreter, so the child runs this very install."""
    return StdioServerParameters(command=sys.executable, args=["-m", "taskgroup_mcp", *args], env=dict(env))


@asynccontextmanager
async def connect(params: StdioServerParameters, errlog: TextIO) -> AsyncGenerator[Client]:
    """An MCP client session with the server process; its stderr goes to ``errlog``."""
    async with Client(stdio_client(params, errlog=errlog)) as client:
        yield client


def result_text(result: CallToolResult) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


def structured(tool: str, result: CallToolResult) -> dict[str, Any]:
    """The structured answer of a tool call; :class:`ToolFailed` if the tool reported an error."""
    if result.is_error:
        raise ToolFailed(tool, result_text(result) or "the tool reported an error")
    if result.structured_content is not None:
        return dict(result.structured_content)
    try:
        value = json.loads(result_text(result))
    except json.JSONDecodeError:
        raise ToolFailed(tool, "the tool answered without structured content") from None
    if not is_object(value):
        raise ToolFailed(tool, "the tool answered without an object")
    return value


def describe_failure(exc: BaseException) -> str:
    """``Type: message`` of the innermost exception, clipped.

    Only for client-side failures (a dead server process, a broken pipe): their text comes from
    the SDK and the OS, not from anything that holds a secret."""
    inner = innermost_exception(exc)
    text = " ".join(str(inner).split())
    return f"{type(inner).__name__}: {text[:200]}" if text else type(inner).__name__


def log_tail(errlog: TextIO, lines: int = 15) -> list[str]:
    """The last ``lines`` lines the server wrote to stderr."""
    errlog.flush()
    errlog.seek(0)
    return errlog.read().splitlines()[-lines:]
