"""The openai-agents example drives a whole fan-out (50 runs) over MCPServerStdio and MCPServerStreamableHttp."""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
from pathlib import Path
from types import ModuleType

import anyio
import pytest
import uvicorn
from agents.mcp import MCPUtil
from pydantic import SecretStr

from taskgroup_mcp.commands._wiring import open_backend
from taskgroup_mcp.commands.http import build_http_app
from taskgroup_mcp.config import Settings
from taskgroup_mcp.tools import build_server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "openai_agents_fanout.py"
TOKEN = "example-test-token-0123456789"

pytestmark = pytest.mark.anyio


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("openai_agents_fanout_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _check_whole_fan_out(example: ModuleType, run: object) -> None:
    assert run.group_id.startswith("tgrp_")  # type: ignore[attr-defined]
    assert run.added == example.RUNS == 50  # type: ignore[attr-defined]
    assert len(run.result_keys) == 50 and len(set(run.result_keys)) == 50  # type: ignore[attr-defined]
    assert run.pages >= 3  # 20 per page: the cursor was followed  # type: ignore[attr-defined]
    assert run.export_rows == 50 and run.export_exactly_once  # type: ignore[attr-defined]
    assert run.synthetic  # type: ignore[attr-defined]


async def test_openai_agents_stdio_client_runs_the_whole_fan_out_with_its_session_timeout_above_the_longest_wait(
    tmp_path: Path,
) -> None:
    example = _load()
    assert Settings().wait_max_seconds < example.SESSION_TIMEOUT_SECONDS  # openai-agents' default is 5 s
    env = {"TASKGROUP_MCP_SANDBOX_SPEED": "600", "TASKGROUP_MCP_EXPORT_DIR": str(tmp_path)}
    with anyio.fail_after(120):
        async with example.stdio_server(env) as server:
            assert server.client_session_timeout_seconds == example.SESSION_TIMEOUT_SECONDS
            _check_whole_fan_out(example, await example.fan_out(server))
            report = await example.strict_schema_report(server)
            listed_tools = await server.list_tools()
            converted = [
                MCPUtil.to_function_tool(tool, server, convert_schemas_to_strict=True)
                for tool in listed_tools
            ]
    assert set(report) >= {"create_task_group", "add_runs", "wait_for_task_group", "get_task_group_results"}
    # A tool converts to an OpenAI strict schema unless an argument is free-form JSON (a run's input
    # fields, an output JSON schema, metadata, forwarded headers): strict objects declare every key,
    # so openai-agents refuses those and offers the tool non-strict (which works), and the report
    # names the fields. No schema is disguised to slip past the converter (tools/_schema.py).
    free_form = {"create_task_group", "add_runs", "fan_out", "retry_failed_runs"}
    non_strict = {name for name, verdict in report.items() if verdict != "strict"}
    assert non_strict <= free_form, report
    assert {"create_task_group", "add_runs", "fan_out"} <= non_strict, report
    for name in non_strict:
        assert "Open objects: " in report[name] and not report[name].endswith("Open objects: "), report[name]
    assert "metadata" in report["create_task_group"] and "inputs.items" in report["add_runs"], report
    schemas = {t.name: dict(t.input_schema) for t in listed_tools}
    for name, schema in schemas.items():
        assert "patternProperties" not in json.dumps(schema), name
    # The same split through openai-agents' own conversion of MCP tools (what an Agent is given).
    assert {t.name for t in converted if not t.strict_json_schema} == non_strict


async def test_openai_agents_streamable_http_client_runs_the_whole_fan_out_with_a_bearer_token(
    tmp_path: Path,
) -> None:
    example = _load()
    settings = Settings(
        sandbox=True, sandbox_speed=600.0, auth_tokens=[SecretStr(TOKEN)], port=0, export_dir=tmp_path
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    async with open_backend(settings) as backend:
        app = build_http_app(backend.settings, build_server(backend.settings, backend.client_factory))
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            try:
                with anyio.fail_after(120):
                    async with example.http_server(url, TOKEN) as client:
                        _check_whole_fan_out(example, await example.fan_out(client))
            finally:
                server.should_exit = True
    sock.close()
