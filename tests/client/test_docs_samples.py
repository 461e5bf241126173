"""The client reads what the API really sends: Parallel's own documentation samples, fed through a
mock transport to ``get_run``, ``get_run_result`` and ``group_runs``.

The samples live in ``fixtures/docs/`` (each file names its page and the snapshot it was taken
from). What the models cannot read becomes an ``APIResponseValidationError`` naming the field,
never pydantic's ``ValidationError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pydantic
import pytest

from taskgroup_mcp.client import APIResponseValidationError, ParallelClient, ParallelError
from taskgroup_mcp.client._classify import Outcome, classify
from taskgroup_mcp.wire import TaskRunJsonOutput, TaskRunOutput, TaskRunTextOutput

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parent / "fixtures" / "docs"
KEY = "docs-sample-key-0123456789"


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    assert data["source"]["page"].startswith("https://docs.parallel.ai/")
    return data


def _sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def client_answering(routes: dict[str, Any]) -> ParallelClient:
    """A client whose every GET of a path in ``routes`` gets that JSON (or SSE events, for a list)."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        body = routes.get(request.url.path)
        if body is None:
            return httpx2.Response(
                404, json={"type": "error", "error": {"ref_id": "t", "message": "no route"}}
            )
        if isinstance(body, bytes):
            return httpx2.Response(200, content=body, headers={"content-type": "application/json"})
        if isinstance(body, list):
            return httpx2.Response(200, content=_sse(body), headers={"content-type": "text/event-stream"})  # pyright: ignore[reportUnknownArgumentType]
        return httpx2.Response(200, json=body)

    return ParallelClient(
        api_key=KEY, base_url="http://parallel.test", transport=httpx2.MockTransport(handle), max_retries=0
    )


async def _raises_unreadable(call: Callable[[], Any]) -> APIResponseValidationError:
    try:
        await call()
    except pydantic.ValidationError:  # pragma: no cover - the failure this test exists for
        pytest.fail("a raw pydantic ValidationError escaped the client")
    except APIResponseValidationError as exc:
        assert isinstance(exc, ParallelError) and not exc.retryable
        return exc
    pytest.fail("the unreadable answer was accepted")


async def test_a_run_without_interaction_id_from_the_webhook_sample_reads() -> None:
    run_id = "trun_9907962f83aa4d9d98fd7f4bf745d654"
    data = sample("webhook_success")["payload"]["data"]
    async with client_answering({f"/v1/tasks/runs/{run_id}": data}) as client:
        run = await client.get_run(run_id)
    assert (run.run_id, run.interaction_id, run.status, run.is_active) == (run_id, None, "completed", False)
    assert run.metadata == {"key": "value"} and run.taskgroup_id is None


async def test_the_failure_samples_error_without_ref_id_reads_and_keeps_its_details() -> None:
    run_id = "trun_9907962f83aa4d9d98fd7f4bf745d654"
    data = sample("webhook_failure")["payload"]["data"]
    async with client_answering({f"/v1/tasks/runs/{run_id}": data}) as client:
        run = await client.get_run(run_id)
    assert run.status == "failed" and run.error is not None
    assert (run.error.ref_id, run.error.message) == (None, "Task execution failed")
    assert run.error.to_wire()["details"] == "Additional error details"


async def test_an_unknown_status_is_kept_as_its_string() -> None:
    # The webhook sample's run with a status no version of the docs lists yet.
    run_id = "trun_9907962f83aa4d9d98fd7f4bf745d654"
    data = {**sample("webhook_success")["payload"]["data"], "status": "expired"}
    async with client_answering({f"/v1/tasks/runs/{run_id}": data}) as client:
        run = await client.get_run(run_id)
    assert run.status == "expired" and run.is_active is False


async def test_the_mcp_samples_read_with_empty_confidence_and_empty_tool_error() -> None:
    ok, failed = (
        sample("mcp_tool_call_success")["payload"],
        sample("mcp_tool_call_listing_failure")["payload"],
    )
    routes = {
        f"/v1/tasks/runs/{ok['run']['run_id']}/result": ok,
        f"/v1/tasks/runs/{failed['run']['run_id']}/result": failed,
    }
    async with client_answering(routes) as client:
        result = await client.get_run_result(ok["run"]["run_id"])
        warned = await client.get_run_result(failed["run"]["run_id"])
    assert isinstance(result.output, TaskRunTextOutput) and result.run.interaction_id is None
    assert result.output.basis[0].confidence == ""
    calls = result.output.mcp_tool_calls
    assert calls is not None and calls[0].error == "" and calls[0].server_name == "parallel_web_search"
    assert warned.output.mcp_tool_calls is None and warned.run.warnings is not None
    assert warned.run.warnings[0].message.startswith("Error listing tools from MCP server dummy_mcp_server.")


async def test_json_content_sent_as_a_string_reads_as_its_object() -> None:
    # A result made of two samples: the webhook sample's run and the research-basis sample's output.
    run = sample("webhook_success")["payload"]["data"]
    routes = {
        f"/v1/tasks/runs/{run['run_id']}/result": {
            "run": run,
            "output": sample("research_basis_output")["payload"],
        },
        "/v1/tasks/runs/trun_per_element/result": {
            "run": {**run, "run_id": "trun_per_element"},
            "output": sample("research_basis_per_element")["payload"],
        },
    }
    async with client_answering(routes) as client:
        result = await client.get_run_result(run["run_id"])
        per_element = await client.get_run_result("trun_per_element")
    assert isinstance(result.output, TaskRunJsonOutput)
    assert result.output.content == {
        "company": "Microsoft",
        "founded": "1975",
        "headquarters": "Redmond, Washington, USA",
    }
    assert isinstance(per_element.output, TaskRunJsonOutput)
    assert [p["name"] for p in per_element.output.content["key_executives"]] == [
        "Sam Altman",
        "Greg Brockman",
    ]
    assert [b.field for b in per_element.output.basis][2:] == ["key_executives.0", "key_executives.1"]


async def test_group_runs_read_the_sse_samples_run_and_runs_that_evolved() -> None:
    state = sample("sse_run_stream")["events"][0]  # a task_run.state event, event_id null
    done = sample("webhook_success")["payload"]["data"]
    events = [
        {**state, "event_id": "0"},
        {
            "type": "task_run.state",
            "event_id": "1",
            "run": {**done, "status": "expired"},
            "output": sample("research_basis_output")["payload"],
        },
    ]
    async with client_answering({"/v1/tasks/groups/tgrp_docs/runs": events}) as client:
        got = [e async for e in client.group_runs("tgrp_docs", include_output=True)]
    assert [(e.run.status, e.run.interaction_id) for e in got] == [("running", None), ("expired", None)]
    assert isinstance(got[1].output, TaskRunJsonOutput) and got[1].output.content["company"] == "Microsoft"


async def test_the_deep_research_sample_has_no_run_and_the_error_names_that_field() -> None:
    body = sample("deep_research_auto")["payload"]
    async with client_answering({"/v1/tasks/runs/trun_deep/result": body}) as client:
        exc = await _raises_unreadable(lambda: client.get_run_result("trun_deep"))
    assert exc.field == "run" and exc.path == "/v1/tasks/runs/trun_deep/result"
    assert "could not be read at run" in str(exc)
    # Its output alone reads: no type (the content says json), a basis of nested dot paths.
    output = pydantic.TypeAdapter(TaskRunOutput).validate_python(body["output"])
    assert isinstance(output, TaskRunJsonOutput)
    assert "company_profiles.0.revenue" in [b.field for b in output.basis]


async def test_an_unreadable_event_in_group_runs_names_its_field_and_never_quotes_values() -> None:
    broken = {"type": "task_run.state", "event_id": "0", "run": {"status": "completed", "processor": KEY}}
    async with client_answering({"/v1/tasks/groups/tgrp_docs/runs": [broken]}) as client:
        exc = await _raises_unreadable(lambda: anext(aiter(client.group_runs("tgrp_docs"))))
    assert exc.field == "run.run_id"
    assert KEY not in str(exc) and KEY not in repr(exc)
    assert [(".".join(map(str, e.loc)), e.type) for e in exc.errors] == [("run.run_id", "missing")]


async def test_a_2xx_that_is_not_json_and_json_content_that_is_not_an_object_name_their_field() -> None:
    run = sample("webhook_success")["payload"]["data"]
    routes: dict[str, Any] = {
        "/v1/tasks/runs/trun_text/result": b"<html>gateway page</html>",
        "/v1/tasks/runs/trun_bad/result": {
            "run": run,
            "output": {**sample("research_basis_output")["payload"], "content": "not json at all"},
        },
    }
    async with client_answering(routes) as client:
        not_json = await _raises_unreadable(lambda: client.get_run_result("trun_text"))
        bad_content = await _raises_unreadable(lambda: client.get_run_result("trun_bad"))
    assert not_json.field == "(body)"
    assert bad_content.field == "output.content"


def test_an_unreadable_answer_to_a_run_creating_post_is_ambiguous_not_a_rejection() -> None:
    # It was answered 2xx, so the runs were committed: submit must reconcile, never report them failed.
    exc = APIResponseValidationError(
        "x", field="run_ids", errors=[], method="POST", path="/v1/tasks/groups/g/runs"
    )
    assert classify(exc) is Outcome.AMBIGUOUS
