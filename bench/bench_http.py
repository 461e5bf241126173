"""HTTP transport load: N concurrent MCP clients, the real server (sandbox) beside a bare echo server.

    .venv/bin/python bench/bench_http.py [--clients 50] [--calls 2000] [--mode auto|legacy] [--rounds 3]

Both servers run as their own processes on 127.0.0.1 behind the same transport stack
(``build_http_app``: stateless streamable HTTP, bearer auth, Host/Origin checks, request ids):

* ``taskgroup-mcp``: ``taskgroup-mcp serve --transport http --sandbox``; every client calls
  ``get_task_group_status`` on one group created beforehand (each call reaches the embedded
  sandbox through the real client).
* ``bare echo``: an ``MCPServer`` with one ``echo`` tool and nothing else.

Each of the N clients holds one MCP connection and makes ``calls / N`` sequential calls; the load
generator runs in this process. Rounds alternate between the two servers so that both see the same
background load. Prints, per round and server, throughput, p50 and p99 latency, errors, the
server's CPU time per call and the load generator's CPU use; then the median throughput ratio
(aim: >= 0.7) and the ratio of server CPU per call (a figure that background load disturbs less).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

TOKEN = "bench-token-" + "0123456789abcdef" * 2


@dataclass
class Outcome:
    name: str
    calls: int
    clients: int
    wall_seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    server_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0

    @property
    def throughput(self) -> float:
        return self.calls / self.wall_seconds if self.wall_seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_echo(port: int) -> int:
    """Child process: the bare MCPServer echo tool behind the same HTTP app."""
    from mcp.server import MCPServer
    from pydantic import SecretStr

    from taskgroup_mcp.commands._http_logs import configure_logging
    from taskgroup_mcp.commands.http import run_http
    from taskgroup_mcp.config import Settings

    configure_logging("WARNING")
    server = MCPServer("echo", version="0")

    @server.tool()
    async def echo(text: str) -> str:
        """Echo the text."""
        return text

    return run_http(Settings(auth_tokens=[SecretStr(TOKEN)], port=port), server)


def start(argv: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TASKGROUP_MCP_AUTH_TOKENS": TOKEN, "TASKGROUP_MCP_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def wait_healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx2.AsyncClient() as http:
        with anyio.fail_after(60):
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"server exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
                    )
                try:
                    if (await http.get(f"{base}/healthz")).status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                await anyio.sleep(0.1)


def connect(url: str, mode: str, http: httpx2.AsyncClient) -> Client:
    return Client(streamable_http_client(url, http_client=http), mode=mode)  # type: ignore[arg-type]


async def load(
    name: str, url: str, tool: str, args: dict[str, Any], *, clients: int, calls: int, mode: str, pid: int
) -> Outcome:
    per_client = max(1, calls // clients)
    outcome = Outcome(name, per_client * clients, clients, 0.0)
    ready = anyio.Event()
    connected = 0

    async def one_client() -> None:
        nonlocal connected
        headers = {"Authorization": f"Bearer {TOKEN}"}
        limits = httpx2.Limits(max_connections=4)
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60.0, limits=limits) as http,
            connect(url, mode, http) as c,
        ):
            await c.list_tools()
            connected += 1
            if connected == clients:
                ready.set()
            await ready.wait()
            for _ in range(per_client):
                started = time.perf_counter()
                try:
                    result = await c.call_tool(tool, args)
                    if result.is_error:
                        outcome.errors += 1
                except Exception:
                    outcome.errors += 1
                outcome.latencies_ms.append((time.perf_counter() - started) * 1000)

    async with anyio.create_task_group() as tg:
        for _ in range(clients):
            tg.start_soon(one_client)
        await ready.wait()
        started = time.perf_counter()
        cpu_before, own_before = cpu_seconds(pid), time.process_time()
    outcome.wall_seconds = time.perf_counter() - started
    outcome.server_cpu_seconds = cpu_seconds(pid) - cpu_before
    outcome.client_cpu_seconds = time.process_time() - own_before
    return outcome


async def create_group(url: str, mode: str) -> str:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
        connect(url, mode, http) as c,
    ):
        result = await c.call_tool("create_task_group", {})
        if result.is_error or not result.structured_content:
            raise RuntimeError(f"create_task_group failed: {result.content}")
        return str(result.structured_content["task_group_id"])


def report(rounds: list[tuple[Outcome, Outcome]]) -> list[dict[str, Any]]:
    print(
        f"{'round':>5} {'server':<14} {'clients':>7} {'calls':>6} {'wall s':>7} {'calls/s':>8} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'errors':>6} {'server CPU ms/call':>19} {'load gen CPU %':>15}"
    )
    for number, pair in enumerate(rounds, start=1):
        for o in pair:
            print(
                f"{number:>5} {o.name:<14} {o.clients:>7} {o.calls:>6} {o.wall_seconds:>7.2f} {o.throughput:>8.1f} "
                f"{o.percentile(0.5):>7.1f} {o.percentile(0.99):>7.1f} {o.errors:>6} "
                f"{o.server_cpu_seconds / o.calls * 1000:>19.2f} {o.client_cpu_seconds / o.wall_seconds * 100:>15.0f}"
            )
    ratios = [real.throughput / bare.throughput for real, bare in rounds]
    real_cpu = sum(r.server_cpu_seconds for r, _ in rounds) / sum(r.calls for r, _ in rounds)
    bare_cpu = sum(b.server_cpu_seconds for _, b in rounds) / sum(b.calls for _, b in rounds)
    errors = sum(r.errors + b.errors for r, b in rounds)
    print(
        f"throughput ratio taskgroup-mcp / bare echo: median {statistics.median(ratios):.2f} "
        f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}; aim >= 0.70)"
    )
    print(
        f"server CPU per call: taskgroup-mcp {real_cpu * 1000:.2f} ms, bare echo {bare_cpu * 1000:.2f} ms "
        f"(capacity ratio {bare_cpu / real_cpu:.2f}); errors {errors}"
    )
    # the round with the median ratio: its throughputs, ratio and latencies agree with each other
    real, bare = sorted(rounds, key=lambda pair: pair[0].throughput / pair[1].throughput)[len(rounds) // 2]
    bare_name = "bare MCPServer echo tool, same transport stack"
    return [
        {"figure": f"HTTP throughput, {real.clients} clients (round with the median ratio)",
         "ours": real.throughput, "unit": "calls/s", "comparison": bare_name, "baseline": bare.throughput,
         "ratio": real.throughput / bare.throughput, "aim": ">= 0.70"},
        {"figure": "HTTP latency p50 under load", "ours": real.percentile(0.5), "unit": "ms",
         "comparison": bare_name, "baseline": bare.percentile(0.5),
         "ratio": real.percentile(0.5) / bare.percentile(0.5), "aim": None},
        {"figure": "HTTP latency p99 under load", "ours": real.percentile(0.99), "unit": "ms",
         "comparison": bare_name, "baseline": bare.percentile(0.99),
         "ratio": real.percentile(0.99) / bare.percentile(0.99), "aim": None},
        {"figure": "server CPU per call", "ours": real_cpu * 1000, "unit": "ms", "comparison": bare_name,
         "baseline": bare_cpu * 1000, "ratio": real_cpu / bare_cpu, "aim": None},
        {"figure": "errors", "ours": errors, "unit": "", "comparison": None, "baseline": None, "ratio": None,
         "aim": "0"},
    ]  # fmt: skip


async def bench(clients: int, calls: int, mode: str, repeat: int, json_path: str | None = None) -> None:
    real_port, echo_port = free_port(), free_port()
    real = start(
        [
            sys.executable,
            "-m",
            "taskgroup_mcp",
            "serve",
            "--transport",
            "http",
            "--sandbox",
            "--port",
            str(real_port),
        ]
    )
    echo = start([sys.executable, __file__, "--serve-echo", str(echo_port)])
    try:
        await wait_healthy(f"http://127.0.0.1:{real_port}", real)
        await wait_healthy(f"http://127.0.0.1:{echo_port}", echo)
        real_url, echo_url = f"http://127.0.0.1:{real_port}/mcp", f"http://127.0.0.1:{echo_port}/mcp"
        group_id = await create_group(real_url, mode)
        # Warm both servers (imports, first connections) before measuring.
        status_args = {"task_group_id": group_id}
        await load(
            "warmup",
            real_url,
            "get_task_group_status",
            status_args,
            clients=5,
            calls=20,
            mode=mode,
            pid=real.pid,
        )
        await load("warmup", echo_url, "echo", {"text": "x"}, clients=5, calls=20, mode=mode, pid=echo.pid)
        rounds: list[tuple[Outcome, Outcome]] = []
        for _ in range(repeat):  # interleaved, so both servers see the same background load
            real_outcome = await load(
                "taskgroup-mcp",
                real_url,
                "get_task_group_status",
                status_args,
                clients=clients,
                calls=calls,
                mode=mode,
                pid=real.pid,
            )
            echo_outcome = await load(
                "bare echo",
                echo_url,
                "echo",
                {"text": group_id},
                clients=clients,
                calls=calls,
                mode=mode,
                pid=echo.pid,
            )
            rounds.append((real_outcome, echo_outcome))
    finally:
        for proc in (real, echo):
            proc.send_signal(signal.SIGTERM)
        for proc in (real, echo):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(f"HTTP transport, {mode} protocol era, {os.cpu_count()} CPUs, load generator in one process")
    figures = report(rounds)
    if json_path:
        title = f"HTTP transport under load ({mode} era): the real server vs a bare MCPServer"
        await anyio.Path(json_path).write_text(json.dumps({"title": title, "figures": figures}, indent=2))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--mode", choices=("auto", "legacy"), default="auto")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved measurement rounds (default 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON (bench/run_all.py)")
    parser.add_argument("--serve-echo", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_echo:
        return serve_echo(args.serve_echo)
    anyio.run(bench, args.clients, args.calls, args.mode, args.rounds, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
