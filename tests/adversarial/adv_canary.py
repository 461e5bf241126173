"""Secret canaries: how to look for any 8-character piece of a secret, however it was encoded,
and an upstream that tries hard to make the server leak (it echoes what it was sent)."""

from __future__ import annotations

import base64
import json
import logging
import socket
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PIECE = 8
LOGGERS = (
    "",
    "taskgroup_mcp",
    "mcp",
    "httpx2",
    "httpx",
    "httpcore",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
)


def _b64_cores(secret: bytes) -> list[str]:
    """The base64 of ``secret`` at the 3 byte alignments, minus the characters its neighbours decide."""
    cores: list[str] = []
    for shift in range(3):
        encoded = base64.b64encode(b"\x00" * shift + secret).decode()
        start = 4 if shift else 0
        cores.append(encoded[start:-4])
    return cores


def canary_forms(canary: str) -> set[str]:
    """Every 8-character piece of ``canary``, raw and JSON-, URL-, hex- and base64-encoded."""
    forms: set[str] = set()
    for i in range(len(canary) - PIECE + 1):
        piece = canary[i : i + PIECE]
        forms |= {
            piece,
            json.dumps(piece)[1:-1],
            urllib.parse.quote(piece, safe=""),
            urllib.parse.quote_plus(piece),
            piece.encode().hex(),
            piece.encode().hex().upper(),
        }
    for core in _b64_cores(canary.encode()):
        forms |= {core[i : i + PIECE] for i in range(len(core) - PIECE + 1)}
        urlsafe = core.replace("+", "-").replace("/", "_")
        forms |= {urlsafe[i : i + PIECE] for i in range(len(urlsafe) - PIECE + 1)}
    return forms


class CanaryScan:
    """Finds any form of any canary in the texts it is given."""

    def __init__(self, *canaries: str) -> None:
        self.forms = {form: canary for canary in canaries for form in canary_forms(canary)}

    def leaks(self, where: str, text: str | bytes) -> list[str]:
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        found: list[str] = []
        for form, canary in self.forms.items():
            at = text.find(form)
            if at >= 0:
                found.append(
                    f"{where}: {form!r} (of {canary[:6]}...) in ...{text[max(0, at - 80) : at + 40]!r}"
                )
        return found


class Captured(logging.Handler):
    """Every record of every logger, formatted as a handler would (tracebacks included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def all_loggers_at_debug() -> Iterator[Captured]:
    handler = Captured()
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    root.addHandler(handler)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


class EchoingUpstream:
    """ASGI middleware in front of the sandbox that records every request and, on a fixed
    schedule, answers with errors that echo what it was sent: a 422 whose detail quotes the
    request body (whole and cut short), a 500 and a 400 that quote the request's headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.posts = 0
        self.gets = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        body = bytearray()
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path = f"{scope['method']} {scope['path']}?{scope.get('query_string', b'').decode()}"
        self.requests.append((path, headers, bytes(body)))
        echo = self._echo(scope, headers, bytes(body))
        if echo is not None:
            status, payload = echo
            data = json.dumps(payload).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"x-echo-key", headers.get("x-api-key", "").encode("latin-1")),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": data})
            return
        replay = iter(messages)

        async def replayed() -> Message:
            try:
                return next(replay)
            except StopIteration:
                return await receive()

        await self.app(scope, replayed, send)

    def _echo(self, scope: Scope, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]] | None:
        text = body.decode("utf-8", errors="replace")
        key = headers.get("x-api-key", "")
        if scope["method"] == "POST" and str(scope["path"]).endswith("/runs"):
            self.posts += 1
            if self.posts % 3 == 1:
                return 422, {
                    "error": {
                        "message": f"Invalid request body: {text}",
                        "detail": [
                            {
                                "loc": ["body", "inputs", 0, "mcp_servers"],
                                "msg": f"bad value {text[-300:]}",
                                "input": text,
                            },
                            {
                                "loc": ["header", "x-api-key"],
                                "msg": f"key {key[:14]} is odd",
                                "type": "value_error",
                            },
                        ],
                    }
                }
        elif scope["method"] == "GET":
            self.gets += 1
            if self.gets % 5 == 2:
                return 500, {"error": {"message": f"upstream crashed handling key={key}", "detail": headers}}
            if self.gets % 7 == 3:
                return 400, {"error": {"message": f"bad request from {key[3:17]}: {text}"}}
        return None


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@asynccontextmanager
async def serving(app: ASGIApp, config: uvicorn.Config | None = None) -> AsyncIterator[str]:
    """``app`` under uvicorn on 127.0.0.1 (port 0) in this event loop; yields its base URL.
    ``config``: the product's own uvicorn settings (its host and port are ignored)."""
    sock = bound_socket()
    port = sock.getsockname()[1]
    config = config or uvicorn.Config(app, log_config=None, access_log=True, lifespan="on", log_level="debug")
    server = uvicorn.Server(config)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            try:  # the socket listens already: connections queue until uvicorn accepts them
                yield f"http://127.0.0.1:{port}"
            finally:
                server.should_exit = True
    finally:
        sock.close()
