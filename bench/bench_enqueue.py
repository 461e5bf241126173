"""Enqueueing 100,000 inputs: time, peak RSS, and memory beyond the inputs at 20,000 vs 100,000.

    .venv/bin/python bench/bench_enqueue.py [--small 20000] [--large 100000] [--latency-ms 200]

The sandbox runs in a child process of its own (200 ms added to every request, runs kept queued).
Each measurement is a fresh Python process (so its peak RSS is its own): it builds N inputs
(``RunInput``), notes its RSS, then calls ``ParallelClient.submit`` with every default on a
group it created, and reports the time and its peak RSS (``VmHWM``). What ``submit`` costs
beyond the inputs is ``peak - RSS with the inputs built``; part of it is the result itself (one
client id and one run id per input, returned to the caller), measured separately with
``tracemalloc`` in another process. The rest, the working memory (request bodies in flight, the
reads of the group), must not grow with N. Aim: working memory at the large N <= 1.25x the small.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from _sandbox_server import KEY, control, cpu_seconds, rss_mb, sandbox_process

from taskgroup_mcp.client import ParallelClient
from taskgroup_mcp.wire import RunInput


async def _submit(base_url: str, inputs: list[RunInput]) -> tuple[float, Any]:
    async with ParallelClient(api_key=KEY, base_url=base_url) as client:
        group = await client.create_task_group()
        started = time.perf_counter()
        result = await client.submit(group.taskgroup_id, inputs)
        return time.perf_counter() - started, result


def measure(base_url: str, n: int) -> dict[str, Any]:
    """In a child process: build ``n`` inputs, submit them; times and RSS."""
    baseline = rss_mb("VmRSS")
    inputs = [RunInput(input=f"company {i}", processor="lite") for i in range(n)]
    gc.collect()
    with_inputs = rss_mb("VmRSS")
    cpu = time.process_time()
    seconds, result = asyncio.run(_submit(base_url, inputs))
    return {
        "n": n,
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "baseline_mb": baseline,
        "inputs_mb": with_inputs - baseline,
        "peak_mb": rss_mb("VmHWM"),
        "beyond_inputs_mb": rss_mb("VmHWM") - with_inputs,
        "posts": result.requests_sent,
        "ok": result.ok and len(result.run_ids) == n,
    }


def measure_result(base_url: str, n: int) -> dict[str, Any]:
    """In a child process: the bytes the result keeps (``tracemalloc``, retained after the call)."""
    inputs = [RunInput(input=f"company {i}", processor="lite") for i in range(n)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    _, result = asyncio.run(_submit(base_url, inputs))
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert result.ok
    return {"n": n, "result_mb": kept / 2**20}


def child(mode: str, base_url: str, n: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--base-url", base_url, "--n", str(n)],
        capture_output=True,
        text=True,
        check=True,
        timeout=1_200,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON (bench/run_all.py)")
    parser.add_argument("--child", choices=("measure", "result"), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        fn = measure if args.child == "measure" else measure_result
        print(json.dumps(fn(args.base_url, args.n)))
        return 0
    rows: dict[int, dict[str, Any]] = {}
    with sandbox_process(args.latency_ms) as sandbox:
        print(
            f"sandbox in its own process, {args.latency_ms:g} ms added to every request; every submit default "
            f"(2,000 POSTs/min, chunks of 1,000); {os.cpu_count()} CPUs; "
            f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        print(
            f"{'inputs':>8} {'time s':>7} {'runs/s':>8} {'POSTs':>5} {'client CPU s':>12} {'sandbox CPU %':>13} "
            f"{'inputs MB':>9} {'peak RSS MB':>11} {'beyond inputs MB':>16} {'result MB':>9} {'working MB':>10}"
        )
        for n in (args.small, args.large):
            before, wall = cpu_seconds(sandbox.pid), time.perf_counter()
            row = child("measure", sandbox.base_url, n)
            sandbox_cpu = (cpu_seconds(sandbox.pid) - before) / (time.perf_counter() - wall) * 100
            control(sandbox.base_url, "/_sandbox/reset")
            row |= child("result", sandbox.base_url, n)
            control(sandbox.base_url, "/_sandbox/reset")
            row["working_mb"] = row["beyond_inputs_mb"] - row["result_mb"]
            rows[n] = row
            print(
                f"{n:>8,} {row['seconds']:>7.2f} {n / row['seconds']:>8,.0f} {row['posts']:>5} "
                f"{row['cpu_seconds']:>12.2f} {sandbox_cpu:>13.0f} {row['inputs_mb']:>9.1f} {row['peak_mb']:>11.1f} "
                f"{row['beyond_inputs_mb']:>16.1f} {row['result_mb']:>9.1f} {row['working_mb']:>10.1f}"
                + ("" if row["ok"] else "  (NOT every input added)"),
                flush=True,
            )
    small, large = rows[args.small], rows[args.large]
    growth = large["working_mb"] / max(small["working_mb"], 0.1)
    per_input = large["result_mb"] * 2**20 / args.large
    print(
        f"working memory (beyond the inputs and the result): {small['working_mb']:.1f} MB at {args.small:,}, "
        f"{large['working_mb']:.1f} MB at {args.large:,}: x{growth:.2f} (aim <= 1.25); "
        f"the result keeps {per_input:.0f} bytes per input"
    )
    figures = [
        {"figure": f"enqueue {args.large:,} inputs (submit, defaults, 200 ms per request)", "ours": large["seconds"],
         "unit": "s", "comparison": None, "baseline": None, "ratio": None, "aim": None, "met": None},
        {"figure": f"peak RSS enqueueing {args.large:,} inputs", "ours": large["peak_mb"], "unit": "MB",
         "comparison": f"the same at {args.small:,} inputs", "baseline": small["peak_mb"],
         "ratio": large["peak_mb"] / small["peak_mb"], "aim": None, "met": None},
        {"figure": f"submit's working memory at {args.large:,} inputs (peak RSS minus inputs and result)",
         "ours": large["working_mb"], "unit": "MB", "comparison": f"the same at {args.small:,} inputs",
         "baseline": small["working_mb"], "ratio": growth, "aim": "<= 1.25x", "met": growth <= 1.25},
        {"figure": f"memory beyond the inputs, per input, at {args.large:,}", "unit": "bytes",
         "ours": large["beyond_inputs_mb"] * 2**20 / args.large, "comparison": f"the same at {args.small:,}",
         "baseline": small["beyond_inputs_mb"] * 2**20 / args.small,
         "ratio": (large["beyond_inputs_mb"] / args.large) / (small["beyond_inputs_mb"] / args.small),
         "aim": None, "met": None},
        {"figure": "the result's bookkeeping per input (client id, run id)", "ours": per_input, "unit": "bytes",
         "comparison": None, "baseline": None, "ratio": None, "aim": None, "met": None},
        {"figure": f"every one of {args.large:,} inputs added", "ours": int(large["ok"]), "unit": "",
         "comparison": None, "baseline": None, "ratio": None, "aim": "1 (yes)", "met": bool(large["ok"])},
    ]  # fmt: skip
    if args.json:
        title = f"enqueueing {args.large:,} inputs: time and memory"
        Path(args.json).write_text(json.dumps({"title": title, "figures": figures}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
