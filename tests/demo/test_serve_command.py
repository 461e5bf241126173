"""`taskgroup-mcp serve` as a person meets it: a note when started in a terminal, one log line per request."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from taskgroup_mcp.commands.serve import TERMINAL_NOTE


def test_started_in_a_terminal_it_says_on_stderr_what_it_waits_for(tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "taskgroup_mcp", "--sandbox"],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "HOME": str(tmp_path), "TASKGROUP_MCP_LOG_LEVEL": "WARNING"},
        )
        os.close(terminal)
        try:
            assert proc.stderr is not None
            ready, _, _ = select.select([proc.stderr], [], [], 30)
            assert ready, "the server said nothing on stderr"
            first = proc.stderr.readline().decode()
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
    finally:
        os.close(controller)
    assert first == TERMINAL_NOTE
    assert "taskgroup-mcp config CLIENT" in first and "Ctrl-C" in first


@pytest.mark.anyio
async def test_with_the_sandbox_each_api_request_is_logged_once_at_info_and_no_note_on_a_pipe(
    tmp_path: Path,
) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "taskgroup_mcp", "--sandbox"],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TASKGROUP_MCP_LOG_LEVEL": "INFO"},
    )
    log = tmp_path / "stderr.log"
    with log.open("w") as errlog, anyio.fail_after(60):
        async with Client(stdio_client(params, errlog=errlog)) as client:
            created = await client.call_tool("create_task_group", {})
            assert not created.is_error
    text = log.read_text()
    assert "POST /v1/tasks/groups 200" in text  # the sandbox's own line
    assert text.count("/v1/tasks/groups") == 1, text  # not again as httpx2's "HTTP Request: POST ..."
    assert "HTTP Request:" not in text
    assert TERMINAL_NOTE.strip() not in text


def test_serve_help_says_how_each_transport_authenticates() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "taskgroup_mcp", "serve", "--help"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0
    for needed in (
        "authentication:",
        "TASKGROUP_MCP_AUTH_TOKENS",
        "Authorization: Bearer",
        "PARALLEL_API_KEY",
    ):
        assert needed in done.stdout, needed
