"""Spec warnings where the docs give them (Task Spec guide): computed once per task spec.

The rules themselves live in ``wire`` (:func:`taskgroup_mcp.wire.schema_problems`), shared with
the checks that refuse a schema; this module turns their warnings into ``spec_validation_warning``
entries of a run.
"""

from __future__ import annotations

from typing import Any

from taskgroup_mcp.wire import JsonSchema, TaskSpec, schema_problems


def spec_warnings(spec: TaskSpec | None) -> list[dict[str, Any]]:
    """``spec_validation_warning`` entries for an output schema the docs warn about."""
    if spec is None or not isinstance(spec.output_schema, JsonSchema):
        return []
    return [
        {"type": "spec_validation_warning", "message": p.message, "detail": {"field": p.field}}
        for p in schema_problems(spec.output_schema.json_schema)
        if p.severity == "warning"
    ]
