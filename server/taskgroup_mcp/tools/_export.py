"""Export a whole group to JSONL or CSV under the export directory, with an exactly-once check."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import anyio

from taskgroup_mcp.client import RESERVED_METADATA_KEY, ParallelClient

from ._answer import closing
from ._models import ExportResult
from ._sanitize import SECRETS, THIRD_PARTY_NOTICE
from ._shaping import BasisMode, json_text, shape_run

ExportFormat = Literal["jsonl", "csv"]
EXPORT_URI_PREFIX = "taskgroup://exports/"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
_FIXED_COLUMNS = ("key", "run_id", "status", "error")


def export_uri(name: str) -> str:
    return EXPORT_URI_PREFIX + name


def export_path(export_dir: Path, name: str) -> Path | None:
    """The file behind an export name, or None if the name is not a plain file name in the directory."""
    if not name or _SAFE.search(name) or name.startswith("."):
        return None
    path = export_dir / name
    return path if path.is_file() else None


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json_text(value)
    # Spreadsheet formula injection: web content must not become a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _write_csv(jsonl: Path, target: Path, include_basis: bool) -> None:
    columns: dict[str, None] = {}
    with jsonl.open(encoding="utf-8") as f:
        for line in f:
            output = json.loads(line).get("output")
            if isinstance(output, dict):
                for k in output:  # pyright: ignore[reportUnknownVariableType]
                    columns.setdefault(f"output.{k}", None)
            elif output is not None:
                columns.setdefault("output", None)
    header = [*_FIXED_COLUMNS, *columns, "input", *(["basis"] if include_basis else [])]
    with jsonl.open(encoding="utf-8") as src, target.open("w", encoding="utf-8", newline="") as dst:
        writer = csv.writer(dst)
        writer.writerow(header)
        for line in src:
            record: dict[str, Any] = json.loads(line)
            output = record.get("output")
            row: dict[str, Any] = {c: record.get(c) for c in _FIXED_COLUMNS}
            if isinstance(output, dict):
                for k, v in output.items():  # pyright: ignore[reportUnknownVariableType]
                    row[f"output.{k}"] = v
            else:
                row["output"] = output
            row["input"] = record.get("input")
            row["basis"] = record.get("basis")
            writer.writerow([_csv_cell(row.get(c)) for c in header])


async def export_group(
    client: ParallelClient,
    group_id: str,
    *,
    export_dir: Path,
    fmt: ExportFormat,
    include_basis: BasisMode,
    notice: str | None,
) -> ExportResult:
    """Stream every run of the group to a file; count each input (by its client id) once."""
    await anyio.Path(export_dir).mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{_SAFE.sub('_', group_id)}-{stamp}.{fmt}"
    target = export_dir / name
    staging = export_dir / f".{name}.jsonl.part"
    cids: Counter[str] = Counter()
    rows = 0
    without_cid = 0
    buffer: list[str] = []
    try:
        stream = client.iter_results(group_id, include_input=True, include_output=True)
        async with await anyio.open_file(staging, "w", encoding="utf-8") as out, closing(stream) as events:
            async for event in events:
                cid = (event.run.metadata or {}).get(RESERVED_METADATA_KEY)
                if isinstance(cid, str) and cid:
                    cids[cid] += 1
                else:
                    without_cid += 1
                record = shape_run(
                    event, include_basis=include_basis, include_input=True, reserved_key=RESERVED_METADATA_KEY
                )
                buffer.append(SECRETS.redact_text(json_text(record)) + "\n")
                rows += 1
                if len(buffer) >= 500:
                    await out.write("".join(buffer))
                    buffer.clear()
            if buffer:
                await out.write("".join(buffer))
        if fmt == "jsonl":
            await anyio.Path(staging).rename(target)
        else:
            await anyio.to_thread.run_sync(_write_csv, staging, target, include_basis != "none")
    finally:
        # A failed or cancelled export leaves no half-written file behind.
        with anyio.CancelScope(shield=True):
            await anyio.Path(staging).unlink(missing_ok=True)
    size = (await anyio.Path(target).stat()).st_size
    duplicates = sum(1 for n in cids.values() if n > 1)
    return ExportResult(
        task_group_id=group_id,
        path=str(target),
        uri=export_uri(name),
        format=fmt,
        rows=rows,
        bytes=size,
        distinct_inputs=len(cids),
        duplicate_inputs=duplicates,
        runs_without_client_id=without_cid,
        exactly_once=duplicates == 0,
        content_notice=THIRD_PARTY_NOTICE,
        next_step=f"Read the file at the path, or the resource {export_uri(name)}.",
        notice=notice,
    )
