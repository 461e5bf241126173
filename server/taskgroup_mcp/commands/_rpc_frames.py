"""What can be read of a JSON-RPC frame that does not parse: its request id, found by a cheap scan.

A frame nested too deeply for the JSON parser (or cut short) is still answered with an error; the
client matches that answer to its request by id, so an answer with ``id: null`` leaves it waiting.
:func:`request_id` finds a top-level ``"id"`` without building the frame: one regular expression
walks strings and runs of brackets (a run of 100,000 ``[`` is one step), counting depth, and
stops after a fixed number of steps. Only a frame with a top-level ``"method"`` is a request,
so only then is an id returned.

Protocol errors built here never quote the frame (``SAFE_MESSAGES``): argument values may be
secrets, and the client has its own copy.
"""

from __future__ import annotations

import json
import re
from typing import Final

__all__ = ["INVALID_PARAMS", "INVALID_REQUEST", "PARSE_ERROR", "SAFE_MESSAGES", "request_id"]

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
INVALID_PARAMS: Final = -32602
SAFE_MESSAGES: Final = {
    PARSE_ERROR: "Parse error",
    INVALID_REQUEST: "Invalid Request",
    INVALID_PARAMS: "Invalid params: the message does not match the MCP schema for this method",
}

MAX_SCAN_STEPS = 100_000
"""Bounds the scan (a few milliseconds) whatever the frame holds."""

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{\[]+|[}\]]+')
_COLON = re.compile(r"\s*:\s*")
_SCALAR_START = re.compile(r'["\-0-9]')


def request_id(frame: str | bytes) -> int | str | None:
    """The top-level ``id`` of a request frame that may not parse, or None if it cannot be read."""
    text = frame.decode("utf-8", errors="replace") if isinstance(frame, bytes) else frame
    start = len(text) - len(text.lstrip())
    if not text.startswith("{", start):
        return None
    depth = 0
    found_id: int | str | None = None
    has_method = False
    for steps, match in enumerate(_TOKEN.finditer(text, start)):
        if steps >= MAX_SCAN_STEPS:
            return None
        token = match.group()
        if token[0] in "{[":
            depth += len(token)
            continue
        if token[0] in "}]":
            depth -= len(token)
            if depth <= 0:
                break
            continue
        if depth != 1:
            continue
        colon = _COLON.match(text, match.end())
        if colon is None:
            continue  # a value, not a key
        try:
            key = json.loads(token)
        except ValueError:
            continue
        if key == "method":
            has_method = True
        elif key == "id" and _SCALAR_START.match(text, colon.end()):
            found_id = _scalar(text, colon.end())
    return found_id if has_method else None


def _scalar(text: str, at: int) -> int | str | None:
    try:
        value, _ = json.JSONDecoder().raw_decode(text, at)
    except ValueError:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return value
