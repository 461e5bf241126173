"""Adding runs: the response shape, the cursors, and every documented rejection."""

from __future__ import annotations

from typing import Any

import pytest

from taskgroup_mcp.sandbox import Sandbox
from taskgroup_mcp.wire import ErrorResponse, TaskGroupRunResponse, ValidationErrorResponse

from .conftest import add, api, new_group, run_input

pytestmark = pytest.mark.anyio


async def test_added_runs_are_queued_and_counted_with_one_id_each(sandbox: Sandbox) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        r = await add(c, gid, [run_input(f"q{i}") for i in range(5)])
    assert r.status_code == 200
    body = TaskGroupRunResponse.model_validate(r.json())
    assert len(body.run_ids) == len(set(body.run_ids)) == 5
    assert all(rid.startswith("trun_") and len(rid) == 5 + 32 for rid in body.run_ids)
    assert body.status.num_task_runs == 5
    assert body.status.task_run_status_counts == {"queued": 5}
    assert body.status.is_active is True
    assert body.run_cursor is None and body.event_cursor is None


async def test_the_second_batch_gets_cursors_positioned_at_its_runs(sandbox: Sandbox) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        await add(c, gid, [run_input("a"), run_input("b")])
        second = TaskGroupRunResponse.model_validate((await add(c, gid, [run_input("c")])).json())
        assert second.run_cursor is not None
        r = await c.get(f"/v1/tasks/groups/{gid}/runs", params={"last_event_id": second.run_cursor})
    ids = [line for line in r.text.splitlines() if line.startswith("data:")]
    assert len(ids) == 1 and second.run_ids[0] in ids[0]


async def test_refresh_status_false_still_answers_with_a_status(sandbox: Sandbox) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        r = await c.post(
            f"/v1/tasks/groups/{gid}/runs", params={"refresh_status": "false"}, json={"inputs": [run_input()]}
        )
    assert r.status_code == 200 and r.json()["status"]["num_task_runs"] == 1


async def test_adding_to_an_unknown_group_is_404(sandbox: Sandbox) -> None:
    async with api(sandbox) as c:
        r = await add(c, "tgrp_missing", [run_input()])
    assert r.status_code == 404


async def test_an_unknown_processor_is_403_naming_the_input(sandbox: Sandbox) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        r = await add(c, gid, [run_input(), run_input(processor="turbo-max")])
        status = await c.get(f"/v1/tasks/groups/{gid}")
    assert r.status_code == 403
    assert "inputs.1.processor" in ErrorResponse.model_validate(r.json()).error.message
    assert status.json()["status"]["num_task_runs"] == 0


def _many_servers(n: int) -> list[dict[str, Any]]:
    return [{"type": "url", "name": f"s{i}", "url": f"https://mcp{i}.example.com/mcp"} for i in range(n)]


@pytest.mark.parametrize(
    ("inputs", "extra", "field"),
    [
        ([run_input(f"q{i}") for i in range(1001)], {}, "body.inputs"),
        ([run_input(metadata={"k" * 17: "v"})], {}, "body.inputs.0.metadata"),
        ([run_input(), run_input(metadata={"key": "v" * 513})], {}, "body.inputs.1.metadata"),
        ([run_input(mcp_servers=_many_servers(11))], {}, "body.inputs.0.mcp_servers"),
        ([run_input("x" * 25_001)], {}, "body.inputs.0.input"),
        (
            [run_input("x" * 20_000)],
            {"default_task_spec": {"output_schema": {"type": "text", "description": "d" * 6_000}}},
            "body.inputs.0.input",
        ),
        ([{"processor": "lite"}], {}, "body.inputs.0.input"),
        ([], {}, "body.inputs"),
    ],
)
async def test_every_violated_limit_is_a_422_that_names_the_field(
    sandbox: Sandbox, inputs: list[dict[str, Any]], extra: dict[str, Any], field: str
) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        r = await add(c, gid, inputs, **extra)
        status = (await c.get(f"/v1/tasks/groups/{gid}")).json()["status"]
    assert r.status_code == 422
    body = ValidationErrorResponse.model_validate(r.json())
    fields = {".".join(str(p) for p in item.loc) for item in body.detail}
    assert any(f.startswith(field) for f in fields), fields
    assert status["num_task_runs"] == 0


async def test_at_the_limits_a_batch_is_accepted(sandbox: Sandbox) -> None:
    inputs = [run_input(f"q{i}", metadata={"k" * 16: "v" * 512}) for i in range(1000)]
    inputs[0] = run_input("x" * 25_000, mcp_servers=_many_servers(10))
    async with api(sandbox) as c:
        gid = await new_group(c)
        r = await add(c, gid, inputs)
    assert r.status_code == 200
    assert len(r.json()["run_ids"]) == 1000


async def test_a_malformed_body_is_a_422_and_never_echoes_the_input(sandbox: Sandbox) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        bad = await c.post(
            f"/v1/tasks/groups/{gid}/runs",
            json={
                "inputs": [
                    {
                        "input": "q",
                        "processor": "lite",
                        "mcp_servers": [{"name": "s", "url": 7, "headers": {"a": "canary-secret"}}],
                    }
                ]
            },
        )
        not_json = await c.post(f"/v1/tasks/groups/{gid}/runs", content=b"{nope")
    assert bad.status_code == 422 and "canary-secret" not in bad.text
    assert not_json.status_code == 422 and not_json.json()["detail"][0]["loc"][0] == "body"
