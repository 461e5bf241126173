"""A whole fan-out through langchain-mcp-adapters, in its session mode, with no LLM.

langchain-mcp-adapters turns MCP tools into LangChain tools. It needs ``mcp<2`` (0.3.x) and so
cannot be installed beside this server (mcp 2.3); it does not have to be: the server is a
separate process. Run this file with an environment that has the adapters, and point it at the
installed ``taskgroup-mcp`` command::

    python -m venv .venv-langchain
    .venv-langchain/bin/pip install "langchain-mcp-adapters==0.3.2"
    .venv-langchain/bin/python examples/langchain_mcp_adapters_fanout.py .venv/bin/taskgroup-mcp

Both of the adapters' modes are shown. **Session mode** (the default here):
``async with client.session("taskgroup") as session`` keeps one server process for every call.
**Default mode** (``--default-mode``; ``await client.get_tools()``) starts a new server process
for every tool call: it works because the groups outlive the process (in Parallel, or with
``--sandbox`` in the state directory's ``sandbox.db``), at the cost of a process start per call.

The tools are called directly (``tool.ainvoke(args)``), as an agent's tool calls would reach
them: create a group, add 50 questions, wait, page the results with the cursor, export CSV.
No key, no network, synthetic data. A read timeout is not needed: the adapters' stdio sessions
have none, and their streamable-HTTP connection allows 300 s of silence (progress keeps it alive).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from langchain_core.tools import BaseTool
from langchain_mcp_adapters.client import MultiServerMCPClient
from langchain_mcp_adapters.tools import load_mcp_tools

RUNS = 50


def _answer(result: Any) -> dict[str, Any]:
    """A tool's JSON answer, whichever shape this adapters version hands back."""
    if isinstance(result, tuple):  # (content, artifact)
        result = result[0]
    if isinstance(result, list):
        texts = [b.get("text", "") if isinstance(b, dict) else str(b) for b in result]
        result = "".join(texts)
    if isinstance(result, dict):
        return result
    return json.loads(result)


def _client(command: str) -> MultiServerMCPClient:
    return MultiServerMCPClient(
        {
            "taskgroup": {
                "transport": "stdio",
                "command": command,
                "args": ["--sandbox"],
                "env": {
                    "PATH": os.environ.get("PATH", ""),
                    "HOME": os.environ.get("HOME", ""),
                    "TASKGROUP_MCP_LOG_LEVEL": "WARNING",
                    "TASKGROUP_MCP_SANDBOX_SPEED": os.environ.get("TASKGROUP_MCP_SANDBOX_SPEED", "60"),
                    "TASKGROUP_MCP_EXPORT_DIR": os.environ.get("TASKGROUP_MCP_EXPORT_DIR", ""),
                    "TASKGROUP_MCP_STATE_DIR": os.environ.get("TASKGROUP_MCP_STATE_DIR", ""),
                },
            }
        }
    )


async def _drive(tools: dict[str, BaseTool]) -> dict[str, Any]:
    """create -> add 50 runs -> wait (again while active) -> every page of results -> export."""
    group = _answer(await tools["create_task_group"].ainvoke({}))["task_group_id"]
    inputs = [f"Company {i:02d}: when was it founded, and where is it based?" for i in range(RUNS)]
    added = _answer(await tools["add_runs"].ainvoke({"task_group_id": group, "inputs": inputs}))["added"]
    waits = 0
    while True:
        waits += 1
        waited = _answer(
            await tools["wait_for_task_group"].ainvoke({"task_group_id": group, "timeout_seconds": 30})
        )
        if not waited["status"]["active"]:
            break
    keys: list[str] = []
    pages = 0
    cursor = None
    while True:
        args: dict[str, Any] = {"task_group_id": group, "limit": 20}
        if cursor:
            args["cursor"] = cursor
        page = _answer(await tools["get_task_group_results"].ainvoke(args))
        pages += 1
        keys += [str(item.get("key")) for item in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    exported = _answer(
        await tools["export_task_group_results"].ainvoke({"task_group_id": group, "format": "csv"})
    )
    return {
        "task_group_id": group,
        "added": added,
        "waits": waits,
        "pages": pages,
        "results": len(keys),
        "distinct_results": len(set(keys)),
        "export_rows": exported["rows"],
        "exactly_once": exported["no_duplicates"] is True and not exported.get("missing_inputs"),
    }


async def session_mode(command: str) -> dict[str, Any]:
    """One server process for every call: ``client.session(...)`` + ``load_mcp_tools``."""
    async with _client(command).session("taskgroup") as session:
        return await _drive({tool.name: tool for tool in await load_mcp_tools(session)})


async def default_mode(command: str) -> dict[str, Any]:
    """``client.get_tools()``: every tool call starts its own server process. The group made by
    one call is there for the next only because ``--sandbox`` keeps the sandbox in the state
    directory (the journal's ``sandbox.db``); against the real API the groups live in Parallel."""
    return await _drive({tool.name: tool for tool in await _client(command).get_tools()})


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or sys.argv[2:] not in ([], ["--default-mode"]):
        sys.exit("usage: langchain_mcp_adapters_fanout.py /absolute/path/to/taskgroup-mcp [--default-mode]")
    mode = default_mode if sys.argv[2:] == ["--default-mode"] else session_mode
    print(json.dumps(asyncio.run(mode(sys.argv[1]))))
