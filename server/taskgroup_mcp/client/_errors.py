"""The error tree of the client, and the mapping from API responses onto it.

::

    ParallelError                      every error this package raises; .retryable: bool
     ├── InputValidationError          refused before any request (limits, reserved metadata key)
     └── APIError                      something went wrong talking to the API; .method, .path
          ├── APIStatusError           the API answered 4xx/5xx; .status_code, .body, .request_id
          │    ├── BadRequestError             400
          │    ├── AuthenticationError         401
          │    ├── PaymentRequiredError        402
          │    ├── PermissionDeniedError       403  (e.g. invalid processor)
          │    ├── NotFoundError               404
          │    ├── RequestTimeoutError         408  (retryable; /result while the run is active)
          │    ├── ConflictError               409  (retryable)
          │    ├── UnprocessableEntityError    422  .errors: the API's loc + msg per field
          │    ├── RateLimitError              429  (retryable) .retry_after seconds or None
          │    └── InternalServerError         5xx  (retryable)
          ├── APIConnectionError       no usable response (connect failed, connection dropped)
          │    └── APITimeoutError     the request took longer than the client's timeout
          ├── APIResponseValidationError  a 2xx answer this client cannot read; .field, .errors
          └── APIStreamError           the API sent an ``error`` event inside an SSE stream

Messages are built only from the API's ``error.message`` or, for 422, each item's ``loc`` and
``msg``. Input values (FastAPI's ``input``/``ctx``), request headers and the API key are never
copied into a message, a repr or ``.body``; any secret the client knows of is masked as well.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2

from taskgroup_mcp.wire import is_array, is_object

MAX_MESSAGE_CHARS = 500


@dataclass(frozen=True, slots=True)
class FieldError:
    """One item of a 422 answer: where (``loc``), and what is wrong (``msg``), never the value."""

    loc: tuple[str | int, ...]
    msg: str
    type: str = ""

    @property
    def field(self) -> str:
        """The location as a dotted path without the leading ``body``, e.g. ``inputs.3.processor``."""
        parts = list(self.loc)
        if parts and parts[0] == "body":
            parts = parts[1:]
        return ".".join(str(p) for p in parts)

    @property
    def input_index(self) -> int | None:
        """The index into ``inputs`` this error points at, if it points at one."""
        parts = list(self.loc)
        if parts and parts[0] == "body":
            parts = parts[1:]
        if len(parts) >= 2 and parts[0] == "inputs" and isinstance(parts[1], int):
            return parts[1]
        return None


class ParallelError(Exception):
    """Base of every error raised by :mod:`taskgroup_mcp.client`."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InputValidationError(ParallelError, ValueError):
    """The inputs break a documented limit or use the reserved metadata key; nothing was sent."""

    def __init__(self, message: str, *, errors: list[FieldError]) -> None:
        super().__init__(message, retryable=False)
        self.errors = errors


class APIError(ParallelError):
    """A failure talking to the API. ``method`` and ``path`` name the request (no query, no headers)."""

    def __init__(
        self, message: str, *, method: str = "", path: str = "", retryable: bool | None = None
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.method = method
        self.path = path


class APIStatusError(APIError):
    """The API answered with a 4xx or 5xx status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: dict[str, Any] | None = None,
        request_id: str | None = None,
        errors: list[FieldError] | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(message, method=method, path=path, retryable=_status_retryable(status_code))
        self.status_code = status_code
        self.body = body
        """The error body reduced to its safe parts (message, ref_id, loc/msg/type)."""
        self.request_id = request_id
        self.errors: list[FieldError] = errors or []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, message={self.message!r})"


class BadRequestError(APIStatusError):
    """400."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or invalid."""


class PaymentRequiredError(APIStatusError):
    """402: not enough credit for the runs asked for."""


class PermissionDeniedError(APIStatusError):
    """403: e.g. an invalid processor."""


class NotFoundError(APIStatusError):
    """404: no such group or run (or, on /result, the run failed)."""


class RequestTimeoutError(APIStatusError):
    """408: the server gave up waiting (on /result: the run is still active; ask again)."""


class ConflictError(APIStatusError):
    """409."""


class UnprocessableEntityError(APIStatusError):
    """422: validation failed; ``errors`` lists the API's ``loc`` and ``msg`` for each field."""


class RateLimitError(APIStatusError):
    """429: too many run-creating requests; wait ``retry_after`` seconds (None when not given)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InternalServerError(APIStatusError):
    """5xx."""


class APIConnectionError(APIError):
    """No usable response: the connection failed, was reset, or the body was cut off."""

    retryable = True

    def __init__(self, message: str = "Connection error.", *, sent: bool = True, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.sent = sent
        """False when the request certainly never reached the server (connect errors)."""


class APITimeoutError(APIConnectionError):
    """The request took longer than the client's timeout."""

    def __init__(self, message: str = "Request timed out.", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)


class APIStreamError(APIError):
    """The API sent an ``error`` event inside a stream."""


class APIResponseValidationError(APIError):
    """The API answered 2xx with a body this client cannot read (a field missing or of a shape no
    version of the docs describes). ``field`` is the first unreadable field as a dotted path
    (``output.content``, ``run.status``); ``errors`` lists each one (location, problem, never its
    value). Not retryable: the same request gets the same answer. For a run-creating request the
    runs were committed all the same."""

    def __init__(self, message: str, *, field: str, errors: list[FieldError], **kwargs: Any) -> None:
        super().__init__(message, retryable=False, **kwargs)
        self.field = field
        self.errors = errors


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestTimeoutError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _status_retryable(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


def parse_retry_after(headers: Mapping[str, str], *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 3] + "..."


def _safe_body(raw: Any) -> tuple[str | None, str | None, list[FieldError], dict[str, Any] | None]:
    """(message, ref_id, field errors, safe body) from either error body shape."""
    if not is_object(raw):
        return None, None, [], None
    body: dict[str, Any] = raw
    err = body.get("error")
    if is_object(err):
        err_d: dict[str, Any] = err
        message = err_d.get("message")
        ref_id = err_d.get("ref_id")
        msg = message if isinstance(message, str) else None
        ref = ref_id if isinstance(ref_id, str) else None
        return msg, ref, [], {"type": "error", "error": {"ref_id": ref, "message": msg}}
    detail = body.get("detail")
    if is_array(detail):
        errors: list[FieldError] = []
        for item in detail:
            if not is_object(item):
                continue
            it: dict[str, Any] = item
            loc_raw = it.get("loc")
            loc: tuple[str | int, ...] = ()
            if is_array(loc_raw):
                loc = tuple(p for p in loc_raw if isinstance(p, str | int))
            msg_raw = it.get("msg")
            type_raw = it.get("type")
            errors.append(
                FieldError(
                    loc,
                    msg_raw if isinstance(msg_raw, str) else "invalid",
                    type_raw if isinstance(type_raw, str) else "",
                )
            )
        safe = {"detail": [{"loc": list(e.loc), "msg": e.msg, "type": e.type} for e in errors]}
        return None, None, errors, safe
    if isinstance(detail, str):
        return detail, None, [], {"detail": detail}
    return None, None, [], None


def error_from_response(
    response: httpx2.Response, *, redact: Callable[[str], str], method: str, path: str
) -> APIStatusError:
    """Map a 4xx/5xx response (already read) onto the error tree, with a message safe to show."""
    status = response.status_code
    try:
        raw: Any = json.loads(response.content) if response.content else None
    except (ValueError, UnicodeDecodeError):
        raw = None
    message, ref_id, errors, body = _safe_body(raw)
    if errors:
        parts = [f"{e.field or 'body'}: {e.msg}" for e in errors[:10]]
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        message = "; ".join(parts) + more
    text = _clip(redact(message)) if message else f"HTTP {status} from the Parallel API"
    if body is not None:
        body = json.loads(redact(json.dumps(body)))
    errors = [FieldError(e.loc, redact(e.msg), e.type) for e in errors]
    request_id = ref_id or response.headers.get("x-request-id")
    cls = _BY_STATUS.get(status, InternalServerError if status >= 500 else APIStatusError)
    kwargs: dict[str, Any] = {
        "status_code": status,
        "body": body,
        "request_id": request_id,
        "errors": errors,
        "method": method,
        "path": path,
    }
    if cls is RateLimitError:
        return RateLimitError(text, retry_after=parse_retry_after(response.headers), **kwargs)
    return cls(text, **kwargs)
