"""A tool defined at its function, as the SDK's ``@server.tool(...)`` does it: the name is the
function's, the description its docstring, the title and annotations sit on the decorator.

    @tool(title="Task group status", annotations=READ_ONLY)
    async def get_task_group_status(ctx: Context[Any, Any], task_group_id: GroupId) -> ...:
        '''A group's status in brief ...'''

The server is built per settings (``build_server``), so ``tool`` registers nothing: it returns a
:class:`ToolDefinition`, whose ``build()`` makes a fresh SDK ``Tool`` for each server
(``Tool.from_function``, what ``MCPServer.tool`` calls). The body runs inside the one error path
(:func:`_errors.maps_errors`); arguments that do not validate never reach it
(:func:`_errors.error_results` answers them).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations

from ._errors import maps_errors
from ._schema import input_schema, output_schema

# Hints the spec gives a meaning without them are left out (every byte of tools/list is read in
# every conversation): a false read-only or idempotent hint (false is the default), and
# destructiveHint of a read-only tool (meaningful only when readOnlyHint is false). Every tool
# reaches Parallel's API (open-world); none removes anything (destructiveHint false).
READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=True)
"""Reads the API, changes nothing: safe to call any number of times."""
ADDS = ToolAnnotations(destructive_hint=False, open_world_hint=True)
"""Creates something (a group, a file) each time it is called; removes nothing."""
ADDS_ONCE = ToolAnnotations(destructive_hint=False, idempotent_hint=True, open_world_hint=True)
"""Adds runs, exactly once: a repeated identical call adds nothing."""

ToolBody = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class ToolDefinition:
    """A tool as written: its body (inside the error path) and what ``tools/list`` says of it."""

    fn: ToolBody
    title: str
    annotations: ToolAnnotations
    meta: Mapping[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.fn.__name__

    def build(self) -> Tool:
        """A fresh SDK ``Tool`` (nothing shared between servers), its schemas lean (``_schema``)."""
        built = Tool.from_function(
            self.fn,
            title=self.title,
            description=inspect.cleandoc(self.fn.__doc__ or ""),
            annotations=self.annotations,
            meta=copy.deepcopy(dict(self.meta)) if self.meta is not None else None,
        )
        built.parameters = input_schema(built.parameters)
        output = built.fn_metadata.output_schema
        if output is not None:
            built.fn_metadata.output_schema = output_schema(output)
        return built


def tool(
    *, title: str, annotations: ToolAnnotations, meta: Mapping[str, Any] | None = None
) -> Callable[[ToolBody], ToolDefinition]:
    """Define the decorated function as a tool (see the module)."""

    def define(fn: ToolBody) -> ToolDefinition:
        return ToolDefinition(maps_errors(fn), title, annotations, meta)

    return define
