"""Faults injected into run-creating requests and event streams, for reliability tests of clients."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields, replace
from typing import Any

MAX_RETRY_AFTER_SECONDS = 3_600.0
MAX_DELAY_MS = 600_000.0
"""Ten minutes: the longest latency or commit delay a fault may add (a test never needs more)."""


class FaultValueError(ValueError):
    """A fault value outside its range; ``field`` names the fault (the control route answers 400)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Faults:
    """Probabilities and delays applied to add-runs and create-run requests.

    ``drop_after_commit``: commit, then drop the connection with no response.
    ``fail_before_commit``: answer 503, nothing committed. ``throttle``: answer 429 with
    ``Retry-After: retry_after``. ``latency_ms``: (min, max) added to each such request.
    ``commit_delay_ms``: committed runs become visible to reads only after this delay.
    ``stream_error``: a stream (group events, group runs, run events) sends its first event, then
    an ``error`` event, and ends. ``stream_cut``: a stream sends its first event, then the
    connection is cut mid-body (a client sees an incomplete response and must resume).

    Every value is a finite number: probabilities in 0..1, ``retry_after`` in 0..3,600 seconds,
    ``latency_ms`` and ``commit_delay_ms`` in 0..600,000 ms (NaN or infinity would be stored and
    then break every answer, and an infinite latency would hold a request past any shutdown).
    """

    drop_after_commit: float = 0.0
    fail_before_commit: float = 0.0
    throttle: float = 0.0
    retry_after: float = 1.0
    latency_ms: tuple[float, float] = (0.0, 0.0)
    commit_delay_ms: float = 0.0
    stream_error: float = 0.0
    stream_cut: float = 0.0

    def __post_init__(self) -> None:
        for name in ("drop_after_commit", "fail_before_commit", "throttle", "stream_error", "stream_cut"):
            p = getattr(self, name)
            if not (math.isfinite(p) and 0.0 <= p <= 1.0):
                raise FaultValueError(name, f"fault {name} must be a probability between 0 and 1")
        lo, hi = self.latency_ms
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= hi <= MAX_DELAY_MS):
            raise FaultValueError(
                "latency_ms", f"fault latency_ms must be MIN-MAX with 0 <= MIN <= MAX <= {MAX_DELAY_MS:.0f}"
            )
        if not (math.isfinite(self.retry_after) and 0 <= self.retry_after <= MAX_RETRY_AFTER_SECONDS):
            raise FaultValueError(
                "retry_after",
                f"fault retry_after must be between 0 and {MAX_RETRY_AFTER_SECONDS:.0f} seconds",
            )
        if not (math.isfinite(self.commit_delay_ms) and 0 <= self.commit_delay_ms <= MAX_DELAY_MS):
            raise FaultValueError(
                "commit_delay_ms", f"fault commit_delay_ms must be between 0 and {MAX_DELAY_MS:.0f} ms"
            )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value: Any = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value  # pyright: ignore[reportUnknownArgumentType]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], base: Faults | None = None) -> Faults:
        """Faults from a JSON object (``POST /_sandbox/faults``); unnamed faults keep ``base``'s values."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        changes: dict[str, Any] = {}
        for name, value in data.items():
            changes[name] = _latency(value) if name == "latency_ms" else _number(name, value)
        return replace(base or cls(), **changes)

    @classmethod
    def parse(cls, spec: str | None) -> Faults:
        """Faults from ``--faults``: comma-separated ``name=value`` (``latency_ms=50-200``)."""
        data: dict[str, Any] = {}
        for part in (spec or "").split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"fault '{name}' needs a value: name=value")
            data[name.strip()] = value.strip()
        return cls.from_json(data)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise FaultValueError(name, f"fault {name} must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise FaultValueError(name, f"fault {name} must be a number") from None
    if not math.isfinite(number):
        raise FaultValueError(name, f"fault {name} must be a finite number")
    return number


def _latency(value: Any) -> tuple[float, float]:
    if isinstance(value, list | tuple) and len(value) == 2:  # pyright: ignore[reportUnknownArgumentType]
        lo, hi = value  # pyright: ignore[reportUnknownVariableType]
        return (_number("latency_ms", lo), _number("latency_ms", hi))
    if isinstance(value, str) and "-" in value.strip("-"):
        lo, _, hi = value.partition("-")
        return (_number("latency_ms", lo), _number("latency_ms", hi))
    n = _number("latency_ms", value)
    return (n, n)


@dataclass(slots=True)
class FaultDecision:
    latency_s: float
    throttle: bool
    fail_before_commit: bool
    drop_after_commit: bool
    commit_delay_s: float


class FaultInjector:
    """Draws each request's faults from one seeded random stream (same seed, same faults)."""

    def __init__(self, faults: Faults, seed: int) -> None:
        self.faults = faults
        self._rng = random.Random(f"faults:{seed}")
        self._stream_rng = random.Random(f"stream-faults:{seed}")  # apart: request draws stay as they were

    def draw(self) -> FaultDecision:
        f = self.faults
        rng = self._rng
        lo, hi = f.latency_ms
        latency = (lo if hi <= lo else rng.uniform(lo, hi)) / 1000.0
        throttle = f.throttle > 0 and rng.random() < f.throttle
        fail = not throttle and f.fail_before_commit > 0 and rng.random() < f.fail_before_commit
        drop = not (throttle or fail) and f.drop_after_commit > 0 and rng.random() < f.drop_after_commit
        return FaultDecision(latency, throttle, fail, drop, f.commit_delay_ms / 1000.0)

    def draw_stream(self) -> str | None:
        """This stream's fault: ``"error"``, ``"cut"`` or None."""
        f = self.faults
        rng = self._stream_rng
        if f.stream_error > 0 and rng.random() < f.stream_error:
            return "error"
        if f.stream_cut > 0 and rng.random() < f.stream_cut:
            return "cut"
        return None
