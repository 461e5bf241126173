"""The MCP layer: ``build_server(settings) -> MCPServer`` with the Task Group tools, resources
and prompt. Domain logic lives in plain functions (forwarding policy, spend guard, result shaping,
redaction, error mapping) that are tested without MCP.
"""

from ._app import NO_KEY_MESSAGE, ClientFactory
from ._arguments import ArgumentProblem
from ._errors import innermost_exception, to_tool_error
from ._export import export_group
from ._groups import list_groups_page
from ._journaling import Journaled
from ._sanitize import SECRETS, install_log_redaction
from ._server import build_server
from ._status import summarize

__all__ = [
    "NO_KEY_MESSAGE",
    "SECRETS",
    "ArgumentProblem",
    "ClientFactory",
    "Journaled",
    "build_server",
    "export_group",
    "innermost_exception",
    "install_log_redaction",
    "list_groups_page",
    "summarize",
    "to_tool_error",
]
