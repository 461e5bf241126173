"""``taskgroup-mcp check``: start the server with your settings and report what works.

It reads the same settings the server reads (environment variables, plus ``--sandbox``), says
what they amount to without ever showing a secret, launches the server as a desktop client
would (a stdio subprocess with this environment), lists its tools, creates an empty task group
and reads its status. Creating a group costs nothing; no run is added. Exit 0 when all is well,
1 when something needs fixing.

This is a user-facing command: its output is written to stdout on purpose.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

import anyio
from mcp import Client

from taskgroup_mcp import __version__
from taskgroup_mcp.config import DEFAULT_BASE_URL, ENV_PREFIX, Settings, SettingsError

from ._stdio import ToolFailed, connect, describe_failure, log_tail, server_parameters, structured

__all__ = ["Finding", "check_settings", "run", "run_check"]

Level = Literal["ok", "warn", "FAIL"]
_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_STARTUP_SECONDS = 60.0


@dataclass
class Finding:
    level: Level
    text: str


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=lambda: [])

    def add(self, level: Level, text: str) -> None:
        self.findings.append(Finding(level, text))

    @property
    def failed(self) -> bool:
        return any(f.level == "FAIL" for f in self.findings)


def _writable_dir(path: Path) -> bool:
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK)


def check_settings(settings: Settings, environ: Mapping[str, str]) -> list[Finding]:
    """What the settings amount to, as findings; no secret value ever appears in them."""
    found: list[Finding] = []
    if settings.sandbox:
        found.append(Finding("ok", "mode: sandbox (embedded emulator; synthetic data, no key, no spend)"))
    else:
        where = (
            "the real Parallel API"
            if settings.parallel_base_url == DEFAULT_BASE_URL
            else f"the API at {settings.parallel_base_url} (PARALLEL_BASE_URL)"
        )
        found.append(Finding("ok", f"mode: {where}"))
        if settings.api_key_configured:
            found.append(Finding("ok", "PARALLEL_API_KEY: set (value not shown)"))
        else:
            found.append(
                Finding(
                    "FAIL",
                    "PARALLEL_API_KEY is not set: get a key at platform.parallel.ai and set it in the "
                    "client's env block, or try the sandbox (--sandbox or TASKGROUP_MCP_SANDBOX=1)",
                )
            )
    found.append(
        Finding(
            "ok",
            f"spend guard: add_runs refuses estimates above ${settings.spend_limit_usd:g} unless confirmed",
        )
    )
    if _writable_dir(settings.export_dir):
        found.append(Finding("ok", f"exports go to {settings.export_dir}"))
    else:
        found.append(
            Finding(
                "FAIL", f"export directory {settings.export_dir} is not writable: set {ENV_PREFIX}EXPORT_DIR"
            )
        )
    for name, server in sorted(settings.mcp_servers.items()):
        missing = [
            ref.group(1)
            for value in server.headers.values()
            if (ref := _ENV_REF.match(value.get_secret_value())) and not environ.get(ref.group(1))
        ]
        if missing:
            found.append(
                Finding(
                    "FAIL", f"MCP server '{name}': header references unset variable(s) {', '.join(missing)}"
                )
            )
        else:
            found.append(Finding("ok", f"MCP server '{name}' configured ({server.url.split('?', 1)[0]})"))
    return found


async def run_check(*, sandbox: bool | None, environ: Mapping[str, str], out: TextIO) -> CheckReport:
    """Check the settings and the server they start; write findings to ``out`` as they come."""
    report = CheckReport()
    out.write(f"taskgroup-mcp check {__version__}\n")
    await _run_checks(report, sandbox, environ, out)
    out.write("All good.\n" if not report.failed else "Something needs fixing (see FAIL above).\n")
    out.flush()
    return report


async def _run_checks(
    report: CheckReport, sandbox: bool | None, environ: Mapping[str, str], out: TextIO
) -> None:
    def say(level: Level, text: str) -> None:
        report.add(level, text)
        out.write(f"  {level:<5} {text}\n")
        out.flush()

    try:
        settings = Settings.from_env(environ, sandbox=sandbox)
    except SettingsError as exc:
        say("FAIL", f"settings: {exc}")
        return
    for finding in check_settings(settings, environ):
        say(finding.level, finding.text)
    if not settings.sandbox and not settings.api_key_configured:
        say("warn", "server not started: without a key every tool only explains how to set one")
        return

    env = dict(environ)
    if settings.sandbox:
        env[ENV_PREFIX + "SANDBOX"] = "1"
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        try:
            with anyio.fail_after(_STARTUP_SECONDS):
                async with connect(server_parameters([], env), errlog) as client:
                    try:
                        await _probe(client, say)
                    except ToolFailed as exc:  # caught here: leaving the session wraps it in a group
                        say("FAIL", f"{exc.tool} answered an error: {exc.text}")
        except TimeoutError:
            say("FAIL", f"the server did not answer within {_STARTUP_SECONDS:g} s")
        except Exception as exc:  # could not start or the session broke: show the server's own log
            say("FAIL", f"the server could not be started or stopped answering ({describe_failure(exc)})")
            secret = settings.parallel_api_key.get_secret_value() if settings.parallel_api_key else ""
            for line in log_tail(errlog):
                out.write(f"        | {line.replace(secret, '***') if secret else line}\n")


async def _probe(client: Client, say: Callable[[Level, str], None]) -> None:
    """List the tools, create an empty group (free: no run is added) and read its status."""
    tools = [t.name for t in (await client.list_tools()).tools]
    say("ok", f"server starts over stdio and offers {len(tools)} tools")
    created = structured("create_task_group", await client.call_tool("create_task_group", {}))
    group = str(created["task_group_id"])
    say("ok", f"create_task_group: {group}")
    status = structured(
        "get_task_group_status", await client.call_tool("get_task_group_status", {"task_group_id": group})
    )
    say("ok", f"get_task_group_status: {status.get('total', 0)} runs, active={status.get('active')}")
    if status.get("notice"):
        say("ok", f"the server says: {status['notice']}")


def run(args: argparse.Namespace) -> int:
    report = anyio.run(_run_with_args, args.sandbox)
    return 1 if report.failed else 0


async def _run_with_args(sandbox: bool | None) -> CheckReport:
    return await run_check(sandbox=sandbox, environ=os.environ, out=sys.stdout)
