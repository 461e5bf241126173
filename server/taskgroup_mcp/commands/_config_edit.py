"""Put one server entry into a client's config file, leaving every other byte as it was.

Client config files hold other servers and settings (``~/.claude.json`` holds a whole app's
state), so they are edited as text: the one entry's value is replaced, or the entry is inserted
after the last one, indented like its neighbours; nothing else is re-serialized. The result is
parsed again and must equal the old document with exactly that entry set, or nothing is written.

A file that does not parse is refused with its line and column (``ConfigFileError``); a file
holding the entry in a form this module does not edit (a TOML inline table) is refused too.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

__all__ = ["ConfigFileError", "set_json_entry", "set_toml_entry", "toml_table"]

_WS = " \t\r\n"
_DECODER = json.JSONDecoder()


def _string_at(text: str, i: int) -> tuple[str, int]:
    """The JSON string starting at ``i`` (its opening quote) and the index just past it."""
    value, end = _DECODER.raw_decode(text, i)
    return str(value), end


class ConfigFileError(ValueError):
    """The file cannot be edited safely; the message names the line and what to do."""


@dataclass
class _Member:
    key: str
    key_start: int
    value_start: int
    value_end: int


@dataclass
class _Node:
    start: int
    end: int  # one past the closing bracket
    members: list[_Member]  # objects only
    items: list[tuple[int, int]]  # arrays only: (start, end) of each element


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _value_end(text: str, i: int) -> int:
    """One past the end of the JSON value starting at ``i`` (the text is known to be valid)."""
    c = text[i]
    if c == '"':
        return _string_at(text, i)[1]
    if c in "{[":
        return _node(text, i).end
    j = i
    while j < len(text) and text[j] not in ",]}" + _WS:
        j += 1
    return j


def _node(text: str, i: int) -> _Node:
    """Spans of the object or array starting at ``i``."""
    close = "}" if text[i] == "{" else "]"
    node = _Node(i, i, [], [])
    j = _skip(text, i + 1)
    if text[j] == close:
        node.end = j + 1
        return node
    while True:
        if close == "}":
            key, after_key = _string_at(text, j)
            colon = _skip(text, after_key)
            start = _skip(text, colon + 1)
            end = _value_end(text, start)
            node.members.append(_Member(key, j, start, end))
        else:
            start = j
            end = _value_end(text, start)
            node.items.append((start, end))
        j = _skip(text, end)
        if text[j] == ",":
            j = _skip(text, j + 1)
            continue
        node.end = j + 1
        return node


def _line_indent(text: str, pos: int) -> str:
    line_start = text.rfind("\n", 0, pos) + 1
    return re.match(r"[ \t]*", text[line_start:pos]).group(0)  # type: ignore[union-attr]


def _render(value: Any, indent: str, unit: str | None) -> str:
    """``value`` as JSON: pretty with ``unit`` per level starting at ``indent``, or on one line."""
    if unit is None:
        return json.dumps(value, ensure_ascii=False)
    text = json.dumps(value, indent=unit, ensure_ascii=False)
    return text.replace("\n", "\n" + indent)


def _layout(text: str, node: _Node, first: tuple[int, int] | None) -> tuple[str | None, str]:
    """(indent unit or None for one-line style, indent of the container's line) around ``node``."""
    outer = _line_indent(text, node.start)
    if first is None:
        inner = text[node.start + 1 : node.end - 1]
        if "\n" not in inner:
            return ("  " if "\n" in text else None), outer
        return "  ", outer
    if "\n" not in text[node.start : first[0]]:
        return None, outer
    member_indent = _line_indent(text, first[0])
    unit = member_indent[len(outer) :] if member_indent.startswith(outer) else member_indent
    return (unit or "  "), outer


Piece = Callable[[str, str | None], str]
"""Renders the inserted text for (indent of its first line, indent unit or None for one line)."""


def _piece(label: str, value: Any) -> Piece:
    return lambda indent, unit: label + _render(value, indent, unit)


def _insert(
    text: str, node: _Node, piece_for: Piece, last: tuple[int, int] | None, first: tuple[int, int] | None
) -> str:
    """Insert a new member/element into ``node`` after its last one (or into the empty node)."""
    unit, outer = _layout(text, node, first)
    if last is not None:
        if unit is None:
            return text[: last[1]] + ", " + piece_for("", None) + text[last[1] :]
        indent = _line_indent(text, first[0]) if first else outer + unit
        return text[: last[1]] + ",\n" + indent + piece_for(indent, unit) + text[last[1] :]
    close = node.end - 1
    if unit is None:
        return text[: node.start + 1] + piece_for("", None) + text[close:]
    indent = outer + unit
    return text[: node.start + 1] + "\n" + indent + piece_for(indent, unit) + "\n" + outer + text[close:]


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigFileError(
            f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "fix it (comments and trailing commas are not JSON) or add the entry by hand"
        ) from None


def set_json_entry(
    text: str,
    servers_key: str,
    name: str,
    entry: dict[str, Any],
    *,
    where: str,
    array_item: tuple[str, str, dict[str, Any]] | None = None,
) -> str:
    """``text`` with ``document[servers_key][name] = entry``, every other byte kept.

    ``array_item``: (array key, id field, item) also makes sure the top-level array holds an
    item with that id (VS Code's ``inputs``), appending it when missing."""
    if not text.strip():
        document: dict[str, Any] = {}
        if array_item is not None:
            document[array_item[0]] = [array_item[2]]
        document[servers_key] = {name: entry}
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    old = _parse_json(text, where)
    if not isinstance(old, dict):
        raise ConfigFileError(
            f"{where} holds a JSON {type(old).__name__}, not an object; fix it or add the entry by hand"
        )
    expected = json.loads(text)
    new = _set_member(text, [servers_key, name], entry, where)
    if array_item is not None:
        array_key, id_field, item = array_item
        current = cast(dict[str, Any], json.loads(new)).get(array_key)
        if current is None:
            new = _set_member(new, [array_key], [item], where)
            expected[array_key] = [item]
        elif not isinstance(current, list):
            raise ConfigFileError(f"{where}: {array_key!r} is not a list; fix it or add the entry by hand")
        elif not any(_has_id(x, id_field, item[id_field]) for x in cast(list[Any], current)):
            new = _append_item(new, array_key, item)
            expected[array_key].append(item)
    servers = expected.get(servers_key)
    if servers is None:
        expected[servers_key] = {name: entry}
    else:
        servers[name] = entry
    if json.loads(new) != expected:  # the edit must change exactly the one entry
        raise ConfigFileError(f"{where}: could not edit it safely; add the entry by hand")
    return new


def _has_id(value: Any, field: str, wanted: Any) -> bool:
    return isinstance(value, dict) and cast(dict[str, Any], value).get(field) == wanted


def _set_member(text: str, path: list[str], value: Any, where: str) -> str:
    """Set ``doc[path[0]][path[1]]...`` to ``value``, creating missing objects on the way."""
    root = _node(text, _skip(text, 0))
    node = root
    for depth, key in enumerate(path):
        match = next((m for m in reversed(node.members) if m.key == key), None)
        if match is None:
            rest: Any = value
            for inner in reversed(path[depth + 1 :]):
                rest = {inner: rest}
            members = node.members
            last = (members[-1].key_start, members[-1].value_end) if members else None
            first = (members[0].key_start, members[0].value_end) if members else None
            label = json.dumps(key, ensure_ascii=False) + ": "
            return _insert(text, node, _piece(label, rest), last, first)
        if depth == len(path) - 1:
            indent = _line_indent(text, match.key_start)
            unit, _ = _layout(text, node, (node.members[0].key_start, node.members[0].value_end))
            rendered = _render(value, indent, unit)
            return text[: match.value_start] + rendered + text[match.value_end :]
        if text[match.value_start] != "{":
            raise ConfigFileError(f"{where}: {key!r} is not an object; fix it or add the entry by hand")
        node = _node(text, match.value_start)
    raise AssertionError("unreachable")


def _append_item(text: str, array_key: str, item: Any) -> str:
    root = _node(text, _skip(text, 0))
    match = next(m for m in reversed(root.members) if m.key == array_key)
    node = _node(text, match.value_start)
    last = node.items[-1] if node.items else None
    first = node.items[0] if node.items else None
    return _insert(text, node, _piece("", item), last, first)


# ----------------------------------------------------------------------------------------- TOML

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE.match(key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in cast(list[Any], value)) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def toml_table(table: str, name: str, entry: dict[str, Any]) -> str:
    """``[table.name]`` with the entry's scalars and lists, then a sub-table per nested dict."""
    head = f"{table}.{_toml_key(name)}"
    lines = [f"[{head}]"]
    nested: list[str] = []
    for key, value in entry.items():
        if isinstance(value, dict):
            nested.append(f"\n[{head}.{_toml_key(key)}]")
            nested += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in cast(dict[str, Any], value).items()]
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    return "\n".join(lines + nested) + "\n"


_HEADER = re.compile(r"^[ \t]*\[\[?([^\]\n]+)\]\]?[ \t]*(?:#.*)?$", re.MULTILINE)


def _header_path(raw: str) -> list[str]:
    """The dotted key of a table header, each part unquoted."""
    parts: list[str] = []
    for match in re.finditer(r'\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+)\s*(?:\.|$)', raw):
        token = match.group(1)
        parts.append(json.loads(token) if token.startswith('"') else token.strip("'"))
    return parts


def set_toml_entry(text: str, table: str, name: str, entry: dict[str, Any], *, where: str) -> str:
    """``text`` with the table ``[table.name]`` (and its sub-tables) replaced or appended."""
    try:
        old = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{where} is not valid TOML ({exc}); fix it or add the entry by hand") from None
    block = toml_table(table, name, entry)
    headers = list(_HEADER.finditer(text))
    mine = [h for h in headers if _header_path(h.group(1))[:2] == [table, name]]
    existing = cast(dict[str, Any], old.get(table) or {}).get(name)
    if existing is not None and not mine:
        raise ConfigFileError(
            f"{where} defines [{table}.{name}] inline or with dotted keys; remove it or edit it by hand"
        )
    if mine:
        start = mine[0].start()
        later = [h for h in headers if h.start() > start and _header_path(h.group(1))[:2] != [table, name]]
        end = later[0].start() if later else len(text)
        if any(h.start() >= end for h in mine):
            raise ConfigFileError(f"{where} splits [{table}.{name}] around other tables; edit it by hand")
        tail = text[start:end]
        trailing = tail[len(tail.rstrip("\n")) :]  # keep the blank lines that separated it
        new = text[:start] + block.rstrip("\n") + (trailing or "\n") + text[end:]
    else:
        sep = "" if not text.strip() else ("\n" if text.endswith("\n") else "\n\n")
        new = text + sep + block
    expected = old
    expected.setdefault(table, {})[name] = entry
    if tomllib.loads(new) != expected:
        raise ConfigFileError(f"{where}: could not edit it safely; add the entry by hand")
    return new
