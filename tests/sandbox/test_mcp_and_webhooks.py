"""Real MCP tool calls to forwarded servers, and signed webhooks with retries."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from taskgroup_mcp.sandbox import ManualClock, Sandbox, SandboxConfig
from taskgroup_mcp.wire import TaskRunResult, WebhookPayload, verify_webhook

from .conftest import add, api, dead_port, facts_server, new_group, run_input, serve_asgi

pytestmark = pytest.mark.anyio


async def _result(sb: Sandbox, clock: ManualClock, rid: str) -> TaskRunResult:
    async with api(sb) as c:
        clock.advance(3600)
        with anyio.fail_after(20):
            r = await c.get(f"/v1/tasks/runs/{rid}/result", params={"timeout": 15})
    assert r.status_code == 200, r.text
    return TaskRunResult.model_validate(r.json())


async def test_a_run_forwarding_a_real_mcp_server_reports_the_call_with_the_servers_answer(
    clock: ManualClock,
) -> None:
    mcp_app = facts_server()
    async with serve_asgi(mcp_app) as port, Sandbox(SandboxConfig(), clock=clock) as sb:
        server = {
            "type": "url",
            "name": "facts",
            "url": f"http://127.0.0.1:{port}/mcp",
            "headers": {"authorization": "Bearer forwarded-canary"},
        }
        spec = {
            "output_schema": {
                "type": "json",
                "json_schema": {
                    "type": "object",
                    "properties": {"summary": {"type": "string"}},
                    "required": ["summary"],
                    "additionalProperties": False,
                },
            }
        }
        async with api(sb) as c:
            gid = await new_group(c)
            r = await add(c, gid, [run_input("Acme Corp", mcp_servers=[server])], default_task_spec=spec)
            (rid,) = r.json()["run_ids"]
            result = await _result(sb, clock, rid)
            echoed = (await c.get(f"/v1/tasks/runs/{rid}/input")).json()
    calls = result.output.mcp_tool_calls
    assert calls is not None and len(calls) == 1
    call = calls[0]
    assert (call.server_name, call.tool_name) == ("facts", "company_facts")
    assert json.loads(call.arguments) == {"query": "Acme Corp"}
    assert call.content == "FACTS[Acme Corp]: founded 1999, 42 employees"
    assert call.error == ""  # the docs' sample: an empty error string on success
    assert "FACTS[Acme Corp]" in json.dumps(result.output.content)
    assert any(h.get("authorization") == "Bearer forwarded-canary" for h in mcp_app.headers)
    assert echoed["mcp_servers"][0]["headers"] is None
    assert "forwarded-canary" not in json.dumps(result.to_wire())


async def test_allowed_tools_are_honoured_and_lite_calls_at_most_one_tool(clock: ManualClock) -> None:
    async with serve_asgi(facts_server()) as port, Sandbox(SandboxConfig(), clock=clock) as sb:
        url = f"http://127.0.0.1:{port}/mcp"
        servers = [
            {"name": "a", "url": url, "allowed_tools": ["stock_price"]},
            {"name": "b", "url": url},
        ]
        async with api(sb) as c:
            lite = (await c.post("/v1/tasks/runs", json=run_input("ACME", mcp_servers=servers))).json()[
                "run_id"
            ]
            base = (
                await c.post("/v1/tasks/runs", json=run_input("ACME", processor="base", mcp_servers=servers))
            ).json()["run_id"]
        lite_calls = (await _result(sb, clock, lite)).output.mcp_tool_calls or []
        base_calls = (await _result(sb, clock, base)).output.mcp_tool_calls or []
    assert [(x.server_name, x.tool_name, x.content) for x in lite_calls] == [
        ("a", "stock_price", "PRICE[ACME]: 12.34")
    ]
    assert [(x.server_name, x.tool_name) for x in base_calls] == [
        ("a", "stock_price"),
        ("b", "company_facts"),
    ]


async def test_an_unreachable_mcp_server_gives_the_documented_warning_and_null_tool_calls(
    clock: ManualClock,
) -> None:
    with dead_port() as port:
        dead = {"name": "gone", "url": f"http://127.0.0.1:{port}/mcp"}
        async with Sandbox(SandboxConfig(), clock=clock) as sb:
            async with api(sb) as c:
                rid = (await c.post("/v1/tasks/runs", json=run_input("q", mcp_servers=[dead]))).json()[
                    "run_id"
                ]
            result = await _result(sb, clock, rid)
    assert result.output.mcp_tool_calls is None
    warnings = result.run.warnings or []
    assert [w.type for w in warnings] == ["warning"]
    assert warnings[0].message.startswith("Error listing tools from MCP server gone. Reference ID: ")
    assert warnings[0].detail == {}


async def test_without_the_executor_an_mcp_run_completes_with_the_listing_warning(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    async with api(sandbox) as c:
        rid = (
            await c.post(
                "/v1/tasks/runs",
                json=run_input("q", mcp_servers=[{"name": "x", "url": "http://127.0.0.1:9/mcp"}]),
            )
        ).json()["run_id"]
        clock.advance(3600)
        r = await c.get(f"/v1/tasks/runs/{rid}/result")
    assert r.status_code == 200
    assert r.json()["output"]["mcp_tool_calls"] is None
    assert r.json()["run"]["warnings"][0]["message"].startswith("Error listing tools from MCP server x.")


async def test_a_finished_run_posts_a_signed_webhook_and_retries_until_it_is_accepted(
    clock: ManualClock,
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=500 if len(received) == 1 else 204)

    secret = "whsec-test-secret"
    async with (
        serve_asgi(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as port,
        Sandbox(SandboxConfig(webhook_secret=secret), clock=clock) as sb,
    ):
        body: dict[str, Any] = run_input(
            "q", webhook={"url": f"http://127.0.0.1:{port}/hook", "event_types": ["task_run.status"]}
        )
        async with api(sb) as c:
            rid = (await c.post("/v1/tasks/runs", json=body)).json()["run_id"]
        await _result(sb, clock, rid)
        with anyio.fail_after(10):
            # until the sandbox has seen the 2xx (the receiver may have it a moment earlier)
            while sb.stats_json()["webhooks"]["delivered"] < 1:
                clock.advance(10)  # the retry waits on the sandbox clock
                await anyio.sleep(0.01)
    assert len(received) == 2
    assert sb.stats_json()["webhooks"] == {"delivered": 1, "failed": 0}
    headers, raw = received[1]
    assert verify_webhook(
        secret, headers["webhook-id"], headers["webhook-timestamp"], raw, headers["webhook-signature"]
    )
    assert received[0][0]["webhook-id"] == headers["webhook-id"]
    payload = WebhookPayload.model_validate_json(raw)
    assert (
        payload.type == "task_run.status"
        and payload.data.run_id == rid
        and payload.data.status == "completed"
    )
    assert "output" not in json.loads(raw)


async def test_an_undeliverable_webhook_is_given_up_after_its_retries_and_the_executor_goes_on(
    clock: ManualClock,
) -> None:
    with dead_port() as port:
        async with Sandbox(SandboxConfig(), clock=clock) as sb:
            async with api(sb) as c:
                for url in (f"http://127.0.0.1:{port}/hook", "not a url"):
                    body = run_input("q", webhook={"url": url, "event_types": ["task_run.status"]})
                    rid = (await c.post("/v1/tasks/runs", json=body)).json()["run_id"]
                    await _result(sb, clock, rid)
            with anyio.fail_after(10):
                while sb.stats()["webhooks"]["failed"] < 2:
                    clock.advance(60)  # retries wait on the sandbox clock
                    await anyio.sleep(0.01)
            async with api(sb) as c:
                later = (await c.post("/v1/tasks/runs", json=run_input("after"))).json()["run_id"]
            assert (await _result(sb, clock, later)).run.status == "completed"
        assert sb.stats()["webhooks"] == {"delivered": 0, "failed": 2}
