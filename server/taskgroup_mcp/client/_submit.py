"""What a submission starts from and ends with: the call checked and tagged once, and its result.

:class:`PreparedCall` validates the inputs against the documented limits (once, before anything is
sent) and gives each a deterministic client id; :class:`SubmitResult` is what
:meth:`ParallelClient.submit` returns. The protocol between the two is :mod:`._engine`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic_core import to_json

from taskgroup_mcp.wire import RunInput, TaskGroupStatus, TaskSpec, add_runs_violations

from ._cid import RESERVED_METADATA_KEY, CidSequence, canonical_from_wire, check_reserved_key, derive_call_key
from ._errors import APIStatusError, FieldError, InputValidationError, ParallelError
from ._features import betas_for, mcp_header_values


class SubmitFailure(BaseModel):
    """One input that did not become a run: why, where (``field``), and whether retrying may help."""

    model_config = ConfigDict(frozen=True)

    index: int
    """Position in the ``inputs`` given to :meth:`ParallelClient.submit`."""
    cid: str
    reason: str
    field: str | None = None
    """The offending field, e.g. ``inputs.3.processor``, when the API named one."""
    status_code: int | None = None
    retryable: bool = False


class SubmitResult(BaseModel):
    """What :meth:`ParallelClient.submit` did. ``ok`` when nothing failed and nothing is duplicated."""

    model_config = ConfigDict(frozen=True)

    group_id: str
    cids: list[str]
    """One client id per input, in input order (also in each run's ``metadata['mcp_cid']``)."""
    run_ids: dict[str, str]
    """cid -> run id (the earliest run carrying that cid), for every input present in the group."""
    added: int
    """Inputs that became runs during this call."""
    already_present: int
    """Inputs that were already runs in the group before this call (an earlier identical call)."""
    failed: list[SubmitFailure]
    duplicates: list[str]
    """cids found on more than one run (must be empty; another process making the same call at
    the same moment is the usual cause). The earliest run of each is in ``run_ids``."""
    requests_sent: int
    """Run-creating requests sent (first attempts and resends)."""
    group_status: TaskGroupStatus | None = None
    ambiguous: int = 0
    """Attempts whose outcome was unknown and had to be reconciled."""
    reconciles: int = 0
    """Reads of the group's runs made to reconcile or audit."""
    audited: bool = True
    """Whether reads of the group confirmed every run (False with ``audit="on_doubt"`` and no
    doubt, or when the group could not be read: then the API's answers stand for the runs)."""

    @property
    def ok(self) -> bool:
        return not self.failed and not self.duplicates


@dataclass(frozen=True, slots=True)
class RunBatch:
    """One add-runs request body, ready to send, with what sending it needs."""

    body: bytes
    """The JSON body: ``{"inputs": [...], "default_task_spec": ...}``."""
    betas: tuple[str, ...]
    """``parallel-beta`` tokens the inputs' features need."""
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """Forwarded header values in the inputs: masked in anything an error of this request says."""


class PreparedCall:
    """One call's inputs, validated once, tagged with their client ids (``cids[i]`` tags
    ``inputs[i]``) a slice at a time: `tag_next` gives the next inputs' cids with their
    request JSON (serialized once), so the first request can go out before the last input is
    tagged."""

    def __init__(
        self,
        group_id: str,
        inputs: Sequence[RunInput],
        default_task_spec: TaskSpec | None,
        call_key: str | None,
    ) -> None:
        _validate(inputs, default_task_spec)
        self.group_id = group_id
        self.inputs = inputs
        self.default_task_spec = default_task_spec
        self.call_key = call_key if call_key is not None else derive_call_key(default_task_spec)
        self._spec_wire = (
            default_task_spec.to_wire(exclude_none=True) if default_task_spec is not None else None
        )
        self._spec_json = to_json(self._spec_wire) if self._spec_wire is not None else None
        self._sequence = CidSequence(group_id, self.call_key)
        self.cids: list[str] = []
        self.index: dict[str, int] = {}

    @property
    def complete(self) -> bool:
        return len(self.cids) == len(self.inputs)

    def tag_next(self, n: int) -> dict[str, bytes]:
        """The next ``n`` inputs (fewer at the end): cid -> the input's JSON carrying it."""
        out: dict[str, bytes] = {}
        start = len(self.cids)
        for i in range(start, min(start + n, len(self.inputs))):
            wire = self.inputs[i].to_wire(exclude_none=True)
            cid = self._sequence.next(canonical_from_wire(wire, self._spec_wire))
            self.cids.append(cid)
            self.index[cid] = i
            out[cid] = _tagged_json(wire, cid)
        return out

    def own(self, cid: str) -> str | None:
        """This call's own string for ``cid`` (None if no input of the call has it)."""
        i = self.index.get(cid)
        return None if i is None else self.cids[i]

    def tag_all(self) -> None:
        """Every cid, without keeping the JSON (the group is read before anything is sent)."""
        while not self.complete:
            self.tag_next(1_000)

    def encode(self, cids: Sequence[str]) -> dict[str, bytes]:
        """cid -> the input's JSON carrying it, for inputs already prepared."""
        return {
            cid: _tagged_json(self.inputs[self.index[cid]].to_wire(exclude_none=True), cid) for cid in cids
        }

    def batch(self, encoded: Mapping[str, bytes]) -> RunBatch:
        """The request that adds these inputs (in their order)."""
        parts = [b'{"inputs":[', b",".join(encoded.values()), b"]"]
        if self._spec_json is not None:
            parts += [b',"default_task_spec":', self._spec_json]
        parts.append(b"}")
        runs = [self.inputs[self.index[cid]] for cid in encoded]
        return RunBatch(b"".join(parts), tuple(betas_for(runs)), tuple(mcp_header_values(runs)))


def _tagged_json(wire: dict[str, Any], cid: str) -> bytes:
    meta: dict[str, Any] = dict(wire.get("metadata") or {})
    meta[RESERVED_METADATA_KEY] = cid
    return to_json({**wire, "metadata": meta})


def _validate(inputs: Sequence[RunInput], default_task_spec: TaskSpec | None) -> None:
    check_reserved_key(inputs)
    violations = [
        v for v in add_runs_violations(list(inputs), default_task_spec) if v.loc != ("body", "inputs")
    ]
    if violations:
        errors = [FieldError(v.loc, v.msg, v.type) for v in violations]
        where = "; ".join(f"{e.field}: {e.msg}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise InputValidationError(
            f"{len(errors)} input(s) break a documented limit: {where}{more}", errors=errors
        )


def failures_for(
    call: PreparedCall, cids: Sequence[str], exc: ParallelError, prefix: str = ""
) -> list[SubmitFailure]:
    """One failure per cid of a request that failed with ``exc``: a 422 that names an input
    points at its field; the others of that request are named as refused because of it."""
    status = exc.status_code if isinstance(exc, APIStatusError) else None
    by_position: dict[int, FieldError] = {}
    if isinstance(exc, APIStatusError):
        for err in exc.errors:
            pos = err.input_index
            if pos is not None and pos not in by_position:
                by_position[pos] = err
    culprits = sorted(call.index[cids[p]] for p in by_position if p < len(cids))
    named = ", ".join(str(c) for c in culprits[:10]) + (", ..." if len(culprits) > 10 else "")
    out: list[SubmitFailure] = []
    for pos, cid in enumerate(cids):
        i = call.index[cid]
        err = by_position.get(pos)
        field: str | None = None
        if err is not None:
            parts = list(err.loc[1:]) if err.loc[:1] == ("body",) else list(err.loc)
            field = ".".join(["inputs", str(i), *(str(p) for p in parts[2:])])
            reason = f"{prefix}{err.msg}"
        elif by_position:
            reason = (
                f"{prefix}not added: the request carrying it was refused because of input(s) {named}; "
                "fix those and submit again"
            )
        else:
            reason = f"{prefix}{exc.message}"
        out.append(
            SubmitFailure(
                index=i, cid=cid, reason=reason, field=field, status_code=status, retryable=exc.retryable
            )
        )
    return out
