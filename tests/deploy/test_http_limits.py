"""Slow and greedy HTTP clients: a header timeout and a connection cap, on real sockets.

In process: uvicorn as ``serve --transport http`` configures it, on 127.0.0.1 port 0. As a child
process: the same server under a lowered open-file limit, flooded with connections that never
finish their headers, still answers an authenticated call and keeps its log short.
"""

from __future__ import annotations

import resource
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from anyio.abc import SocketStream
from deploy_harness import OTHER_TOKEN, TOKEN, client, serving, toy_server
from pydantic import SecretStr
from test_http_processes import server_env, started

from taskgroup_mcp.client import ParallelClient
from taskgroup_mcp.commands._http_limits import default_max_connections
from taskgroup_mcp.commands.http import build_http_app, uvicorn_config
from taskgroup_mcp.config import Settings
from taskgroup_mcp.sandbox import Sandbox, SandboxConfig
from taskgroup_mcp.tools import build_server

pytestmark = pytest.mark.anyio

PARTIAL_HEADERS = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


def settings(**overrides: Any) -> Settings:
    return Settings(**({"auth_tokens": [SecretStr(TOKEN)], "port": 0} | overrides))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def slow_connection(port: int) -> SocketStream:
    """A connection that sends part of its headers and then nothing."""
    stream = await anyio.connect_tcp("127.0.0.1", port)
    await stream.send(PARTIAL_HEADERS)
    return stream


async def closed_by_server(stream: SocketStream) -> bool:
    try:
        with anyio.move_on_after(0.05):
            await stream.receive()
        return False
    except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError):
        return True


async def test_a_connection_that_never_finishes_its_headers_is_closed_after_the_header_timeout() -> None:
    config = settings(http_header_timeout_seconds=0.5)
    app = build_http_app(config, toy_server().server)
    async with serving(app, config=uvicorn_config(app, config)) as running:
        port = int(running.base.rsplit(":", 1)[1])
        stream = await slow_connection(port)
        with anyio.fail_after(15):
            with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError)):
                await stream.receive()
        await stream.aclose()


async def test_at_the_connection_cap_slow_connections_make_room_for_an_authenticated_call() -> None:
    cap = 50
    config = settings(http_max_connections=cap, http_header_timeout_seconds=120)
    toy = toy_server()
    app = build_http_app(config, toy.server)
    streams: list[SocketStream] = []
    async with serving(app, config=uvicorn_config(app, config)) as running:
        port = int(running.base.rsplit(":", 1)[1])
        try:
            with anyio.fail_after(60):
                for _ in range(200):
                    streams.append(await slow_connection(port))
                async with client(running.mcp_url) as c:
                    result = await c.call_tool("echo", {"text": "through"})
                open_now = len(running.server.server_state.connections)
                closed = [await closed_by_server(s) for s in streams]
        finally:
            for s in streams:
                await s.aclose()
    assert result.structured_content == {"result": "through"}
    assert open_now <= cap
    assert sum(closed) >= 200 - cap, "the oldest slow connections were closed to make room"
    assert not any(closed[-(cap // 2) :]), "the newest slow connections were kept: the oldest go first"


def test_the_default_cap_leaves_a_quarter_of_the_open_file_limit_free() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = default_max_connections()
    assert cap <= soft * 3 // 4 or soft == resource.RLIM_INFINITY
    assert cap >= 16


@contextmanager
def limited_server_process(env: dict[str, str], log: Path, files: int) -> Iterator[subprocess.Popen[bytes]]:
    """``serve --transport http --sandbox --port 0`` as a child process allowed ``files`` open descriptors."""
    argv = [
        sys.executable,
        "-m",
        "taskgroup_mcp",
        "serve",
        "--transport",
        "http",
        "--sandbox",
        "--port",
        "0",
    ]

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

    with log.open("wb") as sink:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=sink, preexec_fn=limit)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def queue_connections(proc: subprocess.Popen[bytes], port: int, count: int) -> list[socket.socket]:
    """``count`` connections queued at once while the server is stopped: on SIGCONT it finds them
    all waiting, as under a flood (non-blocking connects; the kernel completes the handshakes)."""
    queued: list[socket.socket] = []
    proc.send_signal(signal.SIGSTOP)
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            queued.append(sock)
    finally:
        proc.send_signal(signal.SIGCONT)
    return queued


async def test_under_a_low_file_limit_a_flood_of_slow_connections_neither_starves_calls_nor_fills_the_log(
    tmp_path: Path,
) -> None:
    limit, flood = 256, 600
    log = tmp_path / "server.log"
    env = server_env(TASKGROUP_MCP_AUTH_TOKENS=TOKEN, TASKGROUP_MCP_HTTP_HEADER_TIMEOUT_SECONDS="120")
    streams: list[SocketStream] = []
    queued: list[socket.socket] = []
    with limited_server_process(env, log, limit) as proc:
        port = await started(log, proc)
        try:
            with anyio.fail_after(90):
                queued = queue_connections(proc, port, flood)  # a burst, all in the queue at once
                for _ in range(flood // 2):  # then a steady stream
                    streams.append(await slow_connection(port))
                async with client(f"http://127.0.0.1:{port}/mcp") as c:
                    status = await c.call_tool("create_task_group", {})
        finally:
            for s in streams:
                await s.aclose()
            for sock in queued:
                sock.close()
    text = log.read_text(encoding="utf-8", errors="replace")
    assert status.is_error is False
    assert "out of system resource" not in text, "accept never ran out of descriptors"
    assert "Too many open files" not in text and "Traceback" not in text
    assert len(text) < 50_000


async def test_one_caller_s_burst_of_waits_cannot_starve_another_caller_s_status() -> None:
    """150 waits from one caller used to hold the whole API pool (another caller's status took 26 s).

    Scaled down: a 20-connection pool, 30 waits from caller A on a group that never finishes, at most
    4 waits per caller. A's extra waits are refused at once; B's status answers while A's 4 wait."""
    per_caller, burst = 4, 30
    async with Sandbox(SandboxConfig(speed=0.0001)) as sandbox, serving(sandbox.app) as upstream:
        config = settings(
            parallel_api_key=SecretStr("upstream-key-0123456789"),
            parallel_base_url=upstream.base,
            auth_tokens=[SecretStr(TOKEN), SecretStr(OTHER_TOKEN)],
            max_waits_per_caller=per_caller,
            max_waits_total=12,
        )

        def factory() -> ParallelClient:
            pool = httpx2.AsyncHTTPTransport(limits=httpx2.Limits(max_connections=20))
            return ParallelClient.from_settings(config, transport=pool)

        app = build_http_app(config, build_server(config, factory))
        refused: list[str] = []
        settled = anyio.Event()  # every wait of A's burst past its bound has been refused

        async def wait_as_a(a: Any, gid: str) -> None:
            result = await a.call_tool("wait_for_task_group", {"task_group_id": gid, "timeout_seconds": 45})
            if result.is_error:
                refused.append(str(result.content[0].text))
                if len(refused) == burst - per_caller:
                    settled.set()

        async with (
            serving(app, config=uvicorn_config(app, config)) as running,
            client(running.mcp_url) as a,
            client(running.mcp_url, headers=bearer(OTHER_TOKEN)) as b,
        ):
            with anyio.fail_after(30):
                created = await b.call_tool("create_task_group", {})
                gid = str((created.structured_content or {})["task_group_id"])
                await b.call_tool("add_runs", {"task_group_id": gid, "inputs": ["slow one", "slow two"]})
            async with anyio.create_task_group() as tg:
                for _ in range(burst):
                    tg.start_soon(wait_as_a, a, gid)
                with anyio.fail_after(30):
                    await settled.wait()
                held = len(upstream.server.server_state.connections)
                with anyio.fail_after(15):  # generous; about 0.1 s when nothing starves it
                    status = await b.call_tool("get_task_group_status", {"task_group_id": gid})
                    b_wait = await b.call_tool(
                        "wait_for_task_group", {"task_group_id": gid, "timeout_seconds": 1}
                    )
                tg.cancel_scope.cancel()
        sandbox.close()
    assert not status.is_error and (status.structured_content or {})["total"] == 2
    assert not b_wait.is_error, "B is another caller: A's bound does not apply to it"
    assert len(refused) == burst - per_caller
    assert held < 12, "A's admitted waits hold a few upstream connections, not the 20 of the pool"
    assert all("Too many waits at once" in text and "wait_for_task_group" in text for text in refused)
