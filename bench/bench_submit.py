"""Submitting 10,000 inputs: our exactly-once ``submit`` against the official SDK used well.

    .venv/bin/python bench/bench_submit.py [--inputs 10000] [--latency-ms 200] [--rounds 3]

One sandbox serves HTTP on 127.0.0.1 from a child process of its own (it never shares an
interpreter lock with the client measured), adding ``--latency-ms`` to **every** request (POSTs,
reads and streams: our audit pays it too). Its runs are slowed down so that none completes during
the benchmark (completions would spend its CPU in the middle of a later row). Each row starts
with a new client and a new group; rounds are interleaved (every row once per round), and each
time is the median of the rounds.

Happy path, no faults:

* ``SDK, one chunk after another``: ``parallel-web`` 0.6.0 ``AsyncParallel``,
  ``await task_group.add_runs(group, inputs=chunk)`` for each chunk of 1,000 in turn.
* ``SDK, gather, 4 in flight``: the same chunks through ``asyncio.gather`` behind a semaphore of 4.
* ``SDK, gather, all in flight``: every chunk at once through ``asyncio.gather`` (the best an SDK
  user gets; the SDK's own retries left at their default).
* ``ours, submit``: ``ParallelClient(...).submit(group, inputs)`` with every default (chunks of
  1,000, up to 16 in flight, adapting; 2,000 POSTs per minute; the audit reads the group's runs by
  cursor while the chunks land).
* ``ours, submit, audit="on_doubt"``: the same without the reads when every answer was clean.

With faults on run-creating requests (drop the connection after committing 20%, answer 503
before committing 10%, answer 429 with ``Retry-After: 1`` 5%): ``ours, submit`` and
``SDK, gather, all in flight`` (its default retries resend a dropped request: duplicates).

Each round starts at another row (no row always runs first). After each row its group is read
back from the sandbox (its runs stream, by input text: runs, duplicates, i.e. runs beyond one per
input, and missing inputs), then the sandbox is emptied. The sandbox's and this process's CPU
use are printed per row (neither may be the bottleneck). Aims: ours <= 1.1x the SDK's
gather with all chunks in flight and <= 0.35x its chunk-after-chunk time, 0 duplicates; with
faults 0 duplicates, 0 missing and <= 3x our own happy path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _sandbox_server import (
    KEY,
    SandboxProcess,
    control,
    count_group,
    cpu_seconds,
    sandbox_process,
    set_faults,
)
from parallel import AsyncParallel

from taskgroup_mcp.client import ParallelClient
from taskgroup_mcp.wire import RunInput

CHUNK = 1_000
FAULTS = {"drop_after_commit": 0.20, "fail_before_commit": 0.10, "throttle": 0.05, "retry_after": 1.0}
NO_FAULTS = {"drop_after_commit": 0.0, "fail_before_commit": 0.0, "throttle": 0.0}


@dataclass
class Sample:
    seconds: float
    runs: int
    duplicates: int
    missing: int
    posts: int | None
    sandbox_cpu: float
    """The sandbox process's CPU use during the row, in % of one core."""
    own_cpu: float
    """This process's CPU use during the row, in % of one core."""
    own_cpu_seconds: float
    error: str = ""


def texts(n: int) -> list[str]:
    return [f"company {i}" for i in range(n)]


async def sdk_sequential(base_url: str, n: int) -> tuple[str, float, int | None, str]:
    return await _sdk(base_url, n, in_flight=1)


async def sdk_gather_4(base_url: str, n: int) -> tuple[str, float, int | None, str]:
    return await _sdk(base_url, n, in_flight=4)


async def sdk_gather_all(base_url: str, n: int) -> tuple[str, float, int | None, str]:
    return await _sdk(base_url, n, in_flight=None)


async def _sdk(base_url: str, n: int, in_flight: int | None) -> tuple[str, float, int | None, str]:
    inputs: list[Any] = [{"input": t, "processor": "lite"} for t in texts(n)]
    chunks = [inputs[i : i + CHUNK] for i in range(0, n, CHUNK)]
    async with AsyncParallel(api_key=KEY, base_url=base_url) as sdk:
        group = await sdk.task_group.create()
        gid = group.task_group_id
        started = time.perf_counter()
        if in_flight == 1:
            errors: list[BaseException] = []
            for chunk in chunks:
                try:
                    await sdk.task_group.add_runs(gid, inputs=chunk)
                except Exception as exc:
                    errors.append(exc)
        else:
            gate = asyncio.Semaphore(in_flight or len(chunks))

            async def one(chunk: list[Any]) -> Any:
                async with gate:
                    return await sdk.task_group.add_runs(gid, inputs=chunk)

            outcomes = await asyncio.gather(*(one(c) for c in chunks), return_exceptions=True)
            errors = [o for o in outcomes if isinstance(o, BaseException)]
        elapsed = time.perf_counter() - started
    error = f"{len(errors)} chunks raised ({type(errors[0]).__name__})" if errors else ""
    return gid, elapsed, None, error


async def ours(base_url: str, n: int) -> tuple[str, float, int | None, str]:
    return await _ours(base_url, n, "always")


async def ours_on_doubt(base_url: str, n: int) -> tuple[str, float, int | None, str]:
    return await _ours(base_url, n, "on_doubt")


async def _ours(base_url: str, n: int, audit: Any) -> tuple[str, float, int | None, str]:
    inputs = [RunInput(input=t, processor="lite") for t in texts(n)]
    async with ParallelClient(api_key=KEY, base_url=base_url, audit=audit) as client:
        group = await client.create_task_group()
        started = time.perf_counter()
        result = await client.submit(group.taskgroup_id, inputs)
        elapsed = time.perf_counter() - started
    error = f"{len(result.failed)} failed: {result.failed[0].reason}" if result.failed else ""
    return group.taskgroup_id, elapsed, result.requests_sent, error


Runner = Callable[[str, int], Awaitable[tuple[str, float, int | None, str]]]


@dataclass(frozen=True)
class Row:
    key: str
    name: str
    run: Runner
    faults: bool


ROWS = [
    Row("sdk_seq", "SDK, one chunk after another", sdk_sequential, False),
    Row("sdk_4", "SDK, gather, 4 in flight", sdk_gather_4, False),
    Row("sdk_all", "SDK, gather, all in flight", sdk_gather_all, False),
    Row("ours", "ours, submit (defaults)", ours, False),
    Row("ours_lean", 'ours, submit, audit="on_doubt"', ours_on_doubt, False),
    Row("ours_faults", "ours, submit, faults", ours, True),
    Row("sdk_all_faults", "SDK, gather, all in flight, faults", sdk_gather_all, True),
]


def measure(sandbox: SandboxProcess, row: Row, n: int) -> Sample:
    set_faults(sandbox.base_url, FAULTS if row.faults else NO_FAULTS)
    cpu_before, own_before, wall_before = cpu_seconds(sandbox.pid), time.process_time(), time.perf_counter()
    gid, seconds, posts, error = asyncio.run(row.run(sandbox.base_url, n))
    wall = time.perf_counter() - wall_before
    sandbox_cpu = (cpu_seconds(sandbox.pid) - cpu_before) / wall * 100
    own_cpu_seconds = time.process_time() - own_before
    own_cpu = own_cpu_seconds / wall * 100
    set_faults(sandbox.base_url, NO_FAULTS)
    count = count_group(sandbox.base_url, gid, set(texts(n)))
    control(sandbox.base_url, "/_sandbox/reset")  # every row starts from an empty sandbox
    return Sample(
        seconds,
        count.runs,
        count.duplicates,
        count.missing,
        posts,
        sandbox_cpu,
        own_cpu,
        own_cpu_seconds,
        error,
    )


def figure(name: str, ours_: float, unit: str, comparison: str | None, baseline: float | None,
           ratio: float | None, aim: str | None, met: bool | None) -> dict[str, Any]:  # fmt: skip
    return {"figure": name, "ours": ours_, "unit": unit, "comparison": comparison, "baseline": baseline,
            "ratio": ratio, "aim": aim, "met": met}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; times are their medians")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON (bench/run_all.py)")
    args = parser.parse_args()
    n = args.inputs
    samples: dict[str, list[Sample]] = {row.key: [] for row in ROWS}
    with sandbox_process(args.latency_ms) as sandbox:
        print(
            f"sandbox in its own process, {args.latency_ms:g} ms added to every request; {n:,} inputs in "
            f"chunks of {CHUNK:,}; {args.rounds} interleaved rounds; {os.cpu_count()} CPUs; "
            f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        print(
            f"{'round':>5}  {'row':<36} {'time s':>7} {'POSTs':>5} {'runs':>7} {'dups':>6} {'missing':>7} "
            f"{'sandbox CPU %':>13} {'client CPU %':>12}"
        )
        for number in range(1, args.rounds + 1):
            shift = (number - 1) * 2 % len(ROWS)  # each round starts elsewhere: no row is always first
            for row in ROWS[shift:] + ROWS[:shift]:
                s = measure(sandbox, row, n)
                samples[row.key].append(s)
                print(
                    f"{number:>5}  {row.name:<36} {s.seconds:>7.2f} {s.posts if s.posts is not None else '-':>5} "
                    f"{s.runs:>7,} {s.duplicates:>6,} {s.missing:>7,} {s.sandbox_cpu:>13.0f} {s.own_cpu:>12.0f}"
                    + (f"  ({s.error})" if s.error else ""),
                    flush=True,
                )
    med = {key: statistics.median(s.seconds for s in ss) for key, ss in samples.items()}
    dups = {key: sum(s.duplicates for s in ss) for key, ss in samples.items()}
    missing = {key: sum(s.missing for s in ss) for key, ss in samples.items()}
    cpu = {key: statistics.median(s.own_cpu_seconds for s in ss) for key, ss in samples.items()}
    busiest = max(s.sandbox_cpu for ss in samples.values() for s in ss)
    print(f"\nmedians of {args.rounds} rounds (duplicates and missing: summed over the rounds)")
    for row in ROWS:
        print(
            f"  {row.name:<36} {med[row.key]:6.2f} s  duplicates {dups[row.key]:,}  missing {missing[row.key]:,}"
            f"  client CPU {cpu[row.key]:.2f} s"
        )
    print(f"busiest sandbox CPU in any row: {busiest:.0f}% of one core")

    figures: list[dict[str, Any]] = []
    size = f"{n:,} inputs, {args.latency_ms:g} ms per request"
    for key, label in (("ours", "submit (defaults)"), ("ours_lean", 'submit, audit="on_doubt"')):
        for base, base_label, aim in (("sdk_all", "SDK gather, all chunks in flight", 1.1),
                                      ("sdk_seq", "SDK, one chunk after another", 0.35)):  # fmt: skip
            ratio = med[key] / med[base]
            figures.append(figure(f"{size}: ours, {label}", med[key], "s", base_label, med[base], ratio,
                                  f"<= {aim}x", ratio <= aim))  # fmt: skip
    figures.append(figure("client CPU time, ours, submit (defaults), median", cpu["ours"], "s",
                          "SDK gather, all chunks in flight", cpu["sdk_all"], cpu["ours"] / cpu["sdk_all"],
                          None, None))  # fmt: skip
    figures.append(figure(f"{size}: SDK gather, 4 in flight", med["sdk_4"], "s", "SDK, one chunk after another",
                          med["sdk_seq"], med["sdk_4"] / med["sdk_seq"], None, None))  # fmt: skip
    happy_dups = dups["ours"] + dups["ours_lean"]
    figures.append(figure("duplicate runs, happy path (ours, every round)", happy_dups, "", "SDK gather, all in flight",
                          dups["sdk_all"], None, "0", happy_dups == 0))  # fmt: skip
    ratio = med["ours_faults"] / med["ours"]
    figures.append(figure(f"{size}, faults (drop after commit 20%, 503 10%, 429 5%): ours, submit", med["ours_faults"],
                          "s", "ours, happy path", med["ours"], ratio, "<= 3x", ratio <= 3.0))  # fmt: skip
    figures.append(figure("duplicate runs with faults (ours, every round)", dups["ours_faults"], "",
                          "SDK gather with its default retries, same faults", dups["sdk_all_faults"], None, "0",
                          dups["ours_faults"] == 0))  # fmt: skip
    figures.append(figure("missing inputs with faults (ours, every round)", missing["ours_faults"], "",
                          "SDK gather with its default retries, same faults", missing["sdk_all_faults"], None, "0",
                          missing["ours_faults"] == 0))  # fmt: skip
    figures.append(figure("faults: SDK gather, all in flight, time", med["sdk_all_faults"], "s",
                          "SDK gather, happy path", med["sdk_all"], med["sdk_all_faults"] / med["sdk_all"],
                          None, None))  # fmt: skip
    print("\naims")
    for f in figures:
        if f["aim"] is not None:
            value = f["ratio"] if f["ratio"] is not None else f["ours"]
            print(f"  {f['figure']}: {value:,.2f} (aim {f['aim']}) {'met' if f['met'] else 'MISSED'}")
    if args.json:
        title = "submitting inputs: our exactly-once submit vs the official SDK used well"
        Path(args.json).write_text(json.dumps({"title": title, "figures": figures}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
