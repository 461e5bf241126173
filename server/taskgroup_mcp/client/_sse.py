"""Server-sent events from bytes, fast: the ``data`` of each event, a network read at a time.

This API puts everything in each event's JSON ``data`` (cursors included), so only ``data`` lines
are read; comments, ``event``, ``id`` and ``retry`` fields are skipped. Lines may end in CRLF, LF
or CR. An event still incomplete when the stream ends is dropped, as the SSE specification says.
Splitting whole reads with ``bytes`` methods keeps a 10,000-run listing cheap to read (a
line-by-line parser costs more than the JSON of the runs).
"""

from __future__ import annotations

MAX_EVENT_BYTES = 16 * 1024 * 1024
"""An event larger than this ends the stream with an error (a bound on what one event may hold)."""


class EventTooLarge(ValueError):
    pass


class SseDecoder:
    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._buffer = bytearray()
        self._carriage_return = False
        self._max = max_event_bytes

    def feed(self, chunk: bytes) -> list[str]:
        """The data of every event completed by ``chunk``."""
        if self._carriage_return:
            chunk = b"\r" + chunk
            self._carriage_return = False
        if chunk.endswith(b"\r"):  # maybe half of a CRLF: decide with the next read
            chunk = chunk[:-1]
            self._carriage_return = True
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buffer = self._buffer
        searched = max(0, len(buffer) - 1)
        buffer += chunk
        end = buffer.rfind(b"\n\n", searched)
        if end < 0:
            if len(buffer) > self._max:
                raise EventTooLarge(f"an event is larger than {self._max:,} bytes")
            return []
        complete = bytes(buffer[:end])
        del buffer[: end + 2]
        return [data for block in complete.split(b"\n\n") if (data := _data(block)) is not None]

    def end(self) -> list[str]:
        """At the end of the stream: an event whose last line ended in a lone CR is complete."""
        if not self._carriage_return:
            return []
        self._carriage_return = False
        return self.feed(b"\n")


def _data(block: bytes) -> str | None:
    head, _, last = block.rpartition(b"\n")
    if last.startswith(b"data:") and b"data" not in head:  # the usual shape: one data line, last
        return (last[6:] if last.startswith(b"data: ") else last[5:]).decode("utf-8", "replace")
    if not block.startswith(b"data") and b"\ndata" not in block:
        return None
    parts: list[bytes] = []
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            parts.append(line[6:] if line.startswith(b"data: ") else line[5:])
        elif line == b"data":
            parts.append(b"")
    if not parts:
        return None
    return b"\n".join(parts).decode("utf-8", "replace")
