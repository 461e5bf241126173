"""The MCP SDK's internals are reached from one module, and a new SDK that moves them fails here.

``commands/_sdk.py`` names each reach and the gap it fills. When one of these tests fails after
an SDK upgrade, read that module's docstring: either the SDK now has a public way (use it and
delete the reach) or the internals moved (follow them there).
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import anyio
import pytest
from mcp.server import MCPServer
from mcp.shared.message import SessionMessage
from mcp.types import jsonrpc_message_adapter

from taskgroup_mcp.commands import _sdk
from taskgroup_mcp.commands._stdio_errors import AnswerMalformed
from taskgroup_mcp.config import Settings
from taskgroup_mcp.tools import build_server

PKG = Path(__file__).resolve().parents[2] / "server" / "taskgroup_mcp"
ADAPTER = PKG / "commands" / "_sdk.py"
CHANGED = "the MCP SDK changed what commands/_sdk.py relies on (read its docstring): "


def _private_sdk_reaches(path: Path) -> list[str]:
    """Imports of a private ``mcp`` module, and attributes of ours named ``_lowlevel_server``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] == "mcp" and any(p.startswith("_") for p in parts):
                found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Import):
            found.extend(
                a.name
                for a in node.names
                if a.name.split(".")[0] == "mcp" and any(p.startswith("_") for p in a.name.split("."))
            )
        elif isinstance(node, ast.Attribute) and node.attr == "_lowlevel_server":
            found.append("._lowlevel_server")
    return found


def test_only_the_adapter_module_reaches_into_the_sdk() -> None:
    reaches = {
        str(path.relative_to(PKG)): found
        for path in sorted(PKG.rglob("*.py"))
        if path != ADAPTER and (found := _private_sdk_reaches(path))
    }
    assert reaches == {}, "reach the SDK's internals only through commands/_sdk.py"
    assert _private_sdk_reaches(ADAPTER), "the adapter no longer reaches anything: delete it"


def test_the_server_still_runs_stdio_through_the_low_level_server_as_the_adapter_does() -> None:
    source = inspect.getsource(MCPServer.run_stdio_async)
    assert "self._lowlevel_server.run(" in source, CHANGED + "run_stdio_async no longer calls it"
    assert "create_initialization_options()" in source, CHANGED + "run_stdio_async passes other options"
    server = build_server(Settings())
    lowlevel = getattr(server, "_lowlevel_server", None)
    assert lowlevel is not None, CHANGED + "MCPServer._lowlevel_server is gone"
    params = list(inspect.signature(lowlevel.run).parameters)
    assert params[:3] == ["read_stream", "write_stream", "initialization_options"], CHANGED + str(params)


def test_the_stream_protocols_are_what_the_stdio_wrapper_implements() -> None:
    for protocol, wanted in (
        (_sdk.ReadStream, {"receive", "aclose", "__aiter__", "__anext__", "__aenter__", "__aexit__"}),
        (_sdk.WriteStream, {"send", "aclose", "__aenter__", "__aexit__"}),
    ):
        members = {
            name
            for name, value in vars(protocol).items()
            if inspect.isfunction(value) and name not in {"__init__", "__subclasshook__"}
        }
        assert members == wanted, CHANGED + f"{protocol.__name__} is now {sorted(members)}"
    assert all(callable(getattr(AnswerMalformed, name, None)) for name in ("receive", "aclose", "__anext__"))


@pytest.mark.anyio
async def test_serve_streams_answers_a_client_over_a_pair_of_memory_streams() -> None:
    server = build_server(Settings())
    to_server, server_reads = anyio.create_memory_object_stream[SessionMessage | Exception](10)
    server_writes, from_server = anyio.create_memory_object_stream[SessionMessage](10)
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "adapter-test", "version": "1"},
        },
    }
    with anyio.fail_after(10):
        async with to_server, server_reads, server_writes, from_server, anyio.create_task_group() as tg:
            tg.start_soon(_sdk.serve_streams, server, server_reads, server_writes)
            await to_server.send(SessionMessage(jsonrpc_message_adapter.validate_python(request)))
            answer = await from_server.receive()
            tg.cancel_scope.cancel()
    reply = answer.message.model_dump(by_alias=True, exclude_none=True)
    assert reply["id"] == 1
    assert reply["result"]["serverInfo"]["name"] == "taskgroup-mcp"
