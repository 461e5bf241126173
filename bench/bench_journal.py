"""The journal's overhead on add_runs: the same calls to a server with TASKGROUP_MCP_STATE=off, one
with the SQLite journal and one with the PostgreSQL journal, measured in one run.

    .venv/bin/python bench/bench_journal.py [--calls 40] [--inputs 5] [--big-calls 15] [--database-url URL]

Every part is a real process, as deployed: one ``taskgroup-mcp sandbox`` (the API, in memory, no
rate limit, runs that stay queued so it does no work between requests) that all three servers
call over loopback HTTP, so they meet the same API with the same latency; three ``taskgroup-mcp``
servers over stdio, as clients launch them, differing only in their journal; and this process,
which only sends the calls and times them (its own CPU use is printed: it is not the
bottleneck). A call is ``create_task_group`` (not timed) then ``add_runs`` (timed) on the new
group. The three servers take turns call by call, in an order rotated each round, so the
machine's noise hits them alike; figures are medians. Small calls show the fixed cost per call, 1,000-input calls the cost per
1,000 inputs. Without ``--database-url`` a throw-away PostgreSQL is started (tests/pg_server.py:
Debian's server binaries). Aim: at most 1.1x of the state off.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from taskgroup_mcp.commands._stdio import connect, server_parameters

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
AIM = 1.1
API_KEY = "bench-key-0123456789"


@contextmanager
def sandbox_process() -> Iterator[str]:
    """``taskgroup-mcp sandbox`` on a free loopback port: yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskgroup_mcp", "sandbox", "--port", "0", "--log-level", "WARNING",
         "--rate-limit", "0", "--speed", "0.0001"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on " not in line:
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        yield line.rsplit("listening on ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def server_env(api: str, **journal: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKGROUP_MCP_", "PARALLEL_"))}
    env |= {
        "PARALLEL_API_KEY": API_KEY,
        "PARALLEL_BASE_URL": api,
        "TASKGROUP_MCP_LOG_LEVEL": "WARNING",
        "TASKGROUP_MCP_SPEND_LIMIT_USD": "1000000000",
        "TASKGROUP_MCP_RUNS_PER_MINUTE": "10000000",
        "TASKGROUP_MCP_REQUESTS_PER_MINUTE": "10000000",
    }
    return env | journal


@asynccontextmanager
async def server(env: Mapping[str, str], errlog: Any) -> AsyncIterator[Client]:
    async with connect(server_parameters([], env), errlog) as client:
        yield client


def _turn(clients: Mapping[str, Client], i: int) -> list[tuple[str, Client]]:
    """Round ``i``'s order: rotated each round, so no configuration always goes first (after the
    previous round's work) or last."""
    items = list(clients.items())
    k = i % len(items)
    return items[k:] + items[:k]


async def one_call(client: Client, inputs: list[str]) -> float:
    created = await client.call_tool("create_task_group", {})
    gid = (created.structured_content or {})["task_group_id"]
    started = time.perf_counter()
    result = await client.call_tool("add_runs", {"task_group_id": gid, "inputs": inputs})
    elapsed = time.perf_counter() - started
    data = result.structured_content or {}
    assert not result.is_error and data["added"] == len(inputs), result
    assert not data.get("notice"), f"the journal is degraded: {data['notice']}"
    return elapsed


async def main(
    calls: int, inputs: int, big_calls: int, database_url: str | None, json_path: str | None
) -> None:
    pg = None
    if database_url is None:
        from pg_server import start_postgres

        pg = start_postgres()
        pg.psql("CREATE DATABASE bench_journal")
        database_url = pg.url_for("bench_journal")
    timed = 0.0
    cpu = 0.0
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp,
            tempfile.TemporaryFile("w+", encoding="utf-8") as errlog,
            sandbox_process() as api,
        ):
            configs = {
                "state off": server_env(api, TASKGROUP_MCP_STATE="off"),
                "SQLite": server_env(api, TASKGROUP_MCP_STATE_DIR=str(Path(tmp) / "state")),
                "PostgreSQL": server_env(api, TASKGROUP_MCP_DATABASE_URL=database_url),
            }
            times: dict[str, dict[str, list[float]]] = {name: {"small": [], "big": []} for name in configs}
            async with AsyncExitStack() as stack:
                clients = {
                    name: await stack.enter_async_context(server(env, errlog))
                    for name, env in configs.items()
                }
                for name, client in clients.items():  # warm up each (first calls open pools, files)
                    for i in range(3):
                        await one_call(client, [f"warm {name} {i} {j}" for j in range(inputs)])
                    await one_call(client, [f"warm {name} big {j}" for j in range(1_000)])
                wall, cpu_start = time.perf_counter(), time.process_time()
                for i in range(calls):
                    for name, client in _turn(clients, i):
                        times[name]["small"].append(
                            await one_call(client, [f"{name} s{i} {j}" for j in range(inputs)])
                        )
                for i in range(big_calls):
                    for name, client in _turn(clients, i):
                        times[name]["big"].append(
                            await one_call(client, [f"{name} b{i} {j}" for j in range(1_000)])
                        )
                timed, cpu = time.perf_counter() - wall, time.process_time() - cpu_start
    finally:
        if pg is not None:
            pg.stop()
    off_small = statistics.median(times["state off"]["small"]) * 1e3
    off_big = statistics.median(times["state off"]["big"]) * 1e3
    figures: list[dict[str, Any]] = []
    print(f"add_runs to a server process, medians ({calls} calls of {inputs} inputs, {big_calls} of 1,000)")
    print(f"{'journal':<12} {'per call':>10} {'ratio':>7} {'per 1,000':>11} {'ratio':>7}")
    for name in configs:
        small = statistics.median(times[name]["small"]) * 1e3
        big = statistics.median(times[name]["big"]) * 1e3
        print(f"{name:<12} {small:>8.1f}ms {small / off_small:>6.2f}x {big:>9.1f}ms {big / off_big:>6.2f}x")
        if name == "state off":
            continue
        for label, ours, baseline in (
            (f"add_runs of {inputs} inputs, {name} journal", small, off_small),
            (f"add_runs of 1,000 inputs, {name} journal", big, off_big),
        ):
            ratio = ours / baseline
            figures.append(
                {
                    "figure": label,
                    "ours": round(ours, 2),
                    "unit": "ms",
                    "comparison": "the same call to a server with TASKGROUP_MCP_STATE=off, same sandbox, same run",
                    "baseline": round(baseline, 2),
                    "ratio": round(ratio, 3),
                    "aim": f"<= {AIM}",
                }
            )
    for f in figures:
        print(
            f"  {f['figure']}: {f['ratio']:.2f}x (aim <= {AIM}: {'met' if f['ratio'] <= AIM else 'NOT met'})"
        )
    print(
        "the same ratios call by call (each call over the state-off call of its round): median, middle half"
    )
    for name in configs:
        if name == "state off":
            continue
        for size, label in (("small", f"{inputs} inputs"), ("big", "1,000 inputs")):
            paired = [
                ours / off for ours, off in zip(times[name][size], times["state off"][size], strict=True)
            ]
            if len(paired) >= 4:
                low, mid, high = statistics.quantiles(paired, n=4)
                print(f"  {name}, {label}: {mid:.2f}x ({low:.2f}x-{high:.2f}x)")
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1):
        print(
            f"NOTE: the machine was busy (load average {load:.1f} on {os.cpu_count()} cores): ratios a few "
            "tenths from 1.0 can be its noise; compare the middle halves above, or run again when it is idle"
        )
    print(
        f"this process (the load generator) used {cpu:.1f} s of CPU in {timed:.1f} s of timed calls "
        f"({100 * cpu / max(timed, 1e-9):.0f}%); load average {load:.1f} on {os.cpu_count()} cores; "
        f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB"
    )
    if json_path:
        await anyio.Path(json_path).write_text(
            json.dumps({"title": "Journal overhead on add_runs", "figures": figures}, indent=2)
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=40, help="small add_runs calls per configuration")
    parser.add_argument("--inputs", type=int, default=5, help="inputs per small call")
    parser.add_argument("--big-calls", type=int, default=15, help="1,000-input calls per configuration")
    parser.add_argument("--database-url", default=None, help="PostgreSQL to use (default: start one)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON (bench/run_all.py)")
    ns = parser.parse_args()
    anyio.run(main, ns.calls, ns.inputs, ns.big_calls, ns.database_url, ns.json)
