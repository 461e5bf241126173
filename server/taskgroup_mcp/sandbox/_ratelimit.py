"""The documented task-creation rate limit: N run-creating POSTs per minute per API key.

[rate-limits]: "Tasks/TaskGroups: 2,000 per min; each POST to /v1/tasks/runs or
/v1beta/tasks/groups/{taskgroup_id}/runs (creating tasks)"; GETs do not count. Over the limit the
API answers 429. The window slides: at most N accepted POSTs in any 60 seconds on the sandbox clock
(real time, unless a test drives a manual clock). A refused POST is not counted, and its
``Retry-After`` says when the oldest counted POST leaves the window.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0
MAX_KEYS = 10_000
"""Keys tracked at once; the least recently seen is forgotten first (any key is accepted)."""


class RateLimiter:
    """``allow(key)``: None if this POST may go ahead (it is counted), else seconds to wait."""

    def __init__(self, per_minute: float, now: Callable[[], float]) -> None:
        self.per_minute = per_minute
        self._now = now
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def allow(self, key: str) -> float | None:
        if not self.enabled:
            return None
        now = self._now()
        log = self._seen.get(key)
        if log is None:
            log = self._seen[key] = deque()
            if len(self._seen) > MAX_KEYS:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(key)
        while log and log[0] <= now - WINDOW_SECONDS:
            log.popleft()
        if len(log) >= self.per_minute:
            return max(0.0, log[0] + WINDOW_SECONDS - now)
        log.append(now)
        return None


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds (the HTTP form), never 0 while the window is full."""
    return str(max(1, math.ceil(seconds)))
