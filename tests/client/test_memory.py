"""What a client remembers between submissions stays bounded however many runs it answered for."""

from __future__ import annotations

import pytest

from taskgroup_mcp.client import _memory
from taskgroup_mcp.client._memory import SubmitMemory


def _runs(prefix: str, n: int) -> dict[str, str]:
    return {f"{prefix}-cid-{i}": f"{prefix}-run-{i}" for i in range(n)}


def test_answered_run_ids_are_bounded_in_all_not_only_by_the_number_of_groups(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_memory, "MAX_ANSWERED_RUNS", 10)
    memory = SubmitMemory()
    memory.remember("g1", _runs("a", 6))
    memory.remember("g1", _runs("a", 6))  # the same runs again count once
    assert dict(memory.answered("g1")) == _runs("a", 6)
    memory.remember("g2", _runs("b", 6))  # 12 > 10: the older ones go, the latest stay
    assert dict(memory.answered("g1")) == {}
    assert dict(memory.answered("g2")) == _runs("b", 6)


def test_a_call_larger_than_the_bound_is_still_remembered_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_memory, "MAX_ANSWERED_RUNS", 10)
    memory = SubmitMemory()
    memory.remember("g1", _runs("a", 3))
    memory.remember("g2", _runs("b", 25))
    assert len(memory.answered("g2")) == 25 and not memory.answered("g1")
