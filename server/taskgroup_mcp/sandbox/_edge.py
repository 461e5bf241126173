"""The outermost HTTP layer: one log line and one stats entry per request, and dropped connections.

``drop_after_commit`` must look to the client exactly like a cut connection: under uvicorn the
socket is closed before any response byte; in process the transport provides its own drop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import anyio
from starlette.applications import Starlette
from starlette.responses import Response

if TYPE_CHECKING:
    from ._sandbox import Sandbox

log = logging.getLogger("taskgroup_mcp.sandbox")


class StreamCut(Exception):
    """Raised inside a streaming body: the edge cuts the connection mid-body (the ``stream_cut`` fault)."""


class DropResponse(Response):
    """Drop the connection with no response (the request was committed)."""

    def __init__(self) -> None:
        super().__init__(status_code=599)

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        scope["sandbox.status"] = "dropped"
        await scope["extensions"]["sandbox.drop"]()


class EdgeMiddleware:
    """Outermost ASGI layer: one log line and one stats entry per request, and a real drop.

    Under uvicorn a drop closes the socket before any response byte (what a crashed server or a
    cut connection looks like to the client); in process the transport provides its own drop.
    """

    def __init__(self, app: Starlette, sandbox: Sandbox) -> None:
        self.app = app
        self.sb = sandbox

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extensions = scope.setdefault("extensions", {})
        if "sandbox.drop" not in extensions:
            extensions["sandbox.drop"] = _socket_drop(send, receive)
        started = time.perf_counter()
        status: list[int] = []
        recorded = False

        def record() -> None:
            nonlocal recorded
            recorded = True
            endpoint = str(scope.get("sandbox.endpoint", "other"))
            outcome = str(scope.get("sandbox.status", status[0] if status else "aborted"))
            self.sb.stats.request(endpoint, outcome)
            log.info(
                "%s %s %s %.1fms",
                scope.get("method", "?"),
                scope.get("path", "?"),
                outcome,
                (time.perf_counter() - started) * 1000,
            )

        async def send_wrapper(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            elif (
                message["type"] == "http.response.body"
                and not message.get("more_body", False)
                and not recorded
            ):
                record()  # before the last byte leaves: whoever got the response can already see the line
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except StreamCut:
            scope["sandbox.status"] = "cut"
            await extensions["sandbox.drop"]()  # the body stops here, as when a connection breaks
        finally:
            if not recorded:
                record()


def _socket_drop(send: Any, receive: Any) -> Callable[[], Awaitable[None]]:
    async def drop() -> None:
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is not None and hasattr(transport, "close"):
            transport.close()
            with anyio.move_on_after(5):
                while (await receive())["type"] != "http.disconnect":
                    pass
            return
        # Not uvicorn's h11 cycle: promise a body and never send it; the server cuts the connection.
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]})

    return drop
