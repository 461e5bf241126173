"""The client package's public surface is a curated list, and every name in it exists."""

from __future__ import annotations

import taskgroup_mcp.client as client

PROMISED = {
    "ParallelClient",
    "SubmitResult",
    "SubmitFailure",
    "ParallelError",
    "APIError",
    "APIStatusError",
    "BadRequestError",
    "AuthenticationError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "UnprocessableEntityError",
    "RateLimitError",
    "InternalServerError",
    "APIConnectionError",
    "APITimeoutError",
    "RESERVED_METADATA_KEY",
}


def test_every_promised_name_is_exported_and_exists() -> None:
    assert set(client.__all__) >= PROMISED
    for name in client.__all__:
        assert hasattr(client, name), name
    assert client.__all__ == sorted(client.__all__, key=lambda n: (not n.isupper(), n))


def test_every_error_is_a_parallel_error_with_a_retryable_flag() -> None:
    for name in client.__all__:
        obj = getattr(client, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, client.ParallelError), name
            assert isinstance(obj.retryable, bool), name
