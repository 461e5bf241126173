"""What the journal holds, as plain records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose groups: the API they live on (its base URL) and the tenant (a hash of the caller's API
    key in multi-tenant HTTP mode, ``""`` for the server's own key). Never the key itself."""

    api: str
    tenant: str = ""


@dataclass(slots=True)
class GroupEntry:
    """One task group as the journal knows it."""

    group_id: str
    created_at: float
    """Unix seconds."""
    label: str | None = None
    processors: list[str] = field(default_factory=list[str])
    schema_fp: str | None = None
    """A short fingerprint of the output schema of the last batch added (same schema, same value)."""
    inputs_sent: int = 0
    """Inputs this server added to the group (each once)."""
    cost_usd: float = 0.0
    """Estimated cost of the runs this server added (documented prices)."""
    status: dict[str, Any] | None = None
    """The last status seen: ``{"total": n, "counts": {...}}``."""
    active: bool | None = None
    status_at: float | None = None
    """When ``status`` was seen (Unix seconds)."""


@dataclass(frozen=True, slots=True)
class SentId:
    """A client id written ahead of the request that carried it, and what the API confirmed."""

    cid: str
    sent_at: float
    """Unix seconds of the last request that carried it."""
    run_id: str | None = None
    """The run id the API answered with (None: no answer seen, the request may or may not have landed)."""
    sender: str | None = None
    """The journal instance (server process) that sent it last."""
