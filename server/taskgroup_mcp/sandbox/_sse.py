"""Server-sent event framing as the API sends it: ``event:`` line, one-line JSON ``data:``, blank line.

Cursors travel in the JSON ``event_id``; no ``id:`` lines (an ``id:`` followed by a keep-alive
comment crashes the official Python SDK's decoder).
"""

from __future__ import annotations

import json
from typing import Any

from taskgroup_mcp.wire import WireModel


def frame(event: WireModel | dict[str, Any]) -> str:
    data = event.to_wire() if isinstance(event, WireModel) else event
    return f"event: {data['type']}\ndata: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\n\n"
