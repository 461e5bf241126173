"""Round trip of ``get_task_group_status`` over stdio, next to the floor measured in the same run.

    .venv/bin/python bench/bench_status.py [--calls 500] [--warmup 50] [--mode auto|legacy]

One sandbox serves HTTP on 127.0.0.1 (a free port) inside this process. Three things are timed,
one call at a time, in interleaved rounds of 50 (so background load hits all three alike):

* ``ours``: ``taskgroup-mcp`` as a stdio subprocess pointed at that sandbox
  (``PARALLEL_BASE_URL``), calling ``get_task_group_status`` on one group.
* ``echo``: a bare ``MCPServer`` with one async ``echo`` tool, as a stdio subprocess.
* ``get``: a raw ``httpx2`` keep-alive GET of the same sandbox endpoint (``/v1/tasks/groups/{id}``).

The floor is median(echo) + median(get): the MCP stdio round trip plus the API round trip that
``ours`` cannot avoid. Prints median and p90 of each and ``ours / floor`` (aim: <= 1.5).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import httpx2
import uvicorn
from mcp import Client, StdioServerParameters

from taskgroup_mcp.sandbox import Sandbox, SandboxConfig

KEY = "bench-key-0000"
ROUND = 50
ECHO_SERVER = """
from mcp.server import MCPServer
server = MCPServer("echo", log_level="WARNING")

@server.tool()
async def echo(text: str) -> str:
    \"\"\"Echo the text.\"\"\"
    return text

server.run()
"""


class _QuietServer(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Generator[None]:
        yield


@asynccontextmanager
async def serve_sandbox() -> AsyncGenerator[str]:
    """The sandbox's ASGI app on 127.0.0.1 (a free port); yields its base URL."""
    sandbox = Sandbox(SandboxConfig(speed=1_000.0, seed=1))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = _QuietServer(uvicorn.Config(sandbox.app, log_config=None, log_level="warning", access_log=False))
    try:
        async with sandbox, anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                server.should_exit = True
    finally:
        sock.close()
        sandbox.close()


async def timed(call: Callable[[], Awaitable[Any]], calls: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        await call()
    out: list[float] = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        await call()
        out.append((time.perf_counter_ns() - start) / 1_000.0)
    return out


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(calls: int, warmup: int, mode: str, json_path: str | None = None) -> None:
    base_env = {"PATH": os.environ.get("PATH", ""), "TASKGROUP_MCP_LOG_LEVEL": "WARNING"}
    async with (
        serve_sandbox() as base_url,
        httpx2.AsyncClient(base_url=base_url, headers={"x-api-key": KEY}) as http,
    ):
        created = await http.post("/v1/tasks/groups", json={})
        created.raise_for_status()
        gid = created.json()["taskgroup_id"]
        added = await http.post(
            f"/v1/tasks/groups/{gid}/runs",
            json={"inputs": [{"input": f"q{i}", "processor": "lite"} for i in range(20)]},
        )
        added.raise_for_status()

        async def raw_get() -> None:
            (await http.get(f"/v1/tasks/groups/{gid}")).raise_for_status()

        ours_env = {**base_env, "PARALLEL_API_KEY": KEY, "PARALLEL_BASE_URL": base_url}
        ours_params = StdioServerParameters(
            command=sys.executable, args=["-m", "taskgroup_mcp"], env=ours_env
        )
        echo_params = StdioServerParameters(command=sys.executable, args=["-c", ECHO_SERVER], env=base_env)
        async with (
            Client(ours_params, mode=mode) as ours_client,  # type: ignore[arg-type]
            Client(echo_params, mode=mode) as echo_client,  # type: ignore[arg-type]
        ):

            async def status() -> None:
                result = await ours_client.call_tool("get_task_group_status", {"task_group_id": gid})
                if result.is_error:
                    raise RuntimeError(result.content[0].text)  # type: ignore[union-attr]

            async def echo() -> None:
                await echo_client.call_tool("echo", {"text": "hello"})

            # Interleaved rounds, so background load on shared cores hits all three alike.
            ours_us: list[float] = []
            echo_us: list[float] = []
            get_us: list[float] = []
            for i in range(0, calls, ROUND):
                n = min(ROUND, calls - i)
                ours_us += await timed(status, n, warmup if i == 0 else 2)
                echo_us += await timed(echo, n, warmup if i == 0 else 2)
                get_us += await timed(raw_get, n, warmup if i == 0 else 2)

    floor = statistics.median(echo_us) + statistics.median(get_us)
    ours = statistics.median(ours_us)
    print(f"get_task_group_status over stdio ({mode} mode), {calls} sequential calls after {warmup} warm-up")
    print(f"{'path':<34} {'median µs':>10} {'p90 µs':>10}")
    for name, values in (
        ("ours: get_task_group_status", ours_us),
        ("floor part: bare MCPServer echo", echo_us),
        ("floor part: raw httpx2 GET", get_us),
    ):
        print(f"{name:<34} {statistics.median(values):>10.0f} {p(values, 0.9):>10.0f}")
    print(f"{'floor (echo + GET medians)':<34} {floor:>10.0f}")
    print(f"ours / floor = {ours / floor:.2f} (aim <= 1.5)")
    if json_path:
        floor_name = "floor: bare MCPServer echo over stdio + raw httpx2 GET (medians)"
        figures = [
            {"figure": f"get_task_group_status over stdio ({mode}), median", "ours": ours, "unit": "µs",
             "comparison": floor_name, "baseline": floor, "ratio": ours / floor, "aim": "<= 1.5"},
            {"figure": "get_task_group_status over stdio, p90", "ours": p(ours_us, 0.9), "unit": "µs",
             "comparison": "bare MCPServer echo over stdio, p90", "baseline": p(echo_us, 0.9),
             "ratio": p(ours_us, 0.9) / p(echo_us, 0.9), "aim": None},
            {"figure": "raw httpx2 GET of the same endpoint, median (the API part of the floor)",
             "ours": statistics.median(get_us), "unit": "µs", "comparison": None, "baseline": None,
             "ratio": None, "aim": None},
        ]  # fmt: skip
        title = "status round trip over stdio vs the floor measured beside it"
        await anyio.Path(json_path).write_text(json.dumps({"title": title, "figures": figures}, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--mode", choices=("auto", "legacy"), default="auto")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON (bench/run_all.py)")
    ns = parser.parse_args()
    anyio.run(main, ns.calls, ns.warmup, ns.mode, ns.json)
