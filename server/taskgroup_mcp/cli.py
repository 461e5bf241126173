"""The ``taskgroup-mcp`` command: argument parsing and dispatch.

Each subcommand's work lives in ``taskgroup_mcp.commands.<name>`` (the only place, with this
module, that may wire the sandbox and the MCP server together). With no subcommand the server
speaks MCP over stdio, which is what desktop clients launch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from taskgroup_mcp import __version__
from taskgroup_mcp.config import SettingsError


def _add_serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--transport", choices=("stdio", "http"), default="stdio", help="MCP transport (default stdio)"
    )
    p.add_argument("--host", default=None, help="HTTP bind address (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=int,
        default=None,
        help="HTTP port (default 8000; 0 picks a free one, named in the startup log line)",
    )
    p.add_argument(
        "--sandbox",
        action="store_true",
        default=None,
        help="use the embedded sandbox instead of the real API: no key, synthetic data "
        "(also TASKGROUP_MCP_SANDBOX=1)",
    )
    p.add_argument(
        "--insecure-no-auth",
        action="store_true",
        default=None,
        help="allow HTTP on a non-loopback address without bearer-token auth (not recommended)",
    )
    p.add_argument(
        "--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR (default INFO; logs go to stderr)"
    )
    p.add_argument(
        "--log-format", choices=("text", "json"), default=None, help="log line format (default text)"
    )


SERVE_AUTH_NOTE = """authentication:
  Parallel API  PARALLEL_API_KEY (not needed with --sandbox).
  stdio         none: the MCP client starts this process and owns its stdin/stdout.
  HTTP          static bearer tokens (not OAuth) from TASKGROUP_MCP_AUTH_TOKENS or
                TASKGROUP_MCP_AUTH_TOKENS_FILE; clients send "Authorization: Bearer <token>".
                Without tokens only a loopback --host is served, unless --insecure-no-auth.
                TASKGROUP_MCP_PER_REQUEST_API_KEY=1: each caller sends its own Parallel key
                in X-Parallel-Api-Key.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taskgroup-mcp",
        epilog=SERVE_AUTH_NOTE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="MCP server for Parallel Task Group fan-out research, with an offline sandbox of the API. "
        "With no command it serves MCP over stdio.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_serve_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="serve MCP over stdio (default) or streamable HTTP",
        epilog=SERVE_AUTH_NOTE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_serve_arguments(serve)

    sandbox = sub.add_parser("sandbox", help="run the offline emulator of the Task Group API")
    sandbox.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    sandbox.add_argument(
        "--speed", type=float, default=60.0, help="runs take documented latency / SPEED (default 60)"
    )
    sandbox.add_argument("--seed", type=int, default=0, help="same seed, same durations, outputs, failures")
    sandbox.add_argument(
        "--fail-rate", type=float, default=0.0, help="fraction of runs that end failed (default 0)"
    )
    sandbox.add_argument("--db", default=None, help="persist in this SQLite file (default: in memory)")
    sandbox.add_argument(
        "--api-key", default=None, help="require this x-api-key (default: any non-empty key)"
    )
    sandbox.add_argument("--webhook-secret", default=None, help="secret that signs webhook deliveries")
    sandbox.add_argument(
        "--rate-limit",
        type=int,
        default=None,
        metavar="N",
        help="run-creating POSTs per minute per API key before 429 with Retry-After "
        "(default 2000, as documented; 0 turns the limit off)",
    )
    sandbox.add_argument(
        "--faults",
        default=None,
        help="comma-separated name=value faults for run-creating requests, e.g. "
        "drop_after_commit=0.2,fail_before_commit=0.1,throttle=0.05,retry_after=1,latency_ms=50-200,commit_delay_ms=500",
    )
    sandbox.add_argument("--log-level", default="INFO", help="log level (default INFO; logs go to stderr)")
    sandbox.add_argument(
        "--reset",
        action="store_true",
        help="clear the sandbox's groups and runs (--db FILE, or the one --sandbox servers share in "
        "TASKGROUP_MCP_STATE_DIR) and exit",
    )

    demo = sub.add_parser("demo", help="show the whole product working against the sandbox (synthetic data)")
    demo.add_argument("--inputs", type=int, default=24, help="research questions to fan out (default 24)")
    demo.add_argument("--export-dir", default=None, help="where the CSV export goes (default: a temp dir)")
    demo.add_argument(
        "--state-dir",
        default=None,
        help="where the demo's sandbox and journal are kept, for `taskgroup-mcp ui` afterwards (default: a temp dir)",
    )

    check = sub.add_parser("check", help="start the server with your settings and report what works")
    check.add_argument(
        "--sandbox", action="store_true", default=None, help="check against the embedded sandbox"
    )
    ui = sub.add_parser("ui", help="open the task-group explorer in a browser (a local page on 127.0.0.1)")
    ui.add_argument("group", nargs="?", default=None, help="the task group to show (tgrp_...)")
    ui.add_argument(
        "--sandbox", action="store_true", default=None, help="against the embedded sandbox (synthetic data)"
    )
    ui.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: a free one)")
    ui.add_argument("--no-browser", action="store_true", help="only print the URL")
    config = sub.add_parser(
        "config", help="print (or --write) the config that starts this installation in an MCP client"
    )
    from taskgroup_mcp.commands.config import add_arguments as add_config_arguments

    add_config_arguments(config)

    groups = sub.add_parser("groups", help="list your task groups from the journal, newest first")
    groups.add_argument("--label", default=None, help="only groups whose label contains this text")
    state = groups.add_mutually_exclusive_group()
    state.add_argument("--active", action="store_true", help="only groups with runs still running")
    state.add_argument("--finished", action="store_true", help="only groups whose runs all finished")
    groups.add_argument("--limit", type=int, default=20, choices=range(1, 101), metavar="N",
                        help="at most N groups (1-100, default 20)")  # fmt: skip

    status = sub.add_parser("status", help="one task group's status")
    status.add_argument("group", metavar="GROUP", help="the task group id (tgrp_...)")

    results = sub.add_parser("results", help="every run's result of a task group, on stdout")
    results.add_argument("group", metavar="GROUP", help="the task group id (tgrp_...)")
    results.add_argument("--format", choices=("table", "jsonl", "csv"), default="table",
                         help="table (default), jsonl or csv")  # fmt: skip

    export = sub.add_parser("export", help="write a task group's results to a CSV or JSONL file")
    export.add_argument("group", metavar="GROUP", help="the task group id (tgrp_...)")
    export.add_argument("--to", required=True, metavar="FILE", help="the file to write")
    export.add_argument("--format", choices=("csv", "jsonl"), default=None,
                        help="csv or jsonl (default: from the file's extension, else csv)")  # fmt: skip

    for people in (groups, status, results, export):
        people.add_argument("--json", action="store_true", help="machine-readable output for scripts")
        people.add_argument(
            "--sandbox",
            action="store_true",
            default=None,
            help="against the embedded sandbox (synthetic data)",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "serve"
    module = importlib.import_module(f"taskgroup_mcp.commands.{command}")
    try:
        return int(module.run(args) or 0)
    except SettingsError as exc:
        sys.stderr.write(
            f"taskgroup-mcp: invalid settings: {exc}. Fix the variable or flag and start again.\n"
        )
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
