"""Outputs: a JSON schema gets a value that validates, text gets text, auto gets JSON and its
schema; every field has a basis citing the reserved example domain; all say they are sandbox data."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskgroup_mcp.sandbox import ManualClock, Sandbox
from taskgroup_mcp.sandbox._outputs import CITATION_BASE, SANDBOX_NOTE, _Rand, value_for  # pyright: ignore[reportPrivateUsage]
from taskgroup_mcp.wire import TaskRunJsonOutput, TaskRunResult, TaskRunTextOutput

from .conftest import api, run_input

_names = st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True)
_leaf = st.one_of(
    st.sampled_from([{"type": t} for t in ("string", "integer", "number", "boolean")]),
    st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=5, unique=True).map(
        lambda e: {"type": "string", "enum": e}
    ),
    st.sampled_from([{"type": t} for t in ("string", "integer")]).map(
        lambda s: {"anyOf": [s, {"type": "null"}]}
    ),
    st.sampled_from([{"type": ["string", "null"]}, {"type": ["number", "null"]}]),
)


def _object(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(_names, children, min_size=1, max_size=5).map(
        lambda props: {
            "type": "object",
            "properties": props,
            "required": sorted(props),
            "additionalProperties": False,
        }
    )


_schema = st.recursive(
    _leaf,
    lambda children: st.one_of(_object(children), children.map(lambda s: {"type": "array", "items": s})),
    max_leaves=12,
)
_root = _object(_schema)


@settings(max_examples=150, deadline=None)
@given(schema=_root, key=st.text(max_size=20))
def test_a_generated_value_validates_against_its_json_schema(schema: dict[str, Any], key: str) -> None:
    value = value_for(schema, _Rand(key.encode()), "output", schema)
    jsonschema.validate(value, schema)


def test_refs_into_defs_are_followed() -> None:
    schema = {
        "type": "object",
        "properties": {
            "ceo": {"$ref": "#/$defs/Person"},
            "board": {"type": "array", "items": {"$ref": "#/$defs/Person"}},
        },
        "required": ["ceo", "board"],
        "$defs": {
            "Person": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                "required": ["name", "age"],
            }
        },
    }
    jsonschema.validate(value_for(schema, _Rand(b"x"), "output", schema), schema)


async def _result(sandbox: Sandbox, clock: ManualClock, body: dict[str, Any]) -> TaskRunResult:
    async with api(sandbox) as c:
        rid = (await c.post("/v1/tasks/runs", json=body)).json()["run_id"]
        clock.advance(3600)
        r = await c.get(f"/v1/tasks/runs/{rid}/result")
    assert r.status_code == 200, r.text
    return TaskRunResult.model_validate(r.json())


def _check_basis(result: TaskRunResult, fields: list[str]) -> None:
    basis = result.output.basis
    assert [b.field for b in basis] == fields
    for b in basis:
        assert SANDBOX_NOTE in b.reasoning and b.confidence in ("high", "medium", "low")
        assert b.citations and all(c.url.startswith(CITATION_BASE + "/") for c in b.citations)


@pytest.mark.anyio
async def test_a_text_schema_gets_text_that_says_it_is_sandbox_data(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    for spec in (
        {"output_schema": {"type": "text", "description": "Two sentences"}},
        {"output_schema": "A summary"},
    ):
        result = await _result(sandbox, clock, run_input("Who founded Acme?", task_spec=spec))
        assert isinstance(result.output, TaskRunTextOutput)
        assert result.output.content.startswith(SANDBOX_NOTE)
        _check_basis(result, ["output"])


@pytest.mark.anyio
async def test_an_auto_schema_gets_json_with_its_output_schema(sandbox: Sandbox, clock: ManualClock) -> None:
    result = await _result(sandbox, clock, run_input("Acme", processor="pro"))
    assert isinstance(result.output, TaskRunJsonOutput)
    assert result.output.output_schema is not None
    jsonschema.validate(result.output.content, result.output.output_schema)
    assert SANDBOX_NOTE in json.dumps(result.output.content)
    _check_basis(result, _dot_paths(result.output.content))
    fields = [b.field for b in result.output.basis]
    assert {"profile.subject", "key_facts.0", "related_entities.0.name"} <= set(fields)


def _dot_paths(value: Any, prefix: str = "") -> list[str]:
    """Every field of a JSON value in dot notation, parents before children (deep-research basis)."""
    out: list[str] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, sub in items:
        path = f"{prefix}{key}"
        out.append(path)
        out.extend(_dot_paths(sub, path + "."))
    return out


@pytest.mark.anyio
async def test_a_json_schema_gets_a_valid_value_and_one_basis_per_top_level_field(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "founded": {"type": "integer"},
            "segments": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"label": {"type": "string"}},
                    "required": ["label"],
                },
            },
            "listed": {"type": "boolean"},
        },
        "required": ["name", "founded", "segments", "listed"],
        "additionalProperties": False,
    }
    result = await _result(
        sandbox,
        clock,
        run_input({"company": "Acme"}, task_spec={"output_schema": {"type": "json", "json_schema": schema}}),
    )
    assert isinstance(result.output, TaskRunJsonOutput)
    jsonschema.validate(result.output.content, schema)
    _check_basis(result, ["name", "founded", "segments", "listed"])
    assert result.run.warnings is None


@pytest.mark.anyio
async def test_a_spec_the_docs_warn_about_gets_spec_validation_warnings(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}, "citations": {"type": "string"}}}
    result = await _result(
        sandbox, clock, run_input("q", task_spec={"output_schema": {"type": "json", "json_schema": schema}})
    )
    warnings = result.run.warnings or []
    assert {w.type for w in warnings} == {"spec_validation_warning"}
    assert any("required" in w.message for w in warnings)
    assert any("additionalProperties" in w.message for w in warnings)
    assert any("citations" in w.message for w in warnings)


@pytest.mark.anyio
async def test_the_same_input_and_seed_give_the_same_output_and_another_input_another(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    first = await _result(sandbox, clock, run_input("Acme"))
    again = await _result(sandbox, clock, run_input("Acme"))
    other = await _result(sandbox, clock, run_input("Globex"))
    assert first.output.content == again.output.content
    assert first.output.content != other.output.content


_LIST_SPEC = {
    "output_schema": {
        "type": "json",
        "json_schema": {
            "type": "object",
            "properties": {
                "company": {"type": "string"},
                "key_executives": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["company", "key_executives"],
            "additionalProperties": False,
        },
    }
}
_FIELD_BASIS = {"parallel-beta": "mcp-server-2025-07-17,field-basis-2025-11-25"}


@pytest.mark.anyio
async def test_the_field_basis_beta_on_the_creating_request_adds_a_basis_per_array_element(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    body = run_input("Acme", task_spec=_LIST_SPEC)
    async with api(sandbox) as c:
        with_beta = (await c.post("/v1/tasks/runs", json=body, headers=_FIELD_BASIS)).json()["run_id"]
        without = (await c.post("/v1/tasks/runs", json=body)).json()["run_id"]
        clock.advance(3600)
        # Fetching with or without the header changes nothing: the creating request decides.
        beta = (await c.get(f"/v1/tasks/runs/{with_beta}/result")).json()["output"]
        plain = (await c.get(f"/v1/tasks/runs/{without}/result", headers=_FIELD_BASIS)).json()["output"]
    people = beta["content"]["key_executives"]
    assert beta["content"] == plain["content"]
    assert [b["field"] for b in plain["basis"]] == ["company", "key_executives"]
    assert [b["field"] for b in beta["basis"]] == [
        "company",
        "key_executives",
        *(f"key_executives.{i}" for i in range(len(people))),
    ]
