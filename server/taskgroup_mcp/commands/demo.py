"""``taskgroup-mcp demo``: the whole product, driven exactly as an agent drives it, shown to a person.

It starts a tiny 'company facts' MCP server on 127.0.0.1 (standing in for a user's own tools),
launches ``taskgroup-mcp --sandbox`` as a stdio subprocess, and with the SDK's MCP client:
creates a task group, adds a few dozen research questions with a JSON output schema and the
facts server forwarded to every run, waits with a live progress bar fed by the server's
progress notifications, pages through the results, reads the tool calls the runs made, and
exports the group to CSV. Everything it shows is synthetic sandbox data. The server keeps its
sandbox and journal in a state directory of the demo's own (a temp dir unless ``--state-dir``
says otherwise), so the ``taskgroup-mcp ui`` command it prints at the end opens the same group.

This is a user-facing command: its output is written to stdout on purpose.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import anyio
from mcp import Client

from taskgroup_mcp.wire import is_object

from ._demo_facts import COMPANIES, INVENTED, serve_facts_server
from ._stdio import ToolFailed, connect, describe_failure, log_tail, server_parameters, structured
from ._terminal import ProgressLine, clip, table

__all__ = ["DEMO_SPEED", "OUTPUT_SCHEMA", "DemoReport", "demo_inputs", "run", "run_demo"]

DEMO_SPEED = 15.0
"""Sandbox speed for the demo: lite runs take 10-60 s / 15, so the wait is a few seconds."""
PAGE_SIZE = 10
WAIT_WINDOW_SECONDS = 20.0
QUESTION = (
    "What are the key facts about {company} (founding year, headquarters, head count), which sector is it "
    "in, is it publicly listed, and how large is it? Use the company-facts lookup."
)
OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "facts": {
            "type": "string",
            "description": "founding year, headquarters and head count, as the company-facts lookup gives them",
        },
        "sector": {
            "type": "string",
            "enum": ["software", "hardware", "health", "energy", "finance", "consumer", "industrial"],
            "description": "the company's main sector",
        },
        "publicly_listed": {"type": "boolean", "description": "whether its shares trade on an exchange"},
        "size": {
            "type": "string",
            "enum": ["1-50", "51-500", "501-5000", "5000+"],
            "description": "head-count band",
        },
    },
    "required": ["facts", "sector", "publicly_listed", "size"],
    "additionalProperties": False,
}
SYNTHETIC = (
    "SANDBOX: everything below is synthetic data from the embedded emulator of the Parallel Task "
    "Group API and a demo MCP server about fictional companies. Nothing is sent to Parallel; "
    "nothing is billed."
)


def demo_inputs(count: int) -> list[dict[str, str]]:
    """``count`` research questions, one per fictional company (numbered once the list runs out)."""
    out: list[dict[str, str]] = []
    for i in range(count):
        name = COMPANIES[i % len(COMPANIES)]
        if i >= len(COMPANIES):
            name = f"{name} {i // len(COMPANIES) + 1}"
        out.append({"company": name, "question": QUESTION.format(company=name)})
    return out


@dataclass
class DemoReport:
    """What the demo saw; :func:`run_demo` returns it so tests can check more than the text."""

    task_group_id: str = ""
    tools: list[str] = field(default_factory=lambda: [])
    added: int = 0
    progress_updates: int = 0
    pages: int = 0
    results: list[dict[str, Any]] = field(default_factory=lambda: [])
    tool_calls: list[dict[str, Any]] = field(default_factory=lambda: [])
    export_path: str = ""
    export_rows: int = 0
    exactly_once: bool = False
    seconds: float = 0.0
    problems: list[str] = field(default_factory=lambda: [])


class _Out:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def line(self, text: str = "") -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def step(self, number: int, text: str) -> None:
        self.line()
        self.line(f"{number}. {text}")

    def block(self, lines: Sequence[str], indent: str = "   ") -> None:
        for text in lines:
            self.line(indent + text)


def _child_env(export_dir: Path, state_dir: Path, speed: float) -> dict[str, str]:
    """The server's environment: the SDK merges it over a minimal one (PATH, HOME, ...), so none of
    the caller's TASKGROUP_MCP_* or PARALLEL_* settings leak into the demo."""
    passed = {name: os.environ[name] for name in ("PYTHONPATH",) if os.environ.get(name)}
    return passed | {
        "TASKGROUP_MCP_SANDBOX": "1",
        "TASKGROUP_MCP_SANDBOX_SPEED": str(speed),
        "TASKGROUP_MCP_EXPORT_DIR": str(export_dir),
        # The demo's facts server listens on http://127.0.0.1: loopback over plain HTTP is refused
        # by the forwarding policy unless the operator allows it, as here.
        "TASKGROUP_MCP_ALLOW_HTTP_MCP_URLS": "1",
        "TASKGROUP_MCP_ALLOW_PRIVATE_MCP_URLS": "1",
        "TASKGROUP_MCP_LOG_LEVEL": "WARNING",
        # The sandbox and the journal persist in the demo's own state directory (never the user's
        # ~/.taskgroup-mcp): `taskgroup-mcp ui` pointed there opens the demo's group afterwards.
        "TASKGROUP_MCP_STATE_DIR": str(state_dir),
    }


async def _call(client: Client, tool: str, arguments: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
    return structured(tool, await client.call_tool(tool, dict(arguments), **kwargs))


async def _drive(
    client: Client, facts_url: str, inputs: list[dict[str, str]], out: _Out, live: bool, report: DemoReport
) -> None:
    listed = await client.list_tools()
    report.tools = [t.name for t in listed.tools]
    out.step(2, f"Started `taskgroup-mcp --sandbox` over stdio. It offers {len(report.tools)} tools:")
    out.block([clip(", ".join(report.tools), 100)])

    created = await _call(client, "create_task_group", {"metadata": {"source": "taskgroup-mcp demo"}})
    report.task_group_id = str(created["task_group_id"])
    out.step(3, f"create_task_group -> {report.task_group_id}")
    if created.get("notice"):
        out.block([f"the server labels every answer: {created['notice']}"])

    added = await _call(
        client,
        "add_runs",
        {
            "task_group_id": report.task_group_id,
            "inputs": inputs,
            "processor": "lite",
            "output": OUTPUT_SCHEMA,
            "mcp_servers": [{"name": "company_facts", "url": facts_url, "allowed_tools": ["lookup_company"]}],
            "call_key": "demo",
        },
    )
    report.added = int(added["added"]) + int(added.get("already_present", 0))
    out.step(
        4,
        f"add_runs: {len(inputs)} research questions, processor lite, a JSON output schema "
        f"({', '.join(OUTPUT_SCHEMA['properties'])}), the company-facts server forwarded to every run",
    )
    out.block(
        [
            f"added {added['added']}, already present {added.get('already_present', 0)}, "
            f"failed {added.get('failed_total', 0)}"
        ]
    )
    if added.get("failed_total"):
        report.problems.append(f"add_runs failed for {added['failed_total']} inputs")

    out.step(5, "wait_for_task_group (the bar is fed by the server's MCP progress notifications):")
    bar = ProgressLine(out.stream, live=live, label="   ")

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        bar.update(progress, total, message)

    status: dict[str, Any] = {}
    for _ in range(20):  # each call returns within its window; a handful of calls is plenty here
        waited = await _call(
            client,
            "wait_for_task_group",
            {"task_group_id": report.task_group_id, "timeout_seconds": WAIT_WINDOW_SECONDS},
            progress_callback=on_progress,
        )
        status = dict(waited["status"])
        if not status.get("active"):
            break
    bar.finish()
    report.progress_updates = bar.updates
    counts = ", ".join(f"{n} {s}" for s, n in sorted(dict(status.get("counts", {})).items()))
    out.block([f"group finished: {counts or 'no runs'}; {bar.updates} progress notifications received"])
    if status.get("active"):
        report.problems.append("the group was still active after the waits")

    cursor: str | None = None
    while True:
        args: dict[str, Any] = {"task_group_id": report.task_group_id, "limit": PAGE_SIZE}
        if cursor:
            args["cursor"] = cursor
        page = await _call(client, "get_task_group_results", args)
        report.pages += 1
        report.results.extend(page.get("items", []))
        cursor = page.get("next_cursor")
        if not cursor:
            break
    out.step(
        6,
        f"get_task_group_results: {len(report.results)} results in {report.pages} pages of up to {PAGE_SIZE}",
    )
    out.block(_results_table(report.results))

    for item in report.results:
        run = await _call(client, "get_task_run", {"run_id": item["run_id"], "include_tool_calls": True})
        calls: list[dict[str, Any]] = run.get("mcp_tool_calls") or []
        report.tool_calls.extend({"run_id": item["run_id"], **call} for call in calls)
    out.step(7, f"The tool calls the remote runs made (get_task_run): {len(report.tool_calls)} in total")
    companies = {str(item["run_id"]): _company(item) for item in report.results}
    out.block(_tool_calls_table(report.tool_calls, companies))

    exported = await _call(
        client, "export_task_group_results", {"task_group_id": report.task_group_id, "format": "csv"}
    )
    report.export_path = str(exported["path"])
    report.export_rows = int(exported["rows"])
    # Every row present (checked against the count in _judge), none twice, none of those sent missing.
    report.exactly_once = exported.get("no_duplicates") is True and not exported.get("missing_inputs")
    out.step(8, "export_task_group_results (CSV):")
    out.block(
        [
            f"file: {report.export_path}",
            f"rows: {report.export_rows}; each input exactly once: {'yes' if report.exactly_once else 'NO'}",
            f"resource: {exported.get('uri', '')}",
        ]
    )
    _judge(report, len(inputs))


def explorer_command(group_id: str, state_dir: Path) -> str:
    """The shell command that opens ``group_id`` in the explorer (``taskgroup-mcp ui``) on the
    sandbox the demo's server kept in ``state_dir``."""
    return f"TASKGROUP_MCP_STATE_DIR={shlex.quote(str(state_dir))} {program()} ui --sandbox {group_id}"


def program() -> str:
    """How a shell reaches this installation's ``taskgroup-mcp``: the bare name when ``PATH`` finds
    this one, else its absolute path (after ``make demo`` the virtual environment is not active, so
    the bare name would not be found, or would find another installation)."""
    here = Path(sys.executable).parent / "taskgroup-mcp"
    found = shutil.which("taskgroup-mcp")
    if here.is_file() and (found is None or Path(found).resolve() != here.resolve()):
        return shlex.quote(str(here))
    return "taskgroup-mcp"


def _company(item: Mapping[str, Any]) -> str:
    """The company a result is about: the first part of its input key ("company | question")."""
    return str(item.get("key", "")).split(" | ", 1)[0]


def _facts(text: str) -> str:
    """A facts answer without the company's name and the markers (the banner says it is synthetic)."""
    for marker in (" (via MCP tool; sandbox)", " " + INVENTED):
        text = text.replace(marker, "")
    return text.split(": ", 1)[-1]


def _results_table(items: Sequence[Mapping[str, Any]], shown: int = 12) -> list[str]:
    rows: list[list[str]] = []
    for item in items[:shown]:
        output = item.get("output")
        data = output if is_object(output) else {}
        listed = data.get("publicly_listed")
        rows.append(
            [
                _company(item),
                _facts(str(data.get("facts", ""))),
                str(data.get("sector", "")),
                "" if listed is None else ("yes" if listed else "no"),
                str(data.get("size", "")),
                str(item.get("status", "")),
            ]
        )
    lines = table(
        ["company", "facts (via the MCP tool)", "sector", "listed", "size", "status"], rows, max_width=44
    )
    if len(items) > shown:
        lines.append(f"... and {len(items) - shown} more (all of them are in the CSV export)")
    return lines


def _query(arguments: Any) -> str:
    """The ``query`` a run passed to the lookup tool (arguments arrive as a JSON string)."""
    try:
        parsed: Any = json.loads(arguments) if isinstance(arguments, str) else arguments
    except json.JSONDecodeError:
        return str(arguments)
    if is_object(parsed) and "query" in parsed:
        return str(parsed["query"])
    return str(arguments)


def _tool_calls_table(
    calls: Sequence[Mapping[str, Any]], companies: Mapping[str, str], shown: int = 6
) -> list[str]:
    if not calls:
        return ["(none)"]
    rows = [
        [
            companies.get(str(c.get("run_id", "")), ""),
            f"{c.get('server_name', '')}.{c.get('tool_name', '')}",
            _query(c.get("arguments")),
            str(c.get("content") or c.get("error") or ""),
        ]
        for c in calls[:shown]
    ]
    lines = table(["run for", "tool", "query argument", "answer"], rows, max_width=36)
    if len(calls) > shown:
        lines.append(f"... and {len(calls) - shown} more")
    return lines


def _judge(report: DemoReport, expected: int) -> None:
    if report.export_rows != expected:
        report.problems.append(f"the export has {report.export_rows} rows, expected {expected}")
    if not report.exactly_once:
        report.problems.append("the export's exactly-once check failed")
    if len(report.results) != expected:
        report.problems.append(f"paging returned {len(report.results)} results, expected {expected}")
    if report.progress_updates == 0:
        report.problems.append("no progress notification arrived")
    if not report.tool_calls:
        report.problems.append("no run called the forwarded MCP server")


async def run_demo(
    *,
    inputs: int = 24,
    export_dir: Path | None = None,
    state_dir: Path | None = None,
    out: TextIO | None = None,
    speed: float = DEMO_SPEED,
) -> DemoReport:
    """Run the demo, writing to ``out`` (stdout by default); the report says what happened. The
    server keeps its sandbox and journal in ``state_dir`` (default: a new temp dir)."""
    stream = out if out is not None else sys.stdout
    live = stream.isatty()
    o = _Out(stream)
    started = time.monotonic()
    target = export_dir if export_dir is not None else Path(tempfile.mkdtemp(prefix="taskgroup-mcp-demo-"))
    target.mkdir(parents=True, exist_ok=True)
    state = state_dir if state_dir is not None else Path(tempfile.mkdtemp(prefix="taskgroup-mcp-demo-state-"))
    o.line("taskgroup-mcp demo: fan research out into Parallel Task Group runs from an MCP client")
    o.line(SYNTHETIC)
    questions = demo_inputs(inputs)
    report = DemoReport()
    async with serve_facts_server() as facts:
        o.step(1, f"Started a demo MCP server, company-facts, on {facts.url} (stands in for your own tools)")
        with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
            params = server_parameters(["--sandbox"], _child_env(target, state, speed))
            try:
                async with connect(params, errlog) as client:
                    try:
                        await _drive(client, facts.url, questions, o, live, report)
                    except ToolFailed as exc:  # caught here: leaving the session wraps it in a group
                        report.problems.append(str(exc))
            except Exception as exc:  # the server died or the protocol failed: show its log
                report.problems.append(f"the server session failed ({describe_failure(exc)})")
                tail = log_tail(errlog)
                if tail:
                    o.line()
                    o.line("The server's last log lines:")
                    o.block(tail)
    report.seconds = time.monotonic() - started
    o.line()
    if report.problems:
        o.line("The demo found problems:")
        o.block([f"- {p}" for p in report.problems])
    else:
        o.line(f"Done in {report.seconds:.1f} s. The CSV is at {report.export_path}")
        o.line(f"Open the group in the task-group explorer: {explorer_command(report.task_group_id, state)}")
    o.line("Reminder: all of the data above is synthetic (sandbox). Set PARALLEL_API_KEY for real research.")
    return report


def run(args: argparse.Namespace) -> int:
    export_dir = Path(args.export_dir) if args.export_dir else None
    state_dir = Path(args.state_dir) if args.state_dir else None
    report = anyio.run(_run_with_args, max(1, int(args.inputs)), export_dir, state_dir)
    return 1 if report.problems else 0


async def _run_with_args(inputs: int, export_dir: Path | None, state_dir: Path | None) -> DemoReport:
    return await run_demo(inputs=inputs, export_dir=export_dir, state_dir=state_dir)
