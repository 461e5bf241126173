"""Render README's tools table from the server's own ``tools/list``, or check that it is current.

    python scripts/gen_tools_table.py           # print the table
    python scripts/gen_tools_table.py --write   # replace the table in README.md
    python scripts/gen_tools_table.py --check   # exit 1 when README.md's table is stale

The table sits between ``<!-- tools-table:start -->`` and ``<!-- tools-table:end -->``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from mcp import Client
from mcp.types import Tool

from taskgroup_mcp.config import Settings
from taskgroup_mcp.tools import build_server

README = Path(__file__).resolve().parents[1] / "README.md"
START = "<!-- tools-table:start -->"
END = "<!-- tools-table:end -->"
_SECTION = re.compile(re.escape(START) + r"\n(.*?)" + re.escape(END), re.DOTALL)


async def list_tools() -> list[Tool]:
    """The tools as a client sees them (in-process, no key, no network)."""
    async with Client(build_server(Settings(state=False))) as client:
        return list((await client.list_tools()).tools)


def _summary(description: str | None) -> str:
    """The description's first paragraph, on one line, with table pipes escaped."""
    first = (description or "").strip().split("\n\n", 1)[0]
    return " ".join(first.split()).replace("|", "\\|")


def _hints(tool: Tool) -> str:
    a = tool.annotations
    if a is None:
        return ""
    marks: list[str] = []
    if a.read_only_hint:
        marks.append("read-only")
    if a.idempotent_hint:
        marks.append("idempotent")
    if a.destructive_hint:
        marks.append("destructive")
    if a.open_world_hint:
        marks.append("open-world")
    return ", ".join(marks)


def render_table(tools: Sequence[Tool]) -> str:
    lines = ["| Tool | What it does | Hints |", "|---|---|---|"]
    lines += [f"| `{t.name}` | {_summary(t.description)} | {_hints(t)} |" for t in tools]
    return "\n".join(lines) + "\n"


def readme_table(text: str) -> str | None:
    """The table currently in README text, or None if the markers are missing."""
    found = _SECTION.search(text)
    return found.group(1) if found else None


def with_table(text: str, table: str) -> str:
    if readme_table(text) is None:
        raise SystemExit(f"README.md has no {START} ... {END} section")
    return _SECTION.sub(lambda _: f"{START}\n{table}{END}", text, count=1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="replace the table in README.md")
    mode.add_argument("--check", action="store_true", help="exit 1 when README.md's table is stale")
    args = parser.parse_args(argv)
    table = render_table(asyncio.run(list_tools()))
    if args.check:
        current = readme_table(README.read_text(encoding="utf-8"))
        if current != table:
            sys.stderr.write(
                "README.md's tools table is stale: run python scripts/gen_tools_table.py --write\n"
            )
            return 1
        return 0
    if args.write:
        README.write_text(with_table(README.read_text(encoding="utf-8"), table), encoding="utf-8")
        return 0
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
