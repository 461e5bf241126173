"""Exporting a group's results to CSV and JSONL: time and peak RSS at 10,000 and 100,000 runs.

    .venv/bin/python bench/bench_export.py [--small 10000] [--large 100000]

The sandbox runs in a child process of its own (no added latency; runs finish within seconds).
Two groups are filled with ``--small`` and ``--large`` finished runs (with outputs). Each export
then runs in a fresh Python process of its own (so its peak RSS is its own): the export tool's
body (``export_group``, as ``export_task_group_results`` calls it, ``include_basis="none"``)
streams the group's runs with inputs and outputs into a file. Printed per format and size:
time, rows per second, file size, peak RSS (``VmHWM``) and the RSS before the export started.
Aim: peak RSS independent of the row count (the large export's peak <= 1.25x the small one's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _sandbox_server import KEY, rss_mb, sandbox_process

from taskgroup_mcp.client import ParallelClient
from taskgroup_mcp.tools._export import export_group
from taskgroup_mcp.wire import RunInput


async def fill(base_url: str, n: int) -> str:
    """A group with ``n`` finished runs."""
    inputs = [RunInput(input=f"company {i}", processor="lite") for i in range(n)]
    async with ParallelClient(api_key=KEY, base_url=base_url, audit="on_doubt") as client:
        group = await client.create_task_group()
        result = await client.submit(group.taskgroup_id, inputs)
        assert result.ok, result.failed[:3]
        while True:
            status = (await client.get_task_group(group.taskgroup_id)).status
            if not status.is_active:
                return group.taskgroup_id
            await asyncio.sleep(0.5)


async def _export(base_url: str, group_id: str, fmt: Any, directory: str) -> Any:
    async with ParallelClient(api_key=KEY, base_url=base_url) as client:
        return await export_group(
            client, group_id, export_dir=Path(directory), fmt=fmt, include_basis="none", notice=None
        )


def measure(base_url: str, group_id: str, fmt: str) -> dict[str, Any]:
    """In a child process: one export; its time and RSS."""
    with tempfile.TemporaryDirectory() as directory:
        before = rss_mb("VmRSS")
        started = time.perf_counter()
        result = asyncio.run(_export(base_url, group_id, fmt, directory))
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": result.rows, "bytes": result.bytes, "before_mb": before,
            "peak_mb": rss_mb("VmHWM")}  # fmt: skip


def child(base_url: str, group_id: str, fmt: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", fmt, "--base-url", base_url, "--group", group_id],
        capture_output=True,
        text=True,
        check=True,
        timeout=1_200,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON (bench/run_all.py)")
    parser.add_argument("--child", choices=("csv", "jsonl"), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--group", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.base_url, args.group, args.child)))
        return 0
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    with sandbox_process(0.0, speed=100_000.0) as sandbox:
        groups = {n: asyncio.run(fill(sandbox.base_url, n)) for n in (args.small, args.large)}
        print(
            f"sandbox in its own process; groups of {args.small:,} and {args.large:,} finished runs; "
            f"{os.cpu_count()} CPUs; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        print(
            f"{'format':<6} {'runs':>8} {'time s':>7} {'rows/s':>8} {'file MB':>8} {'RSS before MB':>13} "
            f"{'peak RSS MB':>11} {'growth MB':>9}"
        )
        for fmt in ("jsonl", "csv"):
            for n in (args.small, args.large):
                row = rows[(fmt, n)] = child(sandbox.base_url, groups[n], fmt)
                assert row["rows"] == n, row
                print(
                    f"{fmt:<6} {n:>8,} {row['seconds']:>7.2f} {n / row['seconds']:>8,.0f} "
                    f"{row['bytes'] / 2**20:>8.1f} {row['before_mb']:>13.1f} {row['peak_mb']:>11.1f} "
                    f"{row['peak_mb'] - row['before_mb']:>9.1f}",
                    flush=True,
                )
    figures: list[dict[str, Any]] = []
    for fmt in ("jsonl", "csv"):
        small, large = rows[(fmt, args.small)], rows[(fmt, args.large)]
        ratio = large["peak_mb"] / small["peak_mb"]
        figures += [
            {"figure": f"export {args.large:,} runs to {fmt.upper()}: time", "ours": large["seconds"], "unit": "s",
             "comparison": None, "baseline": None, "ratio": None, "aim": None, "met": None},
            {"figure": f"export {args.large:,} runs to {fmt.upper()}: peak RSS", "ours": large["peak_mb"], "unit": "MB",
             "comparison": f"the same export of {args.small:,} runs", "baseline": small["peak_mb"], "ratio": ratio,
             "aim": "<= 1.25x", "met": ratio <= 1.25},
        ]  # fmt: skip
    for f in figures:
        if f["aim"]:
            print(
                f"{f['figure']}: x{f['ratio']:.2f} of {f['comparison']} (aim {f['aim']}) {'met' if f['met'] else 'MISSED'}"
            )
    if args.json:
        title = f"exporting {args.large:,} runs to CSV and JSONL: time and memory"
        Path(args.json).write_text(json.dumps({"title": title, "figures": figures}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
