"""The documented output-schema rules (Task Spec guide): each rule found, with its path inside the schema."""

from __future__ import annotations

from typing import Any

import pytest

from taskgroup_mcp.wire import TaskSpec, output_schema_violations, schema_problems
from taskgroup_mcp.wire._schema_rules import MAX_SCHEMA_DEPTH, UNSUPPORTED_KEYWORDS


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def _errors(schema: Any) -> list[tuple[str, str]]:
    return [(p.rule, p.field) for p in schema_problems(schema) if p.severity == "error"]


def test_a_schema_that_follows_every_rule_has_no_problem() -> None:
    schema = _obj(
        name={"type": "string", "description": "The company's name"},
        founded={"type": ["integer", "null"]},
        kind={"anyOf": [{"type": "string", "enum": ["public", "private"]}, {"type": "null"}]},
        people={"type": "array", "items": _obj(name={"type": "string"})},
    )
    assert schema_problems(schema) == []


def test_the_docs_root_type_example_is_an_error_at_the_root_type() -> None:
    schema = {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}
    assert ("root_type", "type") in _errors(schema)
    assert ("root_properties", "properties") in _errors(schema)


def test_a_root_any_of_is_an_error() -> None:
    schema = {
        "type": "object",
        "anyOf": [{"properties": {"a": {"type": "string"}}}, {"properties": {"b": {"type": "string"}}}],
    }
    assert ("root_any_of", "anyOf") in _errors(schema)


@pytest.mark.parametrize("keyword", sorted(UNSUPPORTED_KEYWORDS))
def test_every_unsupported_keyword_is_an_error_where_it_is_used(keyword: str) -> None:
    schema = _obj(field1={"type": "string", keyword: 5})
    assert _errors(schema) == [("unsupported_keyword", f"properties.field1.{keyword}")]


def test_a_property_named_like_a_keyword_is_not_a_keyword() -> None:
    assert _errors(_obj(format={"type": "string"}, pattern={"type": "string"})) == []


def test_null_alone_is_an_error_but_null_in_a_union_is_not() -> None:
    assert _errors(_obj(a={"type": "null"})) == [("standalone_null", "properties.a.type")]
    assert _errors(_obj(a={"anyOf": [{"type": "string"}, {"type": "null"}]})) == []


def test_five_levels_of_nesting_pass_and_six_are_an_error_at_the_sixth() -> None:
    def nested(levels: int) -> dict[str, Any]:
        node: dict[str, Any] = _obj(leaf={"type": "string"})
        for _ in range(levels - 1):
            node = _obj(child=node)
        return node

    assert _errors(nested(MAX_SCHEMA_DEPTH)) == []
    too_deep = _errors(nested(MAX_SCHEMA_DEPTH + 1))
    assert too_deep == [("nesting_depth", ".".join(["properties", "child"] * MAX_SCHEMA_DEPTH))]


def test_arrays_count_as_levels_too() -> None:
    def arrays(n: int) -> dict[str, Any]:
        node: dict[str, Any] = {"type": "string"}
        for _ in range(n):
            node = {"type": "array", "items": node}
        return _obj(a=node)

    assert _errors(arrays(MAX_SCHEMA_DEPTH - 1)) == []
    assert _errors(arrays(MAX_SCHEMA_DEPTH)) == [("nesting_depth", "properties.a.items.items.items.items")]


def test_a_recursive_ref_is_an_error_and_does_not_loop() -> None:
    schema = {
        **_obj(root={"$ref": "#/$defs/node"}),
        "$defs": {"node": _obj(child={"$ref": "#/$defs/node"})},
    }
    assert _errors(schema) == [("bad_ref", "properties.root.properties.child.$ref")]


def test_a_ref_to_nowhere_is_an_error_naming_it() -> None:
    assert _errors(_obj(a={"$ref": "#/$defs/missing"})) == [("bad_ref", "properties.a.$ref")]


def test_more_than_100_properties_in_all_is_an_error() -> None:
    ok = _obj(**{f"f{i}": {"type": "string"} for i in range(100)})
    assert _errors(ok) == []
    assert _errors(_obj(**{f"f{i}": {"type": "string"} for i in range(101)})) == [
        ("too_many_properties", "(root)")
    ]


def test_more_than_500_enum_values_in_all_is_an_error() -> None:
    schema = _obj(
        a={"type": "string", "enum": [f"a{i}" for i in range(300)]},
        b={"type": "string", "enum": [f"b{i}" for i in range(201)]},
    )
    assert ("too_many_enum_values", "(root)") in _errors(schema)


def test_a_large_enum_over_7500_characters_is_an_error() -> None:
    schema = _obj(a={"type": "string", "enum": [f"{i:03d}" + "x" * 27 for i in range(251)]})
    assert _errors(schema) == [("large_enum_too_long", "properties.a.enum")]


def test_over_25000_characters_of_names_and_values_is_an_error() -> None:
    schema = _obj(a={"type": "string", "description": "d" * 25_000})
    assert ("too_many_characters", "(root)") in _errors(schema)


def test_a_hostile_ref_fan_out_is_refused_quickly_instead_of_expanded() -> None:
    defs = {
        f"d{i}": {"anyOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"$ref": f"#/$defs/d{i + 1}"}]} for i in range(40)
    }
    defs["d40"] = {"type": "string"}
    schema = {**_obj(a={"$ref": "#/$defs/d0"}), "$defs": defs}
    assert any(rule == "too_complex" for rule, _ in _errors(schema))


def test_warnings_name_unrequired_fields_open_objects_and_basis_names_at_the_root() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}, "citations": {"type": "string"}}}
    warnings = {p.rule: p for p in schema_problems(schema) if p.severity == "warning"}
    assert set(warnings) == {"not_required", "additional_properties", "basis_field"}
    assert "answer, citations" in warnings["not_required"].message
    assert _errors(schema) == []


def test_violations_are_located_under_the_task_spec_and_only_json_schemas_have_rules() -> None:
    bad = TaskSpec.model_validate(
        {"output_schema": {"type": "json", "json_schema": {"type": "array", "items": {}}}}
    )
    found = output_schema_violations(bad, ("body", "inputs", 2, "task_spec"))
    assert found and found[0].loc == (
        "body",
        "inputs",
        2,
        "task_spec",
        "output_schema",
        "json_schema",
        "type",
    )
    assert found[0].msg.startswith("Invalid JSON Schema: the root type must be 'object'")
    assert output_schema_violations(TaskSpec.model_validate({"output_schema": "A summary"}), ()) == []
    assert output_schema_violations(TaskSpec.model_validate({"output_schema": {"type": "auto"}}), ()) == []
    assert output_schema_violations(None, ()) == []
