"""The lean schemas ``tools/list`` publishes accept exactly what pydantic's own schemas accept.

Every property of every tool's input and output schema (and of every ``$defs`` entry) is checked
with a JSON Schema validator, before and after ``tools/_schema``, on the same values: arbitrary
JSON (seeded, so every run checks the same values) plus the values the schema names (enum members,
bounds, defaults) and typical ids and objects.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from mcp.server.mcpserver.tools import Tool

from taskgroup_mcp.tools._definition import ToolDefinition
from taskgroup_mcp.tools._explorer import APP_TOOLS
from taskgroup_mcp.tools._schema import input_schema, output_schema
from taskgroup_mcp.tools._tools import TOOLS

DEFINITIONS: list[ToolDefinition] = [*TOOLS, *APP_TOOLS]


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice("ab_-/é 😀\\n0Z") for _ in range(rng.randrange(12)))


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    """An arbitrary JSON value: scalars of every type, arrays and objects (keys of any text)."""
    kind = rng.randrange(8 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randint(-(10**6), 10**6)
    if kind == 3:
        return rng.uniform(-1e6, 1e6)
    if kind in (4, 5):
        return _random_text(rng)
    if kind == 6:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {_random_text(rng): _random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


RANDOM_VALUES = [_random_json(random.Random(seed)) for seed in range(150)]
TYPICAL: list[Any] = [
    None,
    "",
    "tgrp_abc123",
    "a/b?c",
    "k" * 17,
    "x" * 130,
    0,
    -1,
    1,
    1.5,
    50,
    2_000,
    20_001,
    True,
    [],
    ["a", "b"],
    [{"a": 1}],
    ["q", {"company": "Acme"}],
    {},
    {"a": 1},
    {"k": "v", "n": 2, "b": False},
    {"nested": {"a": 1}},
    {"type": "object", "properties": {"a": {"type": "string"}}},
    {"url": "https://m.example.com", "headers": {"X": "y"}},
    {"index": 0, "processor": "lite"},
]


def _named_values(schema: Any) -> list[Any]:
    """Enum members, bounds and defaults anywhere in ``schema`` (and one past each bound)."""
    found: list[Any] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "enum" and isinstance(value, list):
                found += value
            elif key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") and isinstance(
                value, int | float
            ):
                found += [value, value - 1, value + 1]
            elif key == "default":
                found.append(value)
            else:
                found += _named_values(value)
    elif isinstance(schema, list):
        for item in schema:
            found += _named_values(item)
    return found


def _properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every property schema of the root and of each ``$defs`` entry, each with the ``$defs``."""
    defs = schema.get("$defs", {})
    holders = [("", schema), *((f"$defs.{name}.", d) for name, d in defs.items())]
    return [
        (f"{where}{name}", {**prop, "$defs": defs})
        for where, holder in holders
        for name, prop in holder.get("properties", {}).items()
    ]


def _pairs() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(tool.side.property, pydantic's schema, the published one) for every property."""
    pairs: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for definition in DEFINITIONS:
        raw = Tool.from_function(definition.fn)
        published = definition.build()
        sides = [("input", raw.parameters, published.parameters)]
        assert raw.fn_metadata.output_schema is not None and published.output_schema is not None
        sides.append(("output", raw.fn_metadata.output_schema, published.output_schema))
        for side, before, after in sides:
            after_props = dict(_properties(after))
            for name, prop in _properties(before):
                pairs.append((f"{definition.name}.{side}.{name}", prop, after_props[name]))
    return pairs


PAIRS = _pairs()
VALIDATORS = {
    where: (Draft202012Validator(before), Draft202012Validator(after)) for where, before, after in PAIRS
}


@pytest.mark.parametrize(("where", "before", "after"), PAIRS, ids=[p[0] for p in PAIRS])
def test_a_published_schema_accepts_exactly_the_values_pydantics_schema_accepts(
    where: str, before: dict[str, Any], after: dict[str, Any]
) -> None:
    pydantics, published = Draft202012Validator(before), Draft202012Validator(after)
    for value in [*TYPICAL, *_named_values(before), *RANDOM_VALUES]:
        assert published.is_valid(value) == pydantics.is_valid(value), (where, value, after)


def test_the_published_schemas_are_shorter_and_keep_every_property() -> None:
    for definition in DEFINITIONS:
        raw = Tool.from_function(definition.fn)
        published = definition.build()
        assert set(published.parameters["properties"]) == set(raw.parameters["properties"])
        assert published.parameters.get("required") == raw.parameters.get("required")
        assert len(str(published.parameters)) < len(str(raw.parameters)), definition.name
        assert published.output_schema is not None
        assert len(str(published.output_schema)) < len(str(raw.fn_metadata.output_schema)), definition.name


def test_a_map_stays_a_map_an_open_object_stays_open_and_no_pattern_properties_disguise_it() -> None:
    # OpenAI's strict subset has no patternProperties: a map disguised as one would pass
    # openai-agents' converter and then be refused by the API (see tools/_schema.py).
    raw = {"type": "object", "additionalProperties": {"type": "integer"}, "title": "Counts"}
    assert input_schema(raw) == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert output_schema(raw) == {"type": "object", "additionalProperties": {"type": "integer"}}
    open_object = {"type": "object", "additionalProperties": True, "title": "Fields"}
    assert input_schema(open_object) == {"type": "object"}


def test_an_optional_enum_becomes_one_type_list_with_null_in_its_enum() -> None:
    raw = {"anyOf": [{"enum": ["a", "b"], "type": "string"}, {"type": "null"}], "default": None}
    assert input_schema(raw) == {"type": ["string", "null"], "enum": ["a", "b", None]}


def test_a_property_named_like_a_keyword_is_kept() -> None:
    raw = {"type": "object", "properties": {"title": {"type": "string", "title": "Title"}}}
    assert input_schema(raw)["properties"] == {"title": {"type": "string"}}
