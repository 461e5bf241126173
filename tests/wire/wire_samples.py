"""Rich instances of our response models, each field set, for the wire contract tests."""

from __future__ import annotations

from taskgroup_mcp.wire import (
    ACTIVE_RUN_STATUSES,
    RUN_STATUSES,
    AdvancedSettings,
    Citation,
    ErrorEvent,
    ErrorObject,
    ErrorResponse,
    FieldBasis,
    JsonSchema,
    McpServer,
    McpToolCall,
    RunInput,
    RunStatus,
    SourcePolicy,
    SourceStats,
    TaskGroup,
    TaskGroupRunResponse,
    TaskGroupStatus,
    TaskGroupStatusEvent,
    TaskRun,
    TaskRunEvent,
    TaskRunJsonOutput,
    TaskRunProgressMessageEvent,
    TaskRunProgressStatsEvent,
    TaskRunResult,
    TaskRunTextOutput,
    TaskSpec,
    TextSchema,
    Warning,
    Webhook,
)

TS = "2025-04-23T20:21:48.037943Z"
GROUP_ID = "tgrp_7d3a0c9e5b1f4e2a"
RUN_ID = "trun_9907962f83aa4d9d98fd7f4bf745d654"
REF_ID = "fcb2b4f3-c75e-4186-87bc-caa1a8381331"
PROGRESS_MSG_KINDS = ("plan", "search", "result", "tool_call", "exec_status")
"""The ``task_run.progress_msg.*`` kinds the SDK 0.6.0 knows."""


def group_status(*, active: bool = True) -> TaskGroupStatus:
    return TaskGroupStatus(
        num_task_runs=3,
        task_run_status_counts={"completed": 1, "failed": 1, "running": 1} if active else {"completed": 3},
        is_active=active,
        status_message="1 of 3 runs active" if active else "",
        modified_at=TS,
    )


def task_group() -> TaskGroup:
    return TaskGroup(
        taskgroup_id=GROUP_ID,
        status=group_status(),
        created_at=TS,
        metadata={"project": "acme", "batch": 3, "ratio": 0.5, "live": True},
    )


def run_response() -> TaskGroupRunResponse:
    return TaskGroupRunResponse(
        status=group_status(),
        run_ids=[RUN_ID, "trun_00000000000000000000000000000002"],
        run_cursor="run-cursor-7",
        event_cursor="event-cursor-9",
    )


def error_object() -> ErrorObject:
    return ErrorObject(
        ref_id=REF_ID, message="Run failed: processor error", detail={"reason": "timeout", "n": 1}
    )


def task_run(status: RunStatus = "completed") -> TaskRun:
    """A run in that status, with warnings of every documented type, and an error when failed."""
    return TaskRun(
        run_id=RUN_ID,
        interaction_id=RUN_ID,
        status=status,
        is_active=status in ACTIVE_RUN_STATUSES,
        processor="core",
        created_at=TS,
        modified_at=TS,
        metadata={"row": "17", "attempt": 2, "score": 0.5, "ok": True},
        taskgroup_id=GROUP_ID,
        warnings=[
            Warning(
                type="spec_validation_warning", message="Field 'sources' duplicates basis", detail={"f": 1}
            ),
            Warning(type="input_validation_warning", message="Input is long", detail=None),
            Warning(
                type="warning", message=f"Error listing tools from MCP server search. Reference ID: {REF_ID}"
            ),
        ],
        error=error_object() if status == "failed" else None,
    )


def all_status_runs() -> list[TaskRun]:
    return [task_run(status) for status in RUN_STATUSES]


def basis() -> list[FieldBasis]:
    return [
        FieldBasis(
            field="gdp",
            reasoning="INSEE and the World Bank agree.",
            citations=[
                Citation(url="https://insee.fr/gdp", title="GDP 2023", excerpts=["3.1 trillion"]),
                Citation(url="https://worldbank.org/fr", title=None, excerpts=None),
            ],
            confidence="high",
        ),
        FieldBasis(field="key_people.0", reasoning="Listed on the site.", citations=[], confidence=""),
    ]


def tool_calls() -> list[McpToolCall]:
    return [
        McpToolCall(
            tool_call_id="call_1",
            server_name="search",
            tool_name="web_search",
            arguments='{"query": "GDP France 2023"}',
            content="France GDP 2023: $3.1 trillion",
            error="",
        ),
        McpToolCall(
            tool_call_id="call_2",
            server_name="search",
            tool_name="fetch",
            arguments="{}",
            content=None,
            error="upstream 502",
        ),
    ]


def json_output() -> TaskRunJsonOutput:
    return TaskRunJsonOutput(
        content={"gdp": "$3.1 trillion (2023)", "key_people": ["A. Person"], "nested": {"n": 1.5}},
        basis=basis(),
        mcp_tool_calls=tool_calls(),
        beta_fields={"mcp-server-2025-07-17": [{"tool_call_id": "call_1"}]},
        output_schema={"type": "object", "properties": {"gdp": {"type": "string"}}},
    )


def text_output() -> TaskRunTextOutput:
    return TaskRunTextOutput(
        content="France's GDP in 2023 was about $3.1 trillion.",
        basis=[
            FieldBasis(
                field="output", reasoning="Two sources.", citations=basis()[0].citations, confidence="medium"
            )
        ],
        mcp_tool_calls=tool_calls(),
        beta_fields={"note": "deprecated"},
    )


def json_result() -> TaskRunResult:
    return TaskRunResult(run=task_run("completed"), output=json_output())


def text_result() -> TaskRunResult:
    return TaskRunResult(run=task_run("completed"), output=text_output())


def run_input() -> RunInput:
    """A run input with every field set (as /input and include_input=true echo it)."""
    return RunInput(
        input={"country": "France", "year": 2023},
        processor="core",
        metadata={"row": "17", "attempt": 2, "score": 0.5, "ok": True},
        task_spec=TaskSpec(
            output_schema=JsonSchema(
                json_schema={"type": "object", "properties": {"gdp": {"type": "string"}}}
            ),
            input_schema=TextSchema(description="A country and a year"),
        ),
        source_policy=SourcePolicy(
            include_domains=["insee.fr", ".gov"], exclude_domains=["reddit.com"], after_date="2024-01-31"
        ),
        enable_events=True,
        mcp_servers=[
            McpServer(
                name="search",
                url="https://search.parallel.ai/mcp",
                headers={"Authorization": "Bearer test-token"},
                allowed_tools=["web_search"],
            )
        ],
        webhook=Webhook(url="https://hooks.example.com/parallel", event_types=["task_run.status"]),
        previous_interaction_id="trun_00000000000000000000000000000000",
        advanced_settings=AdvancedSettings(location="FR"),
    )


def group_status_event() -> TaskGroupStatusEvent:
    return TaskGroupStatusEvent(event_id="evt-1", status=group_status(active=False))


def run_event_with_json_output() -> TaskRunEvent:
    return TaskRunEvent(event_id="evt-2", run=task_run("completed"), input=run_input(), output=json_output())


def run_event_with_text_output() -> TaskRunEvent:
    return TaskRunEvent(event_id=None, run=task_run("completed"), input=None, output=text_output())


def run_event_failed() -> TaskRunEvent:
    return TaskRunEvent(event_id="evt-3", run=task_run("failed"))


def error_event() -> ErrorEvent:
    return ErrorEvent(error=error_object())


def progress_stats_event() -> TaskRunProgressStatsEvent:
    return TaskRunProgressStatsEvent(
        progress_meter=42.5,
        source_stats=SourceStats(
            num_sources_considered=30, num_sources_read=12, sources_read_sample=["https://a.example"]
        ),
    )


def progress_message_events() -> list[TaskRunProgressMessageEvent]:
    return [
        TaskRunProgressMessageEvent(type=f"task_run.progress_msg.{kind}", message=f"{kind}...", timestamp=TS)
        for kind in PROGRESS_MSG_KINDS
    ]


def error_response() -> ErrorResponse:
    return ErrorResponse(error=ErrorObject(ref_id=REF_ID, message="Run id not found"))
