"""Unknown tools and prompts answered as the MCP spec says: JSON-RPC error -32602, no traceback.

Upstream (mcp 2.3.0 ``MCPServer``), checked with the official conformance suite
(``@modelcontextprotocol/conformance`` 0.1.16, tests/conformance/):

- ``tools/call`` of an unknown tool: ``ToolManager`` raises ``ToolError("Unknown tool: ...")`` and
  ``MCPServer._handle_call_tool`` turns every ``ToolError`` into a ``CallToolResult`` with
  ``isError: true``. The 2025-11-25 spec ("Error Handling" under Tools) lists unknown tools as a
  protocol error, -32602 Invalid params; ``isError`` is for a tool that ran and failed.
- ``prompts/get`` of an unknown prompt: ``MCPServer.get_prompt`` raises ``ValueError("Unknown
  prompt: ...")``, which the dispatcher answers with error code ``0`` (no JSON-RPC code) and logs
  at ERROR with a traceback; a prompt called without a required argument goes the same way.

:class:`ProtocolServer` checks the name (and a prompt's required arguments) before the SDK does and
raises ``MCPError(-32602)`` with a sentence the caller can act on; everything else is the SDK's.
"""

from __future__ import annotations

import re
from typing import Any

from mcp.server import MCPServer
from mcp.server.lowlevel.server import LifespanResultT
from mcp.server.mcpserver.context import Context
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolResult, GetPromptResult, InputRequiredResult

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")


def _shown(name: str) -> str:
    """A caller's name, echoed only when it looks like a name (never a long or odd string)."""
    return f"'{name}'" if _NAME.match(name) else "(a name that is not a valid identifier)"


class ProtocolServer(MCPServer[LifespanResultT]):
    """``MCPServer`` whose unknown tools and prompts are JSON-RPC -32602 errors (see the module)."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[LifespanResultT, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        # The tool manager's own lookup: list_tools() would build every tool's definition per call.
        if self._tool_manager.get_tool(name) is None:
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"Unknown tool: {_shown(name)}. Call tools/list for the tools this server has.",
            )
        return await super().call_tool(name, arguments, context)

    async def get_prompt(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        context: Context[LifespanResultT, Any] | None = None,
    ) -> GetPromptResult | InputRequiredResult:
        prompts = {prompt.name: prompt for prompt in await self.list_prompts()}
        prompt = prompts.get(name)
        if prompt is None:
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"Unknown prompt: {_shown(name)}. Call prompts/list for the prompts this server has.",
            )
        given = arguments or {}
        missing = [arg.name for arg in prompt.arguments or [] if arg.required and arg.name not in given]
        if missing:
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"Prompt '{name}' needs the argument(s) {', '.join(missing)}; give them and call again.",
            )
        return await super().get_prompt(name, arguments, context)
