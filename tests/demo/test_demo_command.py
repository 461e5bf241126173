"""`taskgroup-mcp demo` drives the real server over stdio end to end and shows it to a person."""

from __future__ import annotations

import csv
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest

from taskgroup_mcp.commands._stdio import describe_failure
from taskgroup_mcp.commands.demo import demo_inputs, run_demo
from taskgroup_mcp.commands.ui import TOKEN_HEADER

TOOLS_SHOWN = (
    "create_task_group",
    "add_runs",
    "wait_for_task_group",
    "get_task_group_results",
    "get_task_run",
    "export_task_group_results",
)


def test_demo_inputs_are_distinct_questions_even_past_the_list_of_companies() -> None:
    inputs = demo_inputs(60)
    assert len({i["company"] for i in inputs}) == 60
    assert all(i["company"] in i["question"] for i in inputs)


@pytest.mark.anyio
async def test_the_demo_flow_pages_waits_with_progress_sees_tool_calls_and_exports_each_input_once(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    with anyio.fail_after(60):
        report = await run_demo(inputs=12, export_dir=tmp_path, state_dir=tmp_path / "state", out=out)
    assert report.problems == [], out.getvalue()
    assert report.added == 12 and len(report.results) == 12
    assert report.pages == 2  # pages of 10
    assert report.progress_updates > 0
    assert {c["tool_name"] for c in report.tool_calls} == {"lookup_company"}
    assert report.exactly_once and report.export_rows == 12
    text = await anyio.Path(report.export_path).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 12
    assert Path(report.export_path).parent == tmp_path


def _group_status_through_the_printed_ui_command(command: str) -> dict[str, object]:
    """Runs ``command`` as a shell would (its ``VAR=value`` prefix, then ``taskgroup-mcp ui ...``
    with this interpreter, not opening a browser) and asks the page it serves for its group's status."""
    words = shlex.split(command)
    assignments = [w for w in words if "=" in w and not w.startswith("-")][:1]
    argv = words[len(assignments) :]
    assert Path(argv[0]).name == "taskgroup-mcp" and argv[1] == "ui", command
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKGROUP_MCP_", "PARALLEL_"))}
    env.update(dict(a.split("=", 1) for a in assignments))
    # The program exactly as printed (found on PATH when bare), as a user would paste it.
    assert shutil.which(argv[0], path=env.get("PATH")) is not None, command
    proc = subprocess.Popen(
        [*argv, "--no-browser"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Task-group explorer: "), line
        url = urlsplit(line.split(": ", 1)[1].strip())
        query = parse_qs(url.query)
        response = httpx2.post(
            f"{url.scheme}://{url.netloc}/rpc",
            json={
                "method": "tools/call",
                "params": {
                    "name": "get_task_group_status",
                    "arguments": {"task_group_id": query["group"][0]},
                },
            },
            headers={TOKEN_HEADER: query["token"][0]},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()["result"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stdout is not None:
            proc.stdout.close()


def test_the_demo_command_exits_zero_shows_every_step_and_its_ui_command_opens_its_group(
    tmp_path: Path,
) -> None:
    state = tmp_path / "demo state"  # a space: the printed command quotes it
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "taskgroup_mcp",
            "demo",
            "--export-dir",
            str(tmp_path),
            "--state-dir",
            str(state),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "synthetic" in out.lower()
    for tool in TOOLS_SHOWN:
        assert tool in out
    assert "24/24  100%" in out  # the progress bar reached the end
    assert "lookup_company" in out  # the tool calls the remote runs made
    exports = list(tmp_path.glob("*.csv"))
    assert len(exports) == 1 and str(exports[0]) in out
    assert "Done in" in out
    group = re.search(r"create_task_group -> (tgrp_\w+)", out)
    assert group is not None
    last = out.rstrip().splitlines()[-2]
    assert last.startswith("Open the group in the task-group explorer: "), last
    command = last.split(": ", 1)[1]
    assert shlex.split(command)[0] == f"TASKGROUP_MCP_STATE_DIR={state}", command
    assert shlex.split(command)[-3:] == ["ui", "--sandbox", group.group(1)], command
    result = _group_status_through_the_printed_ui_command(command)
    assert not result.get("isError"), result
    status = result["structuredContent"]
    assert isinstance(status, dict) and status["task_group_id"] == group.group(1), status
    assert (status["total"], status["active"]) == (24, False), status  # the demo's runs, another process


@pytest.mark.anyio
async def test_a_server_that_cannot_start_fails_the_demo_with_its_last_log_lines(tmp_path: Path) -> None:
    out = io.StringIO()
    with anyio.fail_after(60):
        report = await run_demo(inputs=2, export_dir=tmp_path, out=out, speed=0)  # the sandbox refuses 0
    assert report.problems and report.problems[0].startswith("the server session failed (")
    text = out.getvalue()
    assert "The server's last log lines:" in text
    assert "ValueError" in text  # the traceback the server logged
    assert "The demo found problems:" in text


def test_a_failure_is_described_by_the_exception_inside_its_groups() -> None:
    inner = ConnectionError("pipe closed")
    nested = BaseExceptionGroup("outer", [ExceptionGroup("inner", [inner])])
    assert describe_failure(nested) == "ConnectionError: pipe closed"
    two = ExceptionGroup("two", [ValueError("a"), ValueError("b")])
    assert describe_failure(two).startswith("ExceptionGroup: two")
