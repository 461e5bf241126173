"""to_tool_error: every failure becomes a sentence a model can act on, never a secret or traceback."""

from __future__ import annotations

import logging

import pytest
from pydantic import BaseModel, ValidationError

from taskgroup_mcp.client import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    FieldError,
    InternalServerError,
    NotFoundError,
    PaymentRequiredError,
    RateLimitError,
    UnprocessableEntityError,
)
from taskgroup_mcp.tools import SECRETS, to_tool_error


def test_an_unknown_group_says_to_create_one() -> None:
    text = str(to_tool_error(NotFoundError("TaskGroup not found", status_code=404), group_id="tgrp_abc"))
    assert "tgrp_abc" in text and "create_task_group" in text


def test_an_unknown_run_names_the_run() -> None:
    assert "trun_x" in str(to_tool_error(NotFoundError("nf", status_code=404), run_id="trun_x"))


def test_402_says_out_of_credit() -> None:
    assert "out of credit" in str(to_tool_error(PaymentRequiredError("x", status_code=402)))


def test_429_says_when_to_retry() -> None:
    text = str(to_tool_error(RateLimitError("slow down", retry_after=7.0, status_code=429)))
    assert "Retry after 7 s" in text


def test_401_points_at_the_key_setting_and_the_sandbox() -> None:
    text = str(to_tool_error(AuthenticationError("bad key", status_code=401)))
    assert "PARALLEL_API_KEY" in text and "--sandbox" in text


def test_422_lists_the_fields() -> None:
    err = UnprocessableEntityError(
        "invalid",
        status_code=422,
        errors=[FieldError(("body", "inputs", 0, "processor"), "unknown processor")],
    )
    assert "inputs.0.processor: unknown processor" in str(to_tool_error(err))


def test_server_errors_and_timeouts_say_repeating_is_safe() -> None:
    assert "call again" in str(to_tool_error(InternalServerError("boom", status_code=503)))
    assert "safe" in str(to_tool_error(APITimeoutError()))
    assert "safe to repeat" in str(to_tool_error(APIConnectionError()))


def test_an_error_inside_a_task_group_is_mapped_by_its_cause() -> None:
    nested = ExceptionGroup("tg", [NotFoundError("nf", status_code=404)])
    assert "create_task_group" in str(to_tool_error(nested, group_id="tgrp_1"))


def test_a_pydantic_error_names_the_field_without_the_value() -> None:
    class M(BaseModel):
        n: int

    with pytest.raises(ValidationError) as err:
        M.model_validate({"n": "CANARY-value-123"})
    text = str(to_tool_error(err.value))
    assert "n:" in text and "CANARY" not in text


def test_an_unexpected_error_is_generic_with_a_reference_and_logged_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    SECRETS.add("CANARY-unexpected-77aa")
    with caplog.at_level(logging.ERROR, logger="taskgroup_mcp.tools"):
        text = str(to_tool_error(RuntimeError("db password CANARY-unexpected-77aa")))
    assert (
        text.startswith("Internal error (reference ") and "CANARY" not in text and "db password" not in text
    )
    assert "CANARY-unexpected" not in caplog.text and "[REDACTED]" in caplog.text
