"""Protocol errors over HTTP never quote the request, and carry its id when it can be read.

The SDK answers a POST whose JSON-RPC message fails validation with 400 and ``-32602
"Validation error: ..."``: pydantic's report, which quotes the offending values (``input_value=``),
and ``id: null``. ``SafeProtocolErrors`` wraps the MCP endpoint; for a 4xx JSON answer carrying a
JSON-RPC error it replaces a parse error's detail, or a params error that is pydantic's report, with
a fixed sentence (no value of the request, no ``data``; the SDK's own fixed sentences stay) and fills a null id from the request body when a scan can read it
(``_rpc_frames.request_id``). Every other answer passes through untouched and unbuffered.
"""

from __future__ import annotations

import json
from typing import Any, cast

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._rpc_frames import INVALID_PARAMS, PARSE_ERROR, SAFE_MESSAGES, request_id

__all__ = ["SafeProtocolErrors", "safe_error_body"]


def _quotes_the_request(code: Any, message: Any) -> bool:
    """A parse error's detail, or pydantic's report of params (which quotes ``input_value``)."""
    if code == PARSE_ERROR:
        return True
    text = message if isinstance(message, str) else ""
    return code == INVALID_PARAMS and (text.startswith("Validation error") or "input_value" in text)


def safe_error_body(body: bytes, request: bytes) -> bytes:
    """``body`` with a JSON-RPC error's message made safe and its null id filled, else as it was."""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return body
    if not isinstance(parsed, dict):
        return body
    answer = cast("dict[str, Any]", parsed)
    if not isinstance(answer.get("error"), dict):
        return body
    error = cast("dict[str, Any]", answer["error"])
    code: Any = error.get("code")
    if _quotes_the_request(code, error.get("message")):
        error["message"] = SAFE_MESSAGES[int(code)]
        error.pop("data", None)
    if answer.get("id") is None:
        answer["id"] = request_id(request)
    return json.dumps(answer, separators=(",", ":")).encode()


class SafeProtocolErrors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        request: list[bytes] = []
        held: list[Message] = []

        async def receive_and_keep() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request.append(message.get("body", b""))
            return message

        async def send_safely(message: Message) -> None:
            if message["type"] == "http.response.start":
                content_type = Headers(raw=message.get("headers", [])).get("content-type", "")
                if 400 <= int(message["status"]) < 500 and content_type.startswith("application/json"):
                    held.append(message)
                    return
                request.clear()  # not an error answer: the body is not needed while a stream runs
            elif held and message["type"] == "http.response.body":
                held.append(message)
                if message.get("more_body", False):
                    return
                body = safe_error_body(b"".join(m.get("body", b"") for m in held[1:]), b"".join(request))
                start = held[0]
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode("ascii")))
                held.clear()
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive_and_keep, send_safely)
