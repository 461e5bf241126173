"""What each MCP client needs to launch this server: the command, its config entry, its file.

``launcher()`` finds how *this* installation is started: the absolute path of the installed
``taskgroup-mcp`` script beside the running interpreter (a virtualenv, ``pip install``, ``uv tool
install``, pipx), or ``uvx --from <clone>`` when the running copy lives in uv's throw-away cache
or when asked for (``--launcher uvx``). Absolute paths on purpose: desktop apps do not see the
shell's ``PATH``.

``CLIENTS`` maps each supported client to its config format (JSON under ``mcpServers`` or
``servers``, the TOML of Codex, or a ``claude mcp add`` command line) and the file it reads.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

__all__ = [
    "CLIENTS",
    "DISTRIBUTION",
    "KEY_PLACEHOLDER",
    "SCRIPT",
    "VSCODE_INPUT",
    "ClientSpec",
    "Launch",
    "claude_add_command",
    "entry_for",
    "launcher",
    "source_checkout",
]

DISTRIBUTION = "parallel-taskgroup-mcp"
SCRIPT = "taskgroup-mcp"
KEY_PLACEHOLDER = "your-parallel-api-key"
VSCODE_INPUT: dict[str, Any] = {
    "type": "promptString",
    "id": "parallel-api-key",
    "description": "Parallel API key (platform.parallel.ai)",
    "password": True,
}

Scope = Literal["user", "project"]
Format = Literal["json", "toml"]


@dataclass(frozen=True)
class Launch:
    """The command a client spawns, and its arguments."""

    command: str
    args: tuple[str, ...]
    how: Literal["installed", "uvx"]

    def argv(self) -> list[str]:
        return [self.command, *self.args]


def source_checkout() -> Path | None:
    """The clone this package was installed from (``pip install -e .`` or ``uvx --from DIR``)."""
    try:
        raw = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        raw = None
    if raw:
        url = urlparse(str(json.loads(raw).get("url", "")))
        if url.scheme == "file":
            path = Path(unquote(url.path))
            if (path / "pyproject.toml").is_file():
                return path
    here = Path(__file__).resolve().parents[3]  # server/taskgroup_mcp/commands -> the clone
    if (here / "pyproject.toml").is_file() and (here / "server" / "taskgroup_mcp").is_dir():
        return here
    return None


def _in_uv_cache() -> bool:
    """True when this interpreter is one of uv's cached, throw-away environments (``uvx ...``)."""
    prefix = Path(sys.prefix).resolve()
    cache = os.environ.get("UV_CACHE_DIR")
    if cache and Path(cache).resolve() in prefix.parents:
        return True
    return any(part.startswith("archive-v") for part in prefix.parts) and "uv" in prefix.parts


def _installed_script() -> Path | None:
    scripts = Path(sys.executable).parent
    for name in (SCRIPT, f"{SCRIPT}.exe"):
        if (scripts / name).is_file():
            return scripts / name
    found = shutil.which(SCRIPT)
    return Path(found).resolve() if found else None


def launcher(prefer: Literal["auto", "installed", "uvx"] = "auto", *, sandbox: bool = False) -> Launch:
    """How a client should start this installation. Raises ``LookupError`` when it cannot tell."""
    flags = ("--sandbox",) if sandbox else ()
    script = _installed_script()
    if prefer == "installed" or (prefer == "auto" and script is not None and not _in_uv_cache()):
        if script is None:
            raise LookupError(f"no installed {SCRIPT} command beside {sys.executable}")
        return Launch(str(script), flags, "installed")
    checkout = source_checkout()
    source = str(checkout) if checkout is not None else DISTRIBUTION
    uvx = shutil.which("uvx")
    return Launch(uvx or "uvx", ("--from", source, DISTRIBUTION, *flags), "uvx")


@dataclass(frozen=True)
class ClientSpec:
    name: str
    title: str
    format: Format
    servers_key: str  # the table the entry goes in: mcpServers, servers, mcp_servers
    typed: bool  # the entry carries "type": "stdio"
    restart_hint: str

    def path(self, scope: Scope, home: Path, cwd: Path, env: Mapping[str, str]) -> Path:
        return _PATHS[self.name](scope, home, cwd, env)


def _app_support(home: Path, env: Mapping[str, str], *parts: str) -> Path:
    """The per-user application folder: macOS Application Support, Windows %APPDATA%, Linux XDG."""
    if sys.platform == "darwin":
        return home.joinpath("Library", "Application Support", *parts)
    if sys.platform == "win32":
        return Path(env.get("APPDATA", str(home / "AppData" / "Roaming"))).joinpath(*parts)
    return Path(env.get("XDG_CONFIG_HOME", str(home / ".config"))).joinpath(*parts)


def _claude_desktop(scope: Scope, home: Path, cwd: Path, env: Mapping[str, str]) -> Path:
    return _app_support(home, env, "Claude", "claude_desktop_config.json")


def _claude_code(scope: Scope, home: Path, cwd: Path, env: Mapping[str, str]) -> Path:
    return cwd / ".mcp.json" if scope == "project" else home / ".claude.json"


def _cursor(scope: Scope, home: Path, cwd: Path, env: Mapping[str, str]) -> Path:
    return (cwd if scope == "project" else home) / ".cursor" / "mcp.json"


def _vscode(scope: Scope, home: Path, cwd: Path, env: Mapping[str, str]) -> Path:
    return (
        cwd / ".vscode" / "mcp.json"
        if scope == "project"
        else _app_support(home, env, "Code", "User", "mcp.json")
    )


def _windsurf(scope: Scope, home: Path, cwd: Path, env: Mapping[str, str]) -> Path:
    return home / ".codeium" / "windsurf" / "mcp_config.json"


def _codex(scope: Scope, home: Path, cwd: Path, env: Mapping[str, str]) -> Path:
    if scope == "project":
        return cwd / ".codex" / "config.toml"
    return Path(env.get("CODEX_HOME", str(home / ".codex"))) / "config.toml"


_PATHS = {
    "claude-desktop": _claude_desktop,
    "claude-code": _claude_code,
    "cursor": _cursor,
    "vscode": _vscode,
    "windsurf": _windsurf,
    "codex": _codex,
}

CLIENTS: dict[str, ClientSpec] = {
    "claude-desktop": ClientSpec(
        "claude-desktop",
        "Claude Desktop",
        "json",
        "mcpServers",
        False,
        "Quit Claude Desktop fully and start it again.",
    ),
    "claude-code": ClientSpec(
        "claude-code",
        "Claude Code",
        "json",
        "mcpServers",
        True,
        "Start a new Claude Code session; /mcp lists it.",
    ),
    "cursor": ClientSpec(
        "cursor", "Cursor", "json", "mcpServers", False, "Cursor picks the change up in Settings > MCP."
    ),
    "vscode": ClientSpec(
        "vscode", "VS Code", "json", "servers", True, "VS Code asks for the key once, on the first start."
    ),
    "windsurf": ClientSpec(
        "windsurf", "Windsurf", "json", "mcpServers", False, "Press refresh in Windsurf's MCP panel."
    ),
    "codex": ClientSpec(
        "codex", "Codex", "toml", "mcp_servers", False, "Start a new Codex session; /mcp lists it."
    ),
}


def entry_for(client: ClientSpec, launch: Launch, *, sandbox: bool) -> dict[str, Any]:
    """The server's entry in the client's config (the value stored under the server's name)."""
    entry: dict[str, Any] = {"type": "stdio"} if client.typed else {}
    entry["command"] = launch.command
    entry["args"] = list(launch.args)
    if not sandbox:
        key = "${input:parallel-api-key}" if client.name == "vscode" else KEY_PLACEHOLDER
        entry["env"] = {"PARALLEL_API_KEY": key}
    if client.name == "codex" and launch.how == "uvx":
        entry["startup_timeout_sec"] = 60  # uvx builds the environment on the first start
    return entry


def claude_add_command(name: str, launch: Launch, *, sandbox: bool, scope: Scope) -> list[str]:
    """``claude mcp add``: options, then the name, then ``-e`` (after the name, since ``-e`` takes
    several values and would swallow a name behind it), then ``--`` and the command."""
    argv = ["claude", "mcp", "add", "--scope", scope, name]
    if not sandbox:
        argv += ["-e", f"PARALLEL_API_KEY={KEY_PLACEHOLDER}"]
    return [*argv, "--", *launch.argv()]


def shell_line(argv: list[str]) -> str:
    return shlex.join(argv)
