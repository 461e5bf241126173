"""Run every benchmark script under bench/ and write BENCHMARKS.md (``make bench``).

    .venv/bin/python bench/run_all.py [--quick] [--only NAME ...] [--out BENCHMARKS.md]

Each ``bench/bench_*.py`` runs in its own process, one after another (so they do not load the
machine for each other), with ``--json PATH`` when its ``--help`` offers it. A script writes:

    {"title": "...",
     "figures": [{"figure": "...", "ours": 1.0, "unit": "ms",
                  "comparison": "what it is compared with, measured in the same run",
                  "baseline": 1.0, "ratio": 1.0, "aim": "<= 1.5"}]}

``baseline``, ``ratio`` and ``aim`` may be null; ``met`` (true/false) says whether the aim was met
(when a script leaves it out, ``aim`` bounds the ratio, or the figure itself when there is no ratio). The table in BENCHMARKS.md lists every figure with
its comparison, and the machine it ran on (cores, CPU model, Python, date, commit, load). A script
without ``--json`` still runs; its printed output is kept in the report. ``--quick`` passes each
script small arguments (a smoke run of the harness, not figures to publish).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TIMEOUT_S = 1_800
QUICK_ARGS = {
    "bench_explorer": ["--runs", "2000", "--rounds", "1"],
    "bench_http": ["--clients", "4", "--calls", "40", "--rounds", "1", "--processes", "2"],
    "bench_journal": ["--calls", "10", "--big-calls", "3"],
    "bench_sandbox": ["--runs", "2000", "--batch", "500"],
    "bench_status": ["--calls", "50", "--warmup", "5"],
    "bench_submit": ["--inputs", "2000", "--latency-ms", "20", "--rounds", "1"],
    "bench_enqueue": ["--small", "2000", "--large", "10000"],
    "bench_export": ["--small", "1000", "--large", "10000"],
}


@dataclass
class Outcome:
    name: str
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    data: dict[str, Any] | None
    args: list[str] = field(default_factory=list[str])


def machine() -> dict[str, str]:
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return {
        "cores": str(os.cpu_count()),
        "cpu": model,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": platform.platform(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "unknown",
        "load": load,
    }


def supports_json(script: Path) -> bool:
    helped = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    return "--json" in helped.stdout


def run_one(script: Path, quick: bool) -> Outcome:
    name = script.stem
    args = list(QUICK_ARGS.get(name, [])) if quick else []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        if supports_json(script):
            args += ["--json", str(out)]
        print(f"== {name} {' '.join(args)}", flush=True)
        started = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, str(script), *args],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                check=False,
            )
            code, stdout, stderr = done.returncode, done.stdout, done.stderr
        except subprocess.TimeoutExpired as exc:
            code, stdout, stderr = -1, str(exc.stdout or ""), f"timed out after {TIMEOUT_S} s"
        seconds = time.perf_counter() - started
        data: dict[str, Any] | None = None
        if out.exists():
            try:
                data = json.loads(out.read_text(encoding="utf-8"))
            except ValueError:
                data = None
    print(stdout, end="" if stdout.endswith("\n") else "\n", flush=True)
    if code != 0:
        print(f"   {name} exited {code}: {stderr.strip()[-800:]}", flush=True)
    return Outcome(name, seconds, code, stdout, stderr, data, args)


def number(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def verdict(f: dict[str, Any]) -> str:
    """ "met", "**missed**", or "-" for a figure without an aim."""
    aim = str(f.get("aim") or "").strip()
    if not aim:
        return "-"
    met = f.get("met")
    if met is None:  # worked out from the aim: "<= 1.3x", ">= 0.70", "0"
        value = f.get("ratio") if f.get("ratio") is not None else f.get("ours")
        match = re.fullmatch(r"(<=|>=|<|>)?\s*([0-9.]+)\s*x?.*", aim)
        if value is None or match is None:
            return "? (aim not checkable)"
        op, bound = match.group(1) or "==", float(match.group(2))
        value = float(value)
        met = {"<=": value <= bound, ">=": value >= bound, "<": value < bound, ">": value > bound,
               "==": value == bound}[op]  # fmt: skip
    return "met" if met else "**missed**"


def shown_args(args: list[str]) -> str:
    """The arguments as a reader would type them (without the temporary ``--json PATH``)."""
    shown: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--json":
            skip = True
        else:
            shown.append(arg)
    return " ".join(shown)


def render(outcomes: list[Outcome], host: dict[str, str], quick: bool) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`bench/run_all.py`); do not edit by hand. Every comparison was",
        "measured in the same run, on the same machine, right beside the figure it qualifies.",
        "",
    ]
    if quick:
        lines += ["> **Quick smoke run** (`--quick`): small arguments, not figures to quote.", ""]
    lines += [
        "## Machine",
        "",
        f"- cores: {host['cores']}; CPU: {host['cpu']}",
        f"- Python: {host['python']}; OS: {host['os']}",
        f"- date: {host['date']}; commit: {host['commit']}; load average at start: {host['load']}",
        "- shared build machine: other work may run at the same time, which is why the scripts interleave",
        "  their rounds and report ratios to comparisons measured alongside.",
        "",
        "## Figures",
        "",
        "| benchmark | figure | ours | compared with (same run) | baseline | ratio | aim | met |",
        "|---|---|---:|---|---:|---:|---|---|",
    ]
    for o in outcomes:
        figures: list[dict[str, Any]] = (o.data or {}).get("figures", [])
        if not figures:
            state = "failed" if o.returncode != 0 else "printed figures only (no --json)"
            lines.append(f"| {o.name} | {state}; see its output below | - | - | - | - | - | - |")
        for f in figures:
            unit = str(f.get("unit") or "")
            lines.append(
                "| {} | {} | {} | {} | {} | {} | {} | {} |".format(
                    o.name,
                    f.get("figure", ""),
                    number(f.get("ours"), unit),
                    f.get("comparison") or "-",
                    number(f.get("baseline"), unit),
                    number(f.get("ratio")),
                    f.get("aim") or "-",
                    verdict(f),
                )
            )
    lines += ["", "## Runs", ""]
    for o in outcomes:
        title = (o.data or {}).get("title") or o.name
        lines += [
            f"### {o.name}: {title}",
            "",
            f"`python bench/{o.name}.py {shown_args(o.args)}`".replace(" `", "`")
            + f" took {o.seconds:.0f} s, exit code {o.returncode}.",
            "",
            "```text",
            o.stdout.strip() or "(no output)",
            "```",
            "",
        ]
        if o.returncode != 0:
            lines += ["stderr (tail):", "", "```text", o.stderr.strip()[-1500:], "```", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small arguments: a smoke run of the harness")
    parser.add_argument("--only", nargs="*", default=None, help="run only these scripts (e.g. bench_status)")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem in args.only]
    host = machine()
    outcomes = [run_one(script, args.quick) for script in scripts]
    Path(args.out).write_text(render(outcomes, host, args.quick) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if all(o.returncode == 0 for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
