"""Groups: create, retrieve, auth and not-found, under both /v1 and /v1beta."""

from __future__ import annotations

import pytest

from taskgroup_mcp.sandbox import ManualClock, Sandbox, SandboxConfig
from taskgroup_mcp.wire import ErrorResponse, TaskGroup

from .conftest import api, new_group

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("prefix", ["/v1", "/v1beta"])
async def test_a_created_group_is_retrievable_with_an_empty_inactive_status(
    sandbox: Sandbox, prefix: str
) -> None:
    async with api(sandbox) as c:
        r = await c.post(f"{prefix}/tasks/groups", json={"metadata": {"team": "research", "n": 3}})
        assert r.status_code == 200
        created = TaskGroup.model_validate(r.json())
        assert created.taskgroup_id.startswith("tgrp_")
        got = TaskGroup.model_validate((await c.get(f"{prefix}/tasks/groups/{created.taskgroup_id}")).json())
    assert got.metadata == {"team": "research", "n": 3}
    assert got.status.num_task_runs == 0
    assert got.status.task_run_status_counts == {}
    assert got.status.is_active is False
    assert got.created_at is not None and got.created_at.endswith("Z")


async def test_an_unknown_group_is_a_404_error_response(sandbox: Sandbox) -> None:
    async with api(sandbox) as c:
        r = await c.get("/v1/tasks/groups/tgrp_nope")
    assert r.status_code == 404
    assert ErrorResponse.model_validate(r.json()).error.message == "TaskGroup not found"


async def test_a_request_without_a_key_is_401(sandbox: Sandbox) -> None:
    async with api(sandbox, key="") as c:
        r = await c.post("/v1/tasks/groups", json={})
    assert r.status_code == 401
    assert ErrorResponse.model_validate(r.json()).error.ref_id


async def test_a_configured_key_must_match_exactly(clock: ManualClock) -> None:
    sb = Sandbox(SandboxConfig(api_key="right-key"), clock=clock)
    async with api(sb, key="wrong-key") as c:
        assert (await c.post("/v1/tasks/groups", json={})).status_code == 401
    async with api(sb, key="right-key") as c:
        assert (await c.post("/v1/tasks/groups", json={})).status_code == 200


async def test_the_configured_key_never_appears_in_the_config_repr() -> None:
    assert "s3cret-canary" not in repr(SandboxConfig(api_key="s3cret-canary", webhook_secret="s3cret-canary"))


async def test_unknown_query_parameters_and_beta_tokens_are_tolerated(sandbox: Sandbox) -> None:
    async with api(sandbox) as c:
        gid = await new_group(c)
        r = await c.get(
            f"/v1/tasks/groups/{gid}",
            params={"beta": "true", "whatever": "1"},
            headers={"parallel-beta": "x-1,y-2"},
        )
    assert r.status_code == 200


async def test_group_metadata_over_the_limits_is_a_422_naming_the_key(sandbox: Sandbox) -> None:
    async with api(sandbox) as c:
        r = await c.post("/v1/tasks/groups", json={"metadata": {"k" * 17: "v"}})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][:2] == ["body", "metadata"]
