"""RFC 3339 timestamps as the API writes them: microseconds and ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
