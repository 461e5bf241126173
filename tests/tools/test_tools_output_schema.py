"""Output schemas the API refuses are refused by the tools before anything is sent or billed.

The rules are the Task Spec guide's (``wire.schema_problems``, shared with the sandbox): root not
an object, nesting over 5, ``$ref`` cycles, unsupported keywords such as ``format``, and a
``json_schema`` that is not an object. The error names the field inside the argument.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.anyio


def deep_schema(levels: int) -> dict[str, Any]:
    """An object schema nested ``levels`` objects deep (the root is level 1)."""
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


OK_PROPERTY = {"type": "string", "description": "a fact"}
BAD_SCHEMAS: list[tuple[Any, str]] = [
    ({"type": "array", "items": {"type": "string"}}, "output.type"),
    (
        {"type": "object", "properties": {"when": {"type": "string", "format": "date"}}},
        "output.properties.when.format",
    ),
    (deep_schema(6), "output.properties"),
    (
        {
            "type": "object",
            "properties": {"node": {"$ref": "#/$defs/node"}},
            "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}},
        },
        "$ref",
    ),
    ({"type": "json", "json_schema": "a string, not a schema"}, "output.json_schema"),
    (
        {
            "type": "json",
            "json_schema": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}},
        },
        "output.json_schema.properties.n.minimum",
    ),
]


@pytest.mark.parametrize(("schema", "field"), BAD_SCHEMAS)
async def test_a_schema_the_api_refuses_is_refused_before_anything_is_sent(
    sandbox: Any, schema: Any, field: str
) -> None:
    async with sandbox() as (client, backend, _):
        before = backend.sandbox.store.counters()
        for tool, args in (
            ("add_runs", {"task_group_id": "tgrp_x", "inputs": ["q"], "output": schema, "dry_run": True}),
            ("fan_out", {"inputs": ["q"], "output": schema, "wait_seconds": 0}),
            (
                "add_runs",
                {"task_group_id": "tgrp_x", "inputs": ["q"], "runs": [{"index": 0, "output": schema}]},
            ),
        ):
            result = await client.call_tool(tool, args)
            assert result.is_error, f"{tool} accepted {schema}"
            text = result.content[0].text
            expected = (
                field
                if tool != "add_runs" or "runs" not in args
                else field.replace("output", "runs[0].output", 1)
            )
            assert expected in text, text
            assert "Parallel would refuse" in text
        assert backend.sandbox.store.counters() == before, "a group or run was created"


async def test_a_valid_nested_schema_with_a_ref_is_accepted(sandbox: Any) -> None:
    schema = {
        "type": "object",
        "properties": {"ceo": {"$ref": "#/$defs/person"}, "founded": {"type": ["string", "null"]}},
        "$defs": {"person": {"type": "object", "properties": {"name": OK_PROPERTY}}},
        "required": ["ceo", "founded"],
        "additionalProperties": False,
    }
    async with sandbox() as (client, _, _):
        result = await client.call_tool("fan_out", {"inputs": ["Acme"], "output": schema, "wait_seconds": 0})
        assert not result.is_error, result.content[0].text
        assert result.structured_content["added"]["added"] == 1
