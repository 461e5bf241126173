"""Answer malformed stdio frames with JSON-RPC errors instead of dropping them.

The SDK's stdio transport turns a line it cannot read into an exception on the read stream, and
the server drops it (logged at DEBUG): a client that sent it waits forever. JSON-RPC 2.0 asks for
an answer: -32700 for text that is not JSON, -32600 for JSON that is not a valid request, -32602
for a request whose params are malformed. Each carries the request's id whenever it can be read,
even from a frame the parser gave up on (nested too deeply, cut short; see ``_rpc_frames``), so
the client is not left waiting. The answers never quote the frame.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from mcp.shared.message import SessionMessage
from mcp.types import ErrorData, JSONRPCError
from pydantic import ValidationError

from taskgroup_mcp.wire import is_object

from ._rpc_frames import INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR, SAFE_MESSAGES, request_id
from ._sdk import ReadStream, WriteStream

__all__ = ["AnswerMalformed", "error_for"]


def _error(rid: Any, code: int) -> JSONRPCError:
    return JSONRPCError(jsonrpc="2.0", id=rid, error=ErrorData(code=code, message=SAFE_MESSAGES[code]))


def error_for(exc: Exception) -> JSONRPCError:
    """The JSON-RPC error answering the frame that raised ``exc`` when it was read."""
    errors = exc.errors(include_url=False, include_context=False) if isinstance(exc, ValidationError) else []
    if not errors:
        return _error(None, PARSE_ERROR)
    for e in errors:
        if e["type"] == "json_invalid":  # its input is the raw line: read the id without parsing
            raw: Any = e.get("input")
            return _error(request_id(raw) if isinstance(raw, str | bytes) else None, PARSE_ERROR)
    fallback_id: Any = None
    for e in errors:  # a missing-field error carries the whole object: the request's id and method
        frame: Any = e.get("input")
        if is_object(frame) and frame.get("jsonrpc") == "2.0" and isinstance(frame.get("method"), str):
            rid = frame.get("id")
            if not isinstance(rid, int | str) or isinstance(rid, bool):
                continue
            fallback_id = rid
            if any(e2["loc"][-1:] == ("params",) for e2 in errors):
                return _error(rid, INVALID_PARAMS)
    return _error(fallback_id, INVALID_REQUEST)


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
