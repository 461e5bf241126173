"""Real MCP tool calls for runs that forward MCP servers (streamable HTTP, as the API does).

For each server: connect with the run's headers, list its tools (honouring ``allowed_tools``),
call one, passing the run's input to the tool's string arguments. ``lite`` and ``core`` make at
most one call in all. A server whose tools cannot be listed adds the documented warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import anyio
import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from taskgroup_mcp.wire import McpServer, McpToolCall, get_processor, is_array, is_object

from ._lifecycle import listing_warning

log = logging.getLogger("taskgroup_mcp.sandbox")

SERVER_TIMEOUT_SECONDS = 20.0
_DEFAULT_CALLS = 3
"""Processors that may call several tools call at most one per server, this many in all."""


def input_text(value: str | dict[str, Any]) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def tool_arguments(schema: dict[str, Any], text: str) -> dict[str, Any]:
    """Arguments for a tool: the run's input in every string field, simple defaults elsewhere."""
    props_any = schema.get("properties")
    props = props_any if is_object(props_any) else {}
    required_any = schema.get("required")
    required_list = required_any if is_array(required_any) else []
    required = {str(r) for r in required_list}
    args: dict[str, Any] = {}
    for name, sub_any in props.items():
        sub = sub_any if is_object(sub_any) else {}
        kind = sub.get("type", "string")
        kinds = kind if is_array(kind) else [kind]
        if "string" in kinds:
            enum = sub.get("enum")
            enum_list = enum if is_array(enum) else []
            args[name] = enum_list[0] if enum_list else text
        elif name in required:
            defaults: dict[str, Any] = {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}
            args[name] = defaults.get(str(kinds[0]))
    return args


async def call_tools(
    servers: list[McpServer], run_id: str, processor: str, run_input: str | dict[str, Any]
) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """(``mcp_tool_calls`` wire dicts or None, warnings) for one run."""
    proc = get_processor(processor)
    budget = (
        proc.max_mcp_tool_calls
        if proc is not None and proc.max_mcp_tool_calls is not None
        else _DEFAULT_CALLS
    )
    text = input_text(run_input)
    calls: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    for server in servers:
        if len(calls) >= budget:
            break
        try:
            with anyio.fail_after(SERVER_TIMEOUT_SECONDS):
                call = await _call_one(server, run_id, len(calls), text)
        except Exception as exc:  # any failure to reach or list is the documented warning
            log.info("MCP server %s could not be listed for %s: %s", server.name, run_id, type(exc).__name__)
            warnings.append(listing_warning(server.name))
            continue
        if call is not None:
            calls.append(call)
    return (calls or None), warnings


async def _call_one(server: McpServer, run_id: str, n: int, text: str) -> dict[str, Any] | None:
    timeout = httpx2.Timeout(SERVER_TIMEOUT_SECONDS, connect=5.0)
    async with (
        httpx2.AsyncClient(headers=server.headers or {}, timeout=timeout) as http,
        streamable_http_client(server.url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        listed = await session.list_tools()
        allowed = server.allowed_tools
        tools = [t for t in listed.tools if allowed is None or t.name in allowed]
        if not tools:
            return None
        tool = tools[0]
        args = tool_arguments(tool.input_schema, text)
        call_id = "call_" + hashlib.blake2b(f"{run_id}:{n}".encode(), digest_size=12).hexdigest()
        content: str | None = None
        error: str | None = None
        try:
            result = await session.call_tool(tool.name, args)
            texts = [getattr(block, "text", "") for block in result.content]
            joined = "\n".join(t for t in texts if t)
            if not joined and result.structured_content is not None:
                joined = json.dumps(result.structured_content, ensure_ascii=False)
            if result.is_error:
                error = joined or "tool returned an error"
            else:
                content = joined
                error = ""  # as in the docs' sample: an empty error string on success
        except Exception as exc:  # the call's failure is recorded, the run goes on
            error = f"tool call failed: {type(exc).__name__}"
        return McpToolCall(
            tool_call_id=call_id,
            server_name=server.name,
            tool_name=tool.name,
            arguments=json.dumps(args, ensure_ascii=False),
            content=content,
            error=error,
        ).to_wire()
