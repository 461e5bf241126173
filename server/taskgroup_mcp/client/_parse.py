"""Reading the API's answers into wire models: anything unreadable becomes a ParallelError.

The wire models already read leniently what the API may send as it evolves (a run without
``interaction_id``, a status this version does not know, JSON content sent as a string). What
still does not fit raises :class:`APIResponseValidationError` naming the field, never pydantic's
own ``ValidationError`` (whose text would quote the payload).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ._errors import APIResponseValidationError, FieldError

M = TypeVar("M", bound=BaseModel)
MAX_LISTED = 5
_UNION_FIELDS = frozenset({"output", "output_schema", "input_schema"})
_UNION_TAGS = frozenset({"json", "text", "auto", "string"})


def parse_body(
    model: type[M], content: bytes, *, method: str, path: str, redact: Callable[[str], str] = str
) -> M:
    """``model`` from a response body (JSON text)."""
    try:
        return model.model_validate_json(content)
    except ValidationError as exc:
        raise unreadable(exc, method=method, path=path, redact=redact) from None


def parse_object(
    model: type[M], obj: Any, *, method: str, path: str, redact: Callable[[str], str] = str
) -> M:
    """``model`` from an already decoded JSON value (e.g. one event of a stream)."""
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise unreadable(exc, method=method, path=path, redact=redact) from None


def unreadable(
    exc: ValidationError, *, method: str, path: str, redact: Callable[[str], str] = str
) -> APIResponseValidationError:
    """The error for an answer that did not fit: where and what, from pydantic's loc and msg only."""
    errors = [
        FieldError(_loc(e["loc"]), redact(e["msg"]), e["type"])
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    listed = [f"{_dotted(e.loc)}: {e.msg}" for e in errors[:MAX_LISTED]]
    if len(errors) > MAX_LISTED:
        listed.append(f"and {len(errors) - MAX_LISTED} more")
    first = _dotted(errors[0].loc) if errors else "(body)"
    message = f"{method} {path}: the API's answer could not be read at {first} ({'; '.join(listed)})"
    return APIResponseValidationError(message, field=first, errors=errors, method=method, path=path)


def _loc(loc: tuple[int | str, ...]) -> tuple[str | int, ...]:
    """pydantic's location without the tag it adds inside a text/JSON union (``output.json.content``
    reads ``output.content``)."""
    out: list[str | int] = []
    for part in loc:
        if out and out[-1] in _UNION_FIELDS and part in _UNION_TAGS:
            continue
        out.append(part)
    return tuple(out)


def _dotted(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(body)"
