"""Stage the MCP Bundle (``.mcpb``) directory for Claude Desktop's one-click install.

    python scripts/build_mcpb.py                       # stages build/mcpb/
    npx @anthropic-ai/mcpb pack build/mcpb dist/parallel-taskgroup-mcp.mcpb

The bundle is of server type ``uv``: it carries ``manifests/mcpb/manifest.json``, ``pyproject.toml``,
``README.md`` and ``server/``; the host installs the dependencies with uv and runs
``uv run --directory <bundle> taskgroup-mcp``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("pyproject.toml", "README.md")


def stage(target: Path) -> Path:
    """Lay the bundle out under ``target`` (emptied first) and return it."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copy2(ROOT / "manifests" / "mcpb" / "manifest.json", target / "manifest.json")
    for name in FILES:
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(
        ROOT / "server",
        target / "server",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Stage the MCP Bundle directory.")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "mcpb", help="default: build/mcpb")
    args = parser.parse_args(argv)
    staged = stage(args.out)
    sys.stdout.write(f"staged {staged}; pack it with: npx @anthropic-ai/mcpb pack {staged}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
