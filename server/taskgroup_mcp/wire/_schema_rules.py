"""The documented rules for a JSON output schema (Task Spec guide, "Output Schema Validation Rules").

One checker for both sides: the sandbox refuses what the API refuses (422), and a caller can
refuse a schema before it is sent and billed. Each problem names where it is inside the schema
(``properties.company.properties.revenue``) and whether the API rejects it (``error``) or only
warns (``warning``, the run goes ahead with a ``spec_validation_warning``).

    problems = schema_problems(json_schema)
    errors = [p for p in problems if p.severity == "error"]
    output_schema_violations(spec, loc=("body", "task_spec"))  # errors as LimitViolations

Rules (docs snapshot 2026-05): root ``type`` must be ``object``, with ``properties``, no root
``anyOf``; ``null`` only inside a union; nesting at most 5 levels of objects and arrays (the
root object is level 1); at most 100 properties in all; at most 25,000 characters of names and
string values; at most 500 enum values in all, and at most 7,500 characters in an enum of more
than 250 values; no unsupported keyword (:data:`UNSUPPORTED_KEYWORDS`). Warnings, for the root
object only (the docs ask it of every object; nested ones are not flagged here): a property not
listed in ``required``; no ``additionalProperties: false``; a field named like what basis
already provides (``citations``, ``reasoning``, ...). A ``$ref`` that points
nowhere or back into itself is an error (a recursive schema has no bounded depth).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ._json import is_array, is_object
from ._limits import LimitViolation

if TYPE_CHECKING:
    from ._spec import TaskSpec

MAX_SCHEMA_DEPTH = 5
"""Levels of objects and arrays, the root object being level 1."""
MAX_SCHEMA_PROPERTIES = 100
"""Properties across all levels."""
MAX_SCHEMA_STRING_CHARS = 25_000
"""Property names and string values together."""
MAX_SCHEMA_ENUM_VALUES = 500
"""Enum values across all properties."""
LARGE_ENUM_VALUES = 250
LARGE_ENUM_MAX_CHARS = 7_500
"""An enum of more than LARGE_ENUM_VALUES values may hold at most this many characters."""

UNSUPPORTED_KEYWORDS: frozenset[str] = frozenset(
    {
        "contains",
        "format",
        "maxContains",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minContains",
        "minItems",
        "minLength",
        "minimum",
        "minProperties",
        "multipleOf",
        "pattern",
        "patternProperties",
        "propertyNames",
        "uniqueItems",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
BASIS_FIELD_NAMES: frozenset[str] = frozenset(
    {"citations", "confidence", "evidence", "reasoning", "source", "sources", "source_urls"}
)
"""Field names that duplicate what every result's basis already provides (a warning)."""

MAX_VISITS = 20_000
"""Schemas visited (with every $ref expanded) before the check gives up with an error."""
MAX_PATH = 64
"""Path length at which the check gives up (unions may nest without adding levels)."""

Severity = Literal["error", "warning"]
_UNIONS = ("anyOf", "oneOf", "allOf")


@dataclass(frozen=True, slots=True)
class SchemaProblem:
    """One broken rule: where inside the schema, what, how bad, and which rule."""

    path: tuple[str | int, ...]
    message: str
    severity: Severity
    rule: str
    """A short name: root_type, root_properties, root_any_of, standalone_null, nesting_depth,
    too_many_properties, too_many_characters, too_many_enum_values, large_enum_too_long,
    unsupported_keyword, bad_ref, not_a_schema, too_complex, not_required, additional_properties,
    basis_field."""

    @property
    def field(self) -> str:
        """The path as dots, e.g. ``properties.items.items``; ``(root)`` for the root."""
        return ".".join(str(p) for p in self.path) or "(root)"


def schema_problems(schema: Any) -> list[SchemaProblem]:
    """Every documented rule ``schema`` (a ``json_schema`` value) breaks, errors first."""
    checker = _Checker(schema)
    checker.run()
    return sorted(checker.problems, key=lambda p: p.severity != "error")


def output_schema_violations(spec: TaskSpec | None, loc: tuple[str | int, ...]) -> list[LimitViolation]:
    """The errors of ``spec``'s JSON output schema as violations located under ``loc`` (the
    task spec's own location, e.g. ``("body", "inputs", 3, "task_spec")``). Text and auto
    schemas have no rules."""
    if spec is None:
        return []
    output = spec.output_schema
    if getattr(output, "type", None) != "json":
        return []
    schema: Any = getattr(output, "json_schema", None)
    base = (*loc, "output_schema", "json_schema")
    return [
        LimitViolation((*base, *p.path), f"Invalid JSON Schema: {p.message}", p.rule)
        for p in schema_problems(schema)
        if p.severity == "error"
    ]


class _Checker:
    def __init__(self, root: Any) -> None:
        self.root = root
        self.problems: list[SchemaProblem] = []
        self.properties = 0
        self.enum_values = 0
        self.visits = 0
        self._deep_reported = False
        self._big_reported = False

    def add(self, path: tuple[str | int, ...], message: str, rule: str, severity: Severity = "error") -> None:
        self.problems.append(SchemaProblem(path, message, severity, rule))

    def run(self) -> None:
        root = self.root
        if not is_object(root):
            self.add((), "the schema must be a JSON object whose type is 'object'", "not_a_schema")
            return
        node = root
        if node.get("type") != "object":
            self.add(
                ("type",),
                "the root type must be 'object' (put a list or a value inside a property)",
                "root_type",
            )
        if not isinstance(node.get("properties"), dict):
            self.add(("properties",), "the root object must have 'properties'", "root_properties")
        if "anyOf" in node:
            self.add(
                ("anyOf",), "the root cannot use anyOf; combine the properties into one object", "root_any_of"
            )
        self.walk(node, (), 0, in_union=False, refs=())
        if self.properties > MAX_SCHEMA_PROPERTIES:
            self.add(
                (),
                f"{self.properties} properties in all; at most {MAX_SCHEMA_PROPERTIES} are allowed",
                "too_many_properties",
            )
        chars = _string_chars(node)
        if chars > MAX_SCHEMA_STRING_CHARS:
            self.add(
                (),
                f"{chars} characters of names and string values; at most {MAX_SCHEMA_STRING_CHARS} are allowed",
                "too_many_characters",
            )
        if self.enum_values > MAX_SCHEMA_ENUM_VALUES:
            self.add(
                (),
                f"{self.enum_values} enum values in all; at most {MAX_SCHEMA_ENUM_VALUES} are allowed",
                "too_many_enum_values",
            )

    def resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            return None
        target: Any = self.root
        for raw in ref[1:].split("/")[1:] if ref != "#" else []:
            part = raw.replace("~1", "/").replace("~0", "~")
            if not is_object(target) or part not in target:
                return None
            target = target[part]
        return target

    def walk(
        self, schema: Any, path: tuple[str | int, ...], depth: int, *, in_union: bool, refs: tuple[str, ...]
    ) -> None:
        if isinstance(schema, bool):
            return
        self.visits += 1
        if self.visits > MAX_VISITS or len(path) > MAX_PATH:
            if not self._big_reported:
                self._big_reported = True
                self.add(
                    path[:MAX_PATH], "the schema is too large or too deeply nested to check", "too_complex"
                )
            return
        if not is_object(schema):
            self.add(path, "must be a schema object", "not_a_schema")
            return
        node = schema
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in refs:
                self.add(
                    (*path, "$ref"),
                    f"'{ref[:80]}' refers back to itself; recursive schemas are not supported",
                    "bad_ref",
                )
                return
            target = self.resolve(ref)
            if not isinstance(target, dict):
                self.add((*path, "$ref"), f"'{ref[:80]}' points to no schema in this document", "bad_ref")
                return
            self.walk(target, path, depth, in_union=in_union, refs=(*refs, ref))
        for key in node:
            if key in UNSUPPORTED_KEYWORDS:
                self.add(
                    (*path, key),
                    f"the keyword '{key}' is not supported; say it in the description instead",
                    "unsupported_keyword",
                )
        kind = node.get("type")
        kinds = kind if is_array(kind) else [kind]
        if kinds == ["null"] and not in_union:
            self.add(
                (*path, "type"),
                '\'null\' is allowed only in a union, e.g. ["string", "null"]',
                "standalone_null",
            )
        container = bool({"object", "array"} & {k for k in kinds if isinstance(k, str)}) or (
            "properties" in node or "items" in node
        )
        level = depth + 1 if container else depth
        if level > MAX_SCHEMA_DEPTH:
            if not self._deep_reported:
                self._deep_reported = True
                self.add(
                    path,
                    f"nested {level} levels deep; at most {MAX_SCHEMA_DEPTH} levels of objects and arrays are allowed",
                    "nesting_depth",
                )
            return
        values = node.get("enum")
        if is_array(values):
            self.enum_values += len(values)
            if len(values) > LARGE_ENUM_VALUES:
                chars = sum(len(v) for v in values if isinstance(v, str))
                if chars > LARGE_ENUM_MAX_CHARS:
                    self.add(
                        (*path, "enum"),
                        f"an enum of {len(values)} values holds {chars} characters; at most {LARGE_ENUM_MAX_CHARS} are allowed above {LARGE_ENUM_VALUES} values",
                        "large_enum_too_long",
                    )
        props = node.get("properties")
        if is_object(props):
            self.properties += len(props)
            if not path:
                self.object_warnings(node, props)
            for name, sub in props.items():
                self.walk(sub, (*path, "properties", name), level, in_union=False, refs=refs)
        items: Any = node.get("items")
        if items is not None:
            self.walk(items, (*path, "items"), level, in_union=False, refs=refs)
        extra = node.get("additionalProperties")
        if is_object(extra):
            self.walk(extra, (*path, "additionalProperties"), level, in_union=False, refs=refs)
        for key in _UNIONS:
            options = node.get(key)
            if is_array(options):
                for i, sub in enumerate(options):
                    self.walk(sub, (*path, key, i), depth, in_union=True, refs=refs)

    def object_warnings(self, node: dict[str, Any], props: dict[str, Any]) -> None:
        required_any = node.get("required")
        required = {str(r) for r in required_any} if is_array(required_any) else set[str]()
        missing = [name for name in props if name not in required]
        if missing:
            self.add(
                ("required",),
                f"Output schema fields {', '.join(sorted(missing))} are not listed as required; "
                "all fields should be required (use a union with null for an optional value).",
                "not_required",
                "warning",
            )
        if node.get("additionalProperties") is not False:
            self.add(
                ("additionalProperties",),
                "Output schema should set additionalProperties to false.",
                "additional_properties",
                "warning",
            )
        reserved = sorted(name for name in props if name.lower() in BASIS_FIELD_NAMES)
        if reserved:
            self.add(
                ("properties",),
                f"Output schema fields {', '.join(reserved)} duplicate what basis already provides "
                "(citations, reasoning, confidence); remove them.",
                "basis_field",
                "warning",
            )


def _string_chars(value: Any) -> int:
    """Characters of every object key and string value (what the docs count as names and values)."""
    total = 0
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif is_object(item):
            for key, sub in item.items():
                total += len(key)
                stack.append(sub)
        elif is_array(item):
            stack.extend(item)
    return total
