"""The sandbox behaves as Parallel documents it, seen through the official SDK (parallel-web 0.6.0).

Each test drives a sandbox on a manual clock, served by uvicorn on 127.0.0.1, with the SDK's
async client: its GA surface (``client.task_run``, ``client.task_group``) and, where the feature
exists there, its beta surface (``client.beta.*``, the ``/v1beta`` paths). Sources are the
documentation pages named in each test.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import parallel
import pytest
from parallel import AsyncParallel

from taskgroup_mcp.sandbox import ManualClock, Sandbox, SandboxConfig

from .conftest import serve_asgi

pytestmark = pytest.mark.anyio

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
