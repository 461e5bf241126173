"""Deterministic client ids: the same call always tags the same input with the same id.

``cid = hex(sha256(group_id | call_key | canonical input | k))[:26]`` (104 bits) where ``k`` counts
earlier identical inputs in the same call (intentional duplicates stay distinct; re-ordering the
list does not change any id). Without an explicit call key, an input already in the group (same
content, same occurrence) is never added again, whichever call it came from. The canonical input includes processor, the effective task spec
and the metadata (without the reserved key); MCP header *values* are left out so that a rotated
token does not turn a repeated call into new runs, and no secret is hashed into metadata.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from taskgroup_mcp.wire import RunInput, TaskSpec, is_array, is_object

from ._errors import FieldError, InputValidationError

RESERVED_METADATA_KEY = "mcp_cid"
"""The run metadata key that carries the client id (7 characters; the value is 26)."""
CID_CHARS = 26


def canonical_from_wire(wire: dict[str, Any], spec_wire: dict[str, Any] | None = None) -> str:
    """:func:`canonical_input` from a run's wire dict (not modified) and the default spec's."""
    data: dict[str, Any] = dict(wire)
    if "task_spec" not in data and spec_wire is not None:
        data["task_spec"] = spec_wire
    meta: Any = data.get("metadata")
    if is_object(meta):
        kept: dict[str, Any] = {k: v for k, v in meta.items() if k != RESERVED_METADATA_KEY}
        if kept:
            data["metadata"] = kept
        else:
            data.pop("metadata")
    servers: Any = data.get("mcp_servers")
    if is_array(servers):
        masked: list[Any] = []
        for server in servers:
            if is_object(server) and is_object(server.get("headers")):
                srv: dict[str, Any] = dict(server)
                srv["headers"] = sorted(str(k).lower() for k in srv["headers"])
                masked.append(srv)
            else:
                masked.append(server)
        data["mcp_servers"] = masked
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_input(run: RunInput, default_task_spec: TaskSpec | None = None) -> str:
    """Compact, key-sorted JSON of what makes a run what it is: the input with its effective
    task spec, metadata without the reserved key, MCP header names but not their values."""
    spec = default_task_spec.to_wire(exclude_none=True) if default_task_spec is not None else None
    return canonical_from_wire(run.to_wire(exclude_none=True), spec)


def derive_call_key(default_task_spec: TaskSpec | None = None) -> str:
    """The call key used when the caller gives none: a hash of the call's normalized arguments
    *other than the input list* (today: the default task spec, which each canonical input also
    carries). The list is left out on purpose: a call corrected after a partial failure (one bad
    input fixed) must find the inputs that already landed under the same ids, not add them again.
    To add an input that is already in the group once more, pass a new ``call_key``."""
    h = hashlib.sha256(b"call\x1f")
    if default_task_spec is not None:
        spec = json.dumps(default_task_spec.to_wire(exclude_none=True), sort_keys=True, separators=(",", ":"))
        h.update(spec.encode("utf-8"))
    return h.hexdigest()


def _prefix(group_id: str, call_key: str) -> Any:
    return hashlib.sha256(f"{group_id}\x1f{call_key}\x1f".encode())


def _cid(prefix: Any, canonical: str, k: int) -> str:
    h = prefix.copy()
    h.update(f"{canonical}\x1f{k}\x1f".encode())
    return str(h.hexdigest())[:CID_CHARS]


def check_reserved_key(inputs: Sequence[RunInput]) -> None:
    """Refuse inputs whose metadata already uses the reserved key."""
    errors = [
        FieldError(("inputs", i, "metadata", RESERVED_METADATA_KEY), f"'{RESERVED_METADATA_KEY}' is reserved")
        for i, run in enumerate(inputs)
        if run.metadata and RESERVED_METADATA_KEY in run.metadata
    ]
    if errors:
        where = ", ".join(e.field for e in errors[:5])
        raise InputValidationError(
            f"metadata key '{RESERVED_METADATA_KEY}' is reserved for the client id; remove it from "
            f"{len(errors)} input(s): {where}",
            errors=errors,
        )


def derive_cids(
    group_id: str,
    inputs: Sequence[RunInput],
    *,
    call_key: str | None = None,
    default_task_spec: TaskSpec | None = None,
) -> list[str]:
    """One cid per input, in input order."""
    canonicals = [canonical_input(run, default_task_spec) for run in inputs]
    return cids_from_canonicals(group_id, canonicals, call_key=call_key, default_task_spec=default_task_spec)


class CidSequence:
    """The client ids of one call's inputs, one at a time, in input order."""

    def __init__(self, group_id: str, call_key: str) -> None:
        self._prefix = _prefix(group_id, call_key)
        self._seen: dict[str, int] = {}
        """The first cid of each canonical form -> how many inputs had that form (the cid, not
        the form, is kept: a form is as long as its input)."""

    def next(self, canonical: str) -> str:
        """The cid of the next input, given its canonical form."""
        first = _cid(self._prefix, canonical, 0)
        k = self._seen.get(first, 0)
        self._seen[first] = k + 1
        return first if k == 0 else _cid(self._prefix, canonical, k)


def cids_from_canonicals(
    group_id: str,
    canonicals: Sequence[str],
    *,
    call_key: str | None = None,
    default_task_spec: TaskSpec | None = None,
) -> list[str]:
    """:func:`derive_cids` from inputs already in canonical form."""
    key = call_key if call_key is not None else derive_call_key(default_task_spec)
    sequence = CidSequence(group_id, key)
    return [sequence.next(c) for c in canonicals]
