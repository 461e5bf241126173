"""The stdio server as a subprocess, spoken to byte by byte, with every logger at DEBUG.

stdout belongs to the protocol: every line it carries must be a JSON-RPC message, whatever the
server logs and whatever garbage the client sends. Garbage never stops the process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from adv_harness import TRACEBACK, raw_stdio, stdio_env

pytestmark = pytest.mark.anyio

PARSE, INVALID, NO_METHOD, PARAMS = -32700, -32600, -32601, -32602
GARBAGE: list[tuple[bytes, int | None, int | str | None]] = [
    (b"{not json\n", PARSE, None),
    (b"\xff\xfe\xfd\n", PARSE, None),
    (b"[]\n", INVALID, None),
    (b"42\n", INVALID, None),
    (b'"a string"\n', INVALID, None),
    (b"null\n", INVALID, None),
    (b'{"jsonrpc": "1.0", "id": 90, "method": "ping"}\n', INVALID, None),
    (b'{"id": 91, "method": "ping"}\n', INVALID, None),
    # An object id is not a request id: the SDK reads the frame as a notification, which gets no answer.
    (b'{"jsonrpc": "2.0", "id": {"nested": 1}, "method": "ping"}\n', None, None),
    (b'{"jsonrpc": "2.0", "id": 92, "method": "tools/call", "params": "not an object"}\n', PARAMS, 92),
    (b'{"jsonrpc": "2.0", "id": 93, "method": "tools/call", "params": {"arguments": {}}}\n', PARAMS, 93),
    (b"[" * 5_000 + b"\n", PARSE, None),
    (
        b'{"jsonrpc": "2.0", "id": 94, "method": "tools/call", "params": {"name": "add_runs", "arguments": '
        + b'{"a": ' * 2_000
        + b"1"
        + b"}" * 2_000
        + b"}}\n",
        PARSE,
        94,  # too deep to parse, yet its id is readable: the client is not left waiting
    ),
    (
        b'{"jsonrpc": "2.0", "method": "ping", "params": '
        + b"[" * 5_000
        + b"]" * 5_000
        + b', "id": "deep-96"}\n',
        PARSE,
        "deep-96",
    ),
    (b'{"jsonrpc": "2.0", "id": 95, "method": "' + b"x" * 100_000 + b'"}\n', NO_METHOD, 95),
]


def assert_every_line_is_json_rpc(lines: list[bytes]) -> None:
    for line in lines:
        message: Any = json.loads(line)  # raises on anything that is not JSON
        assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", line[:200]
        assert {"result", "error", "method"} & set(message), line[:200]


async def test_malformed_frames_never_stop_the_stdio_server_and_every_request_still_gets_its_answer(
    tmp_path: Path,
) -> None:
    async with raw_stdio(tmp_path, stdio_env(tmp_path)) as raw:
        with anyio.fail_after(60):
            await raw.initialize()
            answers: list[tuple[int, int | str | None]] = []
            for n, (frame, _, _) in enumerate(GARBAGE):
                seen = len(raw.stdout_lines)
                await raw.send_raw(frame)
                ping = await raw.request(1_000 + n, "ping")
                assert ping["result"] == {}, f"no answer after {frame[:40]!r}"
                errors = [json.loads(line) for line in raw.stdout_lines[seen:] if b'"error"' in line]
                answers += [(e["error"]["code"], e.get("id")) for e in errors]
            unknown = await raw.request(2, "no/such/method")
            unknown_tool = await raw.request(3, "tools/call", {"name": "no_such_tool", "arguments": {}})
            bad_args = await raw.request(
                4, "tools/call", {"name": "get_task_group_status", "arguments": {"task_group_id": 5}}
            )
            listed = await raw.request(5, "tools/list")
    expected = [(code, rid) for _, code, rid in GARBAGE if code is not None]
    assert answers == expected, "each malformed frame gets its JSON-RPC error"
    assert unknown["error"]["code"] == -32601
    assert unknown_tool["error"]["code"] == -32602  # 2025-11-25: an unknown tool is invalid params
    assert bad_args["result"]["isError"] is True
    assert "task_group_id" in bad_args["result"]["content"][0]["text"]
    assert not TRACEBACK.search(json.dumps(bad_args))
    assert len(listed["result"]["tools"]) == 10
    assert raw.process.returncode == 0, raw.stderr.decode(errors="replace")[-2000:]
    assert_every_line_is_json_rpc(raw.stdout_lines)


async def test_at_debug_every_stdout_line_of_a_whole_session_is_json_rpc_and_the_logs_go_to_stderr(
    tmp_path: Path,
) -> None:
    async with raw_stdio(tmp_path, stdio_env(tmp_path)) as raw:
        with anyio.fail_after(90):
            await raw.initialize()
            created = await raw.request(1, "tools/call", {"name": "create_task_group", "arguments": {}})
            gid = created["result"]["structuredContent"]["task_group_id"]
            args = {"task_group_id": gid, "inputs": [f"Company {i}" for i in range(5)]}
            added = await raw.request(
                2, "tools/call", {"name": "add_runs", "arguments": args, "_meta": {"progressToken": "p"}}
            )
            assert added["result"].get("isError") is not True, added
            while True:
                waited = await raw.request(
                    3,
                    "tools/call",
                    {
                        "name": "wait_for_task_group",
                        "arguments": {"task_group_id": gid, "timeout_seconds": 10},
                        "_meta": {"progressToken": "w"},
                    },
                )
                assert "structuredContent" in waited["result"], (waited, raw.stderr[-4000:])
                if not waited["result"]["structuredContent"]["status"]["active"]:
                    break
            page = await raw.request(
                4, "tools/call", {"name": "get_task_group_results", "arguments": {"task_group_id": gid}}
            )
            run_id = page["result"]["structuredContent"]["items"][0]["run_id"]
            await raw.request(5, "tools/call", {"name": "get_task_run", "arguments": {"run_id": run_id}})
            await raw.request(
                6, "tools/call", {"name": "export_task_group_results", "arguments": {"task_group_id": gid}}
            )
            await raw.request(
                7,
                "tools/call",
                {"name": "get_task_group_status", "arguments": {"task_group_id": "tgrp_none"}},
            )
            await raw.request(8, "resources/read", {"uri": "taskgroup://processors"})
            await raw.request(9, "prompts/get", {"name": "plan_fan_out", "arguments": {"goal": "g"}})
            await raw.send_raw(b"{garbage\n")
            await raw.request(10, "ping")
    assert_every_line_is_json_rpc(raw.stdout_lines)
    assert any(b'"method":"notifications/progress"' in line.replace(b" ", b"") for line in raw.stdout_lines)
    stderr = raw.stderr.decode(errors="replace")
    assert " DEBUG mcp" in stderr and " DEBUG taskgroup_mcp" in stderr, stderr[-2000:]
