"""``taskgroup-mcp status GROUP``: one group's status, as get_task_group_status shows it."""

from __future__ import annotations

import argparse
import sys

from taskgroup_mcp.config import Settings
from taskgroup_mcp.tools import Journaled, summarize

from ._people import EXIT_OK, Context, json_out, run_command

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env(sandbox=args.sandbox)

    async def body(ctx: Context) -> int:
        group = await ctx.client.get_task_group(args.group)
        await Journaled(ctx.journal, ctx.scope).seen(group)
        status = summarize(group)
        if args.json:
            data = status.model_dump(mode="json", exclude_none=True)
            data.pop("next_step", None)
            json_out(data)
            return EXIT_OK
        counts = ", ".join(f"{k} {v}" for k, v in sorted(status.counts.items())) or "none"
        lines = [
            f"{status.task_group_id}" + (f"  ({status.label})" if status.label else ""),
            f"  state     {'running' if status.active else 'done'}",
            f"  runs      {status.total} ({counts})",
            f"  done      {status.done_pct:g}%",
        ]
        if status.elapsed_s is not None:
            lines.append(f"  elapsed   {status.elapsed_s:.0f} s")
        if status.eta_s is not None:
            lines.append(f"  eta       about {status.eta_s:.0f} s")
        sys.stdout.write("\n".join(lines) + "\n")
        return EXIT_OK

    return run_command(settings, body, group_id=args.group)
