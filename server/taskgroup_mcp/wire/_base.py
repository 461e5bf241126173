"""The base every wire model shares.

Responses keep fields they do not know (the API adds fields over time); requests are validated
against the fields we know and still carry unknown ones through, as the API tolerates them.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


class WireModel(BaseModel):
    """A JSON object of the Parallel wire format."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_wire(self, *, exclude_none: bool = False) -> dict[str, Any]:
        """The JSON-ready dict that goes on the wire (API field names, unknown fields kept)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=exclude_none)


def null_means(default: object) -> BeforeValidator:
    """Read an explicit ``null`` as ``default``, for a field whose type has no null.

    The official SDK accepts ``null`` for every optional field (``"citations": null``,
    ``"type": null``); we read it as the field's documented default instead of rejecting it.
    """

    def convert(value: Any) -> Any:
        return copy.copy(default) if value is None else value

    return BeforeValidator(convert)
