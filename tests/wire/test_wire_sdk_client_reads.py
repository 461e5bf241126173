"""The official SDK 0.6.0 client reads our models' JSON and SSE streams back with every value.

A fake API answers each GET endpoint with our ``.to_wire()`` JSON, and each stream endpoint
with SSE frames of it, on the GA ``/v1`` paths and (where the SDK has them) the ``/v1beta``
ones; the objects the SDK hands its caller must hold exactly what we sent.
"""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
import wire_samples as samples
from parallel import types as sdk
from sdk_fake import FakeParallel

from taskgroup_mcp.wire import RUN_STATUSES, RunStatus, WireModel

GROUP_ID = samples.GROUP_ID
RUN_ID = samples.RUN_ID


def as_sent(obj: pydantic.BaseModel) -> dict[str, Any]:
    """What an SDK object holds, as wire JSON (only the keys it was given)."""
    return obj.model_dump(mode="json", by_alias=True, exclude_unset=True)


def assert_reads_back(got: list[Any], sent: list[WireModel], classes: list[type[pydantic.BaseModel]]) -> None:
    assert [type(obj) for obj in got] == classes
    assert [as_sent(obj) for obj in got] == [event.to_wire() for event in sent]


@pytest.mark.parametrize("prefix", ["/v1", "/v1beta"])
def test_the_sdk_reads_our_task_group_from_retrieve(fake_parallel: FakeParallel, prefix: str) -> None:
    group = samples.task_group()
    fake_parallel.reply_json("GET", f"{prefix}/tasks/groups/{GROUP_ID}", group.to_wire())
    resource = fake_parallel.client.task_group if prefix == "/v1" else fake_parallel.client.beta.task_group

    got = resource.retrieve(GROUP_ID)

    assert got.task_group_id == GROUP_ID
    assert got.status.num_task_runs == 3
    assert got.status.task_run_status_counts == {"completed": 1, "failed": 1, "running": 1}
    assert got.status.is_active is True
    assert got.metadata == {"project": "acme", "batch": 3, "ratio": 0.5, "live": True}
    assert as_sent(got) == group.to_wire()


@pytest.mark.parametrize("status", RUN_STATUSES)
def test_the_sdk_reads_our_run_in_every_status_from_retrieve_and_retrieve_run(
    fake_parallel: FakeParallel, status: RunStatus
) -> None:
    run = samples.task_run(status)
    fake_parallel.reply_json("GET", f"/v1/tasks/runs/{RUN_ID}", run.to_wire())
    fake_parallel.reply_json("GET", f"/v1/tasks/groups/{GROUP_ID}/runs/{RUN_ID}", run.to_wire())

    direct = fake_parallel.client.task_run.retrieve(RUN_ID)
    in_group = fake_parallel.client.task_group.retrieve_run(RUN_ID, task_group_id=GROUP_ID)

    for got in (direct, in_group):
        assert (got.run_id, got.interaction_id, got.status) == (RUN_ID, RUN_ID, status)
        assert got.task_group_id == GROUP_ID
        assert got.warnings is not None
        assert [w.type for w in got.warnings] == [
            "spec_validation_warning",
            "input_validation_warning",
            "warning",
        ]
        assert (got.error is not None) == (status == "failed")
        assert as_sent(got) == run.to_wire()


def test_the_sdk_reads_our_run_input_from_retrieve_input(fake_parallel: FakeParallel) -> None:
    run_input = samples.run_input()
    fake_parallel.reply_json("GET", f"/v1/tasks/runs/{RUN_ID}/input", run_input.to_wire())

    got = fake_parallel.client.task_run.retrieve_input(RUN_ID)

    assert got.input == {"country": "France", "year": 2023}
    assert got.task_spec is not None
    assert isinstance(got.task_spec.output_schema, sdk.JsonSchema)
    assert got.mcp_servers is not None
    assert got.mcp_servers[0].allowed_tools == ["web_search"]
    assert as_sent(got) == run_input.to_wire()


@pytest.mark.parametrize("kind", ["json", "text"])
def test_the_sdk_reads_our_result_with_basis_citations_and_tool_calls(
    fake_parallel: FakeParallel, kind: str
) -> None:
    result = samples.json_result() if kind == "json" else samples.text_result()
    fake_parallel.reply_json("GET", f"/v1/tasks/runs/{RUN_ID}/result", result.to_wire())

    got = fake_parallel.client.task_run.result(RUN_ID, api_timeout=30)

    assert fake_parallel.only_request().params == {"timeout": "30"}
    assert got.output.type == kind
    assert got.output.basis[0].citations is not None
    assert got.output.basis[0].citations[0].url == "https://insee.fr/gdp"
    assert got.output.mcp_tool_calls is not None
    assert [call.tool_name for call in got.output.mcp_tool_calls] == ["web_search", "fetch"]
    if isinstance(got.output, sdk.TaskRunJsonOutput):
        assert got.output.output_schema == {"type": "object", "properties": {"gdp": {"type": "string"}}}
    assert as_sent(got) == result.to_wire()


def test_the_beta_sdk_reads_our_result_too(fake_parallel: FakeParallel) -> None:
    result = samples.json_result()
    fake_parallel.reply_json("GET", f"/v1/tasks/runs/{RUN_ID}/result", result.to_wire())

    with pytest.warns(DeprecationWarning, match="Use GA Task Run instead"):
        got = fake_parallel.client.beta.task_run.result(RUN_ID)

    assert as_sent(got) == result.to_wire()


@pytest.mark.parametrize("prefix", ["/v1", "/v1beta"])
def test_the_sdk_reads_every_event_of_our_group_events_stream(
    fake_parallel: FakeParallel, prefix: str
) -> None:
    sent: list[WireModel] = [
        samples.group_status_event(),
        samples.run_event_failed(),
        samples.run_event_with_json_output(),
        samples.error_event(),
    ]
    fake_parallel.reply_sse("GET", f"{prefix}/tasks/groups/{GROUP_ID}/events", [e.to_wire() for e in sent])
    resource = fake_parallel.client.task_group if prefix == "/v1" else fake_parallel.client.beta.task_group

    got = list(resource.events(GROUP_ID, last_event_id="evt-0"))

    assert fake_parallel.only_request().params == {"last_event_id": "evt-0"}
    assert fake_parallel.only_request().headers["accept"] == "text/event-stream"
    assert_reads_back(
        got, sent, [sdk.TaskGroupStatusEvent, sdk.TaskRunEvent, sdk.TaskRunEvent, sdk.ErrorEvent]
    )
    assert got[0].status.is_active is False


@pytest.mark.parametrize("prefix", ["/v1", "/v1beta"])
def test_the_sdk_reads_every_event_of_our_group_runs_stream(fake_parallel: FakeParallel, prefix: str) -> None:
    sent: list[WireModel] = [
        samples.run_event_with_json_output(),
        samples.run_event_with_text_output(),
        samples.run_event_failed(),
        samples.error_event(),
    ]
    fake_parallel.reply_sse("GET", f"{prefix}/tasks/groups/{GROUP_ID}/runs", [e.to_wire() for e in sent])
    resource = fake_parallel.client.task_group if prefix == "/v1" else fake_parallel.client.beta.task_group

    got = list(resource.get_runs(GROUP_ID, include_input=True, include_output=True, status="completed"))

    assert fake_parallel.only_request().params == {
        "include_input": "true",
        "include_output": "true",
        "status": "completed",
    }
    assert_reads_back(got, sent, [sdk.TaskRunEvent, sdk.TaskRunEvent, sdk.TaskRunEvent, sdk.ErrorEvent])
    assert isinstance(got[0].output, sdk.TaskRunJsonOutput)
    assert isinstance(got[1].output, sdk.TaskRunTextOutput)


@pytest.mark.parametrize("prefix", ["/v1", "/v1beta"])
def test_the_sdk_reads_every_event_of_our_run_events_stream(fake_parallel: FakeParallel, prefix: str) -> None:
    running = samples.run_event_failed().model_copy(
        update={"run": samples.task_run("running"), "event_id": None}
    )
    sent: list[WireModel] = [
        running,
        *samples.progress_message_events(),
        samples.progress_stats_event(),
        samples.run_event_with_text_output(),
        samples.error_event(),
    ]
    fake_parallel.reply_sse("GET", f"{prefix}/tasks/runs/{RUN_ID}/events", [e.to_wire() for e in sent])

    if prefix == "/v1":
        got = list(fake_parallel.client.task_run.events(RUN_ID))
    else:
        with pytest.warns(DeprecationWarning, match="Use GA Task Run instead"):
            got = list(fake_parallel.client.beta.task_run.events(RUN_ID))

    messages = len(samples.progress_message_events())
    assert_reads_back(
        got,
        sent,
        [
            sdk.TaskRunEvent,
            *[sdk.TaskRunProgressMessageEvent] * messages,
            sdk.TaskRunProgressStatsEvent,
            sdk.TaskRunEvent,
            sdk.ErrorEvent,
        ],
    )
    assert [e.type for e in got[1 : 1 + messages]] == [
        f"task_run.progress_msg.{k}" for k in samples.PROGRESS_MSG_KINDS
    ]
