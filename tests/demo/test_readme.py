"""README tells users only true things: every setting with its real default, every flag, valid JSON."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import tomllib
from pathlib import Path

from taskgroup_mcp.cli import build_parser
from taskgroup_mcp.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
_ROW = re.compile(r"^\| `([A-Z0-9_]+)` \| ([^|]+) \|", re.MULTILINE)
_OWN_NAMES = {"parallel_api_key": "PARALLEL_API_KEY", "parallel_base_url": "PARALLEL_BASE_URL"}


def _env_name(field: str) -> str:
    return _OWN_NAMES.get(field, ENV_PREFIX + field.upper())


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _parsers() -> dict[str, argparse.ArgumentParser]:
    root = build_parser()
    found = {"taskgroup-mcp": root}
    for action in root._actions:  # argparse keeps subcommands in a private action
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)  # pyright: ignore[reportUnknownMemberType]
    return found


def test_every_setting_has_a_row_in_the_configuration_table() -> None:
    rows = dict(_ROW.findall(README))
    missing = [_env_name(f) for f in Settings.model_fields if _env_name(f) not in rows]
    assert not missing, f"README's configuration table lacks {missing}"


def test_every_plain_default_in_the_table_is_the_real_one() -> None:
    rows = {name: cell.strip() for name, cell in _ROW.findall(README)}
    for field, info in Settings.model_fields.items():
        default = info.get_default(call_default_factory=True)
        if isinstance(default, bool | int | float | str):
            cell = rows[_env_name(field)]
            assert cell == f"`{_shown(default)}`", (
                f"{_env_name(field)}: README says {cell}, code says {default!r}"
            )


def test_every_command_and_flag_of_the_cli_is_documented() -> None:
    for name, parser in _parsers().items():
        assert name in README, f"README never mentions the {name} command"
        for action in parser._actions:
            for option in action.option_strings:
                if option.startswith("--") and option not in ("--help",):
                    assert option in README, f"README never mentions {name} {option}"


def test_every_json_snippet_in_the_readme_parses_and_launches_a_real_command() -> None:
    snippets = [json.loads(s) for s in re.findall(r"```json\n(.*?)```", README, re.DOTALL)]
    servers = [srv for s in snippets for srv in (s.get("mcpServers") or s.get("servers") or {}).values()]
    assert len(servers) >= 3
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    for server in servers:
        args: list[str] = server["args"]
        if server["command"] == "uvx":
            if args[0] == "--from":  # a clone's path until the package is on PyPI
                assert Path(args[1]).is_absolute()
                args = args[2:]
            assert args[0] in scripts
            build_parser().parse_args(args[1:])
        elif Path(server["command"]).name in scripts:  # what `taskgroup-mcp config` prints
            assert Path(server["command"]).is_absolute()
            build_parser().parse_args(args)
        else:
            assert server["command"] == "docker" and "taskgroup-mcp" in args
            build_parser().parse_args(args[args.index("taskgroup-mcp") + 1 :])
        assert set(server["env"]) <= {_env_name(f) for f in Settings.model_fields}


def test_the_registry_name_in_the_readme_matches_server_json() -> None:
    server = json.loads((ROOT / "manifests" / "server.json").read_text(encoding="utf-8"))
    assert f"<!-- mcp-name: {server['name']} -->" in README


def test_the_two_fresh_clone_commands_are_makefile_targets() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("demo", "test"):
        assert f"make {target}" in README
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target


_VARIADIC = {"-e", "--env", "-H", "--header"}
_WITH_VALUE = {"-s", "--scope", "-t", "--transport"}


def test_every_claude_mcp_add_line_names_the_server_before_its_variadic_options() -> None:
    """`-e`/`--header` take several values: a name after them is swallowed ("Invalid environment
    variable format"). So: options with one value, the name, then -e pairs, then -- and the command."""
    lines = re.findall(r"claude mcp add [^`\n]*", README)
    assert len(lines) >= 2
    for line in lines:
        argv = shlex.split(line.replace("$TOKEN", "token"))
        i = 3
        while argv[i].startswith("-"):
            assert argv[i] not in _VARIADIC, f"{argv[i]} before the server name swallows it: {line}"
            assert argv[i] in _WITH_VALUE, f"unknown option {argv[i]}: {line}"
            i += 2
        name = argv[i]
        assert re.fullmatch(r"[a-z][a-z0-9-]*", name), line
        rest = argv[i + 1 :]
        if "--transport" in argv and argv[argv.index("--transport") + 1] == "http":
            assert rest[0].startswith("https://") and rest[1] in ("--header", "-H"), line
            continue
        while rest[0] == "-e":
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]*=.+", rest[1]), line
            rest = rest[2:]
        assert rest[0] == "--", line
        assert Path(rest[1]).name == "taskgroup-mcp" and Path(rest[1]).is_absolute(), line
        build_parser().parse_args(rest[2:])


def test_every_taskgroup_mcp_command_line_in_the_readme_parses() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README, re.DOTALL)
    found = 0
    for block in blocks:
        for raw in block.replace("\\\n", " ").splitlines():
            line = raw.split(" #", 1)[0].strip()
            words = shlex.split(line) if line else []
            while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
                words = words[1:]
            if words and Path(words[0]).name == "taskgroup-mcp":
                build_parser().parse_args(words[1:])
                found += 1
    assert found >= 4
