"""Connection limits for the HTTP server: slow clients cannot hold it open or starve others.

uvicorn (h11) has a keep-alive timeout between requests but none for a request's headers, and no
connection cap below the process's open-file limit: thousands of connections that never finish
their headers stay open, and once descriptors run out every new connection (an authenticated
call too) waits in the listen backlog while asyncio logs an accept failure with its traceback.

:func:`limited_h11` returns uvicorn's h11 protocol with two additions, shared by every
connection of one server:

- **header timeout**: a connection must send a request's headers within ``header_timeout``
  seconds of opening (or of its previous response), else it is closed;
- **connection cap**: when a new connection takes the server past ``max_connections``, the
  oldest connection still waiting for its headers (a slow or idle one) is closed to make room;
  only when none is waiting is the new one refused with 503. The cap stays below the open-file
  limit (:func:`default_max_connections`), so accept never fails for want of a descriptor and
  the upstream connection pool always has descriptors left.

asyncio accepts up to ``backlog`` queued connections in one go before any of them reaches the
protocol (and a closed connection frees its descriptor only on the next loop turn), so a burst
of queued connections could still exhaust descriptors past the cap: :func:`accept_backlog` keeps
that batch within a quarter of the headroom between the cap and the open-file limit.

uvicorn's own ``limit_concurrency`` is not used: it counts connections including the one asking,
so at the cap every request, even a short authenticated one, would get 503.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import OrderedDict

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["accept_backlog", "default_max_connections", "limited_h11"]

logger = logging.getLogger("taskgroup_mcp.http.limits")

MAX_DEFAULT_CONNECTIONS = 16_384
MIN_CONNECTIONS = 16
MAX_BACKLOG = 2_048
MIN_BACKLOG = 16


def _refusal() -> bytes:
    body = b"Too many connections; try again.\n"
    head = (
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nretry-after: 1\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def default_max_connections() -> int:
    """Three quarters of the soft open-file limit: the rest stays for the upstream pool and files."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return MAX_DEFAULT_CONNECTIONS
    return max(MIN_CONNECTIONS, min(MAX_DEFAULT_CONNECTIONS, soft * 3 // 4))


def accept_backlog(max_connections: int) -> int:
    """The listen backlog (and asyncio's accept batch): a quarter of the descriptors left free."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return MAX_BACKLOG
    return max(MIN_BACKLOG, min(MAX_BACKLOG, (soft - max_connections) // 4))


def limited_h11(*, max_connections: int, header_timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a header timeout and a connection cap (one state per server)."""
    waiting: OrderedDict[LimitedH11Protocol, None] = OrderedDict()
    """Connections waiting for a request's headers, oldest first: the ones closed to make room."""

    class LimitedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._await_headers()
            if len(self.connections) > max_connections:
                self._make_room()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_waiting()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # a request's headers arrived
                self._stop_waiting()

        def on_response_complete(self) -> None:
            if not self.transport.is_closing():
                self._await_headers()  # the next request (keep-alive) has the same deadline
            super().on_response_complete()

        def _await_headers(self) -> None:
            self._stop_waiting()
            waiting[self] = None
            self._header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _stop_waiting(self) -> None:
            waiting.pop(self, None)
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            self._close()

        def _close(self) -> None:
            self._stop_waiting()
            if not self.transport.is_closing():
                self.transport.close()

        def _make_room(self) -> None:
            live = sum(1 for c in self.connections if not c.transport.is_closing())
            if live <= max_connections:
                return  # room was made already; the closed ones are not gone yet
            for victim in waiting:  # oldest first
                if victim is not self:
                    logger.warning(
                        "connection limit (%d) reached: closed the oldest connection still waiting for its headers",
                        max_connections,
                    )
                    victim._close()  # pyright: ignore[reportPrivateUsage]
                    return
            logger.warning("connection limit (%d) reached: refused a new connection (503)", max_connections)
            self._stop_waiting()
            self.transport.write(_refusal())
            self.transport.close()

    return LimitedH11Protocol
