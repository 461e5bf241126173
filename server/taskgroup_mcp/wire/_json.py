"""Narrowing untyped JSON to typed containers: one check instead of a type-checker exemption.

``isinstance(value, dict)`` on a parsed JSON value leaves a strict type checker with
``dict[Unknown, Unknown]``. These guards say what JSON is: an object's keys are strings, an
array holds JSON values, so what they narrow to is fully typed::

    if is_object(raw) and is_array(raw.get("inputs")):
        ...
"""

from __future__ import annotations

from typing import Any, TypeGuard

JsonObject = dict[str, Any]
"""A JSON object (``json.loads`` returns ``dict`` with ``str`` keys)."""
JsonArray = list[Any]
"""A JSON array."""


def is_object(value: object) -> TypeGuard[JsonObject]:
    """True when ``value`` is a JSON object (a ``dict``)."""
    return isinstance(value, dict)


def is_array(value: object) -> TypeGuard[JsonArray]:
    """True when ``value`` is a JSON array (a ``list``)."""
    return isinstance(value, list)


def member(value: object, key: str) -> Any:
    """``value[key]`` when ``value`` is an object holding ``key``, else None."""
    return value.get(key) if is_object(value) else None
