"""Responses: what our models serialize validates in the official SDK 0.6.0's response models.

Each sample's ``.to_wire()`` JSON is validated strictly (pydantic strict mode, JSON input) in
the SDK's model; every field the SDK marks required, and in the full form every field it
declares, must be present; and the SDK must read back exactly the values we wrote.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest
import wire_samples as samples
from parallel import types as sdk
from parallel.types import shared as sdk_shared
from parallel.types.run_input_param import RunInputParam
from parallel.types.task_group_add_runs_params import TaskGroupAddRunsParams as SdkAddRunsParams
from parallel.types.task_group_create_params import TaskGroupCreateParams as SdkCreateParams

from taskgroup_mcp import wire
from taskgroup_mcp.wire import WireModel

CASES: list[tuple[str, WireModel, Any, type[pydantic.BaseModel]]] = [
    ("task group", samples.task_group(), sdk.TaskGroup, sdk.TaskGroup),
    ("task group status", samples.group_status(), sdk.TaskGroupStatus, sdk.TaskGroupStatus),
    ("add runs response", samples.run_response(), sdk.TaskGroupRunResponse, sdk.TaskGroupRunResponse),
    *((f"run {run.status}", run, sdk.TaskRun, sdk.TaskRun) for run in samples.all_status_runs()),
    ("json result", samples.json_result(), sdk.TaskRunResult, sdk.TaskRunResult),
    ("text result", samples.text_result(), sdk.TaskRunResult, sdk.TaskRunResult),
    ("run input", samples.run_input(), sdk.RunInput, sdk.RunInput),
    ("error response", samples.error_response(), sdk_shared.ErrorResponse, sdk_shared.ErrorResponse),
    (
        "group status event",
        samples.group_status_event(),
        sdk.TaskGroupEventsResponse,
        sdk.TaskGroupStatusEvent,
    ),
    ("group run event", samples.run_event_failed(), sdk.TaskGroupEventsResponse, sdk.TaskRunEvent),
    ("group error event", samples.error_event(), sdk.TaskGroupEventsResponse, sdk.ErrorEvent),
    (
        "runs stream json run",
        samples.run_event_with_json_output(),
        sdk.TaskGroupGetRunsResponse,
        sdk.TaskRunEvent,
    ),
    (
        "runs stream text run",
        samples.run_event_with_text_output(),
        sdk.TaskGroupGetRunsResponse,
        sdk.TaskRunEvent,
    ),
    ("runs stream error", samples.error_event(), sdk.TaskGroupGetRunsResponse, sdk.ErrorEvent),
    ("run stream state", samples.run_event_with_text_output(), sdk.TaskRunEventsResponse, sdk.TaskRunEvent),
    (
        "run stream stats",
        samples.progress_stats_event(),
        sdk.TaskRunEventsResponse,
        sdk.TaskRunProgressStatsEvent,
    ),
    *(
        (f"run stream {event.type}", event, sdk.TaskRunEventsResponse, sdk.TaskRunProgressMessageEvent)
        for event in samples.progress_message_events()
    ),
    ("run stream error", samples.error_event(), sdk.TaskRunEventsResponse, sdk.ErrorEvent),
]
CASE_IDS = [case[0] for case in CASES]


def sdk_strict(sdk_type: Any, payload: dict[str, Any]) -> Any:
    """The payload validated in the SDK type as pydantic strict mode does it for JSON input."""
    return pydantic.TypeAdapter(sdk_type).validate_json(json.dumps(payload), strict=True)


def missing_fields(value: Any, *, required_only: bool, path: str = "") -> list[str]:
    """Paths of SDK model fields that the validated payload did not carry."""
    if isinstance(value, pydantic.BaseModel):
        missing: list[str] = []
        for name, field in type(value).model_fields.items():
            key = f"{path}.{field.alias or name}".lstrip(".")
            if name not in value.model_fields_set:
                if field.is_required() or not required_only:
                    missing.append(key)
                continue
            missing += missing_fields(getattr(value, name), required_only=required_only, path=key)
        return missing
    if isinstance(value, list):
        return [
            m
            for i, item in enumerate(value)
            for m in missing_fields(item, required_only=required_only, path=f"{path}.{i}")
        ]
    return []


@pytest.mark.parametrize(("name", "ours", "sdk_type", "sdk_class"), CASES, ids=CASE_IDS)
def test_our_full_wire_form_validates_strictly_in_the_sdk_with_every_declared_field_present(
    name: str, ours: WireModel, sdk_type: Any, sdk_class: type[pydantic.BaseModel]
) -> None:
    parsed = sdk_strict(sdk_type, ours.to_wire())

    assert type(parsed) is sdk_class
    assert missing_fields(parsed, required_only=True) == []
    assert missing_fields(parsed, required_only=False) == []


@pytest.mark.parametrize(("name", "ours", "sdk_type", "sdk_class"), CASES, ids=CASE_IDS)
def test_our_compact_wire_form_without_nulls_still_has_every_field_the_sdk_requires(
    name: str, ours: WireModel, sdk_type: Any, sdk_class: type[pydantic.BaseModel]
) -> None:
    parsed = sdk_strict(sdk_type, ours.to_wire(exclude_none=True))

    assert type(parsed) is sdk_class
    assert missing_fields(parsed, required_only=True) == []


@pytest.mark.parametrize(("name", "ours", "sdk_type", "sdk_class"), CASES, ids=CASE_IDS)
def test_the_sdk_reads_back_exactly_the_values_we_wrote(
    name: str, ours: WireModel, sdk_type: Any, sdk_class: type[pydantic.BaseModel]
) -> None:
    payload = ours.to_wire()

    parsed = sdk_strict(sdk_type, payload)

    assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == payload


def test_the_samples_cover_all_seven_run_statuses_and_every_event_type() -> None:
    assert {run.status for run in samples.all_status_runs()} == set(wire.RUN_STATUSES)
    assert len(wire.RUN_STATUSES) == 7
    sdk_event_types: set[str] = set()
    for model in (sdk.TaskGroupStatusEvent, sdk.TaskRunEvent, sdk.ErrorEvent, sdk.TaskRunProgressStatsEvent):
        sdk_event_types |= set(model.model_fields["type"].annotation.__args__)
    sdk_event_types |= set(sdk.TaskRunProgressMessageEvent.model_fields["type"].annotation.__args__)
    covered = {case[1].to_wire()["type"] for case in CASES if "type" in case[1].to_wire()}
    assert sdk_event_types <= covered


# --- field sets -------------------------------------------------------------------------------

MODEL_PAIRS: list[tuple[type[WireModel], type[pydantic.BaseModel]]] = [
    (wire.TaskGroup, sdk.TaskGroup),
    (wire.TaskGroupStatus, sdk.TaskGroupStatus),
    (wire.TaskGroupRunResponse, sdk.TaskGroupRunResponse),
    (wire.TaskRun, sdk.TaskRun),
    (wire.TaskRunResult, sdk.TaskRunResult),
    (wire.TaskRunTextOutput, sdk.TaskRunTextOutput),
    (wire.TaskRunJsonOutput, sdk.TaskRunJsonOutput),
    (wire.FieldBasis, sdk.FieldBasis),
    (wire.Citation, sdk.Citation),
    (wire.McpToolCall, sdk.McpToolCall),
    (wire.RunInput, sdk.RunInput),
    (wire.TaskSpec, sdk.TaskSpec),
    (wire.JsonSchema, sdk.JsonSchema),
    (wire.TextSchema, sdk.TextSchema),
    (wire.AutoSchema, sdk.AutoSchema),
    (wire.McpServer, sdk.McpServer),
    (wire.Webhook, sdk.Webhook),
    (wire.AdvancedSettings, sdk.TaskAdvancedSettings),
    (wire.SourcePolicy, sdk_shared.SourcePolicy),
    (wire.Warning, sdk_shared.Warning),
    (wire.ErrorObject, sdk_shared.ErrorObject),
    (wire.ErrorResponse, sdk_shared.ErrorResponse),
    (wire.TaskGroupStatusEvent, sdk.TaskGroupStatusEvent),
    (wire.TaskRunEvent, sdk.TaskRunEvent),
    (wire.ErrorEvent, sdk.ErrorEvent),
    (wire.TaskRunProgressStatsEvent, sdk.TaskRunProgressStatsEvent),
    (wire.TaskRunProgressMessageEvent, sdk.TaskRunProgressMessageEvent),
    (wire.SourceStats, sdk.TaskRunSourceStats),
]


def wire_keys(model: type[pydantic.BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


@pytest.mark.parametrize(("ours", "theirs"), MODEL_PAIRS, ids=[pair[0].__name__ for pair in MODEL_PAIRS])
def test_our_model_declares_exactly_the_wire_fields_the_sdk_model_declares(
    ours: type[WireModel], theirs: type[pydantic.BaseModel]
) -> None:
    assert wire_keys(ours) == wire_keys(theirs)


@pytest.mark.parametrize(("ours", "theirs"), MODEL_PAIRS, ids=[pair[0].__name__ for pair in MODEL_PAIRS])
def test_every_field_the_sdk_requires_has_no_null_in_our_model(
    ours: type[WireModel], theirs: type[pydantic.BaseModel]
) -> None:
    ours_by_key = {field.alias or name: field for name, field in ours.model_fields.items()}
    for name, field in theirs.model_fields.items():
        if field.is_required() and (ours.__name__, field.alias or name) not in READ_LENIENTLY:
            mine = ours_by_key[field.alias or name]
            assert mine.default is not None or mine.is_required(), f"{field.alias or name} defaults to None"
            assert not _allows_none(mine.annotation), f"{field.alias or name} allows null; the SDK does not"


READ_LENIENTLY = {("TaskRun", "interaction_id"), ("ErrorObject", "ref_id")}
"""Fields the SDK declares required that the docs' own samples leave out (the SSE, webhook and MCP
samples have no ``interaction_id``; the webhook failure sample's error has no ``ref_id``). The SDK
reads such payloads anyway (its response models are not strict), and so do we."""


def _allows_none(annotation: Any) -> bool:
    return type(None) in getattr(annotation, "__args__", ()) or annotation is None


@pytest.mark.parametrize(
    ("ours", "theirs", "not_in_body"),
    [
        (wire.RunInput, RunInputParam, set()),
        (wire.TaskGroupAddRunsParams, SdkAddRunsParams, {"refresh_status", "betas"}),
        (wire.TaskGroupCreateParams, SdkCreateParams, set()),
    ],
    ids=["RunInputParam", "TaskGroupAddRunsParams", "TaskGroupCreateParams"],
)
def test_our_request_models_declare_every_body_key_of_the_sdk_params(
    ours: type[WireModel], theirs: type[Any], not_in_body: set[str]
) -> None:
    assert set(theirs.__annotations__) - not_in_body == wire_keys(ours)
