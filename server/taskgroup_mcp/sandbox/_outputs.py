"""Synthetic outputs: deterministic per input and seed, shaped by the run's output schema.

A JSON schema gets a value that validates against it, a text schema gets text, an auto schema
gets JSON plus ``output_schema``. Every field has a basis with citations on a reserved example
domain, and every output says plainly that it is sandbox data.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from taskgroup_mcp.wire import (
    BETA_FIELD_BASIS,
    AutoSchema,
    Citation,
    FieldBasis,
    JsonSchema,
    McpToolCall,
    TaskRunJsonOutput,
    TaskRunOutput,
    TaskRunTextOutput,
    TaskSpec,
    TextSchema,
    get_processor,
    is_array,
    is_object,
    member,
)

from ._records import RunRecord

SANDBOX_NOTE = "Sandbox data: synthetic, generated offline by taskgroup-mcp's sandbox; not real research."
CITATION_BASE = "https://example.com/sandbox"
"""Citations point at the reserved example domain (RFC 2606)."""

_WORDS = [
    "alpha",
    "bravo",
    "cedar",
    "delta",
    "ember",
    "falcon",
    "granite",
    "harbor",
    "indigo",
    "juniper",
    "kestrel",
    "lumen",
    "meridian",
    "nimbus",
    "orchid",
    "pioneer",
    "quartz",
    "river",
    "summit",
    "tundra",
    "umber",
    "vertex",
    "willow",
    "xenon",
    "yarrow",
    "zephyr",
]
_CONFIDENCE = ("high", "medium", "low")
_AUTO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "description": "A short synthetic summary"},
        "key_facts": {"type": "array", "items": {"type": "string"}},
        "profile": {
            "type": "object",
            "properties": {
                "subject": {"type": "string"},
                "category": {"type": "string"},
                "outlook": {"type": "string"},
            },
            "required": ["subject", "category", "outlook"],
            "additionalProperties": False,
        },
        "related_entities": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "relation": {"type": "string"}},
                "required": ["name", "relation"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["summary", "key_facts", "profile", "related_entities"],
    "additionalProperties": False,
}
"""What an auto schema (deep research, ``pro`` and above by default) answers: nested, like the docs' sample."""
_MAX_DEPTH = 6


class _Rand:
    """A tiny deterministic stream of numbers from a seed string (no global state)."""

    __slots__ = ("_buf", "_key", "_n", "_pos")

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._n = 0
        self._buf = b""
        self._pos = 0

    def _take(self, k: int) -> bytes:
        if self._pos + k > len(self._buf):
            self._buf = hashlib.blake2b(self._key + self._n.to_bytes(4), digest_size=64).digest()
            self._n += 1
            self._pos = 0
        out = self._buf[self._pos : self._pos + k]
        self._pos += k
        return out

    def u32(self) -> int:
        return int.from_bytes(self._take(4))

    def below(self, n: int) -> int:
        return self.u32() % n if n > 0 else 0

    def words(self, n: int) -> str:
        return " ".join([_WORDS[b % len(_WORDS)] for b in self._take(n)])


def _input_text(value: str | dict[str, Any]) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part) if is_object(node) else None
        if is_object(node):
            return node
    return schema


def value_for(schema: Any, rnd: _Rand, label: str, root: dict[str, Any], depth: int = 0) -> Any:
    """A value that validates against ``schema`` (the subset the API supports)."""
    if not is_object(schema):
        return f"{label}: {rnd.words(3)} (sandbox)"
    s = _resolve(schema, root)
    if "const" in s:
        return s["const"]
    enum = s.get("enum")
    if is_array(enum) and enum:
        return enum[rnd.below(len(enum))]
    for key in ("anyOf", "oneOf"):
        options = s.get(key)
        if is_array(options) and options:
            non_null = [o for o in options if member(o, "type") != "null"]
            choice = (non_null or options)[0]
            return value_for(choice, rnd, label, root, depth + 1)
    all_of = s.get("allOf")
    if is_array(all_of) and all_of:
        merged: dict[str, Any] = {}
        for part in all_of:
            if is_object(part):
                merged.update(_resolve(part, root))
        return value_for(merged, rnd, label, root, depth + 1)
    kind: Any = s.get("type")
    if is_array(kind):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in s else "array" if "items" in s else "string"
    if depth > _MAX_DEPTH and kind in ("object", "array"):
        return {} if kind == "object" else []
    if kind == "object":
        props = s.get("properties")
        return {
            name: value_for(sub, rnd, name, root, depth + 1)
            for name, sub in (props.items() if is_object(props) else ())
        }
    if kind == "array":
        n = 1 + rnd.below(3)
        return [value_for(s.get("items", {}), rnd, label, root, depth + 1) for _ in range(n)]
    if kind == "integer":
        return rnd.below(1000)
    if kind == "number":
        return round(rnd.below(100000) / 100, 2)
    if kind == "boolean":
        return rnd.below(2) == 1
    if kind == "null":
        return None
    return f"{label.replace('_', ' ')}: {rnd.words(3)} (sandbox)"


def _basis(field: str, rnd: _Rand, tool_note: str, confidence: str | None = None) -> FieldBasis:
    slug = rnd.u32().to_bytes(4).hex()
    return FieldBasis(
        field=field,
        reasoning=f"{SANDBOX_NOTE} The value of '{field}' was made up deterministically.{tool_note}",
        citations=[
            Citation(
                url=f"{CITATION_BASE}/{slug}",
                title=f"Sandbox source {slug} (example.com, synthetic)",
                excerpts=[f"Synthetic excerpt about {field}: {rnd.words(6)}."],
            )
        ],
        confidence=_CONFIDENCE[rnd.below(3)] if confidence is None else confidence,
    )


_SPEC_KEYS: dict[int, tuple[TaskSpec, str]] = {}


def _spec_key(spec: TaskSpec | None) -> str:
    """A stable text for a spec (cached per spec object: a batch shares one)."""
    if spec is None:
        return ""
    cached = _SPEC_KEYS.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    if len(_SPEC_KEYS) > 4096:
        _SPEC_KEYS.clear()
    key = json.dumps(spec.to_wire(), sort_keys=True, separators=(",", ":"))
    _SPEC_KEYS[id(spec)] = (spec, key)
    return key


def _basis_for(content: dict[str, Any], rnd: _Rand, tool_note: str, per_element: bool) -> list[FieldBasis]:
    """One basis per top-level field; with ``field-basis-2025-11-25`` also ``field.N`` per array element."""
    out: list[FieldBasis] = []
    for name, value in content.items():
        out.append(_basis(name, rnd, tool_note))
        if per_element and is_array(value):
            out.extend(_basis(f"{name}.{i}", rnd, tool_note) for i in range(len(value)))
    return out


def _nested_basis(content: dict[str, Any], rnd: _Rand, tool_note: str) -> list[FieldBasis]:
    """Auto mode: a basis for every field, nested ones in dot notation (``profile.subject``,
    ``key_facts.0``, ``related_entities.1.name``), as the deep-research guide shows."""
    out: list[FieldBasis] = []

    def visit(path: str, value: Any) -> None:
        out.append(_basis(path, rnd, tool_note))
        if is_object(value):
            for key, sub in value.items():
                visit(f"{path}.{key}", sub)
        elif is_array(value):
            for i, sub in enumerate(value):
                visit(f"{path}.{i}", sub)

    for name, value in content.items():
        visit(name, value)
    return out


def default_output_schema(processor: str) -> AutoSchema | TextSchema:
    """The output without a task spec: auto at ``pro`` and above, plain text below (docs:
    specify-a-task, task-deep-research; the OpenAPI says auto for all: see _divergences)."""
    proc = get_processor(processor)
    return AutoSchema() if proc is not None and proc.deep_research else TextSchema()


def build_output(run: RunRecord, seed: int) -> TaskRunOutput:
    """The output of a completed run (same input, spec, seed and tool answers: same output).

    The ``field-basis-2025-11-25`` beta on the request that created the run adds a basis per
    array element to a JSON schema's output."""
    text = _input_text(run.input.input)
    spec = run.task_spec
    schema = spec.output_schema if spec is not None else default_output_schema(run.processor)
    rnd = _Rand(f"{seed}\x00{text}\x00{_spec_key(spec)}".encode())
    calls = [McpToolCall.model_validate(c) for c in run.tool_calls] if run.tool_calls else None
    answer = next((c.content for c in calls or [] if c.content), None)
    tool_note = f" A forwarded MCP tool answered: {answer[:200]}" if answer else ""
    if isinstance(schema, str | TextSchema):
        described = schema if isinstance(schema, str) else (schema.description or "a text answer")
        text_content = (
            f"{SANDBOX_NOTE}\n\nAnswer to: {text[:200]}\nAsked for: {described[:200]}\n"
            f"Synthetic finding: {rnd.words(12)}.{tool_note}"
        )
        # Without a task spec, as in every documented plain-text sample: confidence "".
        confidence = "" if spec is None else None
        return TaskRunTextOutput(
            content=text_content,
            basis=[_basis("output", rnd, tool_note, confidence)],
            mcp_tool_calls=calls,
        )
    if isinstance(schema, JsonSchema):
        root = schema.json_schema
        content_any = value_for(root, rnd, "output", root)
        content = content_any if is_object(content_any) else {"output": content_any}
        if answer:
            _use_answer(content, root, answer)
        basis = _basis_for(content, rnd, tool_note, BETA_FIELD_BASIS in run.betas)
        return TaskRunJsonOutput(content=content, basis=basis, mcp_tool_calls=calls)
    words = text[:80]
    auto_content: dict[str, Any] = {
        "summary": f"{SANDBOX_NOTE} Findings for: {text[:200]}{tool_note}",
        "key_facts": [f"Synthetic fact: {rnd.words(5)}." for _ in range(1 + rnd.below(3))],
        "profile": {
            "subject": f"{words} (sandbox)",
            "category": f"{rnd.words(2)} (sandbox)",
            "outlook": f"{rnd.words(4)} (sandbox)",
        },
        "related_entities": [
            {"name": f"{rnd.words(2).title()} (sandbox)", "relation": rnd.words(3)}
            for _ in range(1 + rnd.below(2))
        ],
    }
    return TaskRunJsonOutput(
        content=auto_content,
        basis=_nested_basis(auto_content, rnd, tool_note),
        mcp_tool_calls=calls,
        output_schema=_AUTO_SCHEMA,
    )


def _use_answer(content: dict[str, Any], schema: dict[str, Any], answer: str) -> None:
    """Put a tool's answer into the first free-text string field (no enum/const), as a run would."""
    props = schema.get("properties")
    if not is_object(props):
        return
    for name, sub in props.items():
        if is_object(sub) and sub.get("type") == "string" and "enum" not in sub and "const" not in sub:
            content[name] = f"{answer[:500]} (via MCP tool; sandbox)"
            return
