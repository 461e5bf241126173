"""Sorting a failed run-creating attempt into what it means for the runs it carried.

=================  ==========================================  ===========================
outcome            examples                                    what ``submit`` does
=================  ==========================================  ===========================
DEFINITE_REJECT    400, 401, 402, 403, 404, 422, other 4xx     report the items, no retry
NOT_SENT           connect error / connect or pool timeout     retry after backoff
THROTTLED          429                                         retry after Retry-After
AMBIGUOUS          read timeout, dropped connection, 408,      settle, reconcile, resend
                   409, 5xx, a 2xx it cannot read              only the missing ids
=================  ==========================================  ===========================
"""

from __future__ import annotations

from enum import Enum

from ._errors import APIConnectionError, APIResponseValidationError, APIStatusError, ParallelError


class Outcome(Enum):
    DEFINITE_REJECT = "definite_reject"
    NOT_SENT = "not_sent"
    THROTTLED = "throttled"
    AMBIGUOUS = "ambiguous"


def classify(error: ParallelError) -> Outcome:
    """What a failed run-creating request means for the runs it carried."""
    if isinstance(error, APIStatusError):
        status = error.status_code
        if status == 429:
            return Outcome.THROTTLED
        if status in (408, 409) or status >= 500:
            return Outcome.AMBIGUOUS
        return Outcome.DEFINITE_REJECT
    if isinstance(error, APIResponseValidationError):
        return Outcome.AMBIGUOUS  # answered 2xx: committed, but which ids we cannot tell
    if isinstance(error, APIConnectionError):
        return Outcome.AMBIGUOUS if error.sent else Outcome.NOT_SENT
    return Outcome.DEFINITE_REJECT
