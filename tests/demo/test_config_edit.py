"""Merging one server entry into existing client configs changes that entry and no other byte."""

from __future__ import annotations

import difflib
import json
import tomllib
from typing import Any

import pytest

from taskgroup_mcp.commands._config_edit import ConfigFileError, set_json_entry, set_toml_entry

ENTRY: dict[str, Any] = {"command": "/opt/tg/bin/taskgroup-mcp", "args": ["--sandbox"], "env": {"K": "v"}}
INPUT = {"type": "promptString", "id": "parallel-api-key", "password": True}

# Real-looking files: other servers before and after, odd spacing, tabs, one-line objects, unicode,
# a big unrelated state object (as in ~/.claude.json), no trailing newline, CRLF line ends.
JSON_FILES = {
    "two-space": '{\n  "mcpServers": {\n    "a": {"command": "a"},\n    "b": {\n      "command": "b",\n      "args": []\n    }\n  }\n}\n',
    "four-space-other-keys": '{\n    "theme": "dark",\n    "mcpServers": {\n        "fs": {\n            "command": "npx",\n            "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]\n        }\n    },\n    "zzz": [1, 2.50, 1e3, null, true]\n}',
    "tabs": '{\n\t"mcpServers": {\n\t\t"x": {\n\t\t\t"command": "x"\n\t\t}\n\t}\n}\n',
    "one-line": '{"mcpServers":{"a":{"command":"a"}},"other":{"k":"v"}}',
    "no-servers-yet": '{\n  "numStartups": 12,\n  "projects": {"/home/me/p": {"mcpServers": {"parallel-taskgroup": {"command": "old"}}}},\n  "tipsHistory": {"x": 1}\n}\n',
    "empty-servers": '{\n  "mcpServers": {}\n}\n',
    "empty-object": "{}",
    "unicode-and-escapes": '{\n  "note": "caf\\u00e9 \\"quoted\\" \u2013 ✓",\n  "mcpServers": {\n    "ü": {"command": "ü", "env": {"A": "\\\\path"}}\n  }\n}\n',
    "crlf": '{\r\n  "mcpServers": {\r\n    "a": {"command": "a"}\r\n  }\r\n}\r\n',
}


def only_inserted(old: str, new: str) -> bool:
    """``new`` is ``old`` with one stretch of text inserted: every old byte kept, in order."""
    prefix = next(
        (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new))
    )
    suffix = next(
        (i for i, (a, b) in enumerate(zip(old[::-1], new[::-1], strict=False)) if a != b),
        min(len(old), len(new)),
    )
    return prefix + suffix >= len(old)


def only_insertions(old: str, new: str) -> bool:
    """``new`` is ``old`` with text inserted at one or more places, every old byte kept in order."""
    ops = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    return all(op in ("equal", "insert") for op, *_ in ops)


@pytest.mark.parametrize("name", sorted(JSON_FILES))
def test_adding_an_entry_keeps_every_existing_byte_and_sets_exactly_that_entry(name: str) -> None:
    old = JSON_FILES[name]
    new = set_json_entry(old, "mcpServers", "parallel-taskgroup", ENTRY, where="f")
    assert only_inserted(old, new), new
    expected = json.loads(old)
    expected.setdefault("mcpServers", {})["parallel-taskgroup"] = ENTRY
    assert json.loads(new) == expected
    assert list(json.loads(new)["mcpServers"])[-1] == "parallel-taskgroup"


@pytest.mark.parametrize("name", sorted(JSON_FILES))
def test_replacing_the_entry_changes_only_its_old_value(name: str) -> None:
    first = set_json_entry(
        JSON_FILES[name], "mcpServers", "parallel-taskgroup", {"command": "old"}, where="f"
    )
    key = '"parallel-taskgroup":'
    start = first.index(key, first.rindex('"mcpServers"')) + len(key)
    start += len(first[start:]) - len(first[start:].lstrip())
    _, end = json.JSONDecoder().raw_decode(first, start)  # the old value's span, found independently
    second = set_json_entry(first, "mcpServers", "parallel-taskgroup", ENTRY, where="f")
    assert second.startswith(first[:start]) and second.endswith(first[end:])
    assert json.loads(second[start : len(second) - (len(first) - end)]) == ENTRY
    assert set_json_entry(second, "mcpServers", "parallel-taskgroup", ENTRY, where="f") == second


def test_new_lines_follow_the_indentation_of_their_neighbours() -> None:
    new = set_json_entry(JSON_FILES["four-space-other-keys"], "mcpServers", "t", {"command": "c"}, where="f")
    assert '        },\n        "t": {\n            "command": "c"\n        }\n    },' in new
    tabs = set_json_entry(JSON_FILES["tabs"], "mcpServers", "t", {"command": "c"}, where="f")
    assert '\t\t},\n\t\t"t": {\n\t\t\t"command": "c"\n\t\t}\n\t}' in tabs
    one_line = set_json_entry(JSON_FILES["one-line"], "mcpServers", "t", {"command": "c"}, where="f")
    assert "\n" not in one_line


def test_vscode_inputs_gain_the_key_prompt_once_and_keep_their_other_prompts() -> None:
    old = '{\n  "inputs": [\n    {"type": "promptString", "id": "gh-token", "password": true}\n  ],\n  "servers": {}\n}\n'
    new = set_json_entry(old, "servers", "tg", ENTRY, where="f", array_item=("inputs", "id", INPUT))
    assert only_insertions(old, new)
    assert [i["id"] for i in json.loads(new)["inputs"]] == ["gh-token", "parallel-api-key"]
    again = set_json_entry(new, "servers", "tg", ENTRY, where="f", array_item=("inputs", "id", INPUT))
    assert again == new
    fresh = set_json_entry("", "servers", "tg", ENTRY, where="f", array_item=("inputs", "id", INPUT))
    assert json.loads(fresh) == {"inputs": [INPUT], "servers": {"tg": ENTRY}}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('{\n  "mcpServers": {\n    "a": {"command": "a"},\n  }\n}\n', 4),  # trailing comma
        ('{\n  // a comment\n  "mcpServers": {}\n}\n', 2),
        ('{\n  "mcpServers": {\n', 3),
    ],
)
def test_a_file_that_is_not_json_is_refused_naming_its_line(text: str, line: int) -> None:
    with pytest.raises(ConfigFileError, match=rf"line {line}, column"):
        set_json_entry(text, "mcpServers", "tg", ENTRY, where="cfg.json")


def test_a_servers_key_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ConfigFileError, match="not an object"):
        set_json_entry('{"mcpServers": []}', "mcpServers", "tg", ENTRY, where="f")
    with pytest.raises(ConfigFileError, match="not an object"):
        set_json_entry("[]", "mcpServers", "tg", ENTRY, where="f")


TOML_FILES = {
    "settings-only": 'model = "o3"\napproval_policy = "on-request"\n',
    "other-servers": (
        '# my codex config\nmodel = "o3"\n\n[mcp_servers.docs]\ncommand = "npx"\nargs = ["-y", "docs-mcp"]\n\n'
        '[mcp_servers.docs.env]\nTOKEN = "t"  # keep this comment\n\n[profiles.fast]\nmodel = "o4-mini"\n'
    ),
    "no-trailing-newline": 'model = "o3"',
    "empty": "",
}


@pytest.mark.parametrize("name", sorted(TOML_FILES))
def test_codex_toml_gains_the_table_and_keeps_every_existing_byte(name: str) -> None:
    old = TOML_FILES[name]
    new = set_toml_entry(old, "mcp_servers", "parallel-taskgroup", ENTRY, where="f")
    assert only_inserted(old, new), new
    assert tomllib.loads(new)["mcp_servers"]["parallel-taskgroup"] == ENTRY
    assert "[mcp_servers.parallel-taskgroup]\n" in new and "[mcp_servers.parallel-taskgroup.env]\n" in new


def test_codex_toml_replaces_its_own_tables_in_place_and_nothing_else() -> None:
    old = TOML_FILES["other-servers"]
    first = set_toml_entry(
        old, "mcp_servers", "parallel-taskgroup", {"command": "old", "env": {"A": "1"}}, where="f"
    )
    middle = first.replace(
        "[profiles.fast]", '[mcp_servers."parallel-taskgroup"]\ncommand = "x"\n\n[profiles.fast]'
    )
    with pytest.raises(ConfigFileError):  # the same table twice is not TOML
        set_toml_entry(middle, "mcp_servers", "parallel-taskgroup", ENTRY, where="f")
    second = set_toml_entry(first, "mcp_servers", "parallel-taskgroup", ENTRY, where="f")
    assert second.startswith(old) and "old" not in second
    assert tomllib.loads(second)["mcp_servers"]["parallel-taskgroup"] == ENTRY
    moved = old.replace("[profiles.fast]", '[mcp_servers.tg]\ncommand = "old"\n\n[profiles.fast]')
    replaced = set_toml_entry(moved, "mcp_servers", "tg", ENTRY, where="f")
    assert replaced.endswith('\n[profiles.fast]\nmodel = "o4-mini"\n') and replaced.startswith(
        old.split("[profiles")[0]
    )


def test_codex_toml_that_does_not_parse_or_holds_the_entry_inline_is_refused() -> None:
    with pytest.raises(ConfigFileError, match="line 2"):
        set_toml_entry('model = "o3"\nmodel = "o4"\n', "mcp_servers", "tg", ENTRY, where="f")
    with pytest.raises(ConfigFileError, match="inline"):
        set_toml_entry('[mcp_servers]\ntg = { command = "x" }\n', "mcp_servers", "tg", ENTRY, where="f")
