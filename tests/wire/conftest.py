"""Fixtures of the wire contract tests.

Helpers live in plain modules beside the tests (``sdk_fake``: the SDK over a mock transport;
``wire_samples``: rich instances of our models). Test modules here are named ``test_wire_*``:
``tests/`` has no ``__init__.py``, so pytest needs every test module's basename to be unique.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sdk_fake import FakeParallel


@pytest.fixture
def fake_parallel() -> Iterator[FakeParallel]:
    fake = FakeParallel()
    yield fake
    fake.client.close()
