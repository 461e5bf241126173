"""Shared test configuration. Each test folder keeps its own fixtures in its own conftest."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
