"""Error responses in the API's two body shapes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse

from taskgroup_mcp.wire import (
    ErrorObject,
    ErrorResponse,
    LimitViolation,
    ValidationErrorItem,
    ValidationErrorResponse,
)


def error_response(
    status: int, message: str, detail: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """``{"type": "error", "error": {"ref_id", "message", "detail"}}``."""
    body = ErrorResponse(error=ErrorObject(ref_id=str(uuid.uuid4()), message=message, detail=detail))
    return JSONResponse(body.to_wire(), status_code=status, headers=headers)


def items_from_pydantic(
    exc: ValidationError, prefix: Sequence[str | int] = ("body",)
) -> list[ValidationErrorItem]:
    """loc + msg + type only: pydantic's ``input`` (which may hold a secret) is never echoed."""
    return [
        ValidationErrorItem(loc=[*prefix, *e["loc"]], msg=e["msg"], type=e["type"])
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def items_from_violations(violations: Iterable[LimitViolation]) -> list[ValidationErrorItem]:
    return [ValidationErrorItem(loc=list(v.loc), msg=v.msg, type=v.type) for v in violations]


def validation_response(items: list[ValidationErrorItem]) -> JSONResponse:
    """FastAPI's 422 body (the group endpoints): ``{"detail": [{"loc", "msg", "type"}]}``."""
    return JSONResponse(ValidationErrorResponse(detail=items).to_wire(), status_code=422)


def validation_error_response(items: list[ValidationErrorItem]) -> JSONResponse:
    """A 422 in the ErrorResponse shape (the task-run endpoints), naming each field."""
    first = items[0] if items else None
    where = ".".join(str(p) for p in first.loc) if first else "body"
    message = f"Validation error at {where}: {first.msg}" if first else "Validation error"
    if len(items) > 1:
        message += f" (and {len(items) - 1} more)"
    return error_response(422, message, {"errors": [i.to_wire() for i in items]})
