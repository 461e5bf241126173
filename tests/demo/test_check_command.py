"""`taskgroup-mcp check` starts the real server over stdio and says what works."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from taskgroup_mcp.commands.check import run_check

CANARY_KEY = "pk-canary-4e1d8b2f9a6c"


def test_check_against_the_sandbox_passes_and_exits_zero(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "taskgroup_mcp", "check", "--sandbox"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TASKGROUP_MCP_EXPORT_DIR": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "mode: sandbox" in out
    assert "offers 10 tools" in out
    assert "create_task_group: tgrp_" in out
    assert "get_task_group_status: 0 runs" in out
    assert "synthetic" in out
    assert out.rstrip().endswith("All good.")


async def _unauthorized(request: Request) -> JSONResponse:
    body = {
        "type": "error",
        "error": {"ref_id": "ref_1", "message": "Unauthorized: invalid or missing credentials"},
    }
    return JSONResponse(body, status_code=401)


@pytest.mark.anyio
async def test_a_rejected_key_is_a_failure_in_the_servers_own_words_and_the_key_never_shows(
    tmp_path: Path,
) -> None:
    app = Starlette(routes=[Route("/{path:path}", _unauthorized, methods=["GET", "POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning", access_log=False))
    environ = {
        "PARALLEL_API_KEY": CANARY_KEY,
        "PARALLEL_BASE_URL": f"http://127.0.0.1:{port}",
        "TASKGROUP_MCP_EXPORT_DIR": str(tmp_path),
        "TASKGROUP_MCP_MAX_RETRIES": "0",
    }
    out = io.StringIO()
    try:
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(server.serve, [sock])
                report = await run_check(sandbox=None, environ=environ, out=out)
                server.should_exit = True
    finally:
        sock.close()
    text = out.getvalue()
    assert report.failed, text
    assert "PARALLEL_API_KEY: set (value not shown)" in text
    failures = [f.text for f in report.findings if f.level == "FAIL"]
    assert len(failures) == 1 and failures[0].startswith("create_task_group answered an error:"), text
    assert "401" in failures[0] and "PARALLEL_API_KEY" in failures[0]
    assert CANARY_KEY not in text
