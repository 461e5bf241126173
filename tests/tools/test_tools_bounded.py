"""The server's tables keep their most recently used entries and forget the rest."""

from __future__ import annotations

from taskgroup_mcp.tools._bounded import BoundedDict


def test_setting_past_the_limit_forgets_the_least_recently_used_entry() -> None:
    table: BoundedDict[str, int] = BoundedDict(2)
    table["a"] = 1
    table["b"] = 2
    table["a"] = 3  # set again: now the most recent
    table["c"] = 4
    assert dict(table) == {"a": 3, "c": 4}


def test_a_touched_entry_outlives_one_set_before_it() -> None:
    table: BoundedDict[str, int] = BoundedDict(2)
    table["a"] = 1
    table["b"] = 2
    assert table.touch("a") == 1 and table.touch("missing") is None
    table["c"] = 3
    assert list(table) == ["a", "c"]
