"""Submitting 10,000 inputs: our ``submit`` against the official SDK's ``add_runs`` chunk after chunk.

    .venv/bin/python bench/bench_submit.py [--inputs 10000] [--latency-ms 200] [--repeat 1]

One sandbox serves HTTP on 127.0.0.1 (a free port) from a child process (so that it does not
share an interpreter lock with the clients), behind a middleware that adds ``--latency-ms`` to
**every** request (GETs and streams too, so our audit pays it as well). Then, in one run:

* ``sdk``: ``parallel-web`` 0.6.0, ``Parallel(...).task_group.add_runs(group, inputs=chunk)``
  for each chunk of 1,000 in sequence, as its docs show (its default retries left on).
* ``ours``: ``ParallelClient.submit(group, inputs)`` with its defaults (chunks of 1,000,
  4 in flight, the final audit) on a group it created; request pacing at the documented
  2,000/min. The runs-per-minute budget is lifted because the SDK paces nothing.
* ``ours (unknown group)``: the same on a group created by another client, so ``submit`` first
  scans the group for ids an earlier call may have added.
* ``ours, audit="on_doubt"``: the default client but for the audit, which is skipped when every
  request got a clean answer on a group the client created (here: always skipped).

Prints each wall time, ``ours / sdk`` (aim: <= 0.35) and the duplicates the sandbox holds for
each group (must be 0), counted from the group's runs stream.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Generator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import uvicorn
from parallel import Parallel

from taskgroup_mcp.client import RESERVED_METADATA_KEY, ParallelClient
from taskgroup_mcp.sandbox import Sandbox, SandboxConfig
from taskgroup_mcp.wire import RunInput

KEY = "bench-key-0000"
CHUNK = 1_000


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
        if scope["type"] == "http":
            await anyio.sleep(self.seconds)
        await self.app(scope, receive, send)


def serve(latency: float, port_file: str) -> None:
    """Child process: the sandbox on a free loopback port, written to ``port_file``."""
    sandbox = Sandbox(SandboxConfig(speed=1.0, seed=1))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _QuietServer(uvicorn.Config(Latency(sandbox.app, latency), log_level="warning", lifespan="off"))

    sock.listen(128)  # connections queue from here on, so the port can be announced now
    Path(port_file).write_text(str(port))

    async def run() -> None:
        async with sandbox:
            await server.serve(sockets=[sock])

    anyio.run(run)


@contextmanager
def sandbox_process(latency_ms: float) -> Generator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        port_file = str(Path(tmp) / "port")
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--latency-ms", str(latency_ms), "--port-file", port_file]
        )
        try:
            deadline = time.monotonic() + 20
            while not Path(port_file).exists() or not Path(port_file).read_text():
                if time.monotonic() > deadline or child.poll() is not None:
                    raise RuntimeError("the sandbox did not start")
                time.sleep(0.02)
            yield f"http://127.0.0.1:{Path(port_file).read_text()}"
        finally:
            child.terminate()
            child.wait(timeout=10)


def duplicates(base_url: str, group_id: str, key: str | None) -> tuple[int, int]:
    """(runs in the group, runs beyond one per input), read from the group's runs stream."""
    counts: Counter[str] = Counter()
    total = 0
    with httpx2.Client(base_url=base_url, headers={"x-api-key": KEY}, timeout=60) as http:
        params = {"include_input": "true"}
        with http.sse(f"/v1/tasks/groups/{group_id}/runs", params=params) as source:
            for sse in source:
                event: Any = json.loads(sse.data)
                if event.get("type") != "task_run.state":
                    continue
                total += 1
                meta = event["run"].get("metadata") or {}
                counts[str(meta.get(key)) if key else str(event["input"]["input"])] += 1
    return total, sum(n - 1 for n in counts.values() if n > 1)


def bench_sdk(base_url: str, n: int) -> tuple[str, float]:
    sdk = Parallel(api_key=KEY, base_url=base_url)
    group = sdk.task_group.create()
    inputs: list[Any] = [{"input": f"company {i}", "processor": "lite"} for i in range(n)]
    started = time.perf_counter()
    for i in range(0, n, CHUNK):
        sdk.task_group.add_runs(group.task_group_id, inputs=inputs[i : i + CHUNK])
    elapsed = time.perf_counter() - started
    sdk.close()
    return group.task_group_id, elapsed


async def bench_ours(
    base_url: str, n: int, known_fresh: bool, audit: str = "always"
) -> tuple[str, float, int]:
    inputs = [RunInput(input=f"company {i}", processor="lite") for i in range(n)]
    mode: Any = audit
    async with ParallelClient(api_key=KEY, base_url=base_url, runs_per_minute=10**9, audit=mode) as client:
        if known_fresh:
            group = await client.create_task_group()
        else:
            async with ParallelClient(api_key=KEY, base_url=base_url) as other:
                group = await other.create_task_group()
        started = time.perf_counter()
        result = await client.submit(group.taskgroup_id, inputs)
        elapsed = time.perf_counter() - started
    assert result.ok, result.failed[:3]
    return group.taskgroup_id, elapsed, result.requests_sent


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON (bench/run_all.py)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.latency_ms / 1000, args.port_file)
        return
    with sandbox_process(args.latency_ms) as base_url:
        print(f"sandbox {base_url}, {args.latency_ms:g} ms added to every request, {args.inputs:,} inputs")
        for _ in range(args.repeat):
            sdk_group, sdk_s = bench_sdk(base_url, args.inputs)
            ours_group, ours_s, ours_requests = anyio.run(bench_ours, base_url, args.inputs, True)
            cold_group, cold_s, _ = anyio.run(bench_ours, base_url, args.inputs, False)
            lean_group, lean_s, _ = anyio.run(bench_ours, base_url, args.inputs, True, "on_doubt")
            sdk_runs, sdk_dups = duplicates(base_url, sdk_group, None)
            ours_runs, ours_dups = duplicates(base_url, ours_group, RESERVED_METADATA_KEY)
            cold_runs, cold_dups = duplicates(base_url, cold_group, RESERVED_METADATA_KEY)
            lean_runs, lean_dups = duplicates(base_url, lean_group, RESERVED_METADATA_KEY)
            chunks = -(-args.inputs // CHUNK)
            print(
                f"sdk   add_runs x {chunks}, one after another: {sdk_s:6.2f} s  runs {sdk_runs:,}  duplicates {sdk_dups}"
            )
            print(
                f"ours  submit ({ours_requests} POSTs + audit):      {ours_s:6.2f} s  runs {ours_runs:,}"
                f"  duplicates {ours_dups}  ours/sdk {ours_s / sdk_s:.2f}"
            )
            print(
                f"ours  submit, group not known fresh:    {cold_s:6.2f} s  runs {cold_runs:,}"
                f"  duplicates {cold_dups}  ours/sdk {cold_s / sdk_s:.2f}"
            )
            print(
                f'ours  submit, audit="on_doubt" (none): {lean_s:6.2f} s  runs {lean_runs:,}'
                f"  duplicates {lean_dups}  ours/sdk {lean_s / sdk_s:.2f}"
            )
        if args.json:
            sdk = f"official SDK add_runs x {chunks}, sequential"
            rows = [
                ("submit, exactly once with audit", ours_s, ours_dups),
                ("submit, group not known fresh", cold_s, cold_dups),
                ('submit, audit="on_doubt"', lean_s, lean_dups),
            ]
            figures = [
                {"figure": f"{args.inputs:,} inputs, {args.latency_ms:g} ms per request: {name}", "ours": secs,
                 "unit": "s", "comparison": sdk, "baseline": sdk_s, "ratio": secs / sdk_s, "aim": None}
                for name, secs, _ in rows
            ] + [
                {"figure": "duplicate runs (ours)", "ours": sum(d for *_, d in rows), "unit": "",
                 "comparison": "duplicate runs (official SDK)", "baseline": sdk_dups, "ratio": None, "aim": "0"}
            ]  # fmt: skip
            title = "submitting inputs: our exactly-once submit vs the official SDK"
            Path(args.json).write_text(json.dumps({"title": title, "figures": figures}, indent=2))


if __name__ == "__main__":
    main()
