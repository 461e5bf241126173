"""The adversarial suite's long profiles (``@pytest.mark.slow``) run only under ``make test-long``
(TASKGROUP_MCP_LONG_TESTS=1); a plain ``pytest`` run deselects them, so CI stays within minutes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("TASKGROUP_MCP_LONG_TESTS") == "1":
        return
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        mine = HERE in Path(str(item.path)).parents
        (dropped if mine and item.get_closest_marker("slow") else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
