"""``taskgroup-mcp groups``: your task groups from the journal, newest first."""

from __future__ import annotations

import argparse
import sys

from taskgroup_mcp.config import Settings
from taskgroup_mcp.tools import Journaled, list_groups_page

from ._people import EXIT_OK, EXIT_USAGE, CommandFailed, Context, json_out, run_command
from ._terminal import table

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env(sandbox=args.sandbox)
    active = True if args.active else False if args.finished else None

    async def body(ctx: Context) -> int:
        if ctx.journal is None:
            raise CommandFailed(
                "the journal is off (TASKGROUP_MCP_STATE=off), so there is no list of groups", EXIT_USAGE
            )
        page = await list_groups_page(
            ctx.client, Journaled(ctx.journal, ctx.scope), label=args.label, active=active, cursor=None,
            limit=args.limit, notice=None,
        )  # fmt: skip
        if args.json:
            json_out([g.model_dump(mode="json", exclude_none=True) for g in page.groups])
            return EXIT_OK
        if not page.groups:
            sys.stdout.write(
                "No task groups yet" + (" match." if args.label or active is not None else ".") + "\n"
            )
            return EXIT_OK
        rows = [
            [
                g.task_group_id,
                g.label or "",
                g.created_at.replace("T", " ").replace("Z", ""),
                "?" if g.active is None else ("running" if g.active else "done"),
                "" if g.total is None else str(g.total),
                f"${g.cost_usd:.2f}",
            ]
            for g in page.groups
        ]
        for line in table(["GROUP", "LABEL", "CREATED (UTC)", "STATE", "RUNS", "EST. COST"], rows):
            sys.stdout.write(line + "\n")
        if page.next_cursor:
            sys.stdout.write(f"(showing the newest {len(rows)}; --limit shows more)\n")
        return EXIT_OK

    return run_command(settings, body)
