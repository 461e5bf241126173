"""End to end over stdio: ``taskgroup-mcp --sandbox`` as a subprocess, driven by the SDK's client.

Fans out 20 inputs with a JSON output schema and a forwarded MCP server (a tiny streamable-HTTP
server this test runs on 127.0.0.1), waits with progress notifications, pages through every
result, and exports CSV.
"""

from __future__ import annotations

import csv
import io
import os
import socket
import sys
from collections.abc import AsyncGenerator, Generator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import uvicorn
from mcp import Client, StdioServerParameters
from mcp.server import MCPServer

pytestmark = pytest.mark.anyio

SCHEMA = {
    "type": "object",
    "properties": {
        "hq": {"type": "string", "description": "headquarters city"},
        "employees": {"type": "integer", "description": "head count"},
    },
}


class _QuietServer(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Generator[None]:
        yield


@asynccontextmanager
async def lookup_server(calls: list[str]) -> AsyncGenerator[str]:
    """A one-tool MCP server over streamable HTTP on 127.0.0.1 (port 0); yields its URL."""
    mcp = MCPServer("lookup")

    @mcp.tool()
    async def lookup(company: str) -> str:
        """Look a company up in the test's registry."""
        calls.append(company)
        return f"{company}: registered in Testville"

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    app = mcp.streamable_http_app(stateless_http=True)
    server = _QuietServer(uvicorn.Config(app, log_config=None, log_level="warning", lifespan="on"))
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            try:
                yield f"http://127.0.0.1:{port}/mcp"
            finally:
                server.should_exit = True
    finally:
        sock.close()


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_taskgroup_mcp_sandbox_over_stdio_fans_out_waits_pages_and_exports(
    tmp_path: Path, mode: str
) -> None:
    calls: list[str] = []
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    env = {
        "PATH": os.environ.get("PATH", ""),
        "TASKGROUP_MCP_EXPORT_DIR": str(tmp_path / "exports"),
        "TASKGROUP_MCP_STATE_DIR": os.environ["TASKGROUP_MCP_STATE_DIR"],
        "TASKGROUP_MCP_SANDBOX_SPEED": "300",
        "TASKGROUP_MCP_LOG_LEVEL": "WARNING",
    }
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "taskgroup_mcp", "--sandbox"], env=env, cwd=str(tmp_path)
    )
    inputs = [{"company": f"Testco {i}"} for i in range(20)]
    async with lookup_server(calls) as url:
        with anyio.fail_after(120):
            async with Client(params, mode=mode) as client:  # type: ignore[arg-type]
                fan = await client.call_tool(
                    "fan_out",
                    {
                        "inputs": inputs,
                        "output": SCHEMA,
                        "processor": "base",
                        "mcp_servers": [{"url": url, "name": "lookup"}],
                        "wait_seconds": 0,
                    },
                )
                assert not fan.is_error, fan.content[0].text
                data: dict[str, Any] = fan.structured_content  # type: ignore[assignment]
                assert data["added"]["added"] == 20 and "SANDBOX" in data["notice"]
                gid = data["task_group_id"]
                while True:
                    wait = await client.call_tool(
                        "wait_for_task_group",
                        {"task_group_id": gid, "timeout_seconds": 30},
                        progress_callback=on_progress,
                    )
                    assert not wait.is_error, wait.content[0].text
                    if not wait.structured_content["status"]["active"]:  # type: ignore[index]
                        break
                keys: list[str] = []
                cursor: str | None = None
                while True:
                    args: dict[str, Any] = {"task_group_id": gid, "limit": 7}
                    if cursor:
                        args["cursor"] = cursor
                    page = await client.call_tool("get_task_group_results", args)
                    assert not page.is_error, page.content[0].text
                    body: dict[str, Any] = page.structured_content  # type: ignore[assignment]
                    keys.extend(item["key"] for item in body["items"])
                    assert all(set(item["output"]) <= {"hq", "employees"} for item in body["items"])
                    cursor = body.get("next_cursor")
                    if not cursor:
                        break
                run = await client.call_tool(
                    "get_task_run", {"run_id": body["items"][0]["run_id"], "include_tool_calls": True}
                )
                assert not run.is_error, run.content[0].text
                export = await client.call_tool(
                    "export_task_group_results", {"task_group_id": gid, "format": "csv"}
                )
                assert not export.is_error, export.content[0].text
                exported: dict[str, Any] = export.structured_content  # type: ignore[assignment]
    assert sorted(keys) == sorted(f"Testco {i}" for i in range(20))
    assert progress and progress[-1][0] == progress[-1][1] == 20
    assert calls, "the forwarded MCP server was never called"
    assert run.structured_content["mcp_tool_calls"][0]["server_name"] == "lookup"  # type: ignore[index]
    assert exported["rows"] == 20 and exported["no_duplicates"] is True
    text = await anyio.Path(exported["path"]).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 20 and {"key", "run_id", "status", "output.hq", "output.employees"} <= set(rows[0])
