"""`taskgroup-mcp demo` drives the real server over stdio end to end and shows it to a person."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from taskgroup_mcp.commands._stdio import describe_failure
from taskgroup_mcp.commands.demo import demo_inputs, run_demo

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
        report = await run_demo(inputs=12, export_dir=tmp_path, out=out)
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


def test_the_demo_command_exits_zero_and_shows_every_step(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "taskgroup_mcp", "demo", "--export-dir", str(tmp_path)],
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
    assert out.rstrip().splitlines()[-2] == (
        f"Open the group in the task-group explorer: taskgroup-mcp ui --sandbox {group.group(1)}"
    )


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
