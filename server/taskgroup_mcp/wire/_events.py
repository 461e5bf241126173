"""Server-sent event payloads of the three streams, and a parser that never raises on a new type.

Each SSE event carries one JSON object whose ``type`` names it; resume cursors are the JSON
``event_id`` (no SSE ``id:`` lines are used).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, ValidationError

from ._base import WireModel
from ._group import TaskGroupStatus
from ._json import is_object
from ._output import TaskRunOutput
from ._run import ErrorObject, RunInput, TaskRun

PROGRESS_MSG_PREFIX = "task_run.progress_msg."


class TaskGroupStatusEvent(WireModel):
    type: Literal["task_group_status"] = "task_group_status"
    event_id: str
    status: TaskGroupStatus


class TaskRunEvent(WireModel):
    """A run's state; in group streams, one per run that reached a non-active status."""

    type: Literal["task_run.state"] = "task_run.state"
    event_id: str | None = None
    run: TaskRun
    input: RunInput | None = None
    output: TaskRunOutput | None = None


class ErrorEvent(WireModel):
    type: Literal["error"] = "error"
    error: ErrorObject


class SourceStats(WireModel):
    num_sources_considered: int | None = None
    num_sources_read: int | None = None
    sources_read_sample: list[str] | None = None


class TaskRunProgressStatsEvent(WireModel):
    type: Literal["task_run.progress_stats"] = "task_run.progress_stats"
    progress_meter: float
    source_stats: SourceStats


class TaskRunProgressMessageEvent(WireModel):
    """``task_run.progress_msg.plan|search|result|tool_call|exec_status|extract`` (and new kinds)."""

    type: str = Field(pattern=r"^task_run\.progress_msg\.")
    message: str
    timestamp: str | None = None


class GenericEvent(WireModel):
    """An event of a type this version does not know; all its fields are kept."""

    type: str


Event = (
    TaskGroupStatusEvent
    | TaskRunEvent
    | ErrorEvent
    | TaskRunProgressStatsEvent
    | TaskRunProgressMessageEvent
    | GenericEvent
)

_BY_TYPE: dict[str, type[WireModel]] = {
    "task_group_status": TaskGroupStatusEvent,
    "task_run.state": TaskRunEvent,
    "error": ErrorEvent,
    "task_run.progress_stats": TaskRunProgressStatsEvent,
}


def parse_event(data: str | bytes | dict[str, Any]) -> Event:
    """Parse one event's JSON. Unknown types (or known types with a surprising shape) come back
    as :class:`GenericEvent` with every field kept, instead of raising."""
    obj: Any = json.loads(data) if isinstance(data, str | bytes) else data
    if not is_object(obj):
        return GenericEvent.model_validate({"type": "unknown", "data": obj})
    payload = obj
    kind = payload.get("type")
    if not isinstance(kind, str):
        return GenericEvent.model_validate({**payload, "type": "unknown"})
    model = _BY_TYPE.get(kind)
    if model is None and kind.startswith(PROGRESS_MSG_PREFIX):
        model = TaskRunProgressMessageEvent
    if model is not None:
        try:
            return model.model_validate(payload)  # type: ignore[return-value]
        except ValidationError:
            pass
    return GenericEvent.model_validate(payload)
