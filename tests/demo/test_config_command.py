"""`taskgroup-mcp config CLIENT` prints a config that starts this installation, and --write merges it."""

from __future__ import annotations

import io
import json
import shlex
import sys
import tomllib
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from taskgroup_mcp.cli import build_parser
from taskgroup_mcp.commands import config as config_command
from taskgroup_mcp.commands._client_configs import CLIENTS, KEY_PLACEHOLDER, SCRIPT
from taskgroup_mcp.config import Settings
from taskgroup_mcp.tools import build_server

ROOT = Path(__file__).resolve().parents[2]


def run_config(*argv: str, home: Path, cwd: Path | None = None) -> tuple[int, str, str]:
    args = build_parser().parse_args(["config", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = config_command.run(args, out=out, err=err, env={"HOME": str(home)}, cwd=cwd or home)
    return code, out.getvalue(), err.getvalue()


def launched(client: str, printed: str) -> tuple[list[str], dict[str, str]]:
    """(argv, env) exactly as the client would launch them from the printed config."""
    if client == "claude-code":
        argv = shlex.split(printed)
        # claude mcp add [options] <name> -e KEY=VALUE -- <command> [args...]
        assert argv[:3] == ["claude", "mcp", "add"]
        name_at = argv.index("parallel-taskgroup")
        assert all(a.startswith("-") or argv[i - 1].startswith("-") for i, a in enumerate(argv[3:name_at], 3))
        env: dict[str, str] = {}
        i = name_at + 1
        while argv[i] != "--":
            assert argv[i] == "-e", f"only -e may follow the name: {argv}"
            key, _, value = argv[i + 1].partition("=")
            env[key] = value
            i += 2
        return argv[i + 1 :], env
    if client == "codex":
        entry = tomllib.loads(printed)["mcp_servers"]["parallel-taskgroup"]
    else:
        document = json.loads(printed)
        entry = document["servers" if client == "vscode" else "mcpServers"]["parallel-taskgroup"]
        assert (entry.get("type") == "stdio") == (client == "vscode")
    env = dict(entry.get("env", {}))
    if env.get("PARALLEL_API_KEY") == "${input:parallel-api-key}":
        env["PARALLEL_API_KEY"] = KEY_PLACEHOLDER  # what VS Code substitutes after asking
    return [entry["command"], *entry["args"]], env


async def tools_of(argv: list[str], env: dict[str, str], home: Path) -> set[str]:
    """Spawn exactly ``argv`` (as a client does), initialize, list the tools."""
    params = StdioServerParameters(
        command=argv[0],
        args=argv[1:],
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "TASKGROUP_MCP_LOG_LEVEL": "WARNING", **env},
    )
    with (home / "server.log").open("w") as errlog, anyio.fail_after(60):
        async with Client(stdio_client(params, errlog=errlog)) as client:
            return {tool.name for tool in (await client.list_tools()).tools}


@pytest.mark.anyio
async def test_each_printed_config_starts_a_server_that_initializes_and_lists_every_tool(
    tmp_path: Path,
) -> None:
    launches: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], list[str]] = {}
    for client in CLIENTS:
        for sandbox in (False, True):
            code, printed, notes = run_config(client, *(["--sandbox"] if sandbox else []), home=tmp_path)
            assert code == 0, notes
            argv, env = launched(client, printed)
            assert Path(argv[0]).is_absolute() and Path(argv[0]).name == SCRIPT
            assert ("--sandbox" in argv) == sandbox
            assert (env.get("PARALLEL_API_KEY") == KEY_PLACEHOLDER) == (not sandbox)
            launches.setdefault((tuple(argv), tuple(sorted(env.items()))), []).append(client)
    assert sum(len(c) for c in launches.values()) == 2 * len(CLIENTS)
    async with Client(build_server(Settings(sandbox=True, export_dir=tmp_path))) as in_process:
        expected = {tool.name for tool in (await in_process.list_tools()).tools}
    assert {"create_task_group", "add_runs", "wait_for_task_group", "get_task_group_results"} <= expected
    for (argv, env), clients in launches.items():
        assert await tools_of(list(argv), dict(env), tmp_path) == expected, clients


def test_the_claude_code_line_names_the_server_before_its_env_options(tmp_path: Path) -> None:
    _, printed, _ = run_config("claude-code", home=tmp_path)
    argv = shlex.split(printed)
    assert argv.index("parallel-taskgroup") < argv.index("-e") < argv.index("--")
    assert argv[3:6] == ["--scope", "user", "parallel-taskgroup"]
    _, printed, _ = run_config("claude-code", "--sandbox", "--scope", "project", home=tmp_path)
    argv = shlex.split(printed)
    assert "-e" not in argv and argv[-1] == "--sandbox" and argv[3:5] == ["--scope", "project"]


def test_the_uvx_launcher_runs_this_clone_by_its_distribution_name(tmp_path: Path) -> None:
    _, printed, notes = run_config("cursor", "--launcher", "uvx", "--sandbox", home=tmp_path)
    entry = json.loads(printed)["mcpServers"]["parallel-taskgroup"]
    assert Path(entry["command"]).name in ("uvx", "uvx.exe")
    frm, source, script, *flags = entry["args"]
    assert frm == "--from" and Path(source) == ROOT and flags == ["--sandbox"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts[script] == "taskgroup_mcp.cli:main"
    build_parser().parse_args(flags)
    assert "uvx" in notes
    _, printed, _ = run_config("codex", "--launcher", "uvx", home=tmp_path)
    assert tomllib.loads(printed)["mcp_servers"]["parallel-taskgroup"]["startup_timeout_sec"] >= 30


def test_write_creates_each_clients_usual_file_under_home(tmp_path: Path) -> None:
    expected = {
        "claude-code": tmp_path / ".claude.json",
        "cursor": tmp_path / ".cursor" / "mcp.json",
        "windsurf": tmp_path / ".codeium" / "windsurf" / "mcp_config.json",
        "codex": tmp_path / ".codex" / "config.toml",
    }
    for client, path in expected.items():
        code, out, err = run_config(client, "--write", home=tmp_path)
        assert code == 0, err
        assert str(path) in out and path.is_file()
    assert "parallel-taskgroup" in json.loads((tmp_path / ".claude.json").read_text())["mcpServers"]
    project = tmp_path / "project"
    project.mkdir()
    code, _, err = run_config("vscode", "--write", "--scope", "project", home=tmp_path, cwd=project)
    assert code == 0, err
    written = json.loads((project / ".vscode" / "mcp.json").read_text())
    assert written["inputs"][0]["id"] == "parallel-api-key" and "parallel-taskgroup" in written["servers"]


def test_write_refuses_a_file_it_cannot_parse_naming_the_line_and_leaves_it_alone(tmp_path: Path) -> None:
    path = tmp_path / "claude_desktop_config.json"
    broken = '{\n  "mcpServers": {\n    "other": {"command": "x",}\n  }\n}\n'
    path.write_text(broken)
    code, _, err = run_config("claude-desktop", "--write", "--path", str(path), home=tmp_path)
    assert code == 1
    assert "line 3" in err and "Nothing was written" in err
    assert path.read_text() == broken and not (tmp_path / "claude_desktop_config.json.bak").exists()
    toml = tmp_path / "config.toml"
    toml.write_text('model = "o3"\n[mcp_servers.other\ncommand = "x"\n')
    code, _, err = run_config("codex", "--write", "--path", str(toml), home=tmp_path)
    assert code == 1 and "line 2" in err


def test_write_keeps_a_backup_and_a_second_write_replaces_the_entry_instead_of_adding_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mcp.json"
    original = (
        '{\n    "mcpServers": {\n        "other": {"command": "other-server", "args": ["--x"]}\n    }\n}\n'
    )
    path.write_text(original)
    assert run_config("cursor", "--write", "--path", str(path), home=tmp_path)[0] == 0
    assert (tmp_path / "mcp.json.bak").read_text() == original
    first = path.read_text()
    assert run_config("cursor", "--write", "--sandbox", "--path", str(path), home=tmp_path)[0] == 0
    servers: dict[str, Any] = json.loads(path.read_text())["mcpServers"]
    assert list(servers) == ["other", "parallel-taskgroup"]
    assert servers["parallel-taskgroup"]["args"] == ["--sandbox"]
    assert (tmp_path / "mcp.json.bak").read_text() == first
    assert path.read_text().startswith(
        '{\n    "mcpServers": {\n        "other": {"command": "other-server", "args": ["--x"]},\n'
    )


def test_the_config_command_is_reachable_from_the_real_cli(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "taskgroup_mcp", "config", "windsurf", "--sandbox"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["mcpServers"]["parallel-taskgroup"]["args"] == ["--sandbox"]
    assert str(tmp_path / ".codeium" / "windsurf" / "mcp_config.json") in done.stderr
