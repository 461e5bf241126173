"""The HTTP layer: parse requests, call the lifecycle, serialize wire shapes. No state lives here.

Every endpoint is served under ``/v1`` and ``/v1beta``; what the SSE streams send is in
``_streams``, the control routes under ``/_sandbox/`` in ``_control``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import anyio
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from taskgroup_mcp.wire import (
    GROUP_EVENTS_STREAM_MAX_SECONDS,
    RESULT_DEFAULT_TIMEOUT_SECONDS,
    RUN_STATUSES,
    RunInput,
    TaskGroupAddRunsParams,
    TaskGroupCreateParams,
    TaskGroupRunResponse,
    TaskRunResult,
    ValidationErrorItem,
    add_runs_violations,
    get_processor,
    metadata_violations,
    output_schema_violations,
    run_input_violations,
)

from . import _streams as streams
from ._control import Control, key_matches
from ._edge import DropResponse
from ._errors import (
    error_response,
    items_from_pydantic,
    items_from_violations,
    validation_error_response,
    validation_response,
)
from ._executor import wait_for_change
from ._lifecycle import input_view, run_view
from ._outputs import build_output
from ._ratelimit import retry_after_header
from ._records import GroupRecord, RunRecord

if TYPE_CHECKING:
    from ._sandbox import Sandbox

log = logging.getLogger("taskgroup_mcp.sandbox")

_POLL_SECONDS = 1.0
_RUN_CREATING = frozenset({"create_run", "add_runs"})
"""The endpoints the task-creation rate limit counts (GETs never count)."""
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

Handler = Callable[[Request], Awaitable[Response]]


def _sse(gen: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(gen, media_type="text/event-stream", headers=_SSE_HEADERS)


def _qbool(request: Request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in ("true", "1", "yes", "on")


def _qfloat(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    return float(raw)


def _betas(request: Request) -> tuple[str, ...]:
    """The ``parallel-beta`` tokens of a request (kept with the runs it creates)."""
    raw = request.headers.get("parallel-beta", "")
    return tuple(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))


def _cursor(raw: str | None) -> int:
    """A resume cursor: ``"<seq>"`` or a status snapshot's ``"<seq>.<n>"``; events after seq follow."""
    if raw is None or raw == "":
        return -1
    head = raw.split(".", 1)[0]
    value = int(head)
    if value < -1:
        raise ValueError(raw)
    return value


class Api:
    """The endpoints, bound to one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        self.lc = sandbox.lifecycle
        self.store = sandbox.store

    # -- plumbing -----------------------------------------------------------------------------

    def endpoint(self, name: str, handler: Handler) -> Handler:
        creates_runs = name in _RUN_CREATING

        async def wrapped(request: Request) -> Response:
            request.scope["sandbox.endpoint"] = name
            if not key_matches(self.sb, request):
                return error_response(401, "Unauthorized: invalid or missing credentials")
            if creates_runs:
                limited = self._rate_limited(request)
                if limited is not None:
                    return limited
            self.lc.tick()
            try:
                return await handler(request)
            except _BadQuery as exc:
                return exc.response

        return wrapped

    def _stream(self, gen: AsyncGenerator[str, None]) -> StreamingResponse:
        """An SSE response, broken by the ``stream_error`` or ``stream_cut`` fault when one is drawn."""
        kind = self.sb.fault_injector.draw_stream()
        if kind is not None:
            self.sb.stats.fault(f"stream_{kind}")
            gen = streams.with_fault(gen, kind)
        return _sse(gen)

    def _rate_limited(self, request: Request) -> Response | None:
        """The documented 2,000 run-creating POSTs per minute per key: a 429 past it, else None."""
        limiter = self.sb.rate_limiter
        wait = limiter.allow(request.headers.get("x-api-key", ""))
        if wait is None:
            return None
        self.sb.stats.rate_limited += 1
        return error_response(
            429,
            f"Too many requests: quota temporarily exceeded ({limiter.per_minute:,} run-creating requests "
            "per minute per API key)",
            headers={"Retry-After": retry_after_header(wait)},
        )

    def _group(self, request: Request) -> GroupRecord:
        group = self.store.get_group(request.path_params["group_id"])
        if group is None:
            raise _BadQuery(error_response(404, "TaskGroup not found"))
        return group

    def _run(self, request: Request) -> RunRecord:
        run = self.store.get_run(request.path_params["run_id"])
        if run is None:
            raise _BadQuery(error_response(404, "Run id not found"))
        return run

    async def _wait(self, deadline: float | None, due: float | None = None) -> None:
        """Wait until something may have changed: a transition is due, runs were added, ``due``
        (a moment on the sandbox clock) arrives, ``deadline`` (real time) passes, or a poll."""
        remaining = _POLL_SECONDS if deadline is None else deadline - anyio.current_time()
        if remaining <= 0:
            return
        until = self.lc.next_due()
        if due is not None:
            until = due if until is None else min(until, due)
        with anyio.move_on_after(min(remaining, _POLL_SECONDS)):
            await wait_for_change(self.lc, self.sb.clock, until)
        self.lc.tick()

    async def _faults(self) -> tuple[Response | None, bool, float]:
        """Draw this run-creating request's faults: (early response, drop after commit, commit delay)."""
        d = self.sb.fault_injector.draw()
        if d.latency_s > 0:
            await anyio.sleep(d.latency_s)
            self.lc.tick()
        stats = self.sb.stats
        if d.throttle:
            stats.fault("throttle")
            retry = self.sb.fault_injector.faults.retry_after
            return (
                error_response(
                    429,
                    "Too many requests: quota temporarily exceeded (sandbox fault: throttle)",
                    headers={"Retry-After": f"{retry:g}"},
                ),
                False,
                0.0,
            )
        if d.fail_before_commit:
            stats.fault("fail_before_commit")
            return (
                error_response(
                    503, "Service unavailable (sandbox fault: fail_before_commit); nothing was committed"
                ),
                False,
                0.0,
            )
        if d.commit_delay_s > 0:
            stats.fault("commit_delay")
        if d.drop_after_commit:
            stats.fault("drop_after_commit")
        return None, d.drop_after_commit, d.commit_delay_s

    # -- groups -------------------------------------------------------------------------------

    async def create_group(self, request: Request) -> Response:
        raw = await request.body()
        try:
            params = TaskGroupCreateParams.model_validate_json(raw or b"{}")
        except ValidationError as exc:
            return validation_response(items_from_pydantic(exc))
        if params.metadata:
            bad = metadata_violations(params.metadata, ("body", "metadata"))
            if bad:
                return validation_response(items_from_violations(bad))
        group = self.lc.create_group(params.metadata)
        return JSONResponse(self.lc.group_view(group).to_wire())

    async def get_group(self, request: Request) -> Response:
        return JSONResponse(self.lc.group_view(self._group(request)).to_wire())

    async def add_runs(self, request: Request) -> Response:
        group = self._group(request)
        raw = await request.body()
        try:
            params = TaskGroupAddRunsParams.model_validate_json(raw)
        except ValidationError as exc:
            return validation_response(items_from_pydantic(exc))
        bad = add_runs_violations(params.inputs, params.default_task_spec)
        bad += output_schema_violations(params.default_task_spec, ("body", "default_task_spec"))
        for i, run_input in enumerate(params.inputs):
            if run_input.task_spec is not None:
                bad += output_schema_violations(run_input.task_spec, ("body", "inputs", i, "task_spec"))
        if bad:
            return validation_response(items_from_violations(bad))
        for i, run_input in enumerate(params.inputs):
            if get_processor(run_input.processor) is None:
                return _bad_processor(f"inputs.{i}.processor", run_input.processor)
        early, drop, delay = await self._faults()
        if early is not None:
            return early
        group = self.store.get_group(group.group_id) or group
        first_index = group.next_index
        event_seq = group.event_seq
        runs = self.lc.add_runs(group, params.inputs, params.default_task_spec, delay, _betas(request))
        self.sb.stats.runs_created += len(runs)
        if drop:
            return DropResponse()
        refresh = _qbool(request, "refresh_status", True)
        if refresh:
            self.lc.tick()
        body = TaskGroupRunResponse(
            status=self.lc.group_status(self.store.get_group(group.group_id) or group),
            run_ids=[r.run_id for r in runs],
            run_cursor=str(first_index - 1) if first_index > 0 else None,
            event_cursor=str(event_seq) if event_seq > 0 else None,
        )
        return JSONResponse(body.to_wire())

    async def group_run(self, request: Request) -> Response:
        group = self._group(request)
        run = self._run(request)
        if run.group_id != group.group_id:
            return error_response(404, "Run id not found")
        return JSONResponse(run_view(run).to_wire())

    async def group_runs(self, request: Request) -> Response:
        group = self._group(request)
        include_input = _qbool(request, "include_input", False)
        include_output = _qbool(request, "include_output", False)
        status = request.query_params.get("status") or None
        try:
            after = _cursor(request.query_params.get("last_event_id"))
        except ValueError:
            return validation_response(_query_item("last_event_id", "not a cursor this stream gave"))
        if status is not None and status not in RUN_STATUSES:
            return validation_response(_query_item("status", f"must be one of {', '.join(RUN_STATUSES)}"))
        runs = streams.group_runs(
            self.store, group.group_id, after=after, status=status, include_input=include_input,
            include_output=include_output, seed=self.sb.config.seed,
        )  # fmt: skip
        return self._stream(runs)

    async def group_events(self, request: Request) -> Response:
        group = self._group(request)
        raw_cursor = request.query_params.get("last_event_id")
        try:
            after = _cursor(raw_cursor)
            timeout = _qfloat(request, "timeout")
        except ValueError:
            return validation_response(_query_item("last_event_id", "not a cursor this stream gave"))
        # The API's bound (an hour) counts on the sandbox clock; a `timeout` the caller gives is
        # its own wait, in real seconds.
        timeout = None if timeout is None else max(0.0, min(timeout, float(GROUP_EVENTS_STREAM_MAX_SECONDS)))
        return self._stream(
            streams.group_events(
                self.lc, self.store, group, after=after, timeout=timeout, clock=self.sb.clock, wait=self._wait
            )
        )

    # -- runs ---------------------------------------------------------------------------------

    async def create_run(self, request: Request) -> Response:
        raw = await request.body()
        try:
            run_input = RunInput.model_validate_json(raw)
        except ValidationError as exc:
            return validation_error_response(items_from_pydantic(exc))
        bad = run_input_violations(run_input, loc=("body",))
        bad += output_schema_violations(run_input.task_spec, ("body", "task_spec"))
        if bad:
            return validation_error_response(items_from_violations(bad))
        if get_processor(run_input.processor) is None:
            return _bad_processor("processor", run_input.processor)
        early, drop, delay = await self._faults()
        if early is not None:
            return early
        (run,) = self.lc.add_runs(None, [run_input], None, delay, _betas(request))
        self.sb.stats.runs_created += 1
        if drop:
            return DropResponse()
        return JSONResponse(run_view(run).to_wire(), status_code=202)

    async def get_run(self, request: Request) -> Response:
        return JSONResponse(run_view(self._run(request)).to_wire())

    async def run_input(self, request: Request) -> Response:
        return JSONResponse(input_view(self._run(request)).to_wire())

    async def run_result(self, request: Request) -> Response:
        run = self._run(request)
        try:
            timeout = _qfloat(request, "timeout")
        except ValueError:
            return validation_error_response(_query_item("timeout", "must be a number of seconds"))
        timeout = float(RESULT_DEFAULT_TIMEOUT_SECONDS) if timeout is None else max(0.0, timeout)
        deadline = anyio.current_time() + timeout
        while run.status not in streams.TERMINAL:
            if anyio.current_time() >= deadline:
                return error_response(408, "Request timed out; run still active")
            await self._wait(deadline)
            run = self.store.get_run(run.run_id) or run
        if run.status != "completed":
            return error_response(404, "Run failed or run id not found")
        output = build_output(run, self.sb.config.seed)
        result = TaskRunResult(run=run_view(run), output=output)
        return JSONResponse(result.to_wire())

    async def run_events(self, request: Request) -> Response:
        run = self._run(request)
        return self._stream(
            streams.run_events(
                self.store, run, seed=self.sb.config.seed, clock=self.sb.clock, wait=self._wait
            )
        )


class _BadQuery(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _query_item(name: str, msg: str) -> list[ValidationErrorItem]:
    return [ValidationErrorItem(loc=["query", name], msg=msg, type="value_error")]


def _bad_processor(where: str, name: str) -> Response:
    shown = name if len(name) <= 40 else name[:40] + "..."
    return error_response(
        403,
        f"Forbidden: invalid processor in request: {where} '{shown}' is not a processor",
        {"loc": where.split(".")},
    )


async def _not_found(request: Request, exc: Exception) -> Response:
    """Unknown routes answer as the API (FastAPI) does: ``{"detail": "Not Found"}``."""
    request.scope["sandbox.endpoint"] = "unknown"
    return JSONResponse({"detail": "Not Found"}, status_code=404)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    request.scope["sandbox.endpoint"] = "unknown"
    return JSONResponse({"detail": "Method Not Allowed"}, status_code=405)


def build_app(sandbox: Sandbox) -> Starlette:
    api = Api(sandbox)
    ep = api.endpoint
    routes: list[Route] = []
    for prefix in ("/v1", "/v1beta"):
        routes += [
            Route(f"{prefix}/tasks/groups", ep("create_group", api.create_group), methods=["POST"]),
            Route(f"{prefix}/tasks/groups/{{group_id}}", ep("get_group", api.get_group), methods=["GET"]),
            Route(f"{prefix}/tasks/groups/{{group_id}}/runs", ep("add_runs", api.add_runs), methods=["POST"]),
            Route(
                f"{prefix}/tasks/groups/{{group_id}}/runs", ep("group_runs", api.group_runs), methods=["GET"]
            ),
            Route(
                f"{prefix}/tasks/groups/{{group_id}}/events",
                ep("group_events", api.group_events),
                methods=["GET"],
            ),
            Route(
                f"{prefix}/tasks/groups/{{group_id}}/runs/{{run_id}}",
                ep("group_run", api.group_run),
                methods=["GET"],
            ),
            Route(
                f"{prefix}/tasks/runs/{{run_id}}/events", ep("run_events", api.run_events), methods=["GET"]
            ),
        ]
    # Single runs exist only under /v1 (the beta prefix has just the run events stream above).
    routes += [
        Route("/v1/tasks/runs", ep("create_run", api.create_run), methods=["POST"]),
        Route("/v1/tasks/runs/{run_id}", ep("get_run", api.get_run), methods=["GET"]),
        Route("/v1/tasks/runs/{run_id}/input", ep("run_input", api.run_input), methods=["GET"]),
        Route("/v1/tasks/runs/{run_id}/result", ep("run_result", api.run_result), methods=["GET"]),
    ]
    routes += Control(sandbox).routes()
    return Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_allowed})
