"""Print the modules whose coverage (lines and branches) is under a threshold (default 85%), after ``make coverage``.

    python scripts/coverage_under.py [PERCENT]

Reads the combined coverage data (``.coverage``, or ``COVERAGE_FILE``); prints the total, then one
line per module under the threshold, lowest first. It never fails: the figures are for reading.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import coverage


def modules_under(threshold: float) -> tuple[float, list[tuple[float, str, int]]]:
    """The total percentage, and (percent, module, missing lines) for each module under ``threshold``."""
    cov = coverage.Coverage()
    cov.load()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "coverage.json"
        total = cov.json_report(outfile=str(out))
        files = json.loads(out.read_text(encoding="utf-8"))["files"]
    under = [
        (summary["percent_covered"], name, summary["missing_lines"])
        for name, data in files.items()
        if (summary := data["summary"])["percent_covered"] < threshold
    ]
    return total, sorted(under)


def main() -> int:
    threshold = float(sys.argv[1]) if len(sys.argv) > 1 else 85.0
    total, under = modules_under(threshold)
    sys.stdout.write(f"total {total:.1f}%; {len(under)} modules under {threshold:g}%:\n")
    for percent, name, missing in under:
        sys.stdout.write(f"  {percent:5.1f}%  {name}  ({missing} lines not run)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
