"""Unknown tools and prompts are JSON-RPC -32602 errors in both protocol eras, with no traceback
in the log (mcp 2.3.0 answers an unknown tool with an isError result and an unknown prompt with
error code 0 and an ERROR traceback)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from taskgroup_mcp.tools._protocol import ProtocolServer  # pyright: ignore[reportPrivateUsage]

pytestmark = pytest.mark.anyio
MODES = pytest.mark.parametrize("mode", ["auto", "legacy"])


def _no_error_logs(caplog: pytest.LogCaptureFixture) -> None:
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not loud, [r.getMessage() for r in loud]


@MODES
async def test_an_unknown_tool_is_a_32602_error_naming_it(
    sandbox: Any, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with sandbox(mode=mode) as (client, _, _):
        with pytest.raises(MCPError) as unknown:
            await client.call_tool("no_such_tool", {})
        with pytest.raises(MCPError) as odd:
            await client.call_tool("x" * 500 + "\x1b[31m", {})
        listed = await client.list_tools()
    assert unknown.value.code == INVALID_PARAMS
    assert "Unknown tool: 'no_such_tool'" in unknown.value.message and "tools/list" in unknown.value.message
    assert odd.value.code == INVALID_PARAMS and "x" * 65 not in odd.value.message
    assert "\x1b" not in odd.value.message
    assert listed.tools  # the session goes on
    _no_error_logs(caplog)


@MODES
async def test_an_unknown_prompt_is_a_32602_error_and_no_traceback(
    sandbox: Any, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with sandbox(mode=mode) as (client, _, _):
        with pytest.raises(MCPError) as unknown:
            await client.get_prompt("no_such_prompt")
        known = await client.get_prompt("plan_fan_out", {"goal": "find HQ cities"})
    assert unknown.value.code == INVALID_PARAMS
    assert "Unknown prompt: 'no_such_prompt'" in unknown.value.message
    assert "find HQ cities" in known.messages[0].content.text  # type: ignore[union-attr]
    _no_error_logs(caplog)


@MODES
async def test_a_prompt_without_its_required_argument_is_a_32602_error_naming_it(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server: ProtocolServer[Any] = ProtocolServer("toy")

    @server.prompt()
    def greet(name: str) -> str:
        """Greets someone."""
        return f"Hello {name}"

    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        with pytest.raises(MCPError) as missing:
            await client.get_prompt("greet")
        ok = await client.get_prompt("greet", {"name": "Ada"})
    assert missing.value.code == INVALID_PARAMS and "name" in missing.value.message
    assert ok.messages[0].content.text == "Hello Ada"  # type: ignore[union-attr]
    _no_error_logs(caplog)
