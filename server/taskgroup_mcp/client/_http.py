"""One request, one attempt: send, time-bound, and map every failure onto the error tree.

Nothing here retries; the callers decide (safe calls retry, run-creating calls never blindly).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, NoReturn

import anyio
import httpx2

from ._errors import APIConnectionError, APIError, APITimeoutError, error_from_response
from ._sse import EventTooLarge, SseDecoder

logger = logging.getLogger("taskgroup_mcp.client")

Redact = Callable[[str], str]


def _raise_transport(exc: Exception, method: str, path: str) -> NoReturn:
    """Map an httpx2 transport exception (never its text: it may name the URL) to ours."""
    name = type(exc).__name__
    if isinstance(exc, httpx2.ConnectTimeout | httpx2.PoolTimeout):
        raise APITimeoutError(
            f"{method} {path}: could not connect in time ({name})", sent=False, method=method, path=path
        ) from exc
    if isinstance(exc, httpx2.ConnectError):
        raise APIConnectionError(
            f"{method} {path}: could not connect ({name})", sent=False, method=method, path=path
        ) from exc
    if isinstance(exc, httpx2.TimeoutException):
        raise APITimeoutError(
            f"{method} {path}: timed out waiting for the response ({name})", method=method, path=path
        ) from exc
    raise APIConnectionError(
        f"{method} {path}: connection failed ({name})", method=method, path=path
    ) from exc


async def send(
    http: httpx2.AsyncClient,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str],
    redact: Redact,
    json: Any = None,
    content: bytes | None = None,
    params: Mapping[str, str] | None = None,
    time_limit: float,
) -> httpx2.Response:
    """Send one request and read its body within ``time_limit`` seconds in total; 4xx/5xx raise.
    The body is ``json`` (encoded here) or ``content`` (JSON bytes already encoded)."""
    started = time.perf_counter()
    try:
        with anyio.fail_after(time_limit):
            response = await http.request(
                method, path, headers=dict(headers), json=json, content=content, params=params
            )
    except TimeoutError:
        logger.debug("%s %s: no response within %.3f s", method, path, time_limit)
        raise APITimeoutError(
            f"{method} {path}: no response within {time_limit:g} s", method=method, path=path
        ) from None
    except httpx2.TransportError as exc:
        logger.debug("%s %s: %s", method, path, type(exc).__name__)
        _raise_transport(exc, method, path)
    elapsed = (time.perf_counter() - started) * 1000
    logger.debug("%s %s -> %d (%.1f ms)", method, path, response.status_code, elapsed)
    if response.status_code >= 400:
        raise error_from_response(response, redact=redact, method=method, path=path)
    return response


@asynccontextmanager
async def open_sse(
    http: httpx2.AsyncClient,
    path: str,
    *,
    headers: Mapping[str, str],
    redact: Redact,
    params: Mapping[str, str] | None,
    connect_timeout: float,
) -> AsyncGenerator[AsyncIterator[list[str]]]:
    """Open an SSE stream; yields an iterator of batches of events' ``data`` (one batch per
    network read; transport errors mapped)."""
    method = "GET"
    try:
        with anyio.fail_after(connect_timeout):
            request = http.build_request(
                method,
                path,
                headers={"accept": "text/event-stream", "cache-control": "no-store", **headers},
                params=params,
            )
            response = await http.send(request, stream=True)
    except TimeoutError:
        raise APITimeoutError(
            f"GET {path}: no response within {connect_timeout:g} s", method=method, path=path
        ) from None
    except httpx2.TransportError as exc:
        _raise_transport(exc, method, path)
    try:
        logger.debug("GET %s -> %d (stream)", path, response.status_code)
        if response.status_code >= 400:
            try:
                await response.aread()
            except httpx2.TransportError as exc:
                _raise_transport(exc, method, path)
            raise error_from_response(response, redact=redact, method=method, path=path)

        content_type = response.headers.get("content-type", "").partition(";")[0].strip()
        if content_type != "text/event-stream":
            raise APIError(f"GET {path}: not an event stream", method=method, path=path, retryable=True)

        async def events() -> AsyncIterator[list[str]]:
            decoder = SseDecoder()
            try:
                async for chunk in response.aiter_bytes():
                    if batch := decoder.feed(chunk):
                        yield batch
                if batch := decoder.end():
                    yield batch
            except EventTooLarge as exc:
                raise APIError(f"GET {path}: {exc}", method=method, path=path) from None
            except httpx2.TransportError as exc:
                _raise_transport(exc, method, path)

        yield events()
    finally:
        await response.aclose()
