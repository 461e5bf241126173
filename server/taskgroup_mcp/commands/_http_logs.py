"""Logging for the server: stderr only, text or JSON lines, a request id on every line of a request.

The request id lives in a context variable set by the HTTP middleware; a filter copies it onto each
record, so a line logged inside a tool call carries the id of the HTTP request that made it.
Loggers that may print request bodies or headers at DEBUG (``mcp``, ``httpx``, ``httpx2``,
``httpcore``, ``uvicorn``, ``parallel``) are pinned at INFO or above whatever our own level is.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["JsonFormatter", "RequestIdFilter", "configure_logging", "new_request_id", "request_id_var"]

request_id_var: ContextVar[str | None] = ContextVar("taskgroup_mcp_request_id", default=None)

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_PINNED = ("mcp", "httpx", "httpx2", "httpcore", "uvicorn", "parallel")
# Extra attributes a log call may attach (``extra={...}``) that the JSON formatter emits.
_EXTRA_FIELDS = ("method", "path", "status", "duration_ms", "client", "event")


def new_request_id(incoming: str | None = None) -> str:
    """The caller's ``X-Request-Id`` if it is short and plain, else a fresh random id."""
    if incoming and _INCOMING_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


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
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:  # already rendered (and redacted) by the tools' log-record factory
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", fmt: Literal["text", "json"] = "text") -> None:
    """Route every log line to stderr in the chosen format (replaces handlers already on the root)."""
    handler = logging.StreamHandler(sys.stderr)
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
