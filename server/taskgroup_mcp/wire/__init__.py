"""The Parallel Task and Task Group API wire format: typed models and documented limits.

Shared by the client and the sandbox so both sides speak exactly one format. Import from this
package, never from its private modules.
"""

from ._base import WireModel
from ._errors import ErrorResponse, ValidationErrorItem, ValidationErrorResponse
from ._events import (
    ErrorEvent,
    Event,
    GenericEvent,
    SourceStats,
    TaskGroupStatusEvent,
    TaskRunEvent,
    TaskRunProgressMessageEvent,
    TaskRunProgressStatsEvent,
    parse_event,
)
from ._group import (
    TaskGroup,
    TaskGroupAddRunsParams,
    TaskGroupCreateParams,
    TaskGroupRunResponse,
    TaskGroupStatus,
)
from ._json import is_array, is_object, member
from ._limits import (
    GROUP_EVENTS_STREAM_MAX_SECONDS,
    MAX_MCP_SERVERS_PER_RUN,
    RESULT_DEFAULT_TIMEOUT_SECONDS,
    RUN_EVENTS_STREAM_MAX_SECONDS,
    TASK_CREATION_RATE_PER_MINUTE,
    LimitViolation,
    add_runs_violations,
    metadata_violations,
    run_input_violations,
)
from ._output import (
    Citation,
    FieldBasis,
    McpToolCall,
    TaskRunJsonOutput,
    TaskRunOutput,
    TaskRunResult,
    TaskRunTextOutput,
)
from ._processors import PROCESSORS, Processor, get_processor
from ._run import (
    ACTIVE_RUN_STATUSES,
    RUN_STATUSES,
    AdvancedSettings,
    ErrorObject,
    McpServer,
    RunInput,
    RunStatus,
    SourcePolicy,
    TaskRun,
    Warning,
    Webhook,
)
from ._schema_rules import SchemaProblem, output_schema_violations, schema_problems
from ._spec import AutoSchema, JsonSchema, TaskSpec, TextSchema
from ._webhook import WebhookPayload, sign_webhook, verify_webhook

BETA_MCP_SERVERS = "mcp-server-2025-07-17"
BETA_EVENTS_SSE = "events-sse-2025-07-24"
BETA_WEBHOOK = "webhook-2025-08-12"
BETA_FIELD_BASIS = "field-basis-2025-11-25"

__all__ = [
    "ACTIVE_RUN_STATUSES",
    "BETA_EVENTS_SSE",
    "BETA_FIELD_BASIS",
    "BETA_MCP_SERVERS",
    "BETA_WEBHOOK",
    "GROUP_EVENTS_STREAM_MAX_SECONDS",
    "MAX_MCP_SERVERS_PER_RUN",
    "PROCESSORS",
    "RESULT_DEFAULT_TIMEOUT_SECONDS",
    "RUN_EVENTS_STREAM_MAX_SECONDS",
    "RUN_STATUSES",
    "TASK_CREATION_RATE_PER_MINUTE",
    "AdvancedSettings",
    "AutoSchema",
    "Citation",
    "ErrorEvent",
    "ErrorObject",
    "ErrorResponse",
    "Event",
    "FieldBasis",
    "GenericEvent",
    "JsonSchema",
    "LimitViolation",
    "McpServer",
    "McpToolCall",
    "Processor",
    "RunInput",
    "RunStatus",
    "SchemaProblem",
    "SourcePolicy",
    "SourceStats",
    "TaskGroup",
    "TaskGroupAddRunsParams",
    "TaskGroupCreateParams",
    "TaskGroupRunResponse",
    "TaskGroupStatus",
    "TaskGroupStatusEvent",
    "TaskRun",
    "TaskRunEvent",
    "TaskRunJsonOutput",
    "TaskRunOutput",
    "TaskRunProgressMessageEvent",
    "TaskRunProgressStatsEvent",
    "TaskRunResult",
    "TaskRunTextOutput",
    "TaskSpec",
    "TextSchema",
    "ValidationErrorItem",
    "ValidationErrorResponse",
    "Warning",
    "Webhook",
    "WebhookPayload",
    "WireModel",
    "add_runs_violations",
    "get_processor",
    "is_array",
    "is_object",
    "member",
    "metadata_violations",
    "output_schema_violations",
    "parse_event",
    "run_input_violations",
    "schema_problems",
    "sign_webhook",
    "verify_webhook",
]
