"""Binding a listening address before serving: port 0 asks the system for a free port, and the
bound port is known before anything starts (no pick-a-port-then-bind race)."""

from __future__ import annotations

import socket


class ListenError(OSError):
    """The address cannot be bound (in use, not ours, no permission); the message says which."""


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (``port`` 0: a free one; read it with ``bound_port``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when proto is TCP;
    # with proto 0 every response written in two parts waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = (exc.strerror or str(exc)).lower()
        raise ListenError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def bound_port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])
