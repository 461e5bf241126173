"""Types shared by the journal tests (imported by name: ``conftest`` is ambiguous across folders)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from taskgroup_mcp.journal import Journal

JournalMaker = Callable[[], Awaitable[Journal]]
