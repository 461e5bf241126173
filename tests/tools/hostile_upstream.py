"""A hostile Task API for token-budget and content tests: every text it serves is chosen by the
test (CJK, emoji, combining marks, rare planes, escapes, control characters), as a forwarded MCP
tool or a poisoned web page could make a real run's output. It speaks the wire format the real
client parses (JSON bodies, an SSE runs stream, error bodies), so results go through the whole
server: client, tools, shaping, MCP.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from mcp import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from taskgroup_mcp.client import ParallelClient
from taskgroup_mcp.config import Settings
from taskgroup_mcp.sandbox._transport import StreamingASGITransport
from taskgroup_mcp.tools import build_server

BASE_URL = "http://hostile-upstream.invalid"
GROUP = "tgrp_hostile"
ERROR_GROUP = "tgrp_refused"


@dataclass
class Upstream:
    """What the hostile API serves: ``texts`` feed every free-text field of its runs."""

    runs: int
    texts: list[str]
    error_message: str = "refused"
    status_keys: list[str] = field(default_factory=lambda: [])

    def text(self, i: int) -> str:
        return self.texts[i % len(self.texts)]

    def run(self, i: int) -> dict[str, Any]:
        return {
            "run_id": f"trun_{i}",
            "interaction_id": f"trun_{i}",
            "status": "completed",
            "is_active": False,
            "processor": "lite",
            "taskgroup_id": GROUP,
            "metadata": {"note": self.text(i + 1)[:512]},
            "error": {"ref_id": "r", "message": self.text(i + 2)},
            "warnings": [{"type": "warning", "message": self.text(i + 3)}],
        }

    def output(self, i: int) -> dict[str, Any]:
        text = self.text(i)
        return {
            "type": "json",
            "content": {"answer": text, "facts": [text[: len(text) // 2], self.text(i + 1)]},
            "basis": [
                {
                    "field": "answer",
                    "reasoning": self.text(i + 2),
                    "confidence": "low",
                    "citations": [{"url": "https://example.com/a", "title": text[:200], "excerpts": [text]}],
                }
            ],
            "mcp_tool_calls": [
                {
                    "tool_call_id": "c1",
                    "server_name": "tool",
                    "tool_name": "lookup",
                    "arguments": json.dumps({"q": text[:100]}),
                    "content": self.text(i + 3),
                }
            ],
        }

    def input(self, i: int) -> dict[str, Any]:
        return {"input": {"company": self.text(i + 1), "detail": self.text(i)}, "processor": "lite"}

    def group(self, group_id: str) -> dict[str, Any]:
        counts: dict[str, int] = {"completed": self.runs}
        counts.update({key: 1 for key in self.status_keys})
        return {
            "taskgroup_id": group_id,
            "created_at": "2026-11-30T10:00:00Z",
            "status": {
                "num_task_runs": self.runs,
                "task_run_status_counts": counts,
                "is_active": False,
                "status_message": self.text(0),
            },
        }

    def app(self) -> Starlette:
        def refused() -> Response:
            body = {"type": "error", "error": {"ref_id": "ref", "message": self.error_message}}
            return JSONResponse(body, status_code=403)

        async def group(request: Request) -> Response:
            gid = request.path_params["gid"]
            return refused() if gid == ERROR_GROUP else JSONResponse(self.group(gid))

        async def runs(request: Request) -> Response:
            after = request.query_params.get("last_event_id")
            start = int(after) + 1 if after else 0

            async def events() -> AsyncIterator[str]:
                for i in range(start, self.runs):
                    event = {
                        "type": "task_run.state",
                        "event_id": str(i),
                        "run": self.run(i),
                        "input": self.input(i),
                        "output": self.output(i),
                    }
                    yield f"event: task_run.state\ndata: {json.dumps(event, ensure_ascii=False)}\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")

        async def run(request: Request) -> Response:
            return JSONResponse(self.run(int(request.path_params["rid"].removeprefix("trun_"))))

        async def result(request: Request) -> Response:
            i = int(request.path_params["rid"].removeprefix("trun_"))
            return JSONResponse({"run": self.run(i), "output": self.output(i)})

        async def run_input(request: Request) -> Response:
            return JSONResponse(self.input(int(request.path_params["rid"].removeprefix("trun_"))))

        return Starlette(
            routes=[
                Route("/v1/tasks/groups/{gid}", group),
                Route("/v1/tasks/groups/{gid}/runs", runs),
                Route("/v1/tasks/runs/{rid}", run),
                Route("/v1/tasks/runs/{rid}/result", result),
                Route("/v1/tasks/runs/{rid}/input", run_input),
            ]
        )


@asynccontextmanager
async def hostile_client(
    upstream: Upstream, *, extensions: list[Any] | None = None, **overrides: Any
) -> AsyncGenerator[Client]:
    """An in-memory MCP client of the real server, whose API is ``upstream`` (``extensions``: what
    the client advertises, e.g. MCP Apps)."""
    values: dict[str, Any] = {"parallel_api_key": "hostile-test-key-0123", "parallel_base_url": BASE_URL}
    values.update(overrides)
    settings = Settings.from_env({}, **values)
    transport = StreamingASGITransport(upstream.app())

    def factory() -> ParallelClient:
        return ParallelClient.from_settings(settings, transport=transport)

    async with Client(build_server(settings, factory), extensions=extensions or []) as client:
        yield client
