"""Answer malformed stdio frames with JSON-RPC errors instead of dropping them.

The SDK's stdio transport turns a line it cannot read into an exception on the read stream, and
the server drops it (logged at DEBUG): a client that sent it waits forever. JSON-RPC 2.0 asks for
an answer: -32700 for text that is not JSON, -32600 for JSON that is not a valid request (id
null when it cannot be read), -32602 for a request whose params are malformed (with its id).
The answers never quote the frame.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage
from mcp.types import ErrorData, JSONRPCError
from pydantic import ValidationError

__all__ = ["AnswerMalformed", "error_for"]

PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS = -32700, -32600, -32602


def error_for(exc: Exception) -> JSONRPCError:
    """The JSON-RPC error answering the frame that raised ``exc`` when it was read."""
    errors = exc.errors(include_url=False, include_context=False) if isinstance(exc, ValidationError) else []
    if not errors or any(e["type"] == "json_invalid" for e in errors):
        return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=PARSE_ERROR, message="Parse error"))
    for e in errors:  # a missing-field error carries the whole object: the request's id and method
        frame: Any = e.get("input")
        if isinstance(frame, dict) and frame.get("jsonrpc") == "2.0" and isinstance(frame.get("method"), str):  # pyright: ignore[reportUnknownMemberType]
            rid: Any = frame.get("id")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            bad_params = any(e2["loc"][-1:] == ("params",) for e2 in errors)
            if bad_params and isinstance(rid, int | str) and not isinstance(rid, bool):
                return JSONRPCError(
                    jsonrpc="2.0", id=rid, error=ErrorData(code=INVALID_PARAMS, message="Invalid params")
                )
    return JSONRPCError(
        jsonrpc="2.0", id=None, error=ErrorData(code=INVALID_REQUEST, message="Invalid Request")
    )


class AnswerMalformed:
    """A read stream that passes messages through and answers each unreadable frame itself."""

    def __init__(
        self, inner: ReadStream[SessionMessage | Exception], write: WriteStream[SessionMessage]
    ) -> None:
        self._inner = inner
        self._write = write

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        while True:
            item = await self._inner.receive()
            if not isinstance(item, Exception):
                return item
            await self._write.send(SessionMessage(error_for(item)))

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        while True:
            item = await self._inner.__anext__()
            if not isinstance(item, Exception):
                return item
            await self._write.send(SessionMessage(error_for(item)))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool | None:
        await self.aclose()
        return None
