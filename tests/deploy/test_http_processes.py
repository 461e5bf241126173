"""``taskgroup-mcp serve --transport http`` as real processes: refusal, replicas, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
from deploy_harness import TOKEN, serving
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from served_port import announced_port
from taskgroup_mcp.sandbox import Sandbox, SandboxConfig

UPSTREAM_KEY = "upstream-key-CANARY-0123456789"


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKGROUP_MCP_", "PARALLEL_"))}
    env["TASKGROUP_MCP_STATE_DIR"] = os.environ["TASKGROUP_MCP_STATE_DIR"]  # never the real home
    env.update(extra)
    return env


@contextmanager
def server_process(env: dict[str, str], log: Path, *flags: str) -> Iterator[subprocess.Popen[bytes]]:
    """The server as a child process on a port of its own choosing (``--port 0``; see
    :func:`started`), its stderr in ``log`` (a pipe nobody reads could fill and block it)."""
    argv = [sys.executable, "-m", "taskgroup_mcp", "serve", "--transport", "http", *flags, "--port", "0"]
    with log.open("wb") as sink:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=sink)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def started(log: Path, proc: subprocess.Popen[bytes]) -> int:
    """The port the server bound (from its startup line), once it answers ready there."""
    port = await anyio.to_thread.run_sync(announced_port, log, proc)
    await wait_ready(port, proc)
    return port


async def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    """Poll /readyz until the process answers 200 (a process offers no readiness event to wait on)."""
    async with httpx2.AsyncClient() as http:
        with anyio.fail_after(60):
            while True:
                assert proc.poll() is None, "the server process exited during startup"
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                await anyio.sleep(0.1)


@asynccontextmanager
async def shared_upstream() -> AsyncIterator[str]:
    """One sandbox on 127.0.0.1 playing the Parallel API for every replica."""
    async with Sandbox(SandboxConfig(speed=0.01)) as sandbox, serving(sandbox.app) as running:
        yield running.base
    sandbox.close()


class RoundRobin(httpx2.AsyncBaseTransport):
    """Sends each HTTP request to the next port in turn, as a round-robin load balancer would."""

    def __init__(self, ports: list[int]) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.ports = ports
        self.sent: list[int] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = self.ports[len(self.sent) % len(self.ports)]
        self.sent.append(port)
        request.url = request.url.copy_with(port=port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_startup_refuses_all_interfaces_without_auth() -> None:
    argv = [
        sys.executable,
        "-m",
        "taskgroup_mcp",
        "serve",
        "--transport",
        "http",
        "--host",
        "0.0.0.0",
        "--sandbox",
        "--port",
        "0",
    ]
    done = subprocess.run(argv, env=server_env(), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "refusing to serve HTTP on 0.0.0.0 without authentication" in done.stderr
    assert "TASKGROUP_MCP_AUTH_TOKENS" in done.stderr and "--insecure-no-auth" in done.stderr
    assert "Uvicorn running" not in done.stderr


def test_serve_on_a_port_in_use_says_so_in_one_line_and_exits_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        argv = [sys.executable, "-m", "taskgroup_mcp", "serve", "--transport", "http", "--sandbox"]
        done = subprocess.run(
            [*argv, "--port", str(port)], env=server_env(), capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: address already in use; pick another --port" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_two_replicas_behind_a_round_robin_client_answer_200_mixed_calls_without_error(
    mode: str, tmp_path: Path
) -> None:
    async with shared_upstream() as upstream:
        env = server_env(
            PARALLEL_BASE_URL=upstream, PARALLEL_API_KEY=UPSTREAM_KEY, TASKGROUP_MCP_AUTH_TOKENS=TOKEN
        )
        logs = [tmp_path / "first.log", tmp_path / "second.log"]
        with server_process(env, logs[0]) as first, server_process(env, logs[1]) as second:
            ports = [await started(logs[0], first), await started(logs[1], second)]
            balancer = RoundRobin(ports)
            errors: list[str] = []
            calls = 0
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx2.AsyncClient(transport=balancer, headers=headers, timeout=30.0) as http:
                url = f"http://127.0.0.1:{ports[0]}/mcp"
                with anyio.fail_after(120):
                    async with Client(streamable_http_client(url, http_client=http), mode=mode) as c:
                        created = await c.call_tool("create_task_group", {})
                        group_id = str((created.structured_content or {})["task_group_id"])
                        added = await c.call_tool(
                            "add_runs", {"task_group_id": group_id, "inputs": ["Who founded Acme?"]}
                        )
                        errors += [str(r.content) for r in (created, added) if r.is_error]
                        while calls < 200:
                            step = calls % 4
                            if step == 0:
                                tools = await c.list_tools()
                                if not tools.tools:
                                    errors.append("no tools")
                            elif step == 1:
                                r = await c.call_tool("get_task_group_status", {"task_group_id": group_id})
                                errors += [str(r.content)] if r.is_error else []
                            elif step == 2:
                                r = await c.call_tool("get_task_group_results", {"task_group_id": group_id})
                                errors += [str(r.content)] if r.is_error else []
                            else:
                                resource = await c.read_resource("taskgroup://processors")
                                if not resource.contents:
                                    errors.append("no processors resource")
                            calls += 1
    assert errors == []
    counts = Counter(balancer.sent)
    assert len(balancer.sent) >= 200
    assert abs(counts[ports[0]] - counts[ports[1]]) <= 1, counts
    assert balancer.sent[:6] == ports * 3, "requests alternate"
    text = "".join(log.read_text(encoding="utf-8") for log in logs)
    assert "POST /mcp 200" in text
    assert TOKEN not in text and UPSTREAM_KEY not in text


@pytest.mark.anyio
async def test_sigterm_lets_an_in_flight_wait_finish_then_exits_cleanly(tmp_path: Path) -> None:
    async with shared_upstream() as upstream:
        env = server_env(
            PARALLEL_BASE_URL=upstream,
            PARALLEL_API_KEY=UPSTREAM_KEY,
            TASKGROUP_MCP_AUTH_TOKENS=TOKEN,
            TASKGROUP_MCP_SHUTDOWN_GRACE_SECONDS="20",
        )
        log_path = tmp_path / "server.log"
        with server_process(env, log_path, "--log-format", "json") as proc:
            port = await started(log_path, proc)
            in_flight = anyio.Event()

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                in_flight.set()

            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx2.AsyncClient(headers=headers, timeout=30.0) as http:
                url = f"http://127.0.0.1:{port}/mcp"
                with anyio.fail_after(60):
                    async with Client(streamable_http_client(url, http_client=http)) as c:
                        created = await c.call_tool("create_task_group", {})
                        group_id = str((created.structured_content or {})["task_group_id"])
                        await c.call_tool(
                            "add_runs", {"task_group_id": group_id, "inputs": ["Who founded Acme?"]}
                        )
                        await c.list_tools()  # results are validated against cached schemas: no request later
                        results = []
                        async with anyio.create_task_group() as tg:

                            async def wait_call() -> None:
                                args = {"task_group_id": group_id, "timeout_seconds": 4}
                                results.append(
                                    await c.call_tool(
                                        "wait_for_task_group", args, progress_callback=on_progress
                                    )
                                )

                            tg.start_soon(wait_call)
                            await in_flight.wait()
                            proc.send_signal(signal.SIGTERM)
            returncode = await anyio.to_thread.run_sync(lambda: proc.wait(timeout=30))
    assert len(results) == 1 and not results[0].is_error, results
    assert "Still running" in str((results[0].structured_content or {}).get("next_step"))
    assert returncode == 0
    log = (tmp_path / "server.log").read_text(encoding="utf-8")
    entries = [json.loads(line) for line in log.splitlines()]  # --log-format json: every line is JSON
    messages = [e["message"] for e in entries]
    assert "Application shutdown complete." in messages
    assert not any("Traceback" in m or "graceful shutdown exceeded" in m for m in messages)
    calls = [e for e in entries if e["logger"] == "taskgroup_mcp.http.access" and e["path"] == "/mcp"]
    assert len(calls) >= 4 and len({e["request_id"] for e in calls}) == len(calls), "one id per request"
    assert TOKEN not in log and UPSTREAM_KEY not in log
    assert "timeout graceful shutdown exceeded" not in log


def test_the_dockerfile_command_is_what_these_tests_run() -> None:
    dockerfile = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text(encoding="utf-8")
    assert 'ENTRYPOINT ["taskgroup-mcp"]' in dockerfile
    assert '"serve", "--transport", "http"' in dockerfile


def readme_http_flags() -> list[str]:
    """The flags of the README's HTTP quickstart command."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    command = readme.split("## Remote deployment", 1)[1].split("```bash\n", 1)[1].splitlines()[0]
    assert command.startswith('TASKGROUP_MCP_AUTH_TOKENS="$(openssl rand -hex 32)" taskgroup-mcp serve ')
    return command.split("taskgroup-mcp serve ", 1)[1].split()


@pytest.mark.anyio
async def test_the_readme_http_quickstart_serves_the_tools(tmp_path: Path) -> None:
    env = server_env(TASKGROUP_MCP_AUTH_TOKENS=TOKEN)
    log_path = tmp_path / "server.log"
    with server_process(env, log_path, *readme_http_flags()) as proc:
        port = await started(log_path, proc)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx2.AsyncClient(headers=headers, timeout=30.0) as http:
            url = f"http://127.0.0.1:{port}/mcp"
            with anyio.fail_after(30):
                async with Client(streamable_http_client(url, http_client=http)) as c:
                    created = await c.call_tool("create_task_group", {})
    assert not created.is_error
    assert proc.returncode == 0
