"""The JSON schemas ``tools/list`` publishes, lean: every byte is read in every conversation.

pydantic's schemas are rewritten into forms that accept exactly the same values, only shorter:

- no ``title`` (pydantic derives one from each name), no ``"default": null``;
- ``anyOf: [X, {"type": "null"}]`` becomes X with ``"null"`` added to its ``type`` (and to its
  ``enum``); an ``anyOf`` of bare types becomes one ``type`` list;
- a map (``dict[str, V]``) keeps ``additionalProperties: V``, and ``additionalProperties: true``
  is dropped (the default). An object with arbitrary keys (a run's input fields, an output JSON
  schema, metadata) has no form in OpenAI's strict mode: strict objects declare every key, and
  its strict subset documents ``patternProperties`` as unsupported. openai-agents' converter
  refuses such a schema and offers the tool non-strict, which works; a schema disguised to pass
  the converter would be refused by the API, or leave the model only ``{}`` to send;
- a type list drops ``integer`` beside ``number`` (every integer is a number) when nothing else
  constrains it;
- output schemas keep only what validates: no ``description`` and no ``default`` (clients
  validate results against them; the model reads the results, whose names speak for themselves,
  and the tool's description).
"""

from __future__ import annotations

from typing import Any

from taskgroup_mcp.wire import is_array, is_object, member

_MAPS = ("properties", "patternProperties", "$defs")
"""Keywords whose value maps names to schemas (the names are not keywords)."""
_SCHEMAS = ("items", "additionalProperties", "not", "contains", "propertyNames")
_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A tool's input schema in its lean form (a new object; see the module)."""
    return _lean(schema, inputs=True)


def output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A tool's output schema in its lean form (a new object; see the module)."""
    return _lean(schema, inputs=False)


def _lean(schema: dict[str, Any], *, inputs: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" or (key == "default" and (value is None or not inputs)):
            continue
        if key == "description" and not inputs:
            continue
        if key in _MAPS and is_object(value):
            out[key] = {name: _sub(sub, inputs) for name, sub in value.items()}
        elif key in _SCHEMAS and is_object(value):
            out[key] = _lean(value, inputs=inputs)
        elif key in _LISTS and is_array(value):
            out[key] = [_sub(sub, inputs) for sub in value]
        else:
            out[key] = value
    merged = _merged_any_of(out)
    if merged.get("additionalProperties") is True:
        del merged["additionalProperties"]  # the default: an object without it takes any property
    return merged


def _sub(value: Any, inputs: bool) -> Any:
    return _lean(value, inputs=inputs) if is_object(value) else value


_ONLY_FOR = {
    "string": {"pattern", "minLength", "maxLength", "format"},
    "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"},
    "array": {"items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains"},
    "object": {
        "properties",
        "patternProperties",
        "additionalProperties",
        "required",
        "propertyNames",
        "minProperties",
        "maxProperties",
    },
}
"""Keywords that constrain values of one JSON type only (and pass every other type)."""
_ONLY_FOR["integer"] = _ONLY_FOR["number"]


def _merged_any_of(schema: dict[str, Any]) -> dict[str, Any]:
    """An ``anyOf`` of schemas of distinct single types, at most one of them with keywords (which
    then constrain its type only), as one schema with a ``type`` list: ``[{"type": "string"},
    {"type": "object", "additionalProperties": ...}, {"type": "null"}]`` accepts what ``{"type":
    ["string", "object", "null"], "additionalProperties": ...}`` accepts. An ``enum`` may join only
    null (which joins the enum)."""
    options = schema.get("anyOf")
    if not is_array(options) or "type" in schema:
        return schema
    kinds: list[str] = []
    keywords: dict[str, Any] = {}
    enum: list[Any] | None = None
    for option in options:
        kind = member(option, "type")
        if not is_object(option) or not isinstance(kind, str) or kind in kinds:
            return schema
        kinds.append(kind)
        rest = {k: v for k, v in option.items() if k != "type"}
        if not rest:
            continue
        if keywords or enum is not None:
            return schema  # two options with keywords: they may not merge
        values = rest.pop("enum", None)
        if values is not None:
            if not is_array(values) or rest:
                return schema
            enum = list(values)
        elif not set(rest) <= _ONLY_FOR.get(kind, set()):
            return schema
        keywords = rest
    typed = [k for k in kinds if k != "null"]
    if enum is not None and len(typed) > 1:
        return schema
    if keywords and {"integer", "number"} <= set(kinds):
        return schema  # an integer is a number too: a number's keywords would constrain both
    if enum is not None and "null" in kinds:
        enum = [*enum, None]
    if not keywords and enum is None and {"integer", "number"} <= set(kinds):
        kinds.remove("integer")
    merged = {k: v for k, v in schema.items() if k != "anyOf"}
    merged["type"] = kinds if len(kinds) > 1 else kinds[0]
    merged.update(keywords)
    if enum is not None:
        merged["enum"] = enum
    return merged
