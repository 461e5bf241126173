"""Fixtures of the wire contract tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sdk_fake import FakeParallel


@pytest.fixture
def fake_parallel() -> Iterator[FakeParallel]:
    fake = FakeParallel()
    yield fake
    fake.client.close()
