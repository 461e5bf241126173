"""Requests: what the official SDK 0.6.0 puts on the wire validates in our request models.

The SDK runs for real over a mock transport; each captured body must validate in our model and
come back out of it unchanged (nothing dropped, renamed or coerced), on both the GA ``/v1`` and
the beta ``/v1beta`` paths, which carry the same body shape. The other way round, what our
client sends (``to_wire(exclude_none=True)``) validates strictly in the SDK's request param types.
"""

from __future__ import annotations

import datetime
import json
import types
import typing
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest
import typing_extensions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parallel.types import RunInputParam, TaskSpecParam
from parallel.types import task_group_add_runs_params as sdk_add_runs_params
from parallel.types import task_group_create_params as sdk_create_params
from parallel.types.beta import BetaRunInputParam
from pydantic import BaseModel
from sdk_fake import FakeParallel

from taskgroup_mcp.wire import (
    RunInput,
    TaskGroup,
    TaskGroupAddRunsParams,
    TaskGroupCreateParams,
    TaskGroupRunResponse,
    TaskGroupStatus,
    TaskRun,
)

GROUP_ID = "tgrp_contract0001"
STATUS = TaskGroupStatus(
    num_task_runs=0, task_run_status_counts={}, is_active=False, status_message=None, modified_at=None
)
RUN = TaskRun(
    run_id="trun_00000000000000000000000000000001",
    interaction_id="trun_00000000000000000000000000000001",
    status="queued",
    is_active=True,
    processor="base",
    created_at="2025-04-23T20:21:48.037943Z",
    modified_at="2025-04-23T20:21:48.037943Z",
)

JSON_SPEC: TaskSpecParam = {
    "output_schema": {
        "type": "json",
        "json_schema": {
            "type": "object",
            "properties": {"gdp": {"type": "string", "description": "GDP in USD"}},
            "required": ["gdp"],
            "additionalProperties": False,
        },
    },
    "input_schema": {
        "type": "json",
        "json_schema": {
            "type": "object",
            "properties": {"country": {"type": "string"}, "year": {"type": "integer"}},
        },
    },
}

TASK_SPECS: dict[str, TaskSpecParam] = {
    "json": JSON_SPEC,
    "json without type": {"output_schema": {"json_schema": {"type": "object", "properties": {}}}},
    "text": {"output_schema": {"type": "text", "description": "A short answer"}},
    "text without description": {"output_schema": {"type": "text"}},
    "auto": {"output_schema": {"type": "auto"}},
    "bare string": {"output_schema": "The GDP, in USD", "input_schema": "A country and a year"},
    "text input schema": {
        "output_schema": "The GDP",
        "input_schema": {"type": "text", "description": "A country"},
    },
    "null input schema": {"output_schema": {"type": "auto"}, "input_schema": None},
}


def rich_run_input(task_spec: TaskSpecParam | None = JSON_SPEC) -> RunInputParam:
    """A run input with every field the SDK 0.6.0 knows set to a non-trivial value."""
    run: RunInputParam = {
        "input": {"country": "France", "year": 2023, "tags": ["eu", 1.5, None, True]},
        "processor": "core-fast",
        "metadata": {"row": "17", "attempt": 2, "score": 0.5, "ok": True, "k" * 16: "v" * 512},
        "source_policy": {
            "include_domains": ["insee.fr", ".gov"],
            "exclude_domains": ["reddit.com"],
            "after_date": datetime.date(2024, 1, 31),
        },
        "enable_events": True,
        "mcp_servers": [
            {
                "type": "url",
                "name": "search",
                "url": "https://search.parallel.ai/mcp",
                "headers": {"Authorization": "Bearer test-token", "x-extra": "1"},
                "allowed_tools": ["web_search", "fetch"],
            },
            {"name": "plain", "url": "https://mcp.example.com/mcp"},
        ],
        "webhook": {"url": "https://hooks.example.com/parallel", "event_types": ["task_run.status"]},
        "previous_interaction_id": "trun_00000000000000000000000000000000",
        "advanced_settings": {"location": "FR"},
    }
    if task_spec is not None:
        run["task_spec"] = task_spec
    return run


def unknown_fields(value: Any, path: str = "") -> list[str]:
    """Paths of every field our models kept only as an unknown extra (i.e. do not declare)."""
    if isinstance(value, BaseModel):
        found = [f"{path}.{key}".lstrip(".") for key in value.model_extra or {}]
        for name in type(value).model_fields:
            found += unknown_fields(getattr(value, name), f"{path}.{name}")
        return found
    if isinstance(value, list | tuple):
        return [p for i, item in enumerate(value) for p in unknown_fields(item, f"{path}.{i}")]
    return []


def assert_round_trips(model: type[BaseModel], body: dict[str, Any]) -> None:
    """The body validates in our model, which declares every field in it, and dumps back to itself."""
    parsed = model.model_validate(body)
    assert unknown_fields(parsed) == []
    assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == body


def route_group_endpoints(fake: FakeParallel) -> None:
    group = TaskGroup(taskgroup_id=GROUP_ID, status=STATUS, created_at="2025-04-23T20:21:48.037943Z")
    added = TaskGroupRunResponse(status=STATUS, run_ids=[RUN.run_id], run_cursor=None, event_cursor=None)
    for prefix in ("/v1", "/v1beta"):
        fake.reply_json("POST", f"{prefix}/tasks/groups", group.to_wire())
        fake.reply_json("POST", f"{prefix}/tasks/groups/{GROUP_ID}/runs", added.to_wire())
    fake.reply_json("POST", "/v1/tasks/runs", RUN.to_wire(), status=202)


def test_the_sdk_create_group_body_validates_in_our_create_params_on_both_paths(
    fake_parallel: FakeParallel,
) -> None:
    route_group_endpoints(fake_parallel)
    metadata: dict[str, str | float | bool] = {"project": "acme", "batch": 3, "ratio": 0.25, "live": False}

    fake_parallel.client.task_group.create(metadata=metadata)
    fake_parallel.client.beta.task_group.create(metadata=metadata)
    fake_parallel.client.task_group.create()

    ga, beta, bare = fake_parallel.requests
    assert (ga.path, beta.path, bare.path) == ("/v1/tasks/groups", "/v1beta/tasks/groups", "/v1/tasks/groups")
    assert ga.body == beta.body == {"metadata": metadata}
    assert bare.body == {}
    for request in (ga, bare):
        assert_round_trips(TaskGroupCreateParams, request.body)


@pytest.mark.parametrize("spec_form", sorted(TASK_SPECS))
def test_the_sdk_add_runs_body_with_every_field_validates_in_our_add_runs_params(
    fake_parallel: FakeParallel, spec_form: str
) -> None:
    route_group_endpoints(fake_parallel)
    spec = TASK_SPECS[spec_form]
    inputs = [
        rich_run_input(spec),
        rich_run_input(None),
        {"input": "What was the GDP of France?", "processor": "lite"},
    ]

    result = fake_parallel.client.task_group.add_runs(
        GROUP_ID,
        inputs=inputs,
        default_task_spec=spec,
        refresh_status=False,
        betas=["mcp-server-2025-07-17", "webhook-2025-08-12"],
    )

    request = fake_parallel.only_request()
    assert request.path == f"/v1/tasks/groups/{GROUP_ID}/runs"
    assert request.params == {"refresh_status": "false"}
    assert request.headers["parallel-beta"] == "mcp-server-2025-07-17,webhook-2025-08-12"
    assert_round_trips(TaskGroupAddRunsParams, request.body)
    parsed = TaskGroupAddRunsParams.model_validate(request.body)
    assert [run.processor for run in parsed.inputs] == ["core-fast", "core-fast", "lite"]
    assert parsed.inputs[0].source_policy is not None
    assert parsed.inputs[0].source_policy.after_date == "2024-01-31"
    assert result.run_ids == [RUN.run_id]


def test_an_empty_add_runs_body_which_the_sdk_sends_is_the_one_body_our_model_rejects(
    fake_parallel: FakeParallel,
) -> None:
    """A known, deliberate difference: the SDK sends ``{"inputs": []}`` and the SPEC sets no
    minItems, but our model (and so the sandbox, with a 422 naming ``body.inputs``) refuses it."""
    route_group_endpoints(fake_parallel)

    fake_parallel.client.task_group.add_runs(GROUP_ID, inputs=[])

    assert fake_parallel.only_request().body == {"inputs": []}
    with pytest.raises(pydantic.ValidationError, match="inputs"):
        TaskGroupAddRunsParams.model_validate({"inputs": []})


@pytest.mark.parametrize("spec_form", sorted(TASK_SPECS))
def test_the_ga_and_beta_add_runs_paths_carry_the_same_body(
    fake_parallel: FakeParallel, spec_form: str
) -> None:
    route_group_endpoints(fake_parallel)
    spec = TASK_SPECS[spec_form]
    beta_input: BetaRunInputParam = rich_run_input(spec)

    fake_parallel.client.task_group.add_runs(GROUP_ID, inputs=[rich_run_input(spec)], default_task_spec=spec)
    fake_parallel.client.beta.task_group.add_runs(GROUP_ID, inputs=[beta_input], default_task_spec=spec)

    ga, beta = fake_parallel.requests
    assert ga.path == f"/v1/tasks/groups/{GROUP_ID}/runs"
    assert beta.path == f"/v1beta/tasks/groups/{GROUP_ID}/runs"
    assert ga.body == beta.body
    assert_round_trips(TaskGroupAddRunsParams, beta.body)


@pytest.mark.parametrize("spec_form", sorted(TASK_SPECS))
def test_the_sdk_create_run_body_validates_in_our_run_input(
    fake_parallel: FakeParallel, spec_form: str
) -> None:
    route_group_endpoints(fake_parallel)
    run = rich_run_input(TASK_SPECS[spec_form])

    created = fake_parallel.client.task_run.create(**run, betas=["mcp-server-2025-07-17"])

    request = fake_parallel.only_request()
    assert (request.method, request.path) == ("POST", "/v1/tasks/runs")
    assert_round_trips(RunInput, request.body)
    assert created.run_id == RUN.run_id


def test_the_beta_create_run_sends_the_same_body_as_the_ga_one(fake_parallel: FakeParallel) -> None:
    route_group_endpoints(fake_parallel)
    run = rich_run_input()

    fake_parallel.client.task_run.create(**run)
    with pytest.warns(DeprecationWarning, match="Use GA Task Run instead"):
        fake_parallel.client.beta.task_run.create(**run)

    ga, beta = fake_parallel.requests
    assert ga.path == beta.path == "/v1/tasks/runs"
    assert ga.body == beta.body
    assert_round_trips(RunInput, beta.body)


def test_the_sdk_sends_the_mcp_header_values_it_is_given_and_our_model_keeps_them_out_of_repr(
    fake_parallel: FakeParallel,
) -> None:
    route_group_endpoints(fake_parallel)

    fake_parallel.client.task_run.create(**rich_run_input())

    parsed = RunInput.model_validate(fake_parallel.only_request().body)
    assert parsed.mcp_servers is not None
    assert parsed.mcp_servers[0].headers == {"Authorization": "Bearer test-token", "x-extra": "1"}
    assert "test-token" not in repr(parsed)


# --- generated params -------------------------------------------------------------------------

texts = st.text(max_size=20)
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts
json_scalars |= st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
metadata_values = (
    st.text(max_size=512)
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(-1000, 1000)
)
json_schema_params = st.fixed_dictionaries(
    {"json_schema": st.dictionaries(texts, json_values, max_size=3)}, optional={"type": st.just("json")}
)
text_schema_params = st.fixed_dictionaries(
    {}, optional={"description": st.none() | texts, "type": st.just("text")}
)
auto_schema_params = st.fixed_dictionaries({}, optional={}).map(lambda _: {"type": "auto"})
task_spec_params = st.fixed_dictionaries(
    {"output_schema": json_schema_params | text_schema_params | auto_schema_params | texts},
    optional={"input_schema": st.none() | texts | json_schema_params | text_schema_params},
)
mcp_server_params = st.fixed_dictionaries(
    {"name": texts, "url": st.just("https://mcp.example.com/mcp")},
    optional={
        "type": st.just("url"),
        "headers": st.none() | st.dictionaries(texts, texts, max_size=2),
        "allowed_tools": st.none() | st.lists(texts, max_size=3),
    },
)
run_input_params = st.fixed_dictionaries(
    {
        "input": texts | st.dictionaries(texts, json_values, max_size=4),
        "processor": st.sampled_from(["lite", "pro"]),
    },
    optional={
        "metadata": st.none() | st.dictionaries(st.text(max_size=16), metadata_values, max_size=3),
        "task_spec": st.none() | task_spec_params,
        "source_policy": st.none()
        | st.fixed_dictionaries(
            {},
            optional={
                "include_domains": st.lists(texts, max_size=3),
                "exclude_domains": st.lists(texts, max_size=3),
                "after_date": st.none() | st.dates(),
            },
        ),
        "enable_events": st.none() | st.booleans(),
        "mcp_servers": st.none() | st.lists(mcp_server_params, max_size=3),
        "webhook": st.none()
        | st.fixed_dictionaries(
            {"url": st.just("https://hooks.example.com/x")},
            optional={"event_types": st.lists(st.just("task_run.status"), max_size=1)},
        ),
        "previous_interaction_id": st.none() | texts,
        "advanced_settings": st.none() | st.fixed_dictionaries({}, optional={"location": st.none() | texts}),
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    inputs=st.lists(run_input_params, min_size=1, max_size=3),
    default_task_spec=st.none() | task_spec_params,
)
def test_any_valid_sdk_add_runs_params_validate_in_our_model_on_both_paths(
    fake_parallel: FakeParallel, inputs: list[RunInputParam], default_task_spec: TaskSpecParam | None
) -> None:
    fake_parallel.requests.clear()
    route_group_endpoints(fake_parallel)

    fake_parallel.client.task_group.add_runs(GROUP_ID, inputs=inputs, default_task_spec=default_task_spec)
    fake_parallel.client.beta.task_group.add_runs(
        GROUP_ID, inputs=inputs, default_task_spec=default_task_spec
    )

    ga, beta = fake_parallel.requests
    assert ga.body == beta.body
    assert_round_trips(TaskGroupAddRunsParams, ga.body)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(run=run_input_params)
def test_any_valid_sdk_create_run_params_validate_in_our_run_input(
    fake_parallel: FakeParallel, run: RunInputParam
) -> None:
    fake_parallel.requests.clear()
    route_group_endpoints(fake_parallel)

    fake_parallel.client.task_run.create(**run)

    assert_round_trips(RunInput, fake_parallel.only_request().body)


# --- our outgoing form ------------------------------------------------------------------------


def materialized(value: Any) -> Any:
    """The validated value with the SDK's lazily checked ``Iterable`` fields run through."""
    if isinstance(value, dict):
        return {key: materialized(item) for key, item in value.items()}
    if isinstance(value, list | Iterator):
        return [materialized(item) for item in value]
    return value


def assert_sdk_accepts(param_type: Any, body: Any) -> None:
    """The body (as JSON decodes it) validates strictly in the SDK's request param TypedDict."""
    decoded = json.loads(json.dumps(body))
    validated = pydantic.TypeAdapter(param_type).validate_python(decoded, strict=True)
    assert materialized(validated) == decoded


def assert_sdk_accepts_add_runs(body: dict[str, Any]) -> None:
    """The add-runs body validates in the SDK's params, one part at a time.

    (pydantic-core panics when it lazily validates a ``task_spec`` inside the SDK's
    ``inputs: Iterable[RunInputParam]``, so each input is checked on its own.)
    """
    assert "inputs" in body
    assert set(body) <= set(sdk_add_runs_params.TaskGroupAddRunsParams.__annotations__)
    for run in body["inputs"]:
        assert_sdk_accepts(RunInputParam, run)
    if "default_task_spec" in body:
        assert_sdk_accepts(TaskSpecParam | None, body["default_task_spec"])


@settings(max_examples=60, deadline=None)
@given(
    inputs=st.lists(run_input_params, min_size=1, max_size=3),
    default_task_spec=st.none() | task_spec_params,
)
def test_what_our_client_sends_for_add_runs_validates_in_the_sdk_params_and_means_the_same(
    inputs: list[RunInputParam], default_task_spec: TaskSpecParam | None
) -> None:
    sdk_body: dict[str, Any] = json.loads(
        json.dumps({"inputs": inputs, "default_task_spec": default_task_spec}, default=str)
    )
    ours = TaskGroupAddRunsParams.model_validate(sdk_body)

    outgoing = ours.to_wire(exclude_none=True)

    assert_sdk_accepts_add_runs(outgoing)
    assert TaskGroupAddRunsParams.model_validate(outgoing) == ours


def test_the_rich_samples_our_client_would_send_validate_in_the_sdk_params() -> None:
    for spec in TASK_SPECS.values():
        run = RunInput.model_validate(json.loads(json.dumps(rich_run_input(spec), default=str)))
        assert_sdk_accepts(RunInputParam, run.to_wire(exclude_none=True))
        body = TaskGroupAddRunsParams(inputs=[run], default_task_spec=run.task_spec)
        assert_sdk_accepts_add_runs(body.to_wire(exclude_none=True))
    for metadata in (None, {"project": "acme", "n": 3}):
        create = TaskGroupCreateParams(metadata=metadata)
        assert_sdk_accepts(sdk_create_params.TaskGroupCreateParams, create.to_wire(exclude_none=True))


def test_the_sdk_param_check_can_fail() -> None:
    with pytest.raises(pydantic.ValidationError, match="include_domains"):
        assert_sdk_accepts(
            RunInputParam, {"input": "x", "processor": "lite", "source_policy": {"include_domains": None}}
        )
    with pytest.raises(pydantic.ValidationError, match="url"):
        assert_sdk_accepts(RunInputParam, {"input": "x", "processor": "lite", "mcp_servers": [{"name": "a"}]})


# --- params derived from the SDK's own TypedDicts ---------------------------------------------


def sdk_params(annotation: Any) -> st.SearchStrategy[Any]:
    """Values the SDK's request param type admits, derived from its annotations (so a field the
    SDK adds is generated without anyone writing a strategy for it)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Annotated, typing_extensions.Required, typing_extensions.NotRequired):
        return sdk_params(args[0])
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(sdk_params(arg) for arg in args))
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin is dict:
        return st.dictionaries(texts, sdk_params(args[1]), max_size=2)
    if origin is not None and args and origin is not tuple:
        return st.lists(sdk_params(args[0]), max_size=2)  # List, Iterable, SequenceNotStr
    if typing_extensions.is_typeddict(annotation):
        # The SDK's modules postpone annotations, so __required_keys__ cannot see Required[...].
        hints = typing.get_type_hints(annotation, include_extras=True)
        total: bool = annotation.__total__

        def required(hint: Any) -> bool:
            marker = typing.get_origin(hint)
            return marker is typing_extensions.Required or (
                total and marker is not typing_extensions.NotRequired
            )

        return st.fixed_dictionaries(
            {key: sdk_params(hint) for key, hint in hints.items() if required(hint)},
            optional={key: sdk_params(hint) for key, hint in hints.items() if not required(hint)},
        )
    simple: dict[Any, st.SearchStrategy[Any]] = {
        type(None): st.none(),
        str: st.text(max_size=8),
        bool: st.booleans(),
        int: st.integers(-1000, 1000),
        float: st.floats(-1e6, 1e6, allow_nan=False),
        object: json_values,
        datetime.date: st.dates(),
    }
    return simple[annotation]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    inputs=st.lists(sdk_params(RunInputParam), min_size=1, max_size=2),  # [0] also goes to create
    default_task_spec=sdk_params(TaskSpecParam | None),
)
def test_any_params_the_sdk_types_admit_reach_the_wire_as_bodies_our_models_fully_know(
    fake_parallel: FakeParallel, inputs: list[RunInputParam], default_task_spec: TaskSpecParam | None
) -> None:
    fake_parallel.requests.clear()
    route_group_endpoints(fake_parallel)

    fake_parallel.client.task_group.add_runs(GROUP_ID, inputs=inputs, default_task_spec=default_task_spec)
    fake_parallel.client.beta.task_group.add_runs(
        GROUP_ID, inputs=inputs, default_task_spec=default_task_spec
    )
    fake_parallel.client.task_run.create(**inputs[0])

    ga, beta, run = fake_parallel.requests
    assert ga.body == beta.body
    assert_round_trips(TaskGroupAddRunsParams, ga.body)
    assert_round_trips(RunInput, run.body)
