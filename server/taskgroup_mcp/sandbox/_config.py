"""How a sandbox behaves: speed, seed, failures, persistence, auth and faults."""

from __future__ import annotations

from dataclasses import dataclass, field

from taskgroup_mcp.wire import TASK_CREATION_RATE_PER_MINUTE

from ._faults import Faults

DEFAULT_WEBHOOK_SECRET = "sandbox-webhook-secret"
"""Signs webhooks when no secret is configured (the sandbox always signs)."""


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """``speed``: runs take the documented processor latency divided by this.
    ``seed``: the same seed gives the same ids, durations, outputs, failures and faults.
    ``fail_rate``: fraction of runs that end ``failed``. ``db_path``: persist in SQLite
    (None: in memory). ``api_key``: if set, ``x-api-key`` must equal it; otherwise any
    non-empty key is accepted. ``webhook_secret``: signs webhook deliveries.
    ``rate_limit_per_minute``: run-creating POSTs accepted per key in any 60 s (documented: 2,000),
    then 429 with ``Retry-After``; 0 turns the limit off."""

    speed: float = 60.0
    seed: int = 0
    fail_rate: float = 0.0
    db_path: str | None = None
    api_key: str | None = field(default=None, repr=False)
    webhook_secret: str | None = field(default=None, repr=False)
    faults: Faults = field(default_factory=Faults)
    rate_limit_per_minute: int = TASK_CREATION_RATE_PER_MINUTE

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError("speed must be greater than 0")
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")
        if self.rate_limit_per_minute < 0:
            raise ValueError("rate_limit_per_minute must be 0 (off) or more")
