"""A dict that keeps only its most recently used entries, so the server's tables (per group, per
caller, per key, per account) stay bounded however long it runs and whoever calls it."""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedDict(OrderedDict[K, V]):
    """Keeps the ``limit`` entries most recently set or :meth:`touch`-ed; setting one more forgets
    the least recently used."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)

    def touch(self, key: K) -> V | None:
        """The value under ``key`` (None when absent), now the most recently used."""
        if key not in self:
            return None
        self.move_to_end(key)
        return self[key]
