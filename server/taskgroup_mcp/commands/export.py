"""``taskgroup-mcp export GROUP --to FILE``: the whole group in one CSV or JSONL file, with a progress
bar on a terminal. The file appears complete or not at all."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from taskgroup_mcp.config import Settings
from taskgroup_mcp.tools import ArgumentProblem, export_group

from ._people import EXIT_OK, Context, json_out, run_command
from ._terminal import ProgressLine

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env(sandbox=args.sandbox)
    target = Path(args.to).expanduser()
    fmt = args.format or ("jsonl" if target.suffix.lower() in (".jsonl", ".json", ".ndjson") else "csv")

    async def body(ctx: Context) -> int:
        if target.is_dir():
            raise ArgumentProblem([("--to", f"{target} is a directory; name the file to write")])
        if target.exists():
            raise ArgumentProblem([("--to", f"{target} already exists; name a new file or delete it first")])
        if not target.parent.is_dir():
            raise ArgumentProblem([("--to", f"the directory {target.parent} does not exist")])
        group = await ctx.client.get_task_group(args.group)
        total = group.status.num_task_runs
        bar = ProgressLine(sys.stderr, live=True, label="exporting ") if sys.stderr.isatty() else None

        async def on_row(rows: int) -> None:
            if bar is not None:
                bar.update(rows, total)

        try:
            result = await export_group(
                ctx.client, args.group, export_dir=target.parent, fmt=fmt, include_basis="none", notice=None,
                name=target.name, on_row=on_row,
                sent=await ctx.journal.group_sent_ids(ctx.scope.api, args.group) if ctx.journal else None,
            )  # fmt: skip
        finally:
            if bar is not None:
                bar.finish()
        if args.json:
            data = result.model_dump(mode="json", exclude_none=True)
            for key in ("next_step", "uri", "content_notice"):
                data.pop(key, None)
            json_out(data)
        else:
            check = (
                "no input twice" if result.no_duplicates else f"{result.duplicate_inputs} inputs duplicated"
            )
            if result.missing_inputs:
                check += f", {result.missing_inputs} sent inputs missing"
            sys.stdout.write(f"wrote {result.rows} runs to {result.path} ({result.bytes:,} bytes; {check})\n")
        return EXIT_OK

    return run_command(settings, body, group_id=args.group)
