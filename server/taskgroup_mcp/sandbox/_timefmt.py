"""RFC 3339 timestamps as the API writes them: microseconds and ``Z``."""

from __future__ import annotations

import time

_CACHE: dict[float, str] = {}
"""Runs of one batch share their creation time, and streams format it again and again."""


def rfc3339(ts: float) -> str:
    text = _CACHE.get(ts)
    if text is None:
        whole = int(ts)
        micros = round((ts - whole) * 1_000_000)
        if micros == 1_000_000:
            whole, micros = whole + 1, 0
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micros:06d}Z"
        if len(_CACHE) >= 100_000:
            _CACHE.clear()
        _CACHE[ts] = text
    return text
