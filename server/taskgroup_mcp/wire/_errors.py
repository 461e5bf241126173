"""The two error body shapes the API answers with."""

from __future__ import annotations

from typing import Literal

from ._base import WireModel
from ._run import ErrorObject


class ErrorResponse(WireModel):
    """``{"type": "error", "error": {"ref_id", "message", "detail"}}``: task-run endpoints and 404s."""

    type: Literal["error"] = "error"
    error: ErrorObject


class ValidationErrorItem(WireModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorResponse(WireModel):
    """FastAPI's 422 body, used by the group endpoints: ``{"detail": [{"loc", "msg", "type"}]}``."""

    detail: list[ValidationErrorItem]
