"""Tool results: compact JSON text plus the same object as structured content, every string
sanitized, known secrets redacted, and the whole result within a token budget that holds in any
client (``_budget``). Error messages get the same treatment (:func:`shown_error`)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
from mcp.types import CallToolResult, ContentBlock, TextContent
from pydantic import BaseModel

from ._budget import cut_text, json_text, result_tokens
from ._sanitize import SECRETS, sanitize, strip_invisible
from ._shaping import shrink

T = TypeVar("T")
Progress = Callable[[float, float | None, str | None], Awaitable[None]]
"""Where a long call reports progress: (done, total or None, message) -> the MCP progress notification."""

ANSWER_MAX_TOKENS = 8_000
"""The budget of a result that has no budget argument of its own (status, wait, add_runs, ...)."""
ERROR_MAX_TOKENS = 2_000
"""The budget of an error result (upstream messages may quote anything)."""


def payload(model: BaseModel) -> dict[str, Any]:
    """The structured form of a result: JSON mode, nulls dropped, every string sanitized, known
    secrets redacted, and the data first (``next_step`` and ``notice`` last, where a reader
    looks for what to do next)."""
    data: dict[str, Any] = SECRETS.redact(sanitize(model.model_dump(mode="json", exclude_none=True)))
    for key in ("next_step", "notice"):
        if key in data:
            data[key] = data.pop(key)
    return data


def answer(
    model: BaseModel, extra: Sequence[ContentBlock] = (), *, max_tokens: int = ANSWER_MAX_TOKENS
) -> CallToolResult:
    """A result whose text is compact JSON plus ``extra``, costing at most ``max_tokens`` in any
    client (:func:`_budget.result_tokens`). Shaped results (pages, runs) fit their budget
    themselves; for anything else the longest strings and lists are cut here, keeping types."""
    data = payload(model)
    if result_tokens(data, extra) > max_tokens:  # most answers fit as they are
        data = shrink(data, lambda d: result_tokens(d, extra) <= max_tokens)
    content: list[ContentBlock] = [TextContent(type="text", text=json_text(data)), *extra]
    return CallToolResult(content=content, structured_content=data)


def shown_error(message: str, max_tokens: int = ERROR_MAX_TOKENS) -> str:
    """The whole text of an error result as a model may see it: sanitized, redacted, and cut to
    cost at most ``max_tokens`` in any client. Every tool error passes through here (``_server``)."""
    text = SECRETS.redact_pieces(SECRETS.redact_text(strip_invisible(message)))
    return cut_text(text, max_tokens)


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
