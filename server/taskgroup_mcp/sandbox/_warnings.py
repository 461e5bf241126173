"""Spec warnings where the docs give them (Task Spec guide): computed once per task spec."""

from __future__ import annotations

from typing import Any

from taskgroup_mcp.wire import JsonSchema, TaskSpec

_BASIS_NAMES = frozenset(
    {"citations", "reasoning", "sources", "confidence", "evidence", "source", "source_urls"}
)


def spec_warnings(spec: TaskSpec | None) -> list[dict[str, Any]]:
    """``spec_validation_warning`` entries for an output schema the docs warn about."""
    if spec is None or not isinstance(spec.output_schema, JsonSchema):
        return []
    schema = spec.output_schema.json_schema
    props_any: Any = schema.get("properties")
    if not isinstance(props_any, dict):
        return []
    props: dict[str, Any] = props_any  # pyright: ignore[reportUnknownVariableType]
    out: list[dict[str, Any]] = []
    required_any: Any = schema.get("required") or []
    required_list: list[Any] = required_any if isinstance(required_any, list) else []  # pyright: ignore[reportUnknownVariableType]
    required = {str(x) for x in required_list}
    missing = [name for name in props if name not in required]
    if missing:
        out.append(
            _warning(
                f"Output schema fields {', '.join(sorted(missing))} are not listed as required; "
                "all fields should be required."
            )
        )
    if schema.get("additionalProperties") is not False:
        out.append(_warning("Output schema should set additionalProperties to false."))
    reserved = sorted(name for name in props if name.lower() in _BASIS_NAMES)
    if reserved:
        out.append(
            _warning(
                f"Output schema fields {', '.join(reserved)} duplicate what basis already provides "
                "(citations, reasoning, confidence); remove them."
            )
        )
    return out


def _warning(message: str) -> dict[str, Any]:
    return {"type": "spec_validation_warning", "message": message, "detail": None}
