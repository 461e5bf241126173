"""Benchmark the sandbox over loopback: intake, status latency at 100 vs 100,000 runs, the full
stream with outputs, and the sandbox's peak RSS. Prints figures; not a test.

    .venv/bin/python bench/bench_sandbox.py [--runs 100000] [--batch 1000] [--concurrency 4]

The sandbox runs as `taskgroup-mcp sandbox --port 0` in a subprocess (its RSS is measured alone).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx2

HEADERS = {"x-api-key": "bench", "content-type": "application/json"}


def _vm(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _body(batch: int, offset: int) -> bytes:
    inputs = [
        {
            "input": f"What is the headquarters city of company #{offset + i}?",
            "processor": "lite",
            "metadata": {"n": offset + i},
        }
        for i in range(batch)
    ]
    spec = {
        "output_schema": {
            "type": "json",
            "json_schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "confidence_pct": {"type": "integer"}},
                "required": ["city", "confidence_pct"],
                "additionalProperties": False,
            },
        }
    }
    return json.dumps({"inputs": inputs, "default_task_spec": spec}).encode()


async def _status_latency(http: httpx2.AsyncClient, gid: str, n: int = 300) -> tuple[float, float]:
    samples: list[float] = []
    for _ in range(n):
        t = time.perf_counter()
        r = await http.get(f"/v1/tasks/groups/{gid}")
        samples.append(time.perf_counter() - t)
        r.raise_for_status()
    samples.sort()
    return statistics.median(samples) * 1000, samples[int(len(samples) * 0.99) - 1] * 1000


async def bench(
    base: str,
    pid: int,
    runs: int,
    batch: int,
    concurrency: int,
    store_sqlite: bool,
    json_path: str | None = None,
) -> None:
    limits = httpx2.Limits(max_connections=concurrency + 2)
    async with httpx2.AsyncClient(base_url=base, headers=HEADERS, timeout=120, limits=limits) as http:
        small = (await http.post("/v1/tasks/groups", content=b"{}")).json()["taskgroup_id"]
        (await http.post(f"/v1/tasks/groups/{small}/runs", content=_body(100, 0))).raise_for_status()
        big = (await http.post("/v1/tasks/groups", content=b"{}")).json()["taskgroup_id"]
        bodies = [_body(batch, k * batch) for k in range(runs // batch)]
        rss_before = _vm(pid, "VmRSS")

        # intake: all requests, `concurrency` at a time
        send = anyio.create_memory_object_stream[bytes](len(bodies))
        for b in bodies:
            send[0].send_nowait(b)
        send[0].close()

        async def worker() -> None:
            async for body in send[1]:
                r = await http.post(
                    f"/v1/tasks/groups/{big}/runs", content=body, params={"refresh_status": "false"}
                )
                r.raise_for_status()

        t0 = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(worker)
        intake = time.perf_counter() - t0
        status = (await http.get(f"/v1/tasks/groups/{big}")).json()["status"]
        assert status["num_task_runs"] == runs, status

        small_p50, small_p99 = await _status_latency(http, small)
        big_p50, big_p99 = await _status_latency(http, big)

        # follow the group's events until it goes idle (lite at speed 60: at most 1 s after intake)
        t0 = time.perf_counter()
        completions = 0
        async with http.stream("GET", f"/v1/tasks/groups/{big}/events", params={"timeout": 300}) as r:
            tail = b""
            async for chunk in r.aiter_bytes():
                buf = tail + chunk
                completions += buf.count(b"event: task_run.state") - tail.count(b"event: task_run.state")
                tail = buf[-32:]
        events_time = time.perf_counter() - t0
        assert completions == runs, completions
        t0 = time.perf_counter()
        seen = outputs = 0
        nbytes = 0
        async with http.stream(
            "GET", f"/v1/tasks/groups/{big}/runs", params={"include_input": "true", "include_output": "true"}
        ) as r:
            tail = b""
            async for chunk in r.aiter_bytes():
                nbytes += len(chunk)
                buf = tail + chunk
                seen += buf.count(b"\ndata: ") - tail.count(b"\ndata: ")
                outputs += buf.count(b'"output":{') - tail.count(b'"output":{')
                tail = buf[-16:]
        stream = time.perf_counter() - t0
        assert seen == runs and outputs == runs, (seen, outputs)
        # idle: the same two groups once nothing moves (interleaved rounds, so load hits both alike)
        idle_small: list[tuple[float, float]] = []
        idle_big: list[tuple[float, float]] = []
        for _ in range(5):
            idle_small.append(await _status_latency(http, small, 100))
            idle_big.append(await _status_latency(http, big, 100))

    print(f"store:                     {'SQLite' if store_sqlite else 'in memory'}")
    print(
        f"runs added:                {runs:,} in {runs // batch} requests of {batch} ({concurrency} concurrent)"
    )
    print(f"intake:                    {intake:.2f} s  ->  {runs / intake:,.0f} runs/s")
    print(f"status latency while the {runs:,} runs move (p50 / p99):")
    print(f"    group of 100 runs:        {small_p50:.2f} / {small_p99:.2f} ms")
    print(f"    group of {runs:,} runs:    {big_p50:.2f} / {big_p99:.2f} ms")
    print("status latency when idle, median of 5 interleaved rounds (p50 / p99):")
    for label, samples in (("100", idle_small), (f"{runs:,}", idle_big)):
        p50 = statistics.median(x[0] for x in samples)
        p99 = statistics.median(x[1] for x in samples)
        print(f"    group of {label} runs:{' ' * (14 - len(label))}{p50:.2f} / {p99:.2f} ms")
    print(
        f"group events stream:       {completions:,} completions followed until idle in {events_time:.2f} s"
    )
    print(
        f"full stream with outputs:  {seen:,} runs, {nbytes / 1e6:.0f} MB in {stream:.2f} s  ->  {seen / stream:,.0f} runs/s"
    )
    print(
        f"sandbox RSS:               before intake {rss_before / 1e6:.0f} MB, peak {_vm(pid, 'VmHWM') / 1e6:.0f} MB"
    )
    if json_path:
        idle_p50 = [statistics.median(x[0] for x in s) for s in (idle_small, idle_big)]
        same = "the same request on a group of 100 runs, same run"
        figures = [
            {"figure": f"sandbox intake, {runs:,} runs in batches of {batch}", "ours": runs / intake,
             "unit": "runs/s", "comparison": None, "baseline": None, "ratio": None, "aim": None},
            {"figure": f"status p50 while {runs:,} runs move", "ours": big_p50, "unit": "ms",
             "comparison": same, "baseline": small_p50, "ratio": big_p50 / small_p50, "aim": None},
            {"figure": f"status p50 of an idle {runs:,}-run group", "ours": idle_p50[1], "unit": "ms",
             "comparison": same, "baseline": idle_p50[0], "ratio": idle_p50[1] / idle_p50[0], "aim": None},
            {"figure": "full runs stream with inputs and outputs", "ours": seen / stream, "unit": "runs/s",
             "comparison": None, "baseline": None, "ratio": None, "aim": None},
            {"figure": "sandbox peak RSS", "ours": _vm(pid, "VmHWM") / 1e6, "unit": "MB",
             "comparison": "RSS before intake", "baseline": rss_before / 1e6,
             "ratio": _vm(pid, "VmHWM") / max(rss_before, 1), "aim": None},
        ]  # fmt: skip
        title = f"the sandbox over loopback ({'SQLite' if store_sqlite else 'in memory'})"
        await anyio.Path(json_path).write_text(json.dumps({"title": title, "figures": figures}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--db", default=None, help="run the sandbox on SQLite at this path (default: in memory)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON (bench/run_all.py)")
    args = parser.parse_args()
    extra = ["--db", args.db] if args.db else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskgroup_mcp", "sandbox", "--port", "0", "--log-level", "WARNING", *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base = line.rsplit(" ", 1)[1].strip()
        anyio.run(bench, base, proc.pid, args.runs, args.batch, args.concurrency, bool(args.db), args.json)
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


if __name__ == "__main__":
    main()
