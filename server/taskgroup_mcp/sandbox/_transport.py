"""An httpx2 transport that reaches an ASGI app in process and streams its response body.

``httpx2.ASGITransport`` buffers the whole body before returning (an open SSE stream would never
return) and re-raises app exceptions raw. This one runs the app in a task and yields body chunks
as they are sent, honouring the request's read timeout (``httpx2.ReadTimeout``; the app carries
on, as a server would). A connection the app drops (``scope["extensions"]["sandbox.drop"]``) surfaces
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
_DISCONNECT_GRACE_SECONDS = 2.0
"""How long a hung-up response may take to notice the disconnect before it is cancelled."""


class _Dropped(Exception):
    pass


class _BodyStream(httpx2.AsyncByteStream):
    def __init__(
        self,
        queue: asyncio.Queue[Any],
        task: asyncio.Task[None],
        closed: asyncio.Event,
        request: httpx2.Request,
        read_timeout: float | None,
    ) -> None:
        self._queue = queue
        self._task = task
        self._closed = closed
        self._request = request
        self._read_timeout = read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            try:
                item = await asyncio.wait_for(self._queue.get(), self._read_timeout)
            except TimeoutError:
                self._closed.set()
                raise httpx2.ReadTimeout(
                    "timed out reading the response body", request=self._request
                ) from None
            if item is _DONE:
                return
            if isinstance(item, _Dropped):
                raise httpx2.RemoteProtocolError(
                    "peer closed connection without sending complete message body", request=self._request
                )
            if isinstance(item, BaseException):
                raise httpx2.ReadError(
                    "peer closed connection without sending complete message body", request=self._request
                )
            yield item

    async def aclose(self) -> None:
        """The client hung up: the app sees a disconnect (a stream stops), as over a socket."""
        self._closed.set()
        if not self._task.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._task), _DISCONNECT_GRACE_SECONDS)
            if not self._task.done():
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task


class StreamingASGITransport(httpx2.AsyncBaseTransport):
    """Send requests to ``app`` in this event loop, no socket; bodies stream as the app sends them."""

    def __init__(self, app: ASGIApp, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self.app = app
        self.client = client
        self._running: set[asyncio.Task[None]] = set()

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
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        read_timeout: float | None = timeouts.get("read")
        try:
            status, headers = await asyncio.wait_for(asyncio.shield(started), read_timeout)
        except _Dropped:
            await task
            raise httpx2.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None
        except TimeoutError:
            # The request was sent; like a server, the app carries on (it may commit) and then
            # sees the client gone.
            closed.set()
            raise httpx2.ReadTimeout("timed out waiting for the response", request=request) from None
        except BaseException:
            closed.set()  # the caller was cancelled after sending: the app still finishes its work
            raise
        return httpx2.Response(
            status,
            headers=headers,
            stream=_BodyStream(queue, task, closed, request, read_timeout),
            request=request,
        )
