"""Narrowing parsed JSON: objects, arrays and a member of an object, without type-checker exemptions."""

from __future__ import annotations

import json

from taskgroup_mcp.wire import is_array, is_object, member


def test_an_object_is_a_dict_and_nothing_else_is() -> None:
    parsed = json.loads('[{"a": 1}, [1], "x", 1, null, true]')
    assert [is_object(v) for v in parsed] == [True, False, False, False, False, False]


def test_an_array_is_a_list_and_nothing_else_is() -> None:
    parsed = json.loads('[{"a": 1}, [1], "x", 1, null, true]')
    assert [is_array(v) for v in parsed] == [False, True, False, False, False, False]


def test_a_member_is_read_only_from_an_object_that_holds_it() -> None:
    assert member({"type": "null"}, "type") == "null"
    assert member({"type": "null"}, "enum") is None
    assert member(["type"], "type") is None
    assert member("type", "type") is None
