"""The example payloads of the API reference parse in our models, and the models are tolerant.

Examples are quoted from Parallel's public API docs (docs.parallel.ai) and their OpenAPI
description ("Parallel API" 0.1.2, ``public-openapi.json``). Responses keep fields we do not know; an
event of a type we do not know parses as ``GenericEvent`` instead of raising.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from pydantic import ValidationError

from taskgroup_mcp.wire import (
    ErrorEvent,
    ErrorResponse,
    FieldBasis,
    GenericEvent,
    JsonSchema,
    McpServer,
    RunInput,
    TaskGroup,
    TaskGroupAddRunsParams,
    TaskGroupCreateParams,
    TaskGroupRunResponse,
    TaskGroupStatusEvent,
    TaskRun,
    TaskRunEvent,
    TaskRunJsonOutput,
    TaskRunProgressMessageEvent,
    TaskRunProgressStatsEvent,
    TaskRunResult,
    TaskRunTextOutput,
    TaskSpec,
    ValidationErrorResponse,
    Webhook,
    WebhookPayload,
    parse_event,
    sign_webhook,
    verify_webhook,
)

RUN_ID = "trun_9907962f83aa4d9d98fd7f4bf745d654"
TS = "2025-04-23T20:21:48.037943Z"
REF_ID = "fcb2b4f3-c75e-4186-87bc-caa1a8381331"

SPEC_RUN: dict[str, Any] = {
    "run_id": RUN_ID,
    "interaction_id": RUN_ID,
    "status": "queued",
    "is_active": True,
    "processor": "core",
    "metadata": {"my_key": "my_value"},
    "created_at": TS,
    "modified_at": TS,
}
SPEC_GROUP_STATUS_EVENT: dict[str, Any] = {
    "type": "task_group_status",
    "event_id": "123",
    "status": {
        "num_task_runs": 1,
        "task_run_status_counts": {"completed": 1},
        "is_active": False,
        "status_message": "",
        "modified_at": TS,
    },
}
SPEC_RUNS_STREAM_EVENT: dict[str, Any] = {
    "type": "task_run.state",
    "event_id": "123",
    "input": {
        "processor": "core",
        "metadata": {"my_key": "my_value"},
        "input": {"country": "France", "year": 2023},
    },
    "run": {**SPEC_RUN, "status": "completed", "is_active": False},
}
SPEC_RUN_INPUT: dict[str, Any] = {
    "processor": "core",
    "metadata": {"my_key": "my_value"},
    "task_spec": {
        "output_schema": {
            "json_schema": {
                "type": "object",
                "properties": {
                    "gdp": {
                        "type": "string",
                        "description": "GDP in USD for the year, formatted like '$3.1 trillion (2023)'",
                    }
                },
                "required": ["gdp"],
                "additionalProperties": False,
            },
            "type": "json",
        },
        "input_schema": {
            "json_schema": {
                "type": "object",
                "properties": {"country": {"type": "string"}, "year": {"type": "integer"}},
                "required": ["country", "year"],
                "additionalProperties": False,
            },
            "type": "json",
        },
    },
    "input": {"country": "France", "year": 2023},
}
SPEC_RESULT: dict[str, Any] = {
    "run": {**SPEC_RUN, "status": "completed", "is_active": False},
    "output": {"basis": [], "type": "json", "content": {"gdp": "$3.1 trillion (2023)"}},
}
SPEC_PROGRESS_MSG: dict[str, Any] = {
    "type": "task_run.progress_msg.plan",
    "message": "Planning task...",
    "timestamp": TS,
}
SPEC_ERROR_MESSAGES = [
    "Unauthorized: invalid or missing credentials",
    "Payment required: insufficient credit in account",
    "Forbidden: invalid processor in request",
    "Run id not found",
    "TaskGroup not found",
    "Run failed or run id not found",
    "Request timed out; run still active",
    "Unprocessable content: request validation error",
    "Too many requests: quota temporarily exceeded",
]
SPEC_ADD_RUNS_SAMPLE: dict[str, Any] = {
    "inputs": [
        {
            "input": "What was the GDP of France in 2023?",
            "processor": "base",
            "enable_events": True,
            "mcp_servers": [
                {
                    "type": "url",
                    "name": "parallel_web_search",
                    "url": "https://mcp.parallel.ai/v1beta/search_mcp",
                    "headers": {"x-api-key": "API Key"},
                }
            ],
        }
    ]
}


def test_the_spec_task_run_examples_parse_in_every_status_they_show() -> None:
    for status, active in (("queued", True), ("running", True), ("completed", False)):
        run = TaskRun.model_validate({**SPEC_RUN, "status": status, "is_active": active})
        assert (run.run_id, run.interaction_id, run.status, run.is_active) == (RUN_ID, RUN_ID, status, active)
        assert run.to_wire(exclude_none=True) == {**SPEC_RUN, "status": status, "is_active": active}


def test_the_spec_run_input_example_parses_with_its_json_schemas() -> None:
    run_input = RunInput.model_validate(SPEC_RUN_INPUT)

    assert run_input.task_spec is not None
    assert run_input.to_wire(exclude_none=True) == SPEC_RUN_INPUT


def test_the_spec_result_example_parses_as_a_json_output_with_empty_basis() -> None:
    result = TaskRunResult.model_validate(SPEC_RESULT)

    assert isinstance(result.output, TaskRunJsonOutput)
    assert result.output.content == {"gdp": "$3.1 trillion (2023)"}
    assert result.output.basis == []


def test_a_text_output_parses_by_its_type_discriminator() -> None:
    output = {
        "type": "text",
        "content": "About $3.1 trillion.",
        "basis": [{"field": "output", "reasoning": "r"}],
    }

    result = TaskRunResult.model_validate({"run": SPEC_RUN, "output": output})

    assert isinstance(result.output, TaskRunTextOutput)
    assert result.output.basis[0].citations == []


@pytest.mark.parametrize(
    ("payload", "model"),
    [
        (SPEC_GROUP_STATUS_EVENT, TaskGroupStatusEvent),
        (SPEC_RUNS_STREAM_EVENT, TaskRunEvent),
        (SPEC_PROGRESS_MSG, TaskRunProgressMessageEvent),
        ({"type": "error", "error": {"ref_id": REF_ID, "message": "TaskGroup not found"}}, ErrorEvent),
        (
            {
                "type": "task_run.progress_stats",
                "progress_meter": 12.5,
                "source_stats": {
                    "num_sources_considered": 3,
                    "num_sources_read": None,
                    "sources_read_sample": None,
                },
            },
            TaskRunProgressStatsEvent,
        ),
        (
            {"type": "task_run.progress_msg.tool", "message": "Calling a tool", "timestamp": None},
            TaskRunProgressMessageEvent,
        ),
        (
            {"type": "task_run.progress_msg.extract", "message": "Extracting", "timestamp": TS},
            TaskRunProgressMessageEvent,
        ),
    ],
    ids=[
        "group status",
        "runs stream state",
        "progress plan",
        "error",
        "progress stats",
        "docs tool msg",
        "sdk 1.3.5 extract",
    ],
)
def test_the_spec_event_examples_parse_as_their_event_type(payload: dict[str, Any], model: type[Any]) -> None:
    for data in (payload, json.dumps(payload), json.dumps(payload).encode()):
        event = parse_event(data)
        assert type(event) is model
        assert event.model_dump(mode="json", by_alias=True, exclude_unset=True) == payload


@pytest.mark.parametrize("message", SPEC_ERROR_MESSAGES)
def test_the_spec_error_bodies_parse_as_error_response(message: str) -> None:
    body = {"type": "error", "error": {"ref_id": REF_ID, "message": message}}

    error = ErrorResponse.model_validate(body)

    assert (error.error.ref_id, error.error.message, error.error.detail) == (REF_ID, message, None)


def test_the_fastapi_validation_body_of_the_group_endpoints_parses() -> None:
    body = {
        "detail": [{"loc": ["body", "inputs", 0, "processor"], "msg": "Field required", "type": "missing"}]
    }

    error = ValidationErrorResponse.model_validate(body)

    assert error.detail[0].loc == ["body", "inputs", 0, "processor"]
    assert error.to_wire() == body


def test_the_spec_request_bodies_parse_in_our_request_models() -> None:
    assert TaskGroupCreateParams.model_validate({}).metadata is None
    assert TaskGroupCreateParams.model_validate({"metadata": {"key": "value"}}).metadata == {"key": "value"}
    added = TaskGroupAddRunsParams.model_validate(SPEC_ADD_RUNS_SAMPLE)
    assert added.inputs[0].mcp_servers is not None
    assert added.inputs[0].mcp_servers[0].name == "parallel_web_search"
    assert added.to_wire(exclude_none=True) == SPEC_ADD_RUNS_SAMPLE


def test_a_new_group_with_empty_counts_and_null_cursors_parses() -> None:
    status = {
        "num_task_runs": 0,
        "task_run_status_counts": {},
        "is_active": False,
        "status_message": None,
        "modified_at": None,
    }

    group = TaskGroup.model_validate({"taskgroup_id": "tgrp_1", "status": status, "created_at": TS})
    added = TaskGroupRunResponse.model_validate(
        {"status": status, "run_ids": [], "run_cursor": None, "event_cursor": None}
    )

    assert group.task_group_id == "tgrp_1"
    assert added.run_cursor is None


def test_the_mcp_listing_warning_and_tool_call_examples_parse() -> None:
    warning = {
        "type": "warning",
        "message": f"Error listing tools from MCP server search. Reference ID: {REF_ID}",
        "detail": {},
    }
    call = {
        "tool_call_id": "call_1",
        "server_name": "parallel_web_search",
        "tool_name": "web_search",
        "arguments": '{"query": "GDP"}',
        "content": "...",
        "error": "",
    }
    output = {
        "type": "json",
        "content": {"gdp": "x"},
        "basis": [{"field": "gdp", "reasoning": "r", "citations": [], "confidence": ""}],
        "mcp_tool_calls": [call],
    }

    result = TaskRunResult.model_validate({"run": {**SPEC_RUN, "warnings": [warning]}, "output": output})

    assert result.run.warnings is not None
    assert result.run.warnings[0].detail == {}
    assert result.output.mcp_tool_calls is not None
    assert result.output.mcp_tool_calls[0].error == ""


def test_the_webhook_payload_parses_and_carries_no_output() -> None:
    payload = {
        "timestamp": TS,
        "type": "task_run.status",
        "data": {**SPEC_RUN, "status": "completed", "is_active": False},
    }

    parsed = WebhookPayload.model_validate(payload)

    assert parsed.data.status == "completed"
    assert "output" not in parsed.to_wire()


def test_a_webhook_signature_is_base64_hmac_sha256_of_id_timestamp_and_body_and_survives_rotation() -> None:
    body = b'{"type":"task_run.status"}'
    expected = base64.b64encode(
        hmac.new(b"whsec-test", b"whevent_1.1700000000." + body, hashlib.sha256).digest()
    )

    signature = sign_webhook("whsec-test", "whevent_1", "1700000000", body)

    assert signature == "v1," + expected.decode()
    assert verify_webhook("whsec-test", "whevent_1", "1700000000", body, f"v1,b2xk {signature}")
    assert not verify_webhook("whsec-test", "whevent_1", "1700000001", body, signature)
    assert not verify_webhook("other", "whevent_1", "1700000000", body, signature)


# --- tolerance --------------------------------------------------------------------------------


def test_unknown_response_fields_are_kept_at_every_level() -> None:
    payload = {
        **SPEC_RESULT,
        "usage": [{"name": "runs", "count": 1}],
        "run": {
            **SPEC_RESULT["run"],
            "cost_usd": 0.025,
            "warnings": [{"type": "warning", "message": "m", "hint": 1}],
        },
        "output": {**SPEC_RESULT["output"], "confidence_summary": {"gdp": "high"}},
    }

    result = TaskRunResult.model_validate(payload)

    assert result.to_wire(exclude_none=True) == payload


def test_a_run_with_a_new_warning_type_still_parses() -> None:
    run = TaskRun.model_validate({**SPEC_RUN, "warnings": [{"type": "quota_warning", "message": "m"}]})

    assert run.warnings is not None
    assert run.warnings[0].type == "quota_warning"


def test_unknown_fields_on_a_known_event_are_kept() -> None:
    event = parse_event({**SPEC_GROUP_STATUS_EVENT, "sequence": 7})

    assert type(event) is TaskGroupStatusEvent
    assert event.to_wire()["sequence"] == 7


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "task_run.heartbeat", "at": TS, "nested": {"a": [1, 2]}},
        {"type": "task_group_status", "event_id": "1"},
        {"type": "task_run.state", "run": {"run_id": RUN_ID}},
        {"type": "task_run.progress_msg.plan"},
    ],
    ids=[
        "new type",
        "group status without status",
        "state with a partial run",
        "progress msg without message",
    ],
)
def test_an_unknown_or_surprising_event_parses_as_a_generic_event_with_every_field_kept(
    payload: dict[str, Any],
) -> None:
    event = parse_event(json.dumps(payload))

    assert type(event) is GenericEvent
    assert event.to_wire() == payload


@pytest.mark.parametrize("data", ['{"event_id": "1"}', '{"type": 3}', "[1, 2]", '"text"'])
def test_an_event_without_a_string_type_parses_as_a_generic_event(data: str) -> None:
    event = parse_event(data)

    assert type(event) is GenericEvent
    assert event.type == "unknown"


def test_a_null_for_a_field_with_a_default_reads_as_that_default() -> None:
    basis = FieldBasis.model_validate({"field": "gdp", "reasoning": "r", "citations": None})
    server = McpServer.model_validate({"type": None, "name": "search", "url": "https://mcp.example.com/mcp"})
    hook = Webhook.model_validate({"url": "https://hooks.example.com/x", "event_types": None})
    spec = TaskSpec.model_validate({"output_schema": {"json_schema": {"type": "object"}, "type": None}})

    assert basis.citations == []
    assert server.type == "url"
    assert hook.event_types == []
    assert isinstance(spec.output_schema, JsonSchema)
    assert spec.output_schema.type == "json"


def test_nullable_fields_the_sdk_treats_as_optional_may_be_missing() -> None:
    minimal = {k: v for k, v in SPEC_RUN.items() if k not in ("created_at", "modified_at", "metadata")}
    status = {"num_task_runs": 0, "task_run_status_counts": {}, "is_active": False}

    run = TaskRun.model_validate(minimal)
    added = TaskGroupRunResponse.model_validate({"status": status, "run_ids": []})

    assert (run.created_at, run.modified_at) == (None, None)
    assert (added.run_cursor, added.event_cursor, added.status.modified_at) == (None, None, None)
    assert {"created_at", "modified_at"} <= set(run.to_wire())


def test_a_null_for_a_required_field_is_still_rejected() -> None:
    with pytest.raises(ValidationError, match="run_id"):
        TaskRun.model_validate({**SPEC_RUN, "run_id": None})
    with pytest.raises(ValidationError, match="status"):
        TaskRun.model_validate({**SPEC_RUN, "status": None})


def test_a_run_without_interaction_id_reads_as_the_docs_samples_send_it() -> None:
    # The docs' SSE, webhook and MCP samples have no interaction_id; the SDK reads them.
    run = TaskRun.model_validate({k: v for k, v in SPEC_RUN.items() if k != "interaction_id"})
    assert run.interaction_id is None and run.run_id == SPEC_RUN["run_id"]
