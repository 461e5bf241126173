"""The error tree: status codes map to classes, messages come from the API's message or loc+msg only."""

from __future__ import annotations

import json

import httpx2
import pytest

from taskgroup_mcp.client import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    InternalServerError,
    ParallelError,
    RateLimitError,
    UnprocessableEntityError,
)
from taskgroup_mcp.client._classify import Outcome, classify
from taskgroup_mcp.client._errors import error_from_response, parse_retry_after
from taskgroup_mcp.client._redact import Redactor

CANARY = "sk-canary-4f9d2c1b7e"


def _response(status: int, body: object, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.Response(status, content=json.dumps(body).encode(), headers=headers or {})


def _map(status: int, body: object, headers: dict[str, str] | None = None) -> APIStatusError:
    return error_from_response(
        _response(status, body, headers),
        redact=Redactor([CANARY]),
        method="POST",
        path="/v1/tasks/groups/g/runs",
    )


def test_each_documented_status_maps_to_its_class_and_retryability() -> None:
    err = {"type": "error", "error": {"ref_id": "r1", "message": "nope"}}
    assert isinstance(_map(401, err), AuthenticationError)
    assert not _map(401, err).retryable
    assert isinstance(_map(503, err), InternalServerError)
    assert _map(503, err).retryable
    assert _map(409, err).retryable and _map(408, err).retryable
    assert _map(401, err).request_id == "r1"
    assert isinstance(_map(418, err), APIStatusError)
    assert all(isinstance(_map(s, err), ParallelError) for s in (400, 402, 403, 404, 422, 429, 500))


def test_a_422_message_names_fields_and_never_echoes_the_input_value() -> None:
    body = {
        "detail": [
            {
                "loc": ["body", "inputs", 3, "processor"],
                "msg": "unknown processor",
                "type": "value_error",
                "input": "secret-processor-value",
            },
        ]
    }
    err = _map(422, body)
    assert isinstance(err, UnprocessableEntityError)
    assert "inputs.3.processor: unknown processor" in err.message
    assert "secret-processor-value" not in err.message + repr(err) + json.dumps(err.body)
    assert err.errors[0].input_index == 3


def test_a_secret_echoed_by_the_api_is_masked_in_message_body_and_repr() -> None:
    err = _map(500, {"type": "error", "error": {"ref_id": "r", "message": f"bad header {CANARY}"}})
    for text in (str(err), repr(err), json.dumps(err.body)):
        assert CANARY not in text
    assert "[REDACTED]" in str(err)


def test_a_429_carries_retry_after_from_either_header() -> None:
    err = _map(429, {"type": "error", "error": {"ref_id": "r", "message": "slow down"}}, {"retry-after": "2"})
    assert isinstance(err, RateLimitError) and err.retry_after == 2.0
    assert parse_retry_after(httpx2.Headers({"retry-after-ms": "250"})) == 0.25
    assert parse_retry_after(httpx2.Headers({})) is None


def test_failed_attempts_are_classified_as_the_protocol_says() -> None:
    err = {"type": "error", "error": {"ref_id": "r", "message": "m"}}
    assert classify(_map(422, err)) is Outcome.DEFINITE_REJECT
    assert classify(_map(402, err)) is Outcome.DEFINITE_REJECT
    assert classify(_map(429, err)) is Outcome.THROTTLED
    for status in (408, 409, 500, 502, 503, 504):
        assert classify(_map(status, err)) is Outcome.AMBIGUOUS
    assert classify(APIConnectionError(sent=False)) is Outcome.NOT_SENT
    assert classify(APITimeoutError(sent=False)) is Outcome.NOT_SENT
    assert classify(APITimeoutError()) is Outcome.AMBIGUOUS
    assert classify(APIConnectionError()) is Outcome.AMBIGUOUS


@pytest.mark.parametrize("form", ["raw", "json", "base64"])
def test_the_redactor_masks_encoded_forms_of_a_secret(form: str) -> None:
    import base64

    encoded = {
        "raw": CANARY,
        "json": json.dumps(CANARY)[1:-1],
        "base64": base64.b64encode(CANARY.encode()).decode().rstrip("="),
    }[form]
    assert encoded not in Redactor([CANARY])(f"x {encoded} y")
