"""The journal's overhead on add_runs: the same calls with TASKGROUP_MCP_STATE=off, with the SQLite
journal and with the PostgreSQL journal, measured in one run.

    .venv/bin/python bench/bench_journal.py [--calls 40] [--inputs 5] [--big-calls 5] [--database-url URL]

Each call is a real MCP ``add_runs`` through ``build_server`` (in-memory client) to a fresh group of an
in-process sandbox (no network), so what differs between the rows is only the journal: its lease,
the client ids written ahead, the answers kept, the group's record. Small calls show the fixed cost
per call; 1,000-input calls show the cost per 1,000 inputs. Medians; the three configurations take
turns call by call, so machine noise hits them alike. Without ``--database-url`` a throw-away
PostgreSQL is started (tests/pg_server.py: Debian's server binaries). Aim: at most 1.1x of state off.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from taskgroup_mcp.client import ParallelClient
from taskgroup_mcp.config import Settings
from taskgroup_mcp.sandbox import Sandbox, SandboxConfig
from taskgroup_mcp.tools import build_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
AIM = 1.1


@asynccontextmanager
async def server(settings: Settings, sandbox: Sandbox) -> AsyncIterator[Client]:
    def factory() -> ParallelClient:
        return ParallelClient.from_settings(settings, transport=sandbox.transport)

    async with Client(build_server(settings, factory)) as client:
        yield client


async def one_call(client: Client, inputs: list[str]) -> float:
    created = await client.call_tool("create_task_group", {})
    gid = (created.structured_content or {})["task_group_id"]
    started = time.perf_counter()
    result = await client.call_tool("add_runs", {"task_group_id": gid, "inputs": inputs})
    elapsed = time.perf_counter() - started
    assert not result.is_error and (result.structured_content or {})["added"] == len(inputs), result
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
    try:
        with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
            base: dict[str, Any] = {
                "parallel_api_key": "bench-key-0123456789",
                "parallel_base_url": "http://bench.invalid",
                "export_dir": Path(tmp) / "exports",
                "spend_limit_usd": 1e9,
                "runs_per_minute": 10_000_000,
                "requests_per_minute": 10_000_000,
                "log_level": "WARNING",
            }
            configs = {
                "state off": Settings.from_env({}, state=False, **base),
                "SQLite": Settings.from_env({}, state_dir=Path(tmp) / "state", **base),
                "PostgreSQL": Settings.from_env({}, database_url=database_url, **base),
            }
            sandbox = Sandbox(SandboxConfig(speed=1e6, seed=1))
            times: dict[str, dict[str, list[float]]] = {name: {"small": [], "big": []} for name in configs}
            async with sandbox, AsyncExitStack() as stack:
                clients = {
                    name: await stack.enter_async_context(server(s, sandbox)) for name, s in configs.items()
                }
                for name, client in clients.items():  # warm up each (first calls open pools, files)
                    await one_call(client, [f"warm {name} {i}" for i in range(inputs)])
                for i in range(calls):
                    for name, client in clients.items():
                        times[name]["small"].append(
                            await one_call(client, [f"{name} s{i} {j}" for j in range(inputs)])
                        )
                for i in range(big_calls):
                    for name, client in clients.items():
                        times[name]["big"].append(
                            await one_call(client, [f"{name} b{i} {j}" for j in range(1_000)])
                        )
            sandbox.close()
    finally:
        if pg is not None:
            pg.stop()
    off_small = statistics.median(times["state off"]["small"]) * 1e3
    off_big = statistics.median(times["state off"]["big"]) * 1e3
    figures: list[dict[str, Any]] = []
    print(f"add_runs through build_server, medians ({calls} calls of {inputs} inputs, {big_calls} of 1,000)")
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
                    "comparison": "the same call with TASKGROUP_MCP_STATE=off, same run",
                    "baseline": round(baseline, 2),
                    "ratio": round(ratio, 3),
                    "aim": f"<= {AIM}",
                }
            )
    for f in figures:
        print(
            f"  {f['figure']}: {f['ratio']:.2f}x (aim <= {AIM}: {'met' if f['ratio'] <= AIM else 'NOT met'})"
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
    parser.add_argument("--big-calls", type=int, default=5, help="1,000-input calls per configuration")
    parser.add_argument("--database-url", default=None, help="PostgreSQL to use (default: start one)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON (bench/run_all.py)")
    ns = parser.parse_args()
    anyio.run(main, ns.calls, ns.inputs, ns.big_calls, ns.database_url, ns.json)
