"""A run's reasoning trace on its own timeline: progress messages and stats as the run proceeds.

Each message has the moment it happens (a fraction of the run's span on the sandbox clock) and
carries that as its ``timestamp``; a stream shows the messages whose moment has come, then the
rest live as the clock reaches them (task-sse: "events within the reasoning trace maintain their
original timestamps"). A tool call's message appears once the executor has recorded the call.
A run created with ``enable_events: false`` has no trace at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from taskgroup_mcp.wire import SourceStats, TaskRunProgressMessageEvent, TaskRunProgressStatsEvent

from ._records import MCP_DONE, RunRecord
from ._timefmt import rfc3339

_TERMINAL = frozenset({"completed", "failed", "cancelled"})
_TOOL_CALLS_FROM = 0.4
_TOOL_CALLS_UNTIL = 0.85


@dataclass(frozen=True, slots=True)
class TraceMessage:
    at: float
    """When it happens, on the sandbox clock."""
    kind: str
    """The ``task_run.progress_msg.<kind>`` suffix."""
    message: str

    def event(self) -> TaskRunProgressMessageEvent:
        return TaskRunProgressMessageEvent(
            type=f"task_run.progress_msg.{self.kind}", message=self.message, timestamp=rfc3339(self.at)
        )


def events_enabled(run: RunRecord) -> bool:
    """``enable_events: false`` turns the trace off; unset or true keeps it (the docs: events
    may still be sent without it)."""
    return run.input.enable_events is not False


def trace(run: RunRecord) -> list[TraceMessage]:
    """Every message of the run's trace that exists now (future ones included), in time order."""
    if not events_enabled(run):
        return []
    start = run.start_at
    span = max(run.end_at - start, 0.0)
    subject = run.input.input if isinstance(run.input.input, str) else "the given record"
    out = [
        TraceMessage(start, "exec_status", "Starting research (sandbox)"),
        TraceMessage(
            start + 0.1 * span, "plan", f"Sandbox: planning a synthetic answer about {subject[:80]}."
        ),
        TraceMessage(start + 0.3 * span, "search", "Sandbox: searching example.com (synthetic sources)."),
    ]
    if run.mcp_state == MCP_DONE:
        calls = run.tool_calls or []
        step = (_TOOL_CALLS_UNTIL - _TOOL_CALLS_FROM) / max(len(calls), 1)
        for i, call in enumerate(calls):
            out.append(
                TraceMessage(
                    start + (_TOOL_CALLS_FROM + i * step) * span,
                    "tool_call",
                    f"Called MCP tool {call.get('tool_name')} on {call.get('server_name')}.",
                )
            )
    if run.final_status == "failed":
        out.append(TraceMessage(start + 0.9 * span, "exec_status", "Sandbox: stopping (synthetic failure)."))
    else:
        out.append(TraceMessage(start + 0.9 * span, "result", "Sandbox: writing the synthetic answer."))
    out.sort(key=lambda m: m.at)
    return out


def visible(run: RunRecord, now: float) -> list[TraceMessage]:
    """The messages that have happened by ``now`` (all of them once the run has finished)."""
    if run.status == "queued":
        return []
    done = run.status in _TERMINAL
    return [m for m in trace(run) if done or m.at <= now]


def next_message_at(run: RunRecord, now: float) -> float | None:
    """When the next message of a started, unfinished run happens (None: no more are due)."""
    if run.status in _TERMINAL or not events_enabled(run):
        return None
    later = [m.at for m in trace(run) if m.at > now]
    return min(later) if later else None


def stats(run: RunRecord, now: float) -> TaskRunProgressStatsEvent:
    """The run's progress now: the meter follows the clock from start to end."""
    if run.status in _TERMINAL:
        meter = 100.0
    else:
        span = run.end_at - run.start_at
        meter = 0.0 if span <= 0 else max(0.0, min(99.0, (now - run.start_at) / span * 100))
    read = 3 if meter >= 100 else (2 if meter >= 50 else 1)
    return TaskRunProgressStatsEvent(
        progress_meter=round(meter, 1),
        source_stats=SourceStats(
            num_sources_considered=3,
            num_sources_read=read,
            sources_read_sample=["https://example.com/sandbox"],
        ),
    )
