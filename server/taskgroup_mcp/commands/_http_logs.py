"""Logging for the server: stderr only, text or JSON lines, a request id on every line of a request.

The request id lives in a context variable set by the HTTP middleware; a filter copies it onto each
record, so a line logged inside a tool call carries the id of the HTTP request that made it.
Loggers that may print request bodies or headers at DEBUG (``mcp``, ``httpx``, ``httpx2``,
``httpcore``, ``uvicorn``, ``parallel``) are pinned at INFO or above whatever our own level is.

Two filters sit on the one stderr handler, so they cover every logger (ours, the SDK's, uvicorn's,
asyncio's):

- ``EscapeFilter``: request values reach log lines through many loggers (the SDK logs a refused
  ``Host`` or ``Origin`` verbatim); every control character of a message (ESC, CR/LF, C1, U+2028,
  bidi and other format characters) is written escaped, so no request can forge a line or send
  terminal escapes to whoever reads the log. Tracebacks keep their line breaks and lose the rest.
- ``RepeatFilter``: a flood of one line (a slow-client attack makes asyncio log an accept failure
  with a traceback per connection) is cut to a few lines per window, and the next line of that kind
  says how many were suppressed.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "EscapeFilter",
    "JsonFormatter",
    "RepeatFilter",
    "RequestIdFilter",
    "configure_logging",
    "escape_text",
    "new_request_id",
    "request_id_var",
]

request_id_var: ContextVar[str | None] = ContextVar("taskgroup_mcp_request_id", default=None)

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_PINNED = ("mcp", "httpx", "httpx2", "httpcore", "uvicorn", "parallel")
# Extra attributes a log call may attach (``extra={...}``) that the JSON formatter emits.
_EXTRA_FIELDS = ("method", "path", "status", "duration_ms", "client", "event")
_KIND_PREFIX_CHARS = 60


def new_request_id(incoming: str | None = None) -> str:
    """The caller's ``X-Request-Id`` if it is short and plain, else a fresh random id."""
    if incoming and _INCOMING_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def escape_text(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every non-printable character written as its escape (``\\x1b``, ``\\n``, ``\\u2028``)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or (keep_newlines and ch == "\n") else _escape(ch) for ch in text)


_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    """One character's escape, computed without a codec (a codec lookup opens a file, and this
    runs when descriptors have run out, to log exactly that)."""
    short = _SHORT_ESCAPES.get(ch)
    if short is not None:
        return short
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class EscapeFilter(logging.Filter):
    """Escapes control characters in the message, the known extras and the rendered traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        escaped = escape_text(message)
        if escaped != message or record.args:
            record.msg, record.args = escaped, None
        for name in _EXTRA_FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, escape_text(value))
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = escape_text(record.exc_text, keep_newlines=True)
        return True


class RepeatFilter(logging.Filter):
    """Passes at most ``burst`` records of one kind per ``window`` seconds; counts the rest.

    A record's kind is its logger, level, exception type and the start of its first line, so a
    flood whose lines differ only in a trailing detail (a socket's file descriptor) is one kind.
    The first record of a kind let through after suppression carries the count.
    """

    def __init__(
        self,
        *,
        burst: int = 5,
        window: float = 10.0,
        max_kinds: int = 1_024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self.max_kinds = max_kinds
        self.clock = clock
        self._kinds: OrderedDict[tuple[str, int, str, str], list[float]] = OrderedDict()
        """Per kind: [window start, records passed in it, records suppressed since the last pass]."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        first_line = record.getMessage().split("\n", 1)[0][:_KIND_PREFIX_CHARS]
        kind = (record.name, record.levelno, exc, first_line)
        now = self.clock()
        state = self._kinds.get(kind)
        if state is None:
            state = [now, 0.0, 0.0]
            self._kinds[kind] = state
            while len(self._kinds) > self.max_kinds:
                self._kinds.popitem(last=False)
        self._kinds.move_to_end(kind)
        if now - state[0] >= self.window:
            state[0], state[1] = now, 0.0
        if state[1] >= self.burst:
            state[2] += 1
            return False
        state[1] += 1
        if state[2]:
            record.msg = f"{record.getMessage()} [{int(state[2])} similar lines suppressed]"
            record.args = None
            state[2] = 0.0
        return True


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id`` from the current request (``-`` outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, known extras, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for name in _EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
            entry["exc"] = record.exc_text or self.formatException(record.exc_info)
        elif record.exc_text:  # already rendered (and redacted) by the tools' log-record factory
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", fmt: Literal["text", "json"] = "text") -> None:
    """Route every log line to stderr in the chosen format (replaces handlers already on the root)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RepeatFilter())
    handler.addFilter(EscapeFilter())
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.getLevelNamesMapping().get(level.upper(), logging.INFO))
    floor = max(root.level, logging.INFO)
    for name in _PINNED:
        logger = logging.getLogger(name)
        logger.setLevel(floor)
        logger.handlers.clear()
        logger.propagate = True
