"""Building run inputs from tool arguments: inline inputs or a local file, per-run overrides."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import stat
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from taskgroup_mcp import wire
from taskgroup_mcp.config import Settings
from taskgroup_mcp.wire import is_array, is_object

from ._arguments import ArgumentProblem, field_path
from ._forwarding import resolve_mcp_servers
from ._hosts import Lookups

MAX_INPUTS_FILE_BYTES = 64 * 1024 * 1024
MAX_INPUTS_PER_CALL = 100_000

InputValue = str | dict[str, Any]


class RunOverride(BaseModel):
    """Overrides for one input, by its 0-based position in ``inputs``."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    index: int = Field(ge=0, description="0-based position of the input this override applies to")
    processor: str | None = Field(default=None, description="processor for this input only")
    output: str | dict[str, Any] | None = Field(
        default=None, description="output description or JSON schema for this input only"
    )
    mcp_servers: list[dict[str, Any] | str] | None = Field(
        default=None, description="MCP servers for this input only (replaces the call's list)"
    )
    metadata: dict[str, str | int | float | bool] | None = Field(
        default=None, description="metadata for this input only (merged over the call's metadata)"
    )


INPUTS_DIRS_SETTING = "TASKGROUP_MCP_INPUTS_DIRS"


def _allowed_roots(inputs_dirs: list[Path]) -> list[Path]:
    return [Path(os.path.realpath(d.expanduser())) for d in (inputs_dirs or [Path.cwd()])]


def _policy(roots: list[Path]) -> str:
    where = ", ".join(str(r) for r in roots)
    return (
        f"must be a file under {where} (not hidden, no links out), the directories this server reads "
        f"inputs from; the operator sets them with {INPUTS_DIRS_SETTING}. Or pass inputs inline"
    )


def _hidden(parts: tuple[str, ...]) -> bool:
    """Whether any component is a hidden name (``.env``, ``.ssh``, ``.git``)."""
    return any(part.startswith(".") for part in parts)


def _open_below(root: Path, parts: tuple[str, ...]) -> int:
    """A read-only descriptor of ``root/parts``, walked one component at a time without following
    any symlink (``O_NOFOLLOW``): a path swapped for a link after the check cannot lead out."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
    finally:
        os.close(fd)


def read_inputs_file(
    path_text: str, field: str = "inputs_file", inputs_dirs: list[Path] | None = None
) -> list[InputValue]:
    """Inputs from a local JSONL, JSON (an array) or CSV file (one object per row), read only
    from the configured directories (``inputs_dirs``; default the working directory) and below:
    no hidden file or directory, no symlink (its real path is what is checked, and the file is
    opened component by component without following links, so a link may point within the
    directories but never out of them)."""
    roots = _allowed_roots(inputs_dirs or [])
    given = Path(path_text).expanduser()
    given = given if given.is_absolute() else Path.cwd() / given
    real = Path(os.path.realpath(given))
    inside = [(r, real.relative_to(r).parts) for r in roots if real == r or real.is_relative_to(r)]
    # The same answer whether or not an outside file exists: nothing is touched before this.
    if not inside or not inside[0][1] or _hidden(inside[0][1]) or given.name.startswith("."):
        raise ArgumentProblem([(field, _policy(roots))])
    root, parts = inside[0]
    try:
        fd = _open_below(root, parts)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ArgumentProblem([(field, _policy(roots))]) from None
        raise ArgumentProblem([(field, "is not a readable file on the server")]) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ArgumentProblem([(field, "is not a regular file")])
        if info.st_size > MAX_INPUTS_FILE_BYTES:
            raise ArgumentProblem(
                [(field, f"is {info.st_size:,} bytes; at most {MAX_INPUTS_FILE_BYTES:,} are read")]
            )
        raw = handle.read(MAX_INPUTS_FILE_BYTES + 1)
    if len(raw) > MAX_INPUTS_FILE_BYTES:
        raise ArgumentProblem(
            [(field, f"is over {MAX_INPUTS_FILE_BYTES:,} bytes; at most that many are read")]
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ArgumentProblem([(field, "could not be read as UTF-8 text")]) from None
    path = real
    suffix = path.suffix.lower()
    values: list[Any]
    if suffix in (".jsonl", ".ndjson"):
        values = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                values.append(json.loads(line))
            except json.JSONDecodeError:
                raise ArgumentProblem([(field, f"line {lineno} is not valid JSON")]) from None
    elif suffix == ".json":
        try:
            loaded: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ArgumentProblem([(field, f"is not valid JSON (line {exc.lineno})")]) from None
        if not is_array(loaded):
            raise ArgumentProblem([(field, "must hold a JSON array of inputs")])
        values = list(loaded)
    elif suffix in (".csv", ".tsv"):
        reader = csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ",")
        values = [{k: v for k, v in row.items() if k is not None} for row in reader]
    else:
        raise ArgumentProblem([(field, "must end in .jsonl, .ndjson, .json, .csv or .tsv")])
    out: list[InputValue] = []
    for i, value in enumerate(values):
        if isinstance(value, str) and value.strip():
            out.append(value)
        elif is_object(value) and value:
            out.append({str(k): v for k, v in value.items()})
        else:
            raise ArgumentProblem([(f"{field}[{i}]", "must be a non-empty string or JSON object")])
    return out


def output_schema(
    output: str | dict[str, Any] | None, field: str = "output"
) -> wire.JsonSchema | wire.TextSchema | wire.AutoSchema:
    """The task spec's output schema: text description, JSON schema, or auto when absent.

    A JSON schema the API would refuse (``wire.schema_problems``: root not an object, nesting
    over 5, a ``$ref`` cycle, an unsupported keyword such as ``format``, ...) is an argument
    error naming the field inside it, before anything is sent or billed."""
    if output is None:
        return wire.AutoSchema()
    if isinstance(output, str):
        return wire.TextSchema(description=output)
    kind: Any = output.get("type")
    if kind == "text":
        description: Any = output.get("description")
        if description is not None and not isinstance(description, str):
            raise ArgumentProblem([(f"{field}.description", "must be a string")])
        return wire.TextSchema(description=description)
    if kind == "auto":
        return wire.AutoSchema()
    if kind == "json" or "json_schema" in output:
        schema: Any = output.get("json_schema")
        if not is_object(schema):
            raise ArgumentProblem(
                [
                    (
                        f"{field}.json_schema",
                        'must be a JSON Schema object, e.g. {"type": "object", "properties": {...}} (Parallel would refuse this schema)',
                    )
                ]
            )
        _check_output_schema(schema, f"{field}.json_schema")
        return wire.JsonSchema(json_schema=schema)
    _check_output_schema(output, field)
    return wire.JsonSchema(json_schema=output)


def _check_output_schema(schema: dict[str, Any], field: str) -> None:
    errors = [p for p in wire.schema_problems(schema) if p.severity == "error"]
    if errors:
        problems: list[tuple[str, str]] = []
        for p in errors[:_MAX_SCHEMA_PROBLEMS]:
            where = field if not p.path else f"{field}.{p.field}"
            problems.append((where, f"{p.message} (Parallel would refuse this schema)"))
        raise ArgumentProblem(problems)


_MAX_SCHEMA_PROBLEMS = 10


def task_spec(
    output: str | dict[str, Any] | None, input_schema: str | dict[str, Any] | None
) -> wire.TaskSpec:
    spec_input: wire.JsonSchema | wire.TextSchema | None = None
    if isinstance(input_schema, str):
        spec_input = wire.TextSchema(description=input_schema)
    elif is_object(input_schema):
        spec_input = wire.JsonSchema(json_schema=input_schema)
    return wire.TaskSpec(output_schema=output_schema(output), input_schema=spec_input)


def _check_metadata(metadata: dict[str, Any] | None, field: str, reserved: str) -> list[tuple[str, str]]:
    problems = [(field_path(v.loc), v.msg) for v in wire.metadata_violations(metadata, (field,))]
    if metadata and reserved in metadata:
        problems.append((f"{field}.{reserved}", "is reserved by this server"))
    return problems


def build_run_inputs(
    inputs: list[InputValue],
    *,
    processor: str,
    mcp_servers: list[dict[str, Any] | str] | None,
    source_policy: wire.SourcePolicy | None,
    metadata: dict[str, Any] | None,
    runs: list[RunOverride] | None,
    default_spec: wire.TaskSpec,
    settings: Settings,
    reserved_metadata_key: str,
    lookups: Lookups | None = None,
) -> list[wire.RunInput]:
    """One wire input per agent input, overrides applied, every documented limit checked up front
    (forwarded MCP hosts looked up with ``lookups``, one set for the whole call)."""
    lookups = lookups or Lookups()
    problems: list[tuple[str, str]] = []
    if not inputs:
        raise ArgumentProblem([("inputs", "give at least one input (or inputs_file)")])
    if len(inputs) > MAX_INPUTS_PER_CALL:
        raise ArgumentProblem(
            [("inputs", f"{len(inputs):,} given; at most {MAX_INPUTS_PER_CALL:,} per call")]
        )
    problems.extend(_check_metadata(metadata, "metadata", reserved_metadata_key))
    servers = resolve_mcp_servers(mcp_servers, settings, lookups=lookups) if mcp_servers is not None else None
    by_index: dict[int, RunOverride] = {}
    for j, override in enumerate(runs or []):
        if override.index >= len(inputs):
            problems.append((f"runs[{j}].index", f"is past the last input (there are {len(inputs)})"))
        elif override.index in by_index:
            problems.append((f"runs[{j}].index", "repeats an index given earlier"))
        else:
            by_index[override.index] = override
    out: list[wire.RunInput] = []
    for i, value in enumerate(inputs):
        if not (value.strip() if isinstance(value, str) else value):
            problems.append((f"inputs[{i}]", "is empty; give a question or a non-empty object"))
            continue
        ov = by_index.get(i)
        run_servers = servers
        run_spec: wire.TaskSpec | None = None
        run_meta = dict(metadata or {})
        run_processor = processor
        if ov is not None:
            j = (runs or []).index(ov)
            if ov.processor is not None:
                run_processor = ov.processor
            if ov.output is not None:
                run_spec = wire.TaskSpec(
                    output_schema=output_schema(ov.output, f"runs[{j}].output"),
                    input_schema=default_spec.input_schema,
                )
            if ov.mcp_servers is not None:
                run_servers = resolve_mcp_servers(
                    ov.mcp_servers, settings, field=f"runs[{j}].mcp_servers", lookups=lookups
                )
            if ov.metadata is not None:
                problems.extend(_check_metadata(ov.metadata, f"runs[{j}].metadata", reserved_metadata_key))
                run_meta.update(ov.metadata)
        run = wire.RunInput(
            input=value,
            processor=run_processor,
            metadata=run_meta or None,
            task_spec=run_spec,
            source_policy=source_policy,
            mcp_servers=run_servers or None,
        )
        for v in wire.run_input_violations(run, default_task_spec=default_spec, loc=("inputs", i)):
            if v.loc[-1] == "metadata" or (len(v.loc) > 2 and v.loc[2] == "metadata"):
                continue  # reported once above, under the argument's own name
            problems.append((field_path(v.loc), v.msg))
        out.append(run)
    if problems:
        raise ArgumentProblem(problems)
    return out
