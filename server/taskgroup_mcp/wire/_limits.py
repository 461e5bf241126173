"""The documented limits of the Task API, in one place, and the checks that enforce them.

Both the sandbox (to answer 422 as the API would) and the client (to refuse a chunk before it
costs a request) call :func:`run_input_violations`; nobody else restates a number.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._run import RunInput
    from ._spec import TaskSpec

MAX_INPUTS_PER_REQUEST = 1_000
"""Runs per add-runs request."""
METADATA_KEY_MAX_CHARS = 16
METADATA_VALUE_MAX_CHARS = 512
MAX_MCP_SERVERS_PER_RUN = 10
MAX_INPUT_AND_SPEC_CHARS = 25_000
"""Input and task spec together, in characters."""
MAX_SPEC_CHARS = 15_000
MAX_SOURCE_POLICY_DOMAINS = 200
"""include_domains and exclude_domains together."""
TASK_CREATION_RATE_PER_MINUTE = 2_000
"""Run-creating requests per minute per account (POST /v1/tasks/runs and add-runs)."""
GROUP_EVENTS_STREAM_MAX_SECONDS = 3_600
RUN_EVENTS_STREAM_MAX_SECONDS = 570
RESULT_DEFAULT_TIMEOUT_SECONDS = 600


@dataclass(frozen=True, slots=True)
class LimitViolation:
    """One broken limit: where (a FastAPI-style ``loc``), what, and a machine-readable type."""

    loc: tuple[str | int, ...]
    msg: str
    type: str = "value_error"

    @property
    def field(self) -> str:
        """The location as a dotted path, e.g. ``inputs.3.metadata``."""
        return ".".join(str(p) for p in self.loc)


def json_chars(value: Any) -> int:
    """Characters of a value as it counts against the size limits (strings as is, else compact JSON)."""
    if isinstance(value, str):
        return len(value)
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def is_iso_date(text: str) -> bool:
    """True for a calendar date written ``YYYY-MM-DD`` (what ``source_policy.after_date`` takes)."""
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def metadata_violations(metadata: dict[str, Any] | None, loc: tuple[str | int, ...]) -> list[LimitViolation]:
    """Keys longer than 16 characters and values longer than 512."""
    out: list[LimitViolation] = []
    for key, value in (metadata or {}).items():
        if len(key) > METADATA_KEY_MAX_CHARS:
            out.append(
                LimitViolation(
                    (*loc, key),
                    f"metadata key '{key[:20]}...' is {len(key)} characters; at most "
                    f"{METADATA_KEY_MAX_CHARS} are allowed",
                    "string_too_long",
                )
            )
        if isinstance(value, str) and len(value) > METADATA_VALUE_MAX_CHARS:
            out.append(
                LimitViolation(
                    (*loc, key),
                    f"metadata value for '{key[:16]}' is {len(value)} characters; at most "
                    f"{METADATA_VALUE_MAX_CHARS} are allowed",
                    "string_too_long",
                )
            )
    return out


def run_input_violations(
    run: RunInput,
    *,
    default_task_spec: TaskSpec | None = None,
    loc: tuple[str | int, ...] = (),
    default_spec_chars: int | None = None,
) -> list[LimitViolation]:
    """Every documented limit one run input breaks (empty when it is fine).

    ``default_spec_chars``: the default spec's size if the caller already measured it (a batch
    of 1,000 inputs shares one default spec; measuring it once keeps add-runs checks cheap)."""
    out = metadata_violations(run.metadata, (*loc, "metadata"))
    servers = run.mcp_servers or []
    if len(servers) > MAX_MCP_SERVERS_PER_RUN:
        out.append(
            LimitViolation(
                (*loc, "mcp_servers"),
                f"{len(servers)} MCP servers given; at most {MAX_MCP_SERVERS_PER_RUN} are allowed per run",
                "too_long",
            )
        )
    spec = run.task_spec or default_task_spec
    if run.task_spec is None and default_spec_chars is not None:
        spec_len = default_spec_chars
    else:
        spec_len = json_chars(spec.to_wire(exclude_none=True)) if spec is not None else 0
    if spec_len > MAX_SPEC_CHARS:
        out.append(
            LimitViolation(
                (*loc, "task_spec"),
                f"task spec is {spec_len} characters; at most {MAX_SPEC_CHARS} are allowed",
                "too_long",
            )
        )
    total = json_chars(run.input) + spec_len
    if total > MAX_INPUT_AND_SPEC_CHARS:
        out.append(
            LimitViolation(
                (*loc, "input"),
                f"input and task spec together are {total} characters; at most "
                f"{MAX_INPUT_AND_SPEC_CHARS} are allowed",
                "too_long",
            )
        )
    policy = run.source_policy
    if policy is not None and policy.after_date is not None and not is_iso_date(policy.after_date):
        out.append(
            LimitViolation(
                (*loc, "source_policy", "after_date"),
                "must be a date as YYYY-MM-DD, e.g. 2025-01-31",
                "date_from_datetime_parsing",
            )
        )
    if policy is not None:
        n = len(policy.include_domains or []) + len(policy.exclude_domains or [])
        if n > MAX_SOURCE_POLICY_DOMAINS:
            out.append(
                LimitViolation(
                    (*loc, "source_policy"),
                    f"{n} domains in include_domains and exclude_domains; at most "
                    f"{MAX_SOURCE_POLICY_DOMAINS} are allowed",
                    "too_long",
                )
            )
    return out


def add_runs_violations(inputs: list[RunInput], default_task_spec: TaskSpec | None) -> list[LimitViolation]:
    """Every limit an add-runs body breaks: the 1,000-input cap and each input's own limits."""
    out: list[LimitViolation] = []
    if len(inputs) > MAX_INPUTS_PER_REQUEST:
        out.append(
            LimitViolation(
                ("body", "inputs"),
                f"{len(inputs)} inputs given; at most {MAX_INPUTS_PER_REQUEST} are allowed per request",
                "too_long",
            )
        )
    default_chars = 0
    if default_task_spec is not None:
        n = default_chars = json_chars(default_task_spec.to_wire(exclude_none=True))
        if n > MAX_SPEC_CHARS:
            out.append(
                LimitViolation(
                    ("body", "default_task_spec"),
                    f"task spec is {n} characters; at most {MAX_SPEC_CHARS} are allowed",
                    "too_long",
                )
            )
    for i, run in enumerate(inputs):
        out.extend(
            run_input_violations(
                run,
                default_task_spec=default_task_spec,
                loc=("body", "inputs", i),
                default_spec_chars=default_chars,
            )
        )
    return out
