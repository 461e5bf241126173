"""Task groups: the group, its aggregated status, and the add-runs request and response."""

from __future__ import annotations

from pydantic import Field

from ._base import WireModel
from ._run import Metadata, RunInput
from ._spec import TaskSpec


class TaskGroupStatus(WireModel):
    num_task_runs: int
    task_run_status_counts: dict[str, int]
    """Runs by status; keys are run statuses."""
    is_active: bool
    """True while any run is queued, running or cancelling."""
    status_message: str | None = None
    modified_at: str | None = None


class TaskGroup(WireModel):
    taskgroup_id: str
    status: TaskGroupStatus
    created_at: str | None = None
    metadata: Metadata | None = None

    @property
    def task_group_id(self) -> str:
        return self.taskgroup_id


class TaskGroupCreateParams(WireModel):
    """Body of POST /v1/tasks/groups."""

    metadata: Metadata | None = None


class TaskGroupAddRunsParams(WireModel):
    """Body of POST /v1/tasks/groups/{taskgroup_id}/runs (at most 1,000 inputs)."""

    inputs: list[RunInput] = Field(min_length=1)
    default_task_spec: TaskSpec | None = None


class TaskGroupRunResponse(WireModel):
    status: TaskGroupStatus
    run_ids: list[str]
    run_cursor: str | None = None
    """A ``last_event_id`` for the runs stream, positioned at these runs."""
    event_cursor: str | None = None
    """A ``last_event_id`` for the events stream, positioned at these runs."""
