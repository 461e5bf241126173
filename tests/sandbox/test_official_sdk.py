"""The official SDK (parallel-web 0.6.0) against `taskgroup-mcp sandbox` on a loopback port.

Parallel's documented `client.beta.task_group.add_runs(...)` example and every GA
`client.task_group` / `client.task_run` method run with no error and no missing field. The
sandbox runs as the real CLI in a subprocess, so this also covers `--port 0`, the per-request
log lines and a clean SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest
import uvicorn
from parallel import Parallel

from .conftest import facts_server

SPEED = "600"


def assert_complete(obj: Any, path: str = "response") -> None:
    """Every field the SDK's model marks required was on the wire, recursively."""
    if isinstance(obj, pydantic.BaseModel):
        for name, field in type(obj).model_fields.items():
            if field.is_required():
                assert name in obj.model_fields_set, f"{path}.{name} is required by the SDK but missing"
            assert_complete(getattr(obj, name, None), f"{path}.{name}")
    elif isinstance(obj, list):
        for i, item in enumerate(obj):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            assert_complete(item, f"{path}[{i}]")


class _ThreadServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    """A tiny streamable-HTTP MCP server on 127.0.0.1 in a thread of this process."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY in asyncio
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _ThreadServer(uvicorn.Config(facts_server(), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert server.ready.wait(10)
    yield f"http://127.0.0.1:{port}/mcp"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def sandbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`taskgroup-mcp sandbox --port 0` as a subprocess: (base URL, its stderr log file)."""
    log_path = tmp_path_factory.mktemp("sandbox") / "stderr.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "taskgroup_mcp",
                "sandbox",
                "--port",
                "0",
                "--speed",
                SPEED,
                "--seed",
                "1",
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("taskgroup-mcp sandbox listening on http://127.0.0.1:"), line
            yield line.rsplit(" ", 1)[1].strip(), log_path
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


@pytest.fixture
def client(sandbox_process: tuple[str, Path]) -> Parallel:
    return Parallel(api_key="sdk-test-key", base_url=sandbox_process[0], max_retries=0)


def test_the_documented_beta_add_runs_example_runs_unchanged_through_parallel_base_url(
    sandbox_process: tuple[str, Path], mcp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARALLEL_BASE_URL", sandbox_process[0])
    setup = Parallel(api_key="API Key")
    taskgroup_id = setup.task_group.create().task_group_id

    # -- Parallel's docs example (Add Runs to Task Group, beta), with only two literals filled in:
    # the group id and the MCP server URL (a local server instead of mcp.parallel.ai: no network).
    from parallel import Parallel as DocsParallel
    from parallel.types.beta import McpServerParam
    from parallel.types.beta.beta_run_input_param import BetaRunInputParam

    client = DocsParallel(api_key="API Key")

    group_status = client.beta.task_group.add_runs(
        taskgroup_id,
        inputs=[
            BetaRunInputParam(
                input="What was the GDP of France in 2023?",
                processor="base",
                mcp_servers=[
                    McpServerParam(
                        type="url",
                        name="parallel_web_search",
                        url=mcp_url,
                        headers={"x-api-key": "API Key"},
                    )
                ],
            )
        ],
        betas=["mcp-server-2025-07-17"],
    )
    print(group_status.status)
    # -- end of the example

    assert_complete(group_status)
    (run_id,) = group_status.run_ids
    result = client.task_run.result(run_id, api_timeout=30)
    assert_complete(result)
    calls = result.output.mcp_tool_calls
    assert calls is not None and calls[0].server_name == "parallel_web_search"
    assert calls[0].content == "FACTS[What was the GDP of France in 2023?]: founded 1999, 42 employees"


def test_every_ga_task_group_method_works_with_no_missing_field(client: Parallel) -> None:
    group = client.task_group.create(metadata={"suite": "sdk"})
    assert_complete(group)
    gid = group.task_group_id
    assert gid.startswith("tgrp_") and group.metadata == {"suite": "sdk"}
    spec = {
        "output_schema": {
            "type": "json",
            "json_schema": {
                "type": "object",
                "properties": {"gdp": {"type": "string"}, "year": {"type": "integer"}},
                "required": ["gdp", "year"],
                "additionalProperties": False,
            },
        }
    }
    added = client.task_group.add_runs(
        gid,
        inputs=[
            {"input": f"GDP of country {i}", "processor": "lite", "metadata": {"i": i}} for i in range(6)
        ],
        default_task_spec=spec,  # type: ignore[arg-type]
    )
    assert_complete(added)
    more = client.task_group.add_runs(
        gid, inputs=[{"input": "one more", "processor": "lite"}], refresh_status=False
    )
    assert more.run_cursor is not None
    assert_complete(client.task_group.retrieve(gid))

    events = list(client.task_group.events(gid, api_timeout=30))
    for event in events:
        assert_complete(event)
    finished = [e for e in events if e.type == "task_run.state"]
    assert sorted(e.run.run_id for e in finished) == sorted([*added.run_ids, *more.run_ids])  # type: ignore[union-attr]
    resumed = list(client.task_group.events(gid, last_event_id=finished[2].event_id, api_timeout=5))
    assert [e.event_id for e in resumed] == [e.event_id for e in events[events.index(finished[2]) + 1 :]]

    runs = list(client.task_group.get_runs(gid, include_input=True, include_output=True))
    assert len(runs) == 7
    for event in runs:
        assert_complete(event)
        assert event.type == "task_run.state" and event.output is not None and event.input is not None
    assert runs[0].output.type == "json" and set(runs[0].output.content) == {"gdp", "year"}  # type: ignore[union-attr]
    assert (
        [e.run.run_id for e in client.task_group.get_runs(gid, last_event_id=runs[3].event_id)]
        == [  # type: ignore[union-attr]
            e.run.run_id
            for e in runs[4:]  # type: ignore[union-attr]
        ]
    )
    assert list(client.task_group.get_runs(gid, status="failed")) == []

    run = client.task_group.retrieve_run(added.run_ids[0], task_group_id=gid)
    assert_complete(run)
    assert run.status == "completed" and run.metadata == {"i": 0} and run.task_group_id == gid


def test_every_ga_task_run_method_works_with_no_missing_field(client: Parallel) -> None:
    created = client.task_run.create(
        input={"company": "Acme"},
        processor="base",
        metadata={"k": "v"},
        task_spec={"output_schema": "A one-paragraph answer"},
        source_policy={"include_domains": ["example.com"]},
    )
    assert_complete(created)
    assert created.status == "queued" and created.interaction_id == created.run_id
    assert_complete(client.task_run.retrieve(created.run_id))
    echoed = client.task_run.retrieve_input(created.run_id)
    assert_complete(echoed)
    assert echoed.input == {"company": "Acme"} and echoed.metadata == {"k": "v"}

    result = client.task_run.result(created.run_id, api_timeout=30)
    assert_complete(result)
    assert result.output.type == "text" and "Sandbox data" in result.output.content  # type: ignore[operator]

    events = list(client.task_run.events(created.run_id))
    for event in events:
        assert_complete(event)
    assert events[0].type == "task_run.state" and events[-1].type == "task_run.state"
    assert events[-1].output is not None  # type: ignore[union-attr]

    class Gdp(pydantic.BaseModel):
        country: str
        gdp_usd_billions: float
        rank: int

    parsed = client.task_run.execute(input="France", processor="lite", output=Gdp)
    assert_complete(parsed)
    assert isinstance(parsed.output.parsed, Gdp)  # type: ignore[union-attr]

    auto = client.task_run.create(input="Tell me about Acme", processor="pro")
    auto_result = client.task_run.result(auto.run_id, api_timeout=60)
    assert auto_result.output.type == "json" and auto_result.output.output_schema is not None  # type: ignore[union-attr]


def test_the_sdk_sees_the_documented_errors(client: Parallel) -> None:
    import parallel

    with pytest.raises(parallel.NotFoundError):
        client.task_group.retrieve("tgrp_missing")
    with pytest.raises(parallel.PermissionDeniedError):
        client.task_run.create(input="q", processor="warp-drive")
    gid = client.task_group.create().task_group_id
    with pytest.raises(parallel.UnprocessableEntityError) as err:
        client.task_group.add_runs(
            gid, inputs=[{"input": "q", "processor": "lite", "metadata": {"k" * 17: "v"}}]
        )
    assert "metadata" in json.dumps(err.value.body)
    with pytest.raises(parallel.AuthenticationError):
        Parallel(api_key="", base_url=str(client.base_url), max_retries=0).task_group.create()


def test_the_sandbox_logs_one_line_per_request_to_stderr(
    client: Parallel, sandbox_process: tuple[str, Path]
) -> None:
    gid = client.task_group.create().task_group_id
    client.task_group.retrieve(gid)
    lines = sandbox_process[1].read_text().splitlines()
    assert any(f"GET /v1/tasks/groups/{gid} 200" in line for line in lines)
    assert sum(f"/v1/tasks/groups/{gid}" in line for line in lines) == 1
    assert not any("sdk-test-key" in line for line in lines)


def test_the_beta_task_group_methods_reach_the_v1beta_paths_with_no_missing_field(
    client: Parallel, sandbox_process: tuple[str, Path]
) -> None:
    group = client.beta.task_group.create(metadata={"era": "beta"})
    assert_complete(group)
    gid = group.task_group_id
    added = client.beta.task_group.add_runs(gid, inputs=[{"input": "q", "processor": "lite"}])
    assert_complete(added)
    assert_complete(client.beta.task_group.retrieve(gid))
    events = list(client.beta.task_group.events(gid, api_timeout=30))
    runs = list(client.beta.task_group.get_runs(gid, include_output=True))
    for event in [*events, *runs]:
        assert_complete(event)
    assert [e.run.run_id for e in runs] == added.run_ids  # type: ignore[union-attr]
    assert any(e.type == "task_run.state" for e in events)
    log = sandbox_process[1].read_text()
    assert f"GET /v1beta/tasks/groups/{gid}/runs 200" in log
