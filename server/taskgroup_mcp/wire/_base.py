"""The base every wire model shares.

Responses keep fields they do not know (the API adds fields over time); requests are validated
against the fields we know and still carry unknown ones through, as the API tolerates them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    """A JSON object of the Parallel wire format."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_wire(self, *, exclude_none: bool = False) -> dict[str, Any]:
        """The JSON-ready dict that goes on the wire (API field names, unknown fields kept)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=exclude_none)
