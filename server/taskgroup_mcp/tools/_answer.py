"""Tool results: compact JSON text plus the same object as structured content."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
from mcp.types import CallToolResult, ContentBlock, TextContent
from pydantic import BaseModel

from ._sanitize import SECRETS
from ._shaping import json_text

T = TypeVar("T")
Progress = Callable[[float, float | None, str | None], Awaitable[None]]


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


class Heartbeat:
    """Progress for a long call: the latest value is re-sent at least every ``interval`` seconds,
    so clients that reset their timeout on progress keep waiting while nothing new happens."""

    def __init__(self, report: Progress, interval: float) -> None:
        self._report = report
        self._interval = interval
        self._latest: tuple[float, float | None, str | None] | None = None

    async def __call__(self, done: float, total: float | None, message: str | None) -> None:
        self._latest = (done, total, message)
        await self._report(done, total, message)

    @asynccontextmanager
    async def running(self) -> AsyncGenerator[Heartbeat]:
        async def beat() -> None:
            while True:
                await anyio.sleep(self._interval)
                if self._latest is not None:
                    await self._report(*self._latest)

        async with anyio.create_task_group() as tg:
            tg.start_soon(beat)
            try:
                yield self
            finally:
                tg.cancel_scope.cancel()
