"""The MCP layer: ``build_server(settings) -> MCPServer`` with the Task Group tools, resources
and prompt. Domain logic lives in plain functions (forwarding policy, spend guard, result shaping,
redaction, error mapping) that are tested without MCP.
"""

from ._app import NO_KEY_MESSAGE, AppState, ClientFactory, client_for
from ._arguments import ArgumentProblem
from ._errors import to_tool_error
from ._export import export_group
from ._follow import follow_group
from ._forwarding import check_url, resolve_mcp_servers
from ._groups import list_groups_page
from ._hosts import Resolver
from ._journaling import Journaled
from ._resources import plan_fan_out, processors_table
from ._sanitize import (
    SANDBOX_NOTICE,
    SECRETS,
    THIRD_PARTY_NOTICE,
    install_log_redaction,
    sanitize,
    strip_invisible,
)
from ._server import INSTRUCTIONS, SERVER_NAME, build_server
from ._shaping import decode_cursor, encode_cursor, estimate_tokens, fit, read_page, shape_run
from ._spend import Estimate, SpendRefused, estimate, refusal
from ._status import summarize

__all__ = [
    "INSTRUCTIONS",
    "NO_KEY_MESSAGE",
    "SANDBOX_NOTICE",
    "SECRETS",
    "SERVER_NAME",
    "THIRD_PARTY_NOTICE",
    "AppState",
    "ArgumentProblem",
    "ClientFactory",
    "Estimate",
    "Journaled",
    "Resolver",
    "SpendRefused",
    "build_server",
    "check_url",
    "client_for",
    "decode_cursor",
    "encode_cursor",
    "estimate",
    "estimate_tokens",
    "export_group",
    "fit",
    "follow_group",
    "install_log_redaction",
    "list_groups_page",
    "plan_fan_out",
    "processors_table",
    "read_page",
    "refusal",
    "resolve_mcp_servers",
    "sanitize",
    "shape_run",
    "strip_invisible",
    "summarize",
    "to_tool_error",
]
