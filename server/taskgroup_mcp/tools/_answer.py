"""Tool results: compact JSON text plus the same object as structured content."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
from mcp.types import CallToolResult, ContentBlock, TextContent
from pydantic import BaseModel

from ._sanitize import SECRETS
from ._shaping import json_text

T = TypeVar("T")


def payload(model: BaseModel) -> dict[str, Any]:
    """The structured form of a result: JSON mode, nulls dropped, known secrets redacted, and the
    data first (``next_step`` and ``notice`` last, where a reader looks for what to do next)."""
    data: dict[str, Any] = SECRETS.redact(model.model_dump(mode="json", exclude_none=True))
    for key in ("next_step", "notice"):
        if key in data:
            data[key] = data.pop(key)
    return data


def answer(model: BaseModel, extra: Sequence[ContentBlock] = ()) -> CallToolResult:
    """A result whose text is compact JSON (what token budgets are measured on) plus ``extra``."""
    data = payload(model)
    content: list[ContentBlock] = [TextContent(type="text", text=json_text(data)), *extra]
    return CallToolResult(content=content, structured_content=data)


@asynccontextmanager
async def closing(iterator: AsyncIterator[T]) -> AsyncGenerator[AsyncIterator[T]]:
    """Close an async iterator (a generator holding an HTTP stream) however the loop ends."""
    try:
        yield iterator
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True):
                await aclose()
