"""Server-sent event framing as the API sends it: ``event:`` line, one-line JSON ``data:``, blank line.

Cursors travel in the JSON ``event_id``; no ``id:`` lines (an ``id:`` followed by a keep-alive
comment crashes the official Python SDK's decoder).
"""

from __future__ import annotations

import json
from typing import Any

from taskgroup_mcp.wire import WireModel


def frame(event: WireModel | dict[str, Any]) -> str:
    if isinstance(event, WireModel):
        # pydantic's own JSON serializer: the same JSON as to_wire() + json.dumps, several times faster
        return f"event: {event.__dict__['type']}\ndata: {event.model_dump_json(by_alias=True)}\n\n"
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'), ensure_ascii=False)}\n\n"
