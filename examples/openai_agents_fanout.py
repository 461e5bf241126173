"""A whole fan-out through openai-agents' MCP clients, against the sandbox, with no LLM.

openai-agents (the OpenAI Agents SDK) reaches MCP servers through ``MCPServerStdio`` and
``MCPServerStreamableHttp``. Both keep an MCP session whose read timeout,
``client_session_timeout_seconds``, defaults to **5 s**: any tool call that takes longer fails with
``Request 'tools/call' timed out``. ``wait_for_task_group`` and ``fan_out`` wait up to 45 s by
default (``TASKGROUP_MCP_WAIT_DEFAULT_SECONDS``, never more than ``TASKGROUP_MCP_WAIT_MAX_SECONDS``,
50), so set it above that: ``client_session_timeout_seconds=60``, as below.

The tools are called directly, as an agent's tool calls would reach them: create a group, add 50
research questions, wait until they are done, page through the results with the cursor, and
export the group to CSV. ``strict_schema_report()`` shows which tools' input schemas openai-agents
can turn into OpenAI strict schemas (the others it offers non-strict, logging the reason once).

No key, no network beyond 127.0.0.1, synthetic data. For real research drop ``--sandbox`` and set
``PARALLEL_API_KEY`` in the server's environment; give an ``Agent(mcp_servers=[server])`` a model.

Install from a clone: ``pip install -e ".[examples]"``; run: ``python examples/openai_agents_fanout.py``
(stdio, then streamable HTTP against a server it starts on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from agents.mcp import MCPServer, MCPServerStdio, MCPServerStreamableHttp
from agents.strict_schema import ensure_strict_json_schema

SESSION_TIMEOUT_SECONDS = 60  # above the longest wait (50 s); openai-agents' default is 5
RUNS = 50
OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "founded_year": {"type": "integer", "description": "year the company was founded"},
        "headquarters": {"type": "string", "description": "city of the headquarters"},
    },
    "required": ["founded_year", "headquarters"],
    "additionalProperties": False,
}


@dataclass
class FanOut:
    group_id: str = ""
    added: int = 0
    waits: int = 0
    pages: int = 0
    result_keys: list[str] = field(default_factory=lambda: [])
    export_rows: int = 0
    export_exactly_once: bool = False
    synthetic: bool = False


def _answer(result: Any) -> dict[str, Any]:
    """The structured answer of a tool call (raises with the tool's own text on an error)."""
    if getattr(result, "is_error", False) or getattr(result, "isError", False):
        texts = [getattr(block, "text", "") for block in result.content]
        raise RuntimeError(" ".join(texts))
    structured = getattr(result, "structured_content", None) or getattr(result, "structuredContent", None)
    if isinstance(structured, dict):
        return structured  # pyright: ignore[reportUnknownVariableType]
    return json.loads(result.content[0].text)


async def fan_out(server: MCPServer) -> FanOut:
    """create -> add 50 runs -> wait (again while active) -> every page of results -> export."""
    done = FanOut()
    created = _answer(await server.call_tool("create_task_group", {}))
    done.group_id = created["task_group_id"]
    inputs = [f"Company {i:02d}: when was it founded, and where is it based?" for i in range(RUNS)]
    added = _answer(
        await server.call_tool(
            "add_runs",
            {"task_group_id": done.group_id, "inputs": inputs, "output": OUTPUT_SCHEMA, "processor": "lite"},
        )
    )
    done.added = added["added"]
    while True:
        done.waits += 1
        waited = _answer(
            await server.call_tool(
                "wait_for_task_group", {"task_group_id": done.group_id, "timeout_seconds": 30}
            )
        )
        if not waited["status"]["active"]:
            break
    cursor: str | None = None
    while True:
        args: dict[str, Any] = {"task_group_id": done.group_id, "limit": 20}
        if cursor:
            args["cursor"] = cursor
        page = _answer(await server.call_tool("get_task_group_results", args))
        done.pages += 1
        done.result_keys += [str(item.get("key")) for item in page["items"]]
        done.synthetic = done.synthetic or "sandbox" in json.dumps(page).lower()
        cursor = page.get("next_cursor")
        if not cursor:
            break
    exported = _answer(
        await server.call_tool("export_task_group_results", {"task_group_id": done.group_id, "format": "csv"})
    )
    done.export_rows = exported["rows"]
    done.export_exactly_once = exported["no_duplicates"] is True and not exported.get("missing_inputs")
    return done


def stdio_server(env: dict[str, str] | None = None) -> MCPServerStdio:
    """``taskgroup-mcp --sandbox`` over stdio, started by openai-agents, with the timeout set."""
    return MCPServerStdio(
        params={
            "command": sys.executable,
            "args": ["-m", "taskgroup_mcp", "--sandbox"],
            "env": {**os.environ, "TASKGROUP_MCP_LOG_LEVEL": "WARNING", **(env or {})},
        },
        client_session_timeout_seconds=SESSION_TIMEOUT_SECONDS,
        name="taskgroup",
    )


def http_server(url: str, token: str) -> MCPServerStreamableHttp:
    """The same server over streamable HTTP (``serve --transport http``), with its bearer token."""
    return MCPServerStreamableHttp(
        params={
            "url": url,
            "headers": {"Authorization": f"Bearer {token}"},
            "timeout": 10,
            "sse_read_timeout": 300,
        },
        client_session_timeout_seconds=SESSION_TIMEOUT_SECONDS,
        name="taskgroup-http",
    )


def open_object_paths(schema: Any, path: str = "") -> list[str]:
    """Where a JSON schema has objects that accept undeclared properties (what strict mode refuses):
    an object type with no declared property whose ``additionalProperties`` is not false."""
    found: list[str] = []
    if isinstance(schema, dict):
        kinds = schema.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if (
            "object" in kinds
            and not schema.get("properties")
            and schema.get("additionalProperties") is not False
        ):
            found.append(path or "(root)")
        for key, value in schema.items():
            if key in ("properties", "$defs") and isinstance(value, dict):
                for name, sub in value.items():
                    found += open_object_paths(sub, f"{path}.{name}" if path else name)
            elif isinstance(value, dict):
                found += open_object_paths(value, f"{path}.{key}" if path else key)
            elif isinstance(value, list):
                for i, sub in enumerate(value):
                    found += open_object_paths(sub, f"{path}.{key}[{i}]")
    return found


async def strict_schema_report(server: MCPServer) -> dict[str, str]:
    """Tool name -> "strict", or why openai-agents' strict conversion refuses its input schema and
    which fields are open objects (the tool is then offered non-strict)."""
    report: dict[str, str] = {}
    for tool in await server.list_tools():
        schema = copy.deepcopy(dict(getattr(tool, "input_schema", None) or tool.inputSchema))
        schema.setdefault("properties", {})
        try:
            ensure_strict_json_schema(copy.deepcopy(schema), _reject_open_objects=True)
            report[tool.name] = "strict"
        except Exception as exc:  # openai-agents raises UserError; the text is the reason
            fields = ", ".join(open_object_paths(schema))
            report[tool.name] = f"{type(exc).__name__}: {exc} Open objects: {fields}"
    return report


@asynccontextmanager
async def local_http_server(token: str) -> AsyncIterator[str]:
    """``taskgroup-mcp serve --transport http --sandbox`` on a free 127.0.0.1 port (for ``main``)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "TASKGROUP_MCP_AUTH_TOKENS": token, "TASKGROUP_MCP_LOG_LEVEL": "WARNING"}
    argv = [
        sys.executable,
        "-m",
        "taskgroup_mcp",
        "serve",
        "--transport",
        "http",
        "--sandbox",
        "--port",
        str(port),
    ]
    proc = await asyncio.create_subprocess_exec(*argv, env=env)
    try:
        for _ in range(300):
            await asyncio.sleep(0.1)
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue
            writer.close()
            break
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


def _show(label: str, run: FanOut) -> None:
    print(
        f"{label}: group {run.group_id}: added {run.added}, waited {run.waits}x, "
        f"{len(run.result_keys)} results in {run.pages} pages, CSV export {run.export_rows} rows, "
        f"each input exactly once: {run.export_exactly_once}, synthetic: {run.synthetic}"
    )


async def main() -> None:
    async with stdio_server() as server:
        _show("stdio", await fan_out(server))
        for name, verdict in (await strict_schema_report(server)).items():
            print(f"  strict schema {name}: {verdict}")
    token = "example-token-0123456789abcdef"
    async with local_http_server(token) as url, http_server(url, token) as server:
        _show("streamable HTTP", await fan_out(server))


if __name__ == "__main__":
    asyncio.run(main())
