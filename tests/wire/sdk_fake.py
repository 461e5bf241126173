"""A fake Parallel API behind the official SDK 0.6.0, for the wire contract tests.

The SDK runs for real (``parallel.Parallel``) over ``httpx.MockTransport``: every request it
makes is recorded with its decoded JSON body, and each answer is whatever the test routed for
that method and path (our own models' ``.to_wire()`` JSON, or an SSE stream of it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import parallel


@dataclass(frozen=True)
class CapturedRequest:
    method: str
    path: str
    params: dict[str, str]
    headers: httpx.Headers
    body: Any
    """The decoded JSON body (None for a request without one)."""


def sse_frames(events: list[dict[str, Any]]) -> bytes:
    """Server-sent events as the API frames them: ``event: <type>``, one ``data:`` line, a blank line."""
    return b"".join(
        f"event: {event.get('type', 'message')}\ndata: {json.dumps(event)}\n\n".encode() for event in events
    )


class FakeParallel:
    """Routes (method, path) to a canned answer and records every request the SDK sends."""

    def __init__(self) -> None:
        self.requests: list[CapturedRequest] = []
        self._routes: dict[tuple[str, str], httpx.Response] = {}
        self.client = parallel.Parallel(
            api_key="test-key-not-secret",
            base_url="http://parallel.test",
            max_retries=0,
            http_client=httpx.Client(transport=httpx.MockTransport(self._handle)),
        )

    def reply_json(self, method: str, path: str, body: Any, status: int = 200) -> None:
        self._routes[(method, path)] = httpx.Response(status, json=body)

    def reply_sse(self, method: str, path: str, events: list[dict[str, Any]]) -> None:
        self._routes[(method, path)] = httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=sse_frames(events)
        )

    def only_request(self) -> CapturedRequest:
        assert len(self.requests) == 1, [(r.method, r.path) for r in self.requests]
        return self.requests[0]

    def _handle(self, request: httpx.Request) -> httpx.Response:
        content = request.content
        self.requests.append(
            CapturedRequest(
                method=request.method,
                path=request.url.path,
                params=dict(request.url.params),
                headers=request.headers,
                body=json.loads(content) if content else None,
            )
        )
        route = self._routes.get((request.method, request.url.path))
        if route is None:
            return httpx.Response(
                404, json={"type": "error", "error": {"ref_id": "test", "message": "no route in test"}}
            )
        return httpx.Response(route.status_code, headers=route.headers, content=route.content)
