"""One mapping from anything a tool body raises to a ``ToolError`` a model can act on.

API failures become a sentence naming the next step (unknown group: create one; 402: out of
credit; 429: retry after N s). Argument problems name the field and never quote the value.
Anything unexpected is logged (redacted) with a reference and answered generically: no
traceback, no exception text, no secret reaches the client.
"""

from __future__ import annotations

import functools
import logging
import secrets as _secrets
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar, cast

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, ValidationError

from taskgroup_mcp.client import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    InputValidationError,
    NotFoundError,
    ParallelError,
    PaymentRequiredError,
    RateLimitError,
    UnprocessableEntityError,
)
from taskgroup_mcp.wire import is_array, is_object, member

from ._answer import shown_error
from ._arguments import ArgumentProblem, format_problems, problems_from_validation
from ._groups import JournalUnavailable
from ._journaling import SameCallRunning
from ._sanitize import SECRETS
from ._spend import SpendRefused

logger = logging.getLogger("taskgroup_mcp.tools")
P = ParamSpec("P")
R = TypeVar("R")


def _subject(group_id: str | None, run_id: str | None) -> str:
    if run_id:
        return f"No run '{run_id}' was found. Check the run id (get_task_group_results lists them)."
    if group_id:
        return (
            f"No task group '{group_id}' was found. Check the id, or call create_task_group "
            "(or fan_out) to start a new group."
        )
    return "Not found. Check the id; call create_task_group to start a new group."


def innermost_exception(exc: BaseException) -> BaseException:
    """The one exception inside (nested) single-member exception groups, as task groups raise."""
    current: BaseException = exc
    while isinstance(current, BaseExceptionGroup):
        group = cast("BaseExceptionGroup[BaseException]", current)
        if len(group.exceptions) != 1:
            break
        current = group.exceptions[0]
    return cast(BaseException, current)


def to_tool_error(exc: BaseException, *, group_id: str | None = None, run_id: str | None = None) -> ToolError:
    """The ``ToolError`` for ``exc``; the message is safe to show a model (already redacted)."""
    exc = innermost_exception(exc)
    if isinstance(exc, ToolError):
        return ToolError(SECRETS.redact_pieces(SECRETS.redact_text(str(exc))))
    if isinstance(exc, ArgumentProblem | SpendRefused | SameCallRunning):
        message = str(exc)
    elif isinstance(exc, JournalUnavailable):
        message = (
            f"The journal is not available: {exc} list_task_groups needs it; every other tool keeps "
            "working with the task_group_id you have."
        )
    elif isinstance(exc, ValidationError):
        message = format_problems(problems_from_validation(exc))
    elif isinstance(exc, NotFoundError):
        message = _subject(group_id, run_id)
    elif isinstance(exc, PaymentRequiredError):
        message = (
            "Parallel answered 402: the account is out of credit for these runs. Add credit at "
            "platform.parallel.ai (or use fewer runs or a cheaper processor), then call again."
        )
    elif isinstance(exc, RateLimitError):
        wait = f"{exc.retry_after:.0f} s" if exc.retry_after is not None else "a minute"
        message = f"Parallel is rate limiting this account (429). Retry after {wait}; calling again is safe."
    elif isinstance(exc, AuthenticationError):
        message = (
            "Parallel rejected the API key (401). Set a valid PARALLEL_API_KEY for this server, "
            "or start it with --sandbox to try it without a key."
        )
    elif isinstance(exc, UnprocessableEntityError):
        fields = "; ".join(f"{e.field or 'body'}: {e.msg}" for e in exc.errors[:8]) or exc.message
        message = f"Parallel rejected the request (422): {fields}. Fix the named fields and call again."
    elif isinstance(exc, APIStatusError) and exc.status_code == 403:
        message = f"Parallel refused the request (403): {exc.message}. Check the processor name."
    elif isinstance(exc, APIStatusError) and exc.status_code >= 500:
        message = (
            f"Parallel had a server error ({exc.status_code}). This is temporary; call again in a "
            "moment (repeating add_runs never adds a run twice)."
        )
    elif isinstance(exc, APIStatusError):
        message = f"Parallel answered {exc.status_code}: {exc.message}"
    elif isinstance(exc, APITimeoutError):
        message = (
            "Parallel did not answer in time. Call again; repeating a call is safe "
            "(add_runs never adds a run twice)."
        )
    elif isinstance(exc, APIConnectionError):
        message = "Could not reach the Parallel API (connection failed). Call again in a moment; it is safe to repeat."
    elif isinstance(exc, InputValidationError):
        message = format_problems(
            [(e.field or "inputs", e.msg) for e in exc.errors] or [("inputs", exc.message)]
        )
    elif isinstance(exc, ParallelError):
        message = exc.message
    else:
        reference = _secrets.token_hex(4)
        detail = "".join(traceback.format_exception(exc))
        logger.error("unexpected error (reference %s)\n%s", reference, SECRETS.redact_text(detail))
        message = f"Internal error (reference {reference}); the details are in the server log. Call again or report it."
    # Upstream text (403/4xx messages, 422 details) may quote part of a secret: redact pieces too.
    return ToolError(SECRETS.redact_pieces(SECRETS.redact_text(message)))


def _named(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def maps_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """The one error path of every tool body: whatever ``fn`` raises reaches the model as
    :func:`to_tool_error` maps it, about the task group or run the call names (its
    ``task_group_id`` or ``run_id`` argument). The signature is kept, so the SDK builds the same
    input schema from it."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            group, run_id = _named(kwargs.get("task_group_id")), _named(kwargs.get("run_id"))
            raise to_tool_error(exc, group_id=group, run_id=run_id) from None

    return run


def _error_result(text: str) -> dict[str, Any]:
    result = CallToolResult(content=[TextContent(type="text", text=shown_error(text))], is_error=True)
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


def _shown(result: HandlerResult) -> HandlerResult:
    """An error result with its text as :func:`shown_error` makes it; any other result as it is."""
    data = (
        result.model_dump(mode="json", by_alias=True, exclude_none=True)
        if isinstance(result, BaseModel)
        else result
    )
    content = member(data, "content")
    if not is_object(data) or data.get("isError") is not True or not is_array(content):
        return result
    shown: list[Any] = []
    for block in content:
        text = member(block, "text")
        shown.append(
            {**block, "text": shown_error(text)} if is_object(block) and isinstance(text, str) else block
        )
    return {**data, "content": shown}


def error_results(tools: Sequence[Tool]) -> ServerMiddleware[Any]:
    """The end of every tool's error path, as a middleware on ``tools/call``.

    Arguments that do not validate never reach the SDK, whose report quotes the values: the call is
    answered ``Error executing tool X: Invalid arguments: field: problem``, built from pydantic's
    ``loc`` and ``msg`` only. The text of every error result (these, the bodies' mapped errors, the
    SDK's own) is sanitized, redacted and cut to its token budget (:func:`shown_error`)."""
    signatures = {t.name: t.fn_metadata for t in tools}

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        params: Mapping[str, Any] = ctx.params or {}
        name, arguments = params.get("name"), params.get("arguments")
        signature = signatures.get(name) if isinstance(name, str) else None
        if signature is not None and (arguments is None or isinstance(arguments, Mapping)):
            try:
                signature.validate_arguments(dict(cast("Mapping[str, Any]", arguments or {})))
            except ValidationError as exc:
                fields = sorted({".".join(str(part) for part in err["loc"]) for err in exc.errors()})
                logger.info("Tool %r rejected arguments: %r", name, fields)
                return _error_result(
                    f"Error executing tool {name}: {format_problems(problems_from_validation(exc))}"
                )
        return _shown(await call_next(ctx))

    return middleware
