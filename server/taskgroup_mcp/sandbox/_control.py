"""The sandbox's own routes under ``/_sandbox/`` (not part of the API): set and read faults,
reset, stats, and the clock (read it, or advance a manual one). They need no key unless the
sandbox was given one; then they need that key.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from taskgroup_mcp.wire import is_object

from ._clock import ManualClock
from ._errors import error_response
from ._faults import Faults, FaultValueError
from ._timefmt import rfc3339

if TYPE_CHECKING:
    from ._sandbox import Sandbox

Handler = Callable[[Request], Awaitable[Response]]


def key_matches(sandbox: Sandbox, request: Request) -> bool:
    """The request carries an ``x-api-key``, and it is the sandbox's key when it has one."""
    key = request.headers.get("x-api-key", "")
    if not key:
        return False
    expected = sandbox.config.api_key
    return expected is None or hmac.compare_digest(key.encode(), expected.encode())


class Control:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox

    def guarded(self, handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            if self.sb.config.api_key is not None and not key_matches(self.sb, request):
                request.scope["sandbox.endpoint"] = "control"
                return error_response(401, "Unauthorized: this sandbox's control routes need its x-api-key")
            return await handler(request)

        return wrapped

    def routes(self) -> list[Route]:
        return [
            Route("/_sandbox/faults", self.guarded(self.set_faults), methods=["POST"]),
            Route("/_sandbox/faults", self.guarded(self.get_faults), methods=["GET"]),
            Route("/_sandbox/reset", self.guarded(self.reset), methods=["POST"]),
            Route("/_sandbox/stats", self.guarded(self.stats), methods=["GET"]),
            Route("/_sandbox/clock", self.guarded(self.clock), methods=["GET", "POST"]),
        ]

    async def set_faults(self, request: Request) -> Response:
        request.scope["sandbox.endpoint"] = "control.faults"
        try:
            data: Any = json.loads(await request.body() or b"{}")
            if not is_object(data):
                raise ValueError("faults must be a JSON object")
            faults = Faults.from_json(data)
        except FaultValueError as exc:  # a value out of range: nothing is stored
            return JSONResponse({"error": str(exc), "field": exc.field}, status_code=400)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        self.sb.set_faults(faults)
        return JSONResponse(faults.to_json())

    async def get_faults(self, request: Request) -> Response:
        request.scope["sandbox.endpoint"] = "control.faults"
        return JSONResponse(self.sb.fault_injector.faults.to_json())

    async def reset(self, request: Request) -> Response:
        request.scope["sandbox.endpoint"] = "control.reset"
        self.sb.reset()
        return JSONResponse({"reset": True})

    async def stats(self, request: Request) -> Response:
        request.scope["sandbox.endpoint"] = "control.stats"
        return JSONResponse(self.sb.stats_json())

    async def clock(self, request: Request) -> Response:
        request.scope["sandbox.endpoint"] = "control.clock"
        clock = self.sb.clock
        if request.method == "POST":
            if not isinstance(clock, ManualClock):
                return JSONResponse({"error": "this sandbox runs on the system clock"}, status_code=409)
            try:
                data: Any = json.loads(await request.body() or b"{}")
                seconds = float(data.get("advance", 0))
                clock.advance(seconds)
            except (ValueError, TypeError, AttributeError):
                return JSONResponse({"error": 'send {"advance": SECONDS} (>= 0)'}, status_code=422)
            self.sb.lifecycle.tick()
        return JSONResponse({"now": rfc3339(clock.now()), "manual": isinstance(clock, ManualClock)})
