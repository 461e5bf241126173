"""The one place we reach into the MCP SDK's internals (mcp 2.3), each reach naming its gap.

1. ``MCPServer`` has no public way to serve a pair of streams of our choosing. Its
   ``run_stdio_async()`` opens ``stdio_server()`` and hands the streams to the low-level server,
   whose read stream carries a frame it cannot parse as an exception that the server drops (the
   client waits forever). To answer such frames (``_stdio_errors.AnswerMalformed``) we do what
   ``run_stdio_async()`` does, with the read stream wrapped: :func:`serve_streams`.
2. The stream protocols ``ReadStream`` and ``WriteStream`` are defined only in the private
   ``mcp.shared._stream_protocols``.

``tests/deploy/test_sdk_adapter.py`` fails, naming this module, when an SDK release changes either.
Everything else of ours uses the SDK's public API.
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage

__all__ = ["ReadStream", "WriteStream", "serve_streams"]


async def serve_streams(
    server: MCPServer[Any],
    read_stream: ReadStream[SessionMessage | Exception],
    write_stream: WriteStream[SessionMessage],
) -> None:
    """Serve one MCP connection over the given streams, as ``MCPServer.run_stdio_async()`` does."""
    lowlevel = server._lowlevel_server  # pyright: ignore[reportPrivateUsage]
    await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
