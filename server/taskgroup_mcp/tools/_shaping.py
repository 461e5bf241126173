"""Result shaping: compact run records, projected fields, opaque cursors, a token budget.

Everything here is plain and synchronous (or takes any async iterator), so it is tested without
MCP. Budgets are upper bounds on real tokens, whatever the text (see ``_budget``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from taskgroup_mcp import wire
from taskgroup_mcp.wire import is_array, is_object

from ._arguments import ArgumentProblem
from ._budget import json_text as json_text  # re-exported: callers shape and measure alike
from ._budget import value_tokens
from ._sanitize import sanitize, strip_invisible

BasisMode = Literal["none", "low_confidence", "all"]
CHARS_PER_TOKEN = 4
KEY_MAX_CHARS = 80


def estimate_tokens(value: Any) -> int:
    """A typical-text estimate of a value's tokens: compact JSON characters / 4, rounded up.

    Not a bound (CJK or emoji cost far more per character): budgets use ``_budget``."""
    return math.ceil(len(json_text(value)) / CHARS_PER_TOKEN)


# --- cursors -------------------------------------------------------------------------------


_NOT_OURS = "is not a cursor this server issued; pass next_cursor unchanged"


def _tag(text: str | None, n: int) -> str:
    return hashlib.sha256((text or "").encode()).hexdigest()[:n]


def encode_cursor(group_id: str, event_id: str, status: str | None) -> str:
    """A short opaque cursor: the stream position, tagged with its group and status filter (a
    cursor's every character is paid for twice on every page, in the token budget)."""
    position = base64.urlsafe_b64encode(event_id.encode()).decode().rstrip("=")
    return f"{position}.{_tag(group_id, 6)}{_tag(status, 2)}"


def decode_cursor(cursor: str, group_id: str, status: str | None) -> str:
    """The stream position in ``cursor``; an argument error if it is not one of ours for this query."""
    position, dot, tag = cursor.rpartition(".")
    if not dot or len(tag) != 8 or not position:
        raise ArgumentProblem([("cursor", _NOT_OURS)])
    try:
        event_id = base64.urlsafe_b64decode((position + "=" * (-len(position) % 4)).encode()).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ArgumentProblem([("cursor", _NOT_OURS)]) from None
    if tag[:6] != _tag(group_id, 6):
        raise ArgumentProblem([("cursor", "belongs to another task group")])
    if tag[6:] != _tag(status, 2):
        raise ArgumentProblem([("cursor", "was issued for a different status filter; keep the same status")])
    return event_id


# --- one run ---------------------------------------------------------------------------------


def input_key(value: Any) -> str:
    """A short label for an input: its text, or its first values joined, at most 80 characters."""
    if is_object(value):
        parts = [v if isinstance(v, str) else json_text(v) for v in value.values()]
        text = " | ".join(parts[:3])
    elif isinstance(value, str):
        text = value
    else:
        text = json_text(value)
    text = strip_invisible(" ".join(text.split()))
    return text if len(text) <= KEY_MAX_CHARS else text[: KEY_MAX_CHARS - 1] + "…"


def user_metadata(metadata: dict[str, Any] | None, reserved_key: str) -> dict[str, Any] | None:
    """A run's metadata without the server's reserved client-id key."""
    if not metadata:
        return None
    kept = {k: v for k, v in metadata.items() if k != reserved_key}
    return kept or None


def shape_basis(basis: Sequence[wire.FieldBasis], mode: BasisMode) -> list[dict[str, Any]] | None:
    if mode == "none":
        return None
    chosen = [b for b in basis if mode == "all" or (b.confidence or "").lower() == "low"]
    if not chosen:
        return None
    shaped = [
        {
            "field": b.field,
            "confidence": b.confidence,
            "reasoning": b.reasoning,
            "citations": [c.url for c in b.citations],
        }
        for b in chosen
    ]
    return sanitize(shaped)  # reasoning quotes web pages and tool answers: third-party text


def shape_output(output: wire.TaskRunOutput | None, fields: Sequence[str] | None) -> Any:
    if output is None:
        return None
    if isinstance(output, wire.TaskRunJsonOutput):
        content = output.content
        if fields:
            content = {k: content[k] for k in fields if k in content}
        return sanitize(content)
    return strip_invisible(output.content)


def shape_run(
    event: wire.TaskRunEvent,
    *,
    fields: Sequence[str] | None = None,
    include_basis: BasisMode = "none",
    include_input: bool = False,
    reserved_key: str = "",
) -> dict[str, Any]:
    """One run as a compact record keyed by its input. Forwarded MCP headers never appear."""
    run = event.run
    item: dict[str, Any] = {}
    if event.input is not None:
        item["key"] = input_key(event.input.input)
    item["run_id"] = run.run_id
    item["status"] = run.status
    out = shape_output(event.output, fields)
    if out is not None:
        item["output"] = out
    if event.output is not None:
        basis = shape_basis(event.output.basis, include_basis)
        if basis:
            item["basis"] = sanitize(basis)
    if run.error is not None:
        item["error"] = strip_invisible(run.error.message)
    meta = user_metadata(run.metadata, reserved_key)
    if meta:
        item["metadata"] = sanitize(meta)
    if include_input and event.input is not None:
        item["input"] = sanitize(event.input.input)
    return item


# --- fitting to a budget -------------------------------------------------------------------


def _strings_longest(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if is_object(value):
        return max((_strings_longest(v) for k, v in value.items() if k not in _UNCUT_KEYS), default=0)
    if is_array(value):
        return max((_strings_longest(v) for v in value), default=0)
    return 0


_UNCUT_KEYS = frozenset({"next_cursor", "task_group_id", "run_id", "uri", "path"})
"""Values that are useless cut (ids, cursors, links): shortening never touches them."""


def _cut_strings(value: Any, cap: int) -> Any:
    if isinstance(value, str):
        if len(value) <= cap:
            return value
        return value[:cap] + f"… [cut {len(value) - cap} chars]"
    if is_object(value):
        return {k: v if k in _UNCUT_KEYS else _cut_strings(v, cap) for k, v in value.items()}
    if is_array(value):
        return [_cut_strings(v, cap) for v in value]
    return value


def _cut_lists(value: Any, cap: int) -> Any:
    if is_object(value):
        return {k: _cut_lists(v, cap) for k, v in value.items()}
    if is_array(value):
        kept = [_cut_lists(v, cap) for v in value[:cap]]
        if len(value) > cap:
            kept.append(f"… [{len(value) - cap} more items cut]")
        return kept
    return value


def fit(item: dict[str, Any], budget: int) -> tuple[dict[str, Any], bool]:
    """``item`` cut to cost at most ``budget`` tokens (:func:`_budget.value_tokens`): long strings
    first, then long lists, then the bulky fields replaced by a note. Returns (item, whether
    anything was cut)."""
    if value_tokens(item) <= budget:
        return item, False
    current = item
    cap = _strings_longest(current)
    while cap > 16 and value_tokens(current) > budget:
        cap //= 2
        current = _cut_strings(item, cap)
    list_cap = 8
    while list_cap >= 1 and value_tokens(current) > budget:
        current = _cut_lists(current, list_cap)
        list_cap //= 2
    if value_tokens(current) > budget:
        current = {k: _cut_strings(v, 80) for k, v in current.items() if k in ("key", "run_id", "status")}
        current["note"] = "too large for this page's budget; read it with get_task_run or export the group"
        if value_tokens(current) > budget:
            current = {"run_id": item.get("run_id"), "note": "too large for this budget"}
    return current, True


def shrink(value: Any, fits: Callable[[Any], bool]) -> Any:
    """``value`` with its longest strings cut, then its lists shortened to two items, until
    ``fits`` says so (or nothing is left to cut). Types are kept: a string stays a string, a list
    a list of the same items (pairs stay pairs), so a result still matches its schema."""
    if fits(value):
        return value
    current = value
    cap = _strings_longest(value)
    while cap > 8 and not fits(current):
        cap //= 2
        current = _cut_strings(value, cap)
    list_cap = 8
    while list_cap >= 2 and not fits(current):
        current = _shorten_lists(current, list_cap)
        list_cap //= 2
    return current


def _shorten_lists(value: Any, cap: int) -> Any:
    if is_object(value):
        return {k: _shorten_lists(v, cap) for k, v in value.items()}
    if is_array(value):
        return [_shorten_lists(v, cap) for v in value[:cap]]
    return value


@dataclass
class Page:
    items: list[dict[str, Any]] = field(default_factory=lambda: [])
    event_ids: list[str | None] = field(default_factory=lambda: [])
    exhausted: bool = False
    cut: int = 0


async def read_page(
    events: AsyncIterator[wire.TaskRunEvent],
    *,
    shape: Callable[[wire.TaskRunEvent], dict[str, Any]],
    limit: int,
    budget_tokens: int,
) -> Page:
    """Take runs from ``events`` until ``limit`` items or ``budget_tokens`` (the items' share of
    a result, :func:`_budget.value_tokens`, list separators included).

    The run that does not fit is left for the next page (its cursor is the last included one),
    except when it is the first: then it is cut to fit, so every page makes progress.
    """
    page = Page()
    used = value_tokens([])  # the list's brackets, in both renderings
    iterator = aiter(events)
    while True:
        try:
            event = await anext(iterator)
        except StopAsyncIteration:
            page.exhausted = True
            return page
        if len(page.items) >= limit:
            return page  # one more exists: the page is full and not the last
        item = shape(event)
        size = value_tokens(item) + _SEPARATOR_TOKENS
        if used + size > budget_tokens:
            if page.items:
                return page
            item, _ = fit(item, budget_tokens - used - _SEPARATOR_TOKENS)
            page.cut += 1
            size = value_tokens(item) + _SEPARATOR_TOKENS
        page.items.append(item)
        page.event_ids.append(event.event_id)
        used += size


_SEPARATOR_TOKENS = 3
"""Between two list items: ", " in the structured rendering, "," in the text block."""
