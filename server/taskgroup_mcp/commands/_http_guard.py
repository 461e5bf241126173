"""ASGI middleware in front of ``/mcp``: request ids and access log, then cheap header-only refusals.

``RequestLogMiddleware`` wraps the whole app: it gives every request an id (echoed as
``X-Request-Id``), puts it in the logging context, and writes one access line (method, path
without query string, status, duration). It never logs a header or a body.

``McpGuard`` wraps the MCP endpoint, before authentication, so that nothing expensive happens
for a request that is refused anyway:
  1. a declared ``Content-Length`` above the limit -> 413, body never read (a chunked body is
     counted by the SDK's own limit, set to the same value);
  2. ``Host`` / ``Origin`` outside the allowlists -> 421 / 403 (the SDK's checks, run early);
  3. ``X-Parallel-Api-Key`` is removed unless per-request keys are enabled, so no tool can
     pick up a key the operator did not opt into.

``CallerKeyRequired`` wraps the MCP endpoint after authentication when per-request keys are on
(and the operator did not opt into the fallback): a POST without ``X-Parallel-Api-Key`` gets 401
with a sentence saying what to send, so no call is ever billed to the operator's key by omission.
"""

from __future__ import annotations

import logging
import time

from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskgroup_mcp.commands._http_logs import escape_text, new_request_id, request_id_var

__all__ = ["API_KEY_HEADER", "MISSING_KEY_MESSAGE", "CallerKeyRequired", "McpGuard", "RequestLogMiddleware"]

API_KEY_HEADER = "x-parallel-api-key"
_API_KEY_HEADER_BYTES = API_KEY_HEADER.encode("latin-1")

MISSING_KEY_MESSAGE = (
    "This server bills each caller to its own Parallel API key, sent in the X-Parallel-Api-Key "
    "request header, and this request has none: configure your MCP client to send that header "
    "(keys at platform.parallel.ai)."
)

access_log = logging.getLogger("taskgroup_mcp.http.access")

_MAX_LOGGED_PATH = 200


def _printable(text: str) -> str:
    """A request-controlled value fit for a log line: control characters escaped, length capped."""
    clean = escape_text(text)
    return clean if len(clean) <= _MAX_LOGGED_PATH else clean[:_MAX_LOGGED_PATH] + "..."


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id(Headers(scope=scope).get("x-request-id"))
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            method = _printable(str(scope.get("method", "-")))
            path = _printable(str(scope.get("path", "-")))
            access_log.info(
                "%s %s %d %.1fms",
                method,
                path,
                status,
                duration_ms,
                extra={"method": method, "path": path, "status": status, "duration_ms": duration_ms},
            )
            request_id_var.reset(token)


class McpGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        security: TransportSecuritySettings,
        forward_api_key: bool,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.security = TransportSecurityMiddleware(security)
        self.forward_api_key = forward_api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await PlainTextResponse("Request body too large", status_code=413)(scope, receive, send)
            return
        # Content-Type is the SDK's to check; here only Host and Origin.
        refusal = await self.security.validate_request(Request(scope), is_post=False)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if scope.get("method") == "GET" and not _asks_for_sse(Headers(scope=scope).get("accept", "")):
            # The SDK counts */* (a browser, curl) as accepting SSE and opens a stream that, stateless,
            # never carries anything. The transport spec: GET must ask for text/event-stream.
            await _not_acceptable(scope, receive, send)
            return
        if not self.forward_api_key:
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != _API_KEY_HEADER_BYTES]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


def _asks_for_sse(accept: str) -> bool:
    return any(part.split(";")[0].strip().lower() == "text/event-stream" for part in accept.split(","))


async def _not_acceptable(scope: Scope, receive: Receive, send: Send) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": None,
        "error": {
            "code": -32600,
            "message": "GET /mcp opens an event stream: send Accept: text/event-stream. "
            "MCP requests are POSTed to this URL.",
        },
    }
    await JSONResponse(body, status_code=406)(scope, receive, send)


class CallerKeyRequired:
    """401 for a POST to the MCP endpoint without a non-empty ``X-Parallel-Api-Key``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST":
            key = Headers(scope=scope).get(API_KEY_HEADER, "").strip()
            if not key:
                response = JSONResponse(
                    {"error": "missing_api_key", "error_description": MISSING_KEY_MESSAGE},
                    status_code=401,
                    headers={"WWW-Authenticate": 'ParallelApiKey header="X-Parallel-Api-Key"'},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
