"""``taskgroup-mcp config CLIENT``: the config that starts *this* installation in an MCP client.

Prints the entry for Claude Desktop, Claude Code, Cursor, VS Code, Windsurf or Codex, with the
absolute path of the installed command (or ``uvx --from <clone>``), an env block holding a
placeholder key, and ``--sandbox`` when asked. ``--write`` merges it into the client's config
file in place: a backup first (``<file>.bak``), only the one entry changed, and a file that does
not parse is refused with its line. Claude Code gets its ``claude mcp add`` line.

This is a user-facing command: the config goes to stdout (so it can be piped), the notes around
it to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TextIO, cast

from ._client_configs import (
    CLIENTS,
    VSCODE_INPUT,
    ClientSpec,
    Launch,
    claude_add_command,
    entry_for,
    launcher,
    shell_line,
)
from ._config_edit import ConfigFileError, set_json_entry, set_toml_entry, toml_table

__all__ = ["add_arguments", "render", "run", "write_config"]

DEFAULT_NAME = "parallel-taskgroup"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("client", choices=sorted(CLIENTS), help="the MCP client to configure")
    p.add_argument("--sandbox", action="store_true", help="start the server with --sandbox (no key needed)")
    p.add_argument(
        "--name", default=DEFAULT_NAME, help=f"the server's name in the client (default {DEFAULT_NAME})"
    )
    p.add_argument(
        "--write",
        action="store_true",
        help="merge the entry into the client's config file (a .bak copy is kept; other entries untouched)",
    )
    p.add_argument(
        "--scope",
        choices=("user", "project"),
        default="user",
        help="user-wide file (default) or the project's (.mcp.json, .cursor/, .vscode/, .codex/ in this folder)",
    )
    p.add_argument("--path", default=None, help="write this config file instead of the client's usual one")
    p.add_argument(
        "--launcher",
        choices=("auto", "installed", "uvx"),
        default="auto",
        help="how the client starts the server: the installed command's absolute path, or uvx --from "
        "this clone (default auto: the installed command unless this copy runs from uv's cache)",
    )


def render(client: ClientSpec, name: str, launch: Launch, *, sandbox: bool, scope: str) -> str:
    """What ``config`` prints for ``client``."""
    entry = entry_for(client, launch, sandbox=sandbox)
    if client.name == "claude-code":
        return shell_line(claude_add_command(name, launch, sandbox=sandbox, scope=_scope(scope))) + "\n"
    if client.format == "toml":
        return toml_table(client.servers_key, name, entry)
    document: dict[str, Any] = {}
    if client.name == "vscode" and not sandbox:
        document["inputs"] = [VSCODE_INPUT]
    document[client.servers_key] = {name: entry}
    return json.dumps(document, indent=2) + "\n"


def _scope(value: str) -> Literal["user", "project"]:
    return "project" if value == "project" else "user"


def write_config(
    client: ClientSpec, name: str, launch: Launch, *, sandbox: bool, path: Path
) -> tuple[Path, Path | None]:
    """Merge the entry into ``path``; returns (path, backup or None for a new file)."""
    entry = entry_for(client, launch, sandbox=sandbox)
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except UnicodeDecodeError:
        raise ConfigFileError(f"{path} is not UTF-8 text; fix it or add the entry by hand") from None
    where = str(path)
    if client.format == "toml":
        new = set_toml_entry(text, client.servers_key, name, entry, where=where)
    else:
        needs_input = client.name == "vscode" and not sandbox
        new = set_json_entry(
            text,
            client.servers_key,
            name,
            entry,
            where=where,
            array_item=("inputs", "id", VSCODE_INPUT) if needs_input else None,
        )
    backup: Path | None = None
    if path.exists():
        backup = path.with_name(path.name + ".bak")
        shutil.copy2(path, backup)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(new)
        if backup is not None:
            shutil.copymode(backup, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path, backup


def run(
    args: argparse.Namespace,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    stdout: TextIO = out if out is not None else cast(TextIO, sys.stdout)
    stderr: TextIO = err if err is not None else cast(TextIO, sys.stderr)
    env = os.environ if env is None else env
    client = CLIENTS[args.client]
    sandbox = bool(args.sandbox)
    try:
        launch = launcher(cast(Literal["auto", "installed", "uvx"], args.launcher), sandbox=sandbox)
    except LookupError as exc:
        stderr.write(f"taskgroup-mcp config: {exc}; pass --launcher uvx, or install the package first\n")
        return 2
    home = Path(env.get("HOME") or Path.home())
    target = Path(args.path) if args.path else client.path(_scope(args.scope), home, cwd or Path.cwd(), env)
    if not args.write:
        stdout.write(render(client, args.name, launch, sandbox=sandbox, scope=args.scope))
        if client.name == "claude-code":
            stderr.write(f"Run the line above, or write it into {target} with --write.\n")
        else:
            stderr.write(f"Merge this into {target}, or run again with --write. {client.restart_hint}\n")
        if launch.how == "uvx":
            stderr.write(
                "This uses uvx (https://docs.astral.sh/uv/); the first start builds the environment.\n"
            )
        if not sandbox and client.name != "vscode":
            stderr.write(
                "Replace your-parallel-api-key with your key (platform.parallel.ai), or add --sandbox.\n"
            )
        return 0
    try:
        path, backup = write_config(client, args.name, launch, sandbox=sandbox, path=target)
    except ConfigFileError as exc:
        stderr.write(f"taskgroup-mcp config: {exc}. Nothing was written.\n")
        return 1
    except OSError as exc:
        stderr.write(f"taskgroup-mcp config: cannot write {target}: {exc.strerror or type(exc).__name__}\n")
        return 1
    saved = f" (the previous file is in {backup})" if backup else ""
    stdout.write(f"Wrote {args.name!r} into {path}{saved}.\n")
    if not sandbox and client.name != "vscode":
        stdout.write(
            f"Put your Parallel key in place of your-parallel-api-key there. {client.restart_hint}\n"
        )
    else:
        stdout.write(client.restart_hint + "\n")
    return 0
