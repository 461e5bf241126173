"""The sandbox as a process of its own for the benchmarks: HTTP on a free loopback port, with a fixed
latency added to every request, and what the scripts read from it (faults, counts, CPU time).

The sandbox runs in a child process so that it never shares an interpreter lock with the client
being measured; each script prints the child's CPU use beside its figures, so a reader can see
that the sandbox was not the bottleneck.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Generator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import uvicorn

KEY = "bench-key-0000"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(kind: str = "VmHWM", pid: int | str = "self") -> float:
    """``VmHWM`` (peak resident set) or ``VmRSS`` (now) of a process, in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(kind + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {kind} in /proc/{pid}/status")


class _QuietServer(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Generator[None]:
        yield


class Latency:
    """ASGI middleware: every HTTP request waits ``seconds`` before the app sees it."""

    def __init__(self, app: Any, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/_sandbox/"):
            await anyio.sleep(self.seconds)
        await self.app(scope, receive, send)


def serve(latency: float, speed: float, port_file: str) -> None:
    """Child process: the sandbox on a free loopback port, written to ``port_file``."""
    from taskgroup_mcp.sandbox import Sandbox, SandboxConfig

    sandbox = Sandbox(SandboxConfig(speed=speed, seed=1))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _QuietServer(
        uvicorn.Config(Latency(sandbox.app, latency), log_level="warning", lifespan="off", backlog=1024)
    )
    sock.listen(1024)  # connections queue from here on, so the port can be announced now
    Path(port_file).write_text(str(port))

    async def run() -> None:
        async with sandbox:
            await server.serve(sockets=[sock])

    anyio.run(run)


@dataclass(frozen=True)
class SandboxProcess:
    base_url: str
    pid: int


@contextmanager
def sandbox_process(latency_ms: float, speed: float = 0.001) -> Generator[SandboxProcess]:
    """The sandbox in a child process. ``speed`` 0.001: runs stay queued for the whole benchmark,
    so no run's completion spends the sandbox's CPU in the middle of a later measurement."""
    with tempfile.TemporaryDirectory() as tmp:
        port_file = str(Path(tmp) / "port")
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); import _sandbox_server as s; "
            "s.serve(float(sys.argv[2]), float(sys.argv[3]), sys.argv[4])"
        )
        here = str(Path(__file__).resolve().parent)
        child = subprocess.Popen(
            [sys.executable, "-c", code, here, str(latency_ms / 1000), str(speed), port_file]
        )
        try:
            deadline = time.monotonic() + 30
            while not Path(port_file).exists() or not Path(port_file).read_text():
                if time.monotonic() > deadline or child.poll() is not None:
                    raise RuntimeError("the sandbox did not start")
                time.sleep(0.02)
            yield SandboxProcess(f"http://127.0.0.1:{Path(port_file).read_text()}", child.pid)
        finally:
            child.terminate()
            child.wait(timeout=10)


def control(base_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """POST a sandbox control route (faults, reset)."""
    with httpx2.Client(base_url=base_url, timeout=60) as http:
        answer = http.post(path, json=body or {})
        answer.raise_for_status()
        return answer.json()


def set_faults(base_url: str, faults: dict[str, Any]) -> None:
    control(base_url, "/_sandbox/faults", faults)


@dataclass(frozen=True)
class GroupCount:
    runs: int
    duplicates: int
    """Runs beyond one per input."""
    missing: int
    """Inputs expected and not found on any run."""


def count_group(base_url: str, group_id: str, expected: set[str]) -> GroupCount:
    """The group's runs, read from its runs stream, counted by input text."""
    counts: Counter[str] = Counter()
    path = f"/v1/tasks/groups/{group_id}/runs"
    with (
        httpx2.Client(base_url=base_url, headers={"x-api-key": KEY}, timeout=300) as http,
        http.sse(path, params={"include_input": "true"}) as source,
    ):
        for sse in source:
            event: Any = json.loads(sse.data)
            if event.get("type") == "task_run.state":
                counts[str(event["input"]["input"])] += 1
    return GroupCount(
        runs=sum(counts.values()),
        duplicates=sum(n - 1 for n in counts.values() if n > 1),
        missing=sum(1 for text in expected if text not in counts),
    )
