"""On stdio, stdout belongs to the protocol: with logging at DEBUG every stdout line is JSON-RPC."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path


def _request(i: int, method: str, params: dict[str, object]) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params})


def test_stdout_carries_only_json_rpc_even_at_debug(tmp_path: Path) -> None:
    lines = [
        _request(
            1,
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        ),
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        _request(2, "tools/list", {}),
        _request(3, "tools/call", {"name": "create_task_group", "arguments": {}}),
        _request(
            4, "tools/call", {"name": "get_task_group_status", "arguments": {"task_group_id": "tgrp_nope"}}
        ),
    ]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "TASKGROUP_MCP_LOG_LEVEL": "DEBUG",
        "TASKGROUP_MCP_EXPORT_DIR": str(tmp_path),
        "TASKGROUP_MCP_STATE_DIR": os.environ["TASKGROUP_MCP_STATE_DIR"],
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskgroup_mcp", "--sandbox"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    killer = threading.Timer(60, proc.kill)  # a hung server fails the test instead of hanging it
    killer.start()
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("\n".join(lines) + "\n")
        proc.stdin.flush()
        out: list[str] = []
        answered: set[int] = set()
        while answered != {1, 2, 3, 4}:
            line = proc.stdout.readline()
            assert line, "the server closed stdout early"
            out.append(line)
            message = json.loads(line)  # every line parses
            if "id" in message:
                answered.add(message["id"])
        rest, stderr = proc.communicate(timeout=30)  # closes stdin: the server exits
        out.extend(line for line in rest.splitlines() if line.strip())
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
    messages = [json.loads(line) for line in out]
    assert all(m.get("jsonrpc") == "2.0" for m in messages)
    by_id = {m["id"]: m for m in messages if "id" in m}
    assert set(by_id) == {1, 2, 3, 4}
    assert by_id[3]["result"]["structuredContent"]["task_group_id"].startswith("tgrp_")
    assert by_id[4]["result"]["isError"] is True
    assert stderr  # the logs went somewhere: stderr
