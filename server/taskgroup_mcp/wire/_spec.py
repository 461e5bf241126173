"""TaskSpec and its output/input schema forms."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Tag

from ._base import WireModel, null_means
from ._json import is_object


class JsonSchema(WireModel):
    """Structured output: a JSON Schema the run's output must match."""

    json_schema: dict[str, Any]
    type: Annotated[Literal["json"], null_means("json")] = "json"


class TextSchema(WireModel):
    """Free-text output, optionally described."""

    description: str | None = None
    type: Annotated[Literal["text"], null_means("text")] = "text"


class AutoSchema(WireModel):
    """Let the processor choose the output's shape (deep-research style)."""

    type: Annotated[Literal["auto"], null_means("auto")] = "auto"


def _schema_kind(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    if is_object(value):
        mapping = value
        kind: Any = mapping.get("type")
        if kind in ("json", "text", "auto"):
            return str(kind)
        return "json" if "json_schema" in mapping else "text"
    kind = getattr(value, "type", None)
    return kind if isinstance(kind, str) else "text"


OutputSchema = Annotated[
    Annotated[JsonSchema, Tag("json")]
    | Annotated[TextSchema, Tag("text")]
    | Annotated[AutoSchema, Tag("auto")]
    | Annotated[str, Tag("string")],
    Discriminator(_schema_kind),
]
"""A JSON, text or auto schema; a bare string is a text schema with that description."""

InputSchema = Annotated[
    Annotated[JsonSchema, Tag("json")] | Annotated[TextSchema, Tag("text")] | Annotated[str, Tag("string")],
    Discriminator(_schema_kind),
]


class TaskSpec(WireModel):
    """What each run is asked to produce (and, optionally, what its input looks like)."""

    output_schema: OutputSchema
    input_schema: InputSchema | None = None
