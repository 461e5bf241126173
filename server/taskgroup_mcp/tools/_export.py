"""Export a whole group to JSONL or CSV under the export directory, counting duplicated and
missing inputs.

Files live in the caller's scope of the export directory (``_export_files``: one directory per
tenant in per-request-key mode, 0700 directories, 0600 files, no link ever followed).
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from taskgroup_mcp.client import RESERVED_METADATA_KEY, ParallelClient
from taskgroup_mcp.wire import is_object

from ._answer import closing
from ._export_files import ExportDir, ExportDirError
from ._models import ExportResult
from ._sanitize import SECRETS, THIRD_PARTY_NOTICE
from ._shaping import BasisMode, json_text, shape_run

ExportFormat = Literal["jsonl", "csv"]
EXPORT_URI_PREFIX = "taskgroup://exports/"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
_FIXED_COLUMNS = ("key", "run_id", "status", "error")


def export_uri(name: str) -> str:
    return EXPORT_URI_PREFIX + name


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json_text(value)
    # Spreadsheet formula injection: web content must not become a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _reader(directory: ExportDir, name: str) -> int:
    fd = directory.open_regular(name)
    if fd is None:
        raise ToolError("The export's staging file vanished while it was written; call again.")
    return fd


def _write_csv(directory: ExportDir, jsonl: str, target: str, include_basis: bool) -> None:
    columns: dict[str, None] = {}
    with open(_reader(directory, jsonl), encoding="utf-8") as f:
        for line in f:
            output = json.loads(line).get("output")
            if is_object(output):
                for k in output:
                    columns.setdefault(f"output.{k}", None)
            elif output is not None:
                columns.setdefault("output", None)
    header = [*_FIXED_COLUMNS, *columns, "input", *(["basis"] if include_basis else [])]
    with (
        open(_reader(directory, jsonl), encoding="utf-8") as src,
        directory.writer(target, newline="") as dst,
    ):
        writer = csv.writer(dst)
        writer.writerow(header)
        for line in src:
            record: dict[str, Any] = json.loads(line)
            output = record.get("output")
            row: dict[str, Any] = {c: record.get(c) for c in _FIXED_COLUMNS}
            if is_object(output):
                for k, v in output.items():
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
    tenant: str | None = None,
    name: str | None = None,
    on_row: Callable[[int], Awaitable[None]] | None = None,
    sent: Collection[str] | None = None,
) -> ExportResult:
    """Stream every run of the group to a file in ``tenant``'s scope (None: the operator's);
    count each input (by its client id) once. ``name``: the file's name (default: the group id and
    a time stamp); ``on_row``: told the rows written so far, every few hundred and at the end;
    ``sent``: the client ids this server recorded sending (the journal's), to count those missing."""
    try:
        directory = await anyio.to_thread.run_sync(lambda: ExportDir.open(export_dir, tenant, create=True))
    except ExportDirError as exc:
        raise ToolError(f"Cannot export: {exc}") from None
    assert directory is not None  # created above
    with directory:
        return await _export_into(
            directory, client, group_id, fmt=fmt, include_basis=include_basis, notice=notice, name=name,
            on_row=on_row, sent=sent,
        )  # fmt: skip


async def _export_into(
    directory: ExportDir,
    client: ParallelClient,
    group_id: str,
    *,
    fmt: ExportFormat,
    include_basis: BasisMode,
    notice: str | None,
    name: str | None,
    on_row: Callable[[int], Awaitable[None]] | None,
    sent: Collection[str] | None,
) -> ExportResult:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = name or f"{_SAFE.sub('_', group_id)}-{stamp}.{fmt}"
    staging = f".{name}.jsonl.part"
    cids: Counter[str] = Counter()
    rows = 0
    without_cid = 0
    buffer: list[str] = []
    try:
        stream = client.iter_results(group_id, include_input=True, include_output=True)
        staged = anyio.wrap_file(await anyio.to_thread.run_sync(directory.writer, staging))
        async with staged as out, closing(stream) as events:
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
                    if on_row is not None:
                        await on_row(rows)
            if buffer:
                await out.write("".join(buffer))
            if on_row is not None:
                await on_row(rows)
        if fmt == "jsonl":
            await anyio.to_thread.run_sync(directory.rename, staging, name)
        else:
            try:
                await anyio.to_thread.run_sync(_write_csv, directory, staging, name, include_basis != "none")
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(directory.unlink, name)
                raise
    finally:
        # A failed or cancelled export leaves no half-written file behind.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(directory.unlink, staging)
    size = await anyio.to_thread.run_sync(directory.size, name)
    target = directory.path / name
    duplicates = sum(1 for n in cids.values() if n > 1)
    extra_runs = sum(n - 1 for n in cids.values() if n > 1)
    missing = None if sent is None else sum(1 for cid in sent if cid not in cids)
    step = f"Read the file at the path, or the resource {export_uri(name)}."
    if missing:
        step = (
            f"{missing} inputs this server sent have no run in the group; the same add_runs call again (same "
            "inputs and call_key) adds only those. " + step
        )
    if duplicates:
        step = (
            f"{duplicates} inputs have more than one run ({extra_runs} extra runs, each billed); every run is "
            "in the file, with the same key. " + step
        )
    return ExportResult(
        task_group_id=group_id,
        path=str(target),
        uri=export_uri(name),
        format=fmt,
        rows=rows,
        bytes=size,
        distinct_inputs=len(cids),
        duplicate_inputs=duplicates,
        duplicate_runs=extra_runs,
        runs_without_client_id=without_cid,
        no_duplicates=duplicates == 0,
        missing_inputs=missing,
        content_notice=THIRD_PARTY_NOTICE,
        next_step=step,
        notice=notice,
    )
