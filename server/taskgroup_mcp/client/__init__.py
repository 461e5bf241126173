"""An async client for Parallel's Task and Task Group API, with exactly-once batched submission.

Import from this package only::

    from taskgroup_mcp.client import ParallelClient, SubmitResult, ParallelError, ...

    async with ParallelClient.from_settings(settings) as client:       # or ParallelClient(api_key=...)
        group = await client.create_task_group()
        result = await client.submit(group.taskgroup_id, inputs)       # exactly once, however often
        assert result.ok                                               # failed == [] and duplicates == []
        async for event in client.group_events(group.taskgroup_id):    # resumes after cuts
            ...
        async for event in client.iter_results(group.taskgroup_id):    # event.event_id is a cursor
            ...

The error tree (every exception has ``retryable``; status errors carry ``status_code``)::

    ParallelError
     ├── InputValidationError          refused before any request
     └── APIError
          ├── APIStatusError           .status_code .body .request_id .errors
          │    ├── BadRequestError 400, AuthenticationError 401, PaymentRequiredError 402,
          │    ├── PermissionDeniedError 403, NotFoundError 404, RequestTimeoutError 408,
          │    ├── ConflictError 409, UnprocessableEntityError 422,
          │    ├── RateLimitError 429 (.retry_after)
          │    └── InternalServerError 5xx
          ├── APIConnectionError       (.sent: False when it never left)
          │    └── APITimeoutError
          ├── APIResponseValidationError  a 2xx answer it cannot read (.field names it)
          └── APIStreamError           an ``error`` event inside a stream

(The full drawing with meanings is in ``_errors.py``.)
"""

from ._cid import RESERVED_METADATA_KEY
from ._client import ParallelClient
from ._clock import LOOP_CLOCK, Clock
from ._engine import NoJournal, SubmitJournal
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APIStreamError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    FieldError,
    InputValidationError,
    InternalServerError,
    NotFoundError,
    ParallelError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    UnprocessableEntityError,
)
from ._redact import secret_forms
from ._retry import Backoff, RetryBudget
from ._submit import SubmitFailure, SubmitResult

__all__ = [
    "LOOP_CLOCK",
    "RESERVED_METADATA_KEY",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APIStreamError",
    "APITimeoutError",
    "AuthenticationError",
    "Backoff",
    "BadRequestError",
    "Clock",
    "ConflictError",
    "FieldError",
    "InputValidationError",
    "InternalServerError",
    "NoJournal",
    "NotFoundError",
    "ParallelClient",
    "ParallelError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "RetryBudget",
    "SubmitFailure",
    "SubmitJournal",
    "SubmitResult",
    "UnprocessableEntityError",
    "secret_forms",
]
