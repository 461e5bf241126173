"""An httpx2 transport that reaches an ASGI app in process and streams its response body.

``httpx2.ASGITransport`` buffers the whole body before returning (an open SSE stream would never
return) and re-raises app exceptions raw. This one runs the app in a task and yields body chunks
as they are sent. A connection the app drops (``scope["extensions"]["sandbox.drop"]``) surfaces
as :class:`httpx2.RemoteProtocolError`, exactly what a client sees when a socket closes with no
response; an app that fails after its response started surfaces as :class:`httpx2.ReadError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import httpx2

_Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[_Message]], Callable[[_Message], Awaitable[None]]],
    Awaitable[None],
]

log = logging.getLogger("taskgroup_mcp.sandbox")

_DONE = object()


class _Dropped(Exception):
    pass


class _BodyStream(httpx2.AsyncByteStream):
    def __init__(self, queue: asyncio.Queue[Any], task: asyncio.Task[None], closed: asyncio.Event) -> None:
        self._queue = queue
        self._task = task
        self._closed = closed
        self._request: httpx2.Request | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Dropped):
                raise httpx2.RemoteProtocolError(
                    "peer closed connection without sending complete message body"
                )
            if isinstance(item, BaseException):
                raise httpx2.ReadError("peer closed connection without sending complete message body")
            yield item

    async def aclose(self) -> None:
        self._closed.set()
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class StreamingASGITransport(httpx2.AsyncBaseTransport):
    """Send requests to ``app`` in this event loop, no socket; bodies stream as the app sends them."""

    def __init__(self, app: ASGIApp, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self.app = app
        self.client = client

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        queue: asyncio.Queue[Any] = asyncio.Queue()
        started: asyncio.Future[tuple[int, list[tuple[bytes, bytes]]]] = (
            asyncio.get_running_loop().create_future()
        )
        closed = asyncio.Event()
        body_sent = False
        completed = False

        async def drop() -> None:
            pass  # the app then returns without a response, which ``run`` turns into a drop

        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for (k, v) in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port),
            "client": self.client,
            "root_path": "",
            "extensions": {"sandbox.drop": drop},
        }

        async def receive() -> _Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await closed.wait()
            return {"type": "http.disconnect"}

        async def send(message: _Message) -> None:
            nonlocal completed
            if message["type"] == "http.response.start":
                if not started.done():
                    started.set_result((message["status"], list(message.get("headers", []))))
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                if chunk and request.method != "HEAD":
                    await queue.put(chunk)
                if not message.get("more_body", False):
                    completed = True
                    await queue.put(_DONE)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("sandbox app failed on %s %s", request.method, request.url.path)
                if not started.done():
                    started.set_result((500, [(b"content-type", b"text/plain")]))
                    await queue.put(b"Internal Server Error")
                    await queue.put(_DONE)
                else:
                    await queue.put(exc)
                return
            if not started.done():
                started.set_exception(_Dropped())
            elif not completed:
                await queue.put(_Dropped())

        task = asyncio.get_running_loop().create_task(run())
        try:
            status, headers = await started
        except _Dropped:
            await task
            raise httpx2.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None
        except BaseException:
            task.cancel()
            raise
        return httpx2.Response(
            status, headers=headers, stream=_BodyStream(queue, task, closed), request=request
        )
