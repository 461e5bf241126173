"""The sandbox behaves as Parallel documents it, seen through the official SDK (parallel-web 0.6.0).

Each test drives a sandbox on a manual clock, served by uvicorn on 127.0.0.1, with the SDK's
async client: its GA surface (``client.task_run``, ``client.task_group``) and, where the feature
exists there, its beta surface (``client.beta.*``, the ``/v1beta`` paths). Sources are the
documentation pages named in each test.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import httpx2
import parallel
import pytest
from parallel import AsyncParallel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from taskgroup_mcp.client import RateLimitError
from taskgroup_mcp.commands._wiring import open_backend
from taskgroup_mcp.config import Settings
from taskgroup_mcp.sandbox import Faults, ManualClock, Sandbox, SandboxConfig
from taskgroup_mcp.wire import TASK_CREATION_RATE_PER_MINUTE, RunInput

from .conftest import facts_server, serve_asgi

pytestmark = [
    pytest.mark.anyio,
    # parallel-web 0.6.0 marks its beta task-run methods deprecated; these tests call them on purpose.
    pytest.mark.filterwarnings("ignore:Use GA Task Run instead:DeprecationWarning"),
]

ROOT_ARRAY = {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}
"""The docs' own "Root Type Error" example (Task Spec guide)."""


@contextlib.asynccontextmanager
async def sdk_sandbox(
    config: SandboxConfig | None = None,
) -> AsyncIterator[tuple[AsyncParallel, Sandbox, ManualClock]]:
    """A sandbox on a manual clock behind uvicorn, and the SDK's async client pointed at it."""
    clock = ManualClock()
    sb = Sandbox(config or SandboxConfig(speed=60.0, seed=0), clock=clock)
    try:
        async with sb, serve_asgi(sb.app) as port:
            client = AsyncParallel(api_key="sdk-key", base_url=f"http://127.0.0.1:{port}", max_retries=0)
            try:
                yield client, sb, clock
            finally:
                await client.close()
    finally:
        sb.close()


def _json_spec(schema: dict[str, Any]) -> Any:
    return {"output_schema": {"type": "json", "json_schema": schema}}


# -- output-schema rules [specify-a-task] -------------------------------------------------------


async def test_a_root_array_schema_is_refused_with_a_422_naming_the_field_through_every_surface() -> None:
    async with sdk_sandbox() as (client, sb, _):
        with pytest.raises(parallel.UnprocessableEntityError) as created:
            await client.task_run.create(input="q", processor="lite", task_spec=_json_spec(ROOT_ARRAY))
        body: Any = created.value.body
        assert (
            body["type"] == "error"
            and "Invalid JSON Schema: the root type must be" in body["error"]["message"]
        )
        locs = [e["loc"] for e in body["error"]["detail"]["errors"]]
        assert ["body", "task_spec", "output_schema", "json_schema", "type"] in locs

        gid = (await client.task_group.create()).task_group_id
        for add_runs in (client.task_group.add_runs, client.beta.task_group.add_runs):
            with pytest.raises(parallel.UnprocessableEntityError) as added:
                await add_runs(
                    gid, inputs=[{"input": "q", "processor": "lite", "task_spec": _json_spec(ROOT_ARRAY)}]
                )
            items: Any = added.value.body
            assert ["body", "inputs", 0, "task_spec", "output_schema", "json_schema", "type"] in [
                d["loc"] for d in items["detail"]
            ]
        with pytest.raises(parallel.UnprocessableEntityError) as default:
            await client.task_group.add_runs(
                gid,
                inputs=[{"input": "q", "processor": "lite"}],
                default_task_spec=_json_spec(
                    {"type": "object", "properties": {"d": {"type": "string", "format": "date"}}}
                ),
            )
        detail: Any = default.value.body
        assert detail["detail"][0]["loc"][-3:] == ["properties", "d", "format"]
        assert (await client.task_group.retrieve(gid)).status.num_task_runs == 0
        assert sb.stats_json()["runs_created"] == 0


# -- betas belong to the run-creating request [access-research-basis] ---------------------------

LIST_SCHEMA = {
    "type": "object",
    "properties": {
        "company": {"type": "string"},
        "key_executives": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["company", "key_executives"],
    "additionalProperties": False,
}


def _fields(output: Any) -> list[str]:
    return [b.field for b in output.basis]


async def test_the_field_basis_beta_counts_on_the_creating_request_not_on_the_fetch() -> None:
    async with sdk_sandbox() as (client, _, clock):
        spec = _json_spec(LIST_SCHEMA)
        with_beta = await client.task_run.create(
            input="Acme", processor="lite", task_spec=spec, betas=["field-basis-2025-11-25"]
        )
        without = await client.beta.task_run.create(input="Acme", processor="lite", task_spec=spec)
        gid = (await client.task_group.create()).task_group_id
        await client.task_group.add_runs(
            gid,
            inputs=[{"input": "Acme", "processor": "lite", "task_spec": spec}],
            betas=["field-basis-2025-11-25"],
        )
        clock.advance(3600)
        fetched_plain = await client.task_run.result(with_beta.run_id, api_timeout=5)
        fetched_with_beta = await client.beta.task_run.result(
            without.run_id, api_timeout=5, betas=["field-basis-2025-11-25"]
        )
        (grouped,) = [e async for e in await client.task_group.get_runs(gid, include_output=True)]
    per_element = [f"key_executives.{i}" for i in range(len(fetched_plain.output.content["key_executives"]))]  # type: ignore[index, arg-type]
    assert _fields(fetched_plain.output) == ["company", "key_executives", *per_element]
    assert _fields(fetched_with_beta.output) == ["company", "key_executives"]
    assert _fields(grouped.output)[2:] == per_element  # type: ignore[union-attr]


# -- output without a task spec [specify-a-task, task-deep-research, mcp-tool-call samples] ------


async def test_without_a_task_spec_lite_answers_text_and_pro_answers_nested_auto_json() -> None:
    async with sdk_sandbox() as (client, _, clock):
        lite = await client.task_run.create(input="What is the latest in AI research?", processor="lite")
        base = await client.beta.task_run.create(input="What is Acme?", processor="base-fast")
        pro = await client.task_run.create(input="Research the HVAC market", processor="pro")
        clock.advance(3 * 3600)
        lite_out = (await client.task_run.result(lite.run_id, api_timeout=5)).output
        base_out = (await client.beta.task_run.result(base.run_id, api_timeout=5)).output
        pro_out = (await client.task_run.result(pro.run_id, api_timeout=5)).output
    for text in (lite_out, base_out):
        assert text.type == "text" and isinstance(text.content, str)
        assert [(b.field, b.confidence) for b in text.basis] == [("output", "")]
    assert pro_out.type == "json" and pro_out.output_schema is not None  # type: ignore[union-attr]
    fields = _fields(pro_out)
    # auto mode: nested fields in dot notation [task-deep-research]
    assert {"profile", "profile.subject", "key_facts.0", "related_entities.0.name"} <= set(fields)


# -- enable_events: false [OpenAPI] and the live trace [task-sse] --------------------------------


async def _event_types(client: AsyncParallel, run_id: str, beta: bool = False) -> list[str]:
    stream = await (client.beta.task_run.events(run_id) if beta else client.task_run.events(run_id))
    return [e.type async for e in stream]


async def test_a_run_created_with_enable_events_false_streams_only_its_states() -> None:
    async with sdk_sandbox() as (client, _, clock):
        quiet = await client.task_run.create(input="q", processor="pro", enable_events=False)
        chatty = await client.beta.task_run.create(input="q", processor="pro", enable_events=True)
        clock.advance(3 * 3600)
        for beta in (False, True):
            assert await _event_types(client, quiet.run_id, beta) == ["task_run.state", "task_run.state"]
            types = await _event_types(client, chatty.run_id, beta)
            assert "task_run.progress_stats" in types
            assert any(t.startswith("task_run.progress_msg.") for t in types)


async def _next(stream: Any) -> Any:
    with anyio.fail_after(10):
        return await stream.__anext__()


async def test_a_live_run_stream_sends_each_message_when_it_happens_with_its_own_timestamp() -> None:
    async with sdk_sandbox() as (client, sb, clock):
        created = await client.task_run.create(input="Research Acme", processor="pro", enable_events=True)
        record = sb.store.get_run(created.run_id)
        assert record is not None
        start, span = record.start_at, record.end_at - record.start_at
        stream = await client.task_run.events(created.run_id)
        first = await _next(stream)
        assert first.type == "task_run.state" and first.run.status == "queued"

        clock.advance(start + 0.15 * span - clock.now())  # running: the first two messages have happened
        early = [await _next(stream) for _ in range(3)]
        assert [e.type for e in early] == [
            "task_run.progress_msg.exec_status",
            "task_run.progress_msg.plan",
            "task_run.progress_stats",
        ]
        assert 0 < early[2].progress_meter < 100

        clock.advance(0.2 * span)  # the search message happens while the run is still running
        search = await _next(stream)
        assert search.type == "task_run.progress_msg.search"
        assert (await _next(stream)).type == "task_run.progress_stats"
        assert (await client.task_run.retrieve(created.run_id)).status == "running"

        clock.advance(span)
        rest = [e async for e in stream]
    assert [e.type for e in rest] == [
        "task_run.progress_msg.result",
        "task_run.progress_stats",
        "task_run.state",
    ]
    assert rest[-1].run.status == "completed" and rest[-1].output is not None
    stamps = [e.timestamp for e in [*early[:2], search, rest[0]]]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4  # each its own moment, in order


async def test_tool_call_messages_appear_live_while_the_run_is_still_running() -> None:
    async with serve_asgi(facts_server()) as mcp_port, sdk_sandbox() as (client, sb, clock):
        created = await client.task_run.create(
            input="Acme Corp",
            processor="base",
            enable_events=True,
            mcp_servers=[{"type": "url", "name": "facts", "url": f"http://127.0.0.1:{mcp_port}/mcp"}],
            betas=["mcp-server-2025-07-17", "events-sse-2025-07-24"],
        )
        record = sb.store.get_run(created.run_id)
        assert record is not None
        stream = await client.task_run.events(created.run_id)
        await _next(stream)
        clock.advance(record.start_at + 0.6 * (record.end_at - record.start_at) - clock.now())
        seen: list[str] = []
        while "task_run.progress_msg.tool_call" not in seen:  # the executor calls the tool in real time
            seen.append((await _next(stream)).type)
        assert (await client.task_run.retrieve(created.run_id)).status == "running"
        clock.advance(3600)
        rest = [e async for e in stream]
    assert rest[-1].type == "task_run.state" and rest[-1].run.status == "completed"
    calls = rest[-1].output.mcp_tool_calls  # type: ignore[union-attr]
    assert calls is not None and calls[0].error == ""  # the docs' sample: "" on success


# -- group events stay open up to an hour while active [SDK 1.3.7 docs, OpenAPI] ----------------


async def test_group_events_stay_open_past_ten_minutes_and_close_after_an_hour_while_active() -> None:
    async with sdk_sandbox(SandboxConfig(speed=0.001, seed=0)) as (client, _, clock):
        gid = (await client.task_group.create()).task_group_id
        await client.task_group.add_runs(gid, inputs=[{"input": "slow", "processor": "lite"}])
        stream = await client.task_group.events(gid)
        received: list[Any] = []
        ended = anyio.Event()

        async def read() -> None:
            async for event in stream:
                received.append(event)
            ended.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            clock.advance(601)
            with anyio.move_on_after(1.5):
                await ended.wait()
            assert not ended.is_set()  # open after 600 s: the stream lasts up to an hour
            clock.advance(3000)
            with anyio.fail_after(10):
                await ended.wait()
        assert [e.type for e in received] == ["task_group_status"]
        assert (await client.task_group.retrieve(gid)).status.is_active  # closed by the hour, not the group


# -- routes that do not exist [OpenAPI] and small shapes ----------------------------------------


async def test_single_runs_under_v1beta_and_unknown_routes_answer_404_not_found_in_json() -> None:
    async with sdk_sandbox() as (client, _, _clock):
        run = await client.task_run.create(input="q", processor="lite")
        for method, path in [
            ("post", "/v1beta/tasks/runs"),
            ("get", f"/v1beta/tasks/runs/{run.run_id}"),
            ("get", f"/v1beta/tasks/runs/{run.run_id}/result"),
            ("get", f"/v1beta/tasks/runs/{run.run_id}/input"),
            ("get", "/v1/no/such/route"),
        ]:
            with pytest.raises(parallel.NotFoundError) as missing:
                if method == "post":
                    await client.post(path, body={"input": "q", "processor": "lite"}, cast_to=object)
                else:
                    await client.get(path, cast_to=object)
            assert missing.value.body == {"detail": "Not Found"}, path
        stream = await client.beta.task_run.events(run.run_id)  # the one /v1beta run path that exists
        assert (await _next(stream)).type == "task_run.state"
        await stream.close()


async def test_after_date_must_be_a_date_and_status_message_is_a_string() -> None:
    async with sdk_sandbox() as (client, _, _clock):
        with pytest.raises(parallel.UnprocessableEntityError) as bad:
            await client.task_run.create(
                input="q", processor="lite", source_policy={"after_date": "yesterday"}
            )
        assert "source_policy.after_date" in str(bad.value.body)
        ok = await client.task_run.create(
            input="q", processor="lite", source_policy={"after_date": "2025-01-31"}
        )
        assert ok.status == "queued"
        gid = (await client.task_group.create()).task_group_id
        await client.beta.task_group.add_runs(gid, inputs=[{"input": "q", "processor": "lite"}])
        status = (await client.task_group.retrieve(gid)).status
    assert status.status_message == "1 of 1 runs active"


# -- the task-creation rate limit [rate-limits] ------------------------------------------------


async def test_past_the_rate_limit_run_creating_posts_get_429_with_retry_after_and_commit_nothing() -> None:
    async with sdk_sandbox(SandboxConfig(speed=60.0, rate_limit_per_minute=3)) as (client, sb, clock):
        gid = (await client.task_group.create()).task_group_id
        await client.task_run.create(input="a", processor="lite")
        await client.task_group.add_runs(gid, inputs=[{"input": "b", "processor": "lite"}])
        clock.advance(20)
        await client.beta.task_group.add_runs(gid, inputs=[{"input": "c", "processor": "lite"}])
        for _ in range(5):  # reads never count
            await client.task_group.retrieve(gid)
        for attempt in (
            lambda: client.task_run.create(input="d", processor="lite"),
            lambda: client.task_group.add_runs(gid, inputs=[{"input": "e", "processor": "lite"}]),
        ):
            with pytest.raises(parallel.RateLimitError) as limited:
                await attempt()
            assert limited.value.response.headers["retry-after"] == "40"  # when the first POST leaves
            assert "quota temporarily exceeded" in str(limited.value.body)
        other = AsyncParallel(api_key="another-key", base_url=str(client.base_url), max_retries=0)
        await other.task_run.create(input="f", processor="lite")  # per key
        await other.close()
        assert (await client.task_group.retrieve(gid)).status.num_task_runs == 2
        clock.advance(40.5)
        await client.task_run.create(input="g", processor="lite")
        assert sb.stats()["rate_limited"] == 2


async def test_the_limit_is_on_by_default_at_the_documented_2000_per_minute() -> None:
    clock = ManualClock()
    sb = Sandbox(SandboxConfig(), clock=clock)
    async with httpx2.AsyncClient(
        transport=sb.transport, base_url="http://sandbox", headers={"x-api-key": "k"}
    ) as c:
        gid = (await c.post("/v1/tasks/groups", json={})).json()["taskgroup_id"]
        body = {"inputs": [{"input": "q", "processor": "lite"}]}
        codes = [(await c.post(f"/v1/tasks/groups/{gid}/runs", json=body)).status_code for _ in range(2001)]
        assert codes[:2000] == [200] * 2000 and codes[2000] == 429
        assert (await c.get(f"/v1/tasks/groups/{gid}")).status_code == 200
    assert TASK_CREATION_RATE_PER_MINUTE == 2000
    sb.close()


async def test_the_embedded_sandbox_takes_its_rate_from_the_settings() -> None:
    settings = Settings(sandbox=True, sandbox_rate_limit_per_minute=1, state=False)
    async with open_backend(settings) as backend:
        assert backend.sandbox is not None and backend.sandbox.rate_limiter.per_minute == 1
        client = backend.client_factory()
        run = RunInput(input="q", processor="lite")
        await client.create_run(run)
        with pytest.raises(RateLimitError) as limited:
            await client.create_run(run)
        assert limited.value.retry_after is not None and limited.value.retry_after > 0
        await client.aclose()
    async with open_backend(Settings(sandbox=True, sandbox_rate_limit_per_minute=0, state=False)) as off:
        assert off.sandbox is not None and not off.sandbox.rate_limiter.enabled


# -- webhook retries [webhook-setup] -----------------------------------------------------------


async def test_a_refused_webhook_is_retried_after_5_s_doubling_for_48_hours_scaled_by_the_speed() -> None:
    speed = 60.0
    send, arrivals = anyio.create_memory_object_stream[float](100)

    async def hook(request: Request) -> Response:
        await send.send(clock.now())  # when, on the sandbox clock, this attempt arrived
        return Response(status_code=503)

    async with (
        sdk_sandbox(SandboxConfig(speed=speed, seed=0)) as (client, sb, clock),
        serve_asgi(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as port,
        send,
        arrivals,
    ):
        await client.task_run.create(
            input="q",
            processor="lite",
            webhook={"url": f"http://127.0.0.1:{port}/hook", "event_types": ["task_run.status"]},
            betas=["webhook-2025-08-12"],
        )
        clock.advance(3600)  # the run finishes: the first attempt
        with anyio.fail_after(20):
            attempts = [await arrivals.receive()]
            expected = [
                5.0 * 2**i / speed for i in range(15)
            ]  # 5 s, 10 s, ... 81,920 s, divided by the speed
            for wait in expected:
                clock.advance(wait * 0.98)
                with anyio.move_on_after(0.2):
                    early = await arrivals.receive()
                    pytest.fail(f"attempt {len(attempts) + 1} came {attempts[-1] + wait - early:.3f} s early")
                clock.advance(wait * 0.03)
                attempts.append(await arrivals.receive())
            clock.advance(48 * 3600)
            with anyio.move_on_after(0.5):
                await arrivals.receive()
                pytest.fail("a 17th attempt: delivery must end after 48 hours")
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert len(attempts) == 16 and all(w <= g <= w * 1.03 for g, w in zip(gaps, expected, strict=True))
    assert attempts[-1] - attempts[0] <= 48 * 3600 / speed
    assert sb.stats()["webhooks"] == {"delivered": 0, "failed": 1}


# -- stream faults: an error event, a cut mid-way [task-sse, OpenAPI ErrorEvent] ----------------


async def test_the_stream_error_fault_sends_an_error_event_on_all_three_streams() -> None:
    async with sdk_sandbox() as (client, sb, clock):
        gid = (await client.task_group.create()).task_group_id
        added = await client.task_group.add_runs(
            gid, inputs=[{"input": f"q{i}", "processor": "lite"} for i in range(3)]
        )
        clock.advance(3600)
        sb.set_faults(Faults(stream_error=1.0))
        streams = {
            "group events": await client.task_group.events(gid),
            "group runs": await client.task_group.get_runs(gid),
            "beta group runs": await client.beta.task_group.get_runs(gid),
            "run events": await client.task_run.events(added.run_ids[0]),
            "beta run events": await client.beta.task_run.events(added.run_ids[0]),
        }
        for name, stream in streams.items():
            with anyio.fail_after(10):
                events = [e async for e in stream]
            assert [e.type for e in events][-1] == "error", name
            assert len(events) == 2 and "stream_error" in events[-1].error.message, name  # type: ignore[union-attr]
        assert sb.stats()["faults_injected"]["stream_error"] == 5


async def test_the_stream_cut_fault_breaks_all_three_streams_mid_body() -> None:
    async with sdk_sandbox() as (client, sb, clock):
        gid = (await client.task_group.create()).task_group_id
        added = await client.task_group.add_runs(
            gid, inputs=[{"input": f"q{i}", "processor": "lite"} for i in range(3)]
        )
        clock.advance(3600)
        sb.set_faults(Faults(stream_cut=1.0))
        for open_stream in (
            lambda: client.task_group.events(gid),
            lambda: client.task_group.get_runs(gid),
            lambda: client.task_run.events(added.run_ids[0]),
            lambda: client.beta.task_run.events(added.run_ids[0]),
        ):
            stream = await open_stream()
            got: list[str] = []
            with anyio.fail_after(10), pytest.raises(httpx.RemoteProtocolError):
                async for event in stream:
                    got.append(event.type)
            assert len(got) == 1  # the first event arrived, then the connection broke
        sb.set_faults(Faults())
        runs = [e async for e in await client.task_group.get_runs(gid)]
        assert len(runs) == 3  # nothing lost: a reconnect reads the whole stream
        assert sb.stats()["faults_injected"]["stream_cut"] == 4
