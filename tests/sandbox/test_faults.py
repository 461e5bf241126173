"""Faults on run-creating requests, and the control routes under /_sandbox/."""

from __future__ import annotations

import json

import anyio
import httpx2
import pytest

from taskgroup_mcp.sandbox import Faults, ManualClock, Sandbox, SandboxConfig

from .conftest import BASE, add, api, new_group, run_input, serve_asgi, sse_events

pytestmark = pytest.mark.anyio


async def _runs(c: httpx2.AsyncClient, gid: str) -> int:
    return int((await c.get(f"/v1/tasks/groups/{gid}")).json()["status"]["num_task_runs"])


async def test_drop_after_commit_commits_then_raises_a_protocol_error_with_no_response(
    sandbox: Sandbox,
) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        sandbox.set_faults(Faults(drop_after_commit=1.0))
        with pytest.raises(httpx2.RemoteProtocolError):
            await add(c, gid, [run_input("a"), run_input("b")])
        with pytest.raises(httpx2.RemoteProtocolError):
            await c.post("/v1/tasks/runs", json=run_input())
        assert await _runs(c, gid) == 2
    assert sandbox.stats_json()["faults_injected"]["drop_after_commit"] == 2


async def test_fail_before_commit_is_a_503_and_commits_nothing(sandbox: Sandbox) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        sandbox.set_faults(Faults(fail_before_commit=1.0))
        r = await add(c, gid, [run_input()])
        assert r.status_code == 503 and r.json()["type"] == "error"
        assert await _runs(c, gid) == 0


async def test_throttle_is_a_429_with_retry_after_and_commits_nothing(sandbox: Sandbox) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        sandbox.set_faults(Faults(throttle=1.0, retry_after=2.5))
        r = await add(c, gid, [run_input()])
        assert r.status_code == 429 and r.headers["retry-after"] == "2.5"
        assert await _runs(c, gid) == 0


async def test_commit_delay_hides_committed_runs_until_it_passes(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        sandbox.set_faults(Faults(commit_delay_ms=500))
        r = await add(c, gid, [run_input("a"), run_input("b")])
        assert r.status_code == 200 and len(r.json()["run_ids"]) == 2
        assert await _runs(c, gid) == 0
        assert sse_events((await c.get(f"/v1/tasks/groups/{gid}/runs")).text) == []
        clock.advance(0.5)
        assert await _runs(c, gid) == 2


async def test_latency_is_added_to_run_creating_requests_only(clock: ManualClock) -> None:
    sb = Sandbox(SandboxConfig(faults=Faults(latency_ms=(300, 300))), clock=clock)
    async with api(sb) as c:
        gid = await new_group(c)
        started = anyio.current_time()
        await c.get(f"/v1/tasks/groups/{gid}")
        read = anyio.current_time() - started
        started = anyio.current_time()
        await add(c, gid, [run_input()])
        write = anyio.current_time() - started
    assert write >= 0.3 > read


async def test_the_same_seed_injects_the_same_faults() -> None:
    async def outcomes() -> list[int | str]:
        sb = Sandbox(
            SandboxConfig(
                seed=5, faults=Faults.parse("drop_after_commit=0.3,fail_before_commit=0.2,throttle=0.2")
            ),
            clock=ManualClock(),
        )
        out: list[int | str] = []
        async with api(sb) as c:
            gid = await new_group(c)
            for _ in range(30):
                try:
                    out.append((await add(c, gid, [run_input()])).status_code)
                except httpx2.RemoteProtocolError:
                    out.append("dropped")
        return out

    first = await outcomes()
    assert first == await outcomes()
    assert {200, 429, 503, "dropped"} <= set(first)


def test_faults_parse_from_the_cli_form() -> None:
    f = Faults.parse(
        "drop_after_commit=0.2, fail_before_commit=0.1,throttle=0.05,retry_after=1,latency_ms=50-200,commit_delay_ms=500"
    )
    assert f == Faults(0.2, 0.1, 0.05, 1.0, (50.0, 200.0), 500.0)
    with pytest.raises(ValueError, match="unknown fault"):
        Faults.parse("explode=1")
    with pytest.raises(ValueError, match="probability"):
        Faults.parse("throttle=2")


async def test_control_routes_set_faults_report_stats_and_reset(sandbox: Sandbox) -> None:
    async with api(sandbox) as c, httpx2.AsyncClient(transport=sandbox.transport, base_url=BASE) as control:
        r = await control.post("/_sandbox/faults", json={"throttle": 1.0, "latency_ms": "0-0"})
        assert r.status_code == 200 and r.json()["throttle"] == 1.0
        assert (await control.post("/_sandbox/faults", json={"bogus": 1})).status_code == 422
        gid = await new_group(c)
        assert (await add(c, gid, [run_input()])).status_code == 429
        stats = (await control.get("/_sandbox/stats")).json()
        assert stats["requests"]["add_runs"] == {"429": 1}
        assert stats["faults_injected"] == {"throttle": 1}
        assert stats["groups"] == 1 and stats["runs"] == 0
        await control.post("/_sandbox/faults", json={})
        assert (await add(c, gid, [run_input()])).status_code == 200
        assert (await control.post("/_sandbox/reset")).status_code == 200
        assert (await c.get(f"/v1/tasks/groups/{gid}")).status_code == 404
        assert (await control.get("/_sandbox/stats")).json()["groups"] == 0


async def test_the_control_clock_route_advances_a_manual_clock(sandbox: Sandbox, clock: ManualClock) -> None:
    async with httpx2.AsyncClient(transport=sandbox.transport, base_url=BASE) as control:
        before = clock.now()
        r = await control.post("/_sandbox/clock", json={"advance": 90})
    assert r.status_code == 200 and clock.now() == before + 90


async def test_a_read_timeout_after_sending_raises_read_timeout_and_the_request_still_commits(
    clock: ManualClock,
) -> None:
    sb = Sandbox(SandboxConfig(faults=Faults(latency_ms=(200, 200))), clock=clock)
    async with api(sb) as c:
        gid = await new_group(c)
        with pytest.raises(httpx2.ReadTimeout):
            await c.post(f"/v1/tasks/groups/{gid}/runs", json={"inputs": [run_input()]}, timeout=0.05)
        with anyio.fail_after(5):
            if sb.stats_json()["runs_created"] == 0:  # the server side is still sleeping out its latency
                await sb.lifecycle.wait_changed()
        assert await _runs(c, gid) == 1


async def test_a_caller_cancelled_after_sending_does_not_stop_the_commit(clock: ManualClock) -> None:
    sb = Sandbox(SandboxConfig(faults=Faults(latency_ms=(100, 100))), clock=clock)
    async with api(sb) as c:
        gid = await new_group(c)
        with anyio.move_on_after(0.02):
            await add(c, gid, [run_input("a"), run_input("b")])
        with anyio.fail_after(5):
            if sb.stats_json()["runs_created"] == 0:
                await sb.lifecycle.wait_changed()
        assert await _runs(c, gid) == 2


async def test_over_uvicorn_a_dropped_connection_is_a_protocol_error_and_the_runs_are_committed(
    sandbox: Sandbox,
) -> None:
    sandbox.set_faults(Faults(drop_after_commit=1.0))
    async with (
        serve_asgi(sandbox.app) as port,
        httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"x-api-key": "k"}) as c,
    ):
        gid = await new_group(c)
        with pytest.raises(httpx2.RemoteProtocolError):
            await add(c, gid, [run_input("a"), run_input("b"), run_input("c")])
        assert await _runs(c, gid) == 3
    assert sandbox.stats_json()["requests"]["add_runs"] == {"dropped": 1}


async def test_the_python_api_does_what_the_control_routes_do(sandbox: Sandbox) -> None:
    async with api(sandbox) as c, httpx2.AsyncClient(transport=sandbox.transport, base_url=BASE) as control:
        gid = await new_group(c)
        await add(c, gid, [run_input()])
        assert sandbox.stats() == (await control.get("/_sandbox/stats")).json()
        assert sandbox.stats()["runs"] == 1 and sandbox.stats.requests["add_runs"]["200"] == 1
        sandbox.reset()
        assert sandbox.stats()["groups"] == 0
        assert (await c.get(f"/v1/tasks/groups/{gid}")).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"latency_ms": float("inf")}, "latency_ms"),
        ({"latency_ms": [0, float("nan")]}, "latency_ms"),
        ({"retry_after": float("nan")}, "retry_after"),
        ({"commit_delay_ms": float("inf")}, "commit_delay_ms"),
        ({"commit_delay_ms": 1e12}, "commit_delay_ms"),
        ({"throttle": float("nan")}, "throttle"),
        ({"retry_after": True}, "retry_after"),
    ],
)
async def test_a_non_finite_or_out_of_range_fault_value_is_refused_with_400_naming_it_and_not_stored(
    sandbox: Sandbox, body: dict[str, object], field: str
) -> None:
    async with httpx2.AsyncClient(transport=sandbox.transport, base_url=BASE) as control:
        raw = json.dumps(body)  # Python writes NaN and Infinity, as a careless client would
        r = await control.post("/_sandbox/faults", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert r.json()["field"] == field and field in r.json()["error"]
        current = await control.get("/_sandbox/faults")
    assert current.status_code == 200 and current.json() == Faults().to_json()


@pytest.mark.parametrize(
    "spec", ["latency_ms=inf", "latency_ms=0-nan", "retry_after=1e999", "commit_delay_ms=1e9"]
)
def test_the_faults_flag_refuses_non_finite_values_naming_the_fault(spec: str) -> None:
    name = spec.partition("=")[0]
    with pytest.raises(ValueError, match=name):
        Faults.parse(spec)
