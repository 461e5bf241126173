"""``taskgroup-mcp results GROUP``: every run's result on stdout, as a table, JSON lines or CSV.

The rows are the export's (the same shaping, the same CSV protections), written to a temporary
file and then printed, so a failed read prints nothing half-done.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

from taskgroup_mcp.config import Settings
from taskgroup_mcp.tools import export_group
from taskgroup_mcp.wire import is_object

from ._people import EXIT_OK, Context, run_command
from ._terminal import clip, table

__all__ = ["run"]


def _summary(output: Any) -> str:
    if output is None:
        return ""
    if is_object(output):
        return "; ".join(f"{k}: {v if isinstance(v, str) else json.dumps(v)}" for k, v in output.items())
    return output if isinstance(output, str) else json.dumps(output)


def _copy_to_stdout(path: Path) -> None:
    with path.open(encoding="utf-8") as f:
        for line in f:
            sys.stdout.write(line)


def _table_rows(path: Path) -> list[list[str]]:
    rows: list[list[str]] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            detail = record.get("error") or _summary(record.get("output"))
            rows.append([str(record.get("key") or ""), str(record.get("status") or ""), clip(detail, 90)])
    return rows


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env(sandbox=args.sandbox)
    fmt = "jsonl" if args.json else args.format

    async def body(ctx: Context) -> int:
        with tempfile.TemporaryDirectory(prefix="taskgroup-results-") as tmp:
            result = await export_group(
                ctx.client, args.group, export_dir=Path(tmp), fmt="csv" if fmt == "csv" else "jsonl",
                include_basis="none", notice=None,
            )  # fmt: skip
            if fmt in ("csv", "jsonl"):
                await anyio.to_thread.run_sync(_copy_to_stdout, Path(result.path))
                return EXIT_OK
            rows = await anyio.to_thread.run_sync(_table_rows, Path(result.path))
        if not rows:
            sys.stdout.write("The group has no runs yet.\n")
            return EXIT_OK
        for line in table(["INPUT", "STATUS", "OUTPUT"], rows, max_width=90):
            sys.stdout.write(line + "\n")
        return EXIT_OK

    return run_command(settings, body, group_id=args.group)
