"""ParallelClient: every Task and Task Group endpoint, typed, over one pooled httpx2 client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, TypedDict, TypeVar

import httpx2
from pydantic import SecretStr

from taskgroup_mcp.config import DEFAULT_BASE_URL, Settings
from taskgroup_mcp.wire import (
    BETA_EVENTS_SSE,
    Event,
    RunInput,
    RunStatus,
    TaskGroup,
    TaskGroupRunResponse,
    TaskRun,
    TaskRunEvent,
    TaskRunResult,
    TaskSpec,
    WireModel,
)

from . import _event_streams as event_streams
from ._connection import Connection
from ._engine import EngineOptions, SubmitEngine, SubmitJournal
from ._features import betas_for, mcp_header_values
from ._http import send
from ._limit import AdaptiveLimit
from ._memory import SubmitMemory
from ._pacing import Pacer
from ._parse import parse_body
from ._retry import Backoff, RetryBudget
from ._submit import PreparedCall, RunBatch, SubmitResult
from ._tail import RunTag

M = TypeVar("M", bound=WireModel)
T = TypeVar("T")


class _Options(TypedDict):
    """What a client is made with besides its key and connection pool (see :meth:`ParallelClient.with_api_key`)."""

    base_url: str
    api_prefix: Literal["v1", "v1beta"]
    timeout: float
    connect_timeout: float
    max_retries: int
    chunk_size: int
    concurrency: int
    requests_per_minute: int
    runs_per_minute: float | None
    settle_seconds: float
    max_attempts_per_chunk: int
    audit: Literal["always", "on_doubt"]


class ParallelClient(Connection):
    """An async client for Parallel's Task and Task Group API.

    One instance holds one ``httpx2.AsyncClient`` (pooled, keep-alive; how a request goes out is
    :class:`Connection`, in ``_connection.py``). GETs and streams retry
    with jittered backoff within a per-client retry budget; run-creating POSTs never retry on
    their own: :meth:`submit` adds runs exactly once. Use as ``async with ParallelClient(...)``
    or call :meth:`aclose`.

    Arguments: ``timeout`` bounds each request (seconds, connect to last byte) and each stream's
    connection; ``max_retries`` counts retries of safe calls. :meth:`submit` is shaped by
    ``chunk_size`` (runs per request), ``concurrency`` (the most requests in flight; fewer while
    the API slows down or answers 429), ``requests_per_minute`` (the API's limit per key),
    ``runs_per_minute`` (an opt-in budget), ``settle_seconds`` (the longest wait for evidence
    after an ambiguous failure) and ``max_attempts_per_chunk``. ``audit="always"`` (default) reads
    the group's runs as they land to prove each id is there once; ``"on_doubt"`` skips those reads
    when every request got a clean 2xx on a group this client created. ``journal`` is told each
    client id before its request and each run the API confirmed (see :class:`SubmitJournal`).
    """

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        base_url: str = DEFAULT_BASE_URL,
        api_prefix: Literal["v1", "v1beta"] = "v1",
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        *,
        max_retries: int = 3,
        chunk_size: int = 1_000,
        concurrency: int = 16,
        requests_per_minute: int = 2_000,
        runs_per_minute: float | None = None,
        settle_seconds: float = 10.0,
        max_attempts_per_chunk: int = 6,
        audit: Literal["always", "on_doubt"] = "always",
        backoff: Backoff | None = None,
        retry_budget: RetryBudget | None = None,
        journal: SubmitJournal | None = None,
        http_client: httpx2.AsyncClient | None = None,
        seed: int | None = None,
    ) -> None:
        if not 1 <= chunk_size <= 1_000:
            raise ValueError("chunk_size must be between 1 and 1,000")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if max_attempts_per_chunk < 1:
            raise ValueError("max_attempts_per_chunk must be at least 1")
        super().__init__(
            api_key, base_url, api_prefix, transport, timeout, connect_timeout, max_retries=max_retries,
            backoff=backoff, retry_budget=retry_budget, http_client=http_client, seed=seed,
        )  # fmt: skip
        self.chunk_size = chunk_size
        self.concurrency = concurrency
        self.settle_seconds = settle_seconds
        self.max_attempts_per_chunk = max_attempts_per_chunk
        self.audit: Literal["always", "on_doubt"] = audit
        self.pacer = Pacer(requests_per_minute, runs_per_minute)
        self.limit = AdaptiveLimit(concurrency)
        self.journal = journal
        self.memory = SubmitMemory()
        self._options: _Options = {
            "base_url": self.base_url,
            "api_prefix": api_prefix,
            "timeout": timeout,
            "connect_timeout": connect_timeout,
            "max_retries": max_retries,
            "chunk_size": chunk_size,
            "concurrency": concurrency,
            "requests_per_minute": requests_per_minute,
            "runs_per_minute": runs_per_minute,
            "settle_seconds": settle_seconds,
            "max_attempts_per_chunk": max_attempts_per_chunk,
            "audit": audit,
        }
        """The options this client was made with: :meth:`with_api_key` makes another from them."""

    @classmethod
    def from_settings(
        cls, settings: Settings, transport: httpx2.AsyncBaseTransport | None = None
    ) -> ParallelClient:
        """A client configured from :class:`taskgroup_mcp.config.Settings`."""
        return cls(
            api_key=settings.parallel_api_key,
            base_url=settings.parallel_base_url,
            api_prefix=settings.api_prefix,
            transport=transport,
            timeout=settings.request_timeout_seconds,
            connect_timeout=settings.connect_timeout_seconds,
            max_retries=settings.max_retries,
            chunk_size=settings.chunk_size,
            concurrency=settings.submit_concurrency,
            requests_per_minute=settings.requests_per_minute,
            runs_per_minute=settings.runs_per_minute,
            settle_seconds=settings.settle_seconds,
        )

    def with_api_key(self, api_key: str | SecretStr) -> ParallelClient:
        """The same connection pool and options, another account's key (multi-tenant HTTP).

        The new client has its own pacing and retry budget (they are per account) and does not
        close the shared pool; close the original.
        """
        other = ParallelClient(
            api_key, **self._options, backoff=self.backoff, journal=self.journal, http_client=self._http
        )
        other.memory = self.memory
        return other

    def __repr__(self) -> str:
        return f"ParallelClient(base_url={self.base_url!r}, api_prefix={self.api_prefix!r})"

    async def __aenter__(self) -> ParallelClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ groups

    async def create_task_group(self, metadata: Mapping[str, Any] | None = None) -> TaskGroup:
        """POST /tasks/groups. Safe to retry (an extra empty group costs nothing), so it does."""
        body = {"metadata": dict(metadata)} if metadata is not None else {}

        async def once() -> TaskGroup:
            response = await self._post(self._group_path(), body)
            return parse_body(TaskGroup, response.content, method="POST", path=self._group_path())

        group = await self.retry_policy().call("POST groups", once)
        self.memory.created(group.taskgroup_id)
        return group

    async def get_task_group(self, group_id: str) -> TaskGroup:
        """GET /tasks/groups/{id}: the group with its aggregated status."""
        return await self._get(self._group_path(group_id), TaskGroup)

    async def add_runs(
        self,
        group_id: str,
        inputs: Sequence[RunInput],
        default_task_spec: TaskSpec | None = None,
        refresh_status: bool = True,
    ) -> TaskGroupRunResponse:
        """POST /tasks/groups/{id}/runs: ONE raw request, never retried (a retry may duplicate
        runs; use :meth:`submit`). Sends the beta tokens the inputs' features need."""
        redact = (
            self._redact.with_secrets(mcp_header_values(inputs))
            if any(r.mcp_servers for r in inputs)
            else None
        )
        body: dict[str, Any] = {"inputs": [run.to_wire(exclude_none=True) for run in inputs]}
        if default_task_spec is not None:
            body["default_task_spec"] = default_task_spec.to_wire(exclude_none=True)
        params = None if refresh_status else {"refresh_status": "false"}
        self.memory.touched(group_id)
        response = await self._post(
            self._group_path(group_id, "runs"), body, betas=betas_for(inputs), params=params, redact=redact
        )
        return parse_body(
            TaskGroupRunResponse, response.content, method="POST", path=self._group_path(group_id, "runs")
        )

    async def send_runs(
        self, group_id: str, batch: RunBatch, *, refresh_status: bool = False
    ) -> TaskGroupRunResponse:
        """POST /tasks/groups/{id}/runs with a body :class:`PreparedCall` built: ONE request,
        never retried (what :meth:`submit` sends)."""
        headers = self._headers(batch.betas)
        headers["content-type"] = "application/json"
        self.memory.touched(group_id)
        response = await send(
            self._http,
            "POST",
            self._group_path(group_id, "runs"),
            headers=headers,
            content=batch.body,
            params=None if refresh_status else {"refresh_status": "false"},
            redact=self._redact.with_secrets(batch.secrets) if batch.secrets else self._redact,
            time_limit=self.timeout,
        )
        return parse_body(
            TaskGroupRunResponse, response.content, method="POST", path=self._group_path(group_id, "runs")
        )

    # ------------------------------------------------------------------ streams (their meaning: _event_streams)

    def group_events(
        self, group_id: str, last_event_id: str | None = None, timeout: float | None = None
    ) -> AsyncIterator[Event]:
        """The group's events (status changes, run completions) as they happen.

        Resumes from the last ``event_id`` after a dropped connection, drops duplicates, and
        reconnects when the server closes the stream before its end (the API closes it after an
        hour): the end is an inactive group status after the events, or a connection with nothing
        new while the group is inactive. With ``timeout`` it ends after about that many seconds.
        """
        path = self._group_path(group_id, "events")

        async def is_active() -> bool:
            return (await self.get_task_group(group_id)).status.is_active

        return event_streams.group_events(
            self._open(path), path, self.retry_policy(), is_active=is_active, last_event_id=last_event_id,
            seconds=timeout,
        )  # fmt: skip

    def group_runs(
        self,
        group_id: str,
        include_input: bool = False,
        include_output: bool = False,
        status: RunStatus | None = None,
        last_event_id: str | None = None,
    ) -> AsyncIterator[TaskRunEvent]:
        """The group's runs (one event each), streamed, resumable from ``last_event_id``.

        A dropped connection resumes where it stopped; no run is delivered twice.
        """
        return self._group_runs(group_id, include_input, include_output, status, last_event_id)

    def _group_runs(
        self,
        group_id: str,
        include_input: bool,
        include_output: bool,
        status: RunStatus | None,
        last_event_id: str | None,
    ) -> AsyncIterator[TaskRunEvent]:
        params: dict[str, str] = {}
        if include_input:
            params["include_input"] = "true"
        if include_output:
            params["include_output"] = "true"
        if status is not None:
            params["status"] = status
        path = self._group_path(group_id, "runs")
        return event_streams.group_runs(
            self._open(path), path, self.retry_policy(), params=params, last_event_id=last_event_id,
            redact=self._redact,
        )  # fmt: skip

    def group_run_tags(
        self, group_id: str, key: str, *, after: str | None = None
    ) -> AsyncIterator[list[RunTag]]:
        """Every run of the group after the cursor ``after`` (from the start when None) as
        ``(event_id, run_id, metadata[key])``, in batches (one per network read), without building
        models: the cheap read that reconciliation and audits are made of. Resumes after cuts."""
        path = self._group_path(group_id, "runs")
        return event_streams.group_run_tags(self._open(path), path, self.retry_policy(), key=key, after=after)

    async def scan_group_runs(self, group_id: str, key: str) -> dict[str, list[str]]:
        """``metadata[key]`` value -> run ids (in stream order), over the whole group."""
        found: dict[str, list[str]] = {}
        async for tags in self.group_run_tags(group_id, key):
            for tag in tags:
                if tag.tag is not None:
                    found.setdefault(tag.tag, []).append(tag.run_id)
        return found

    async def get_group_run(self, group_id: str, run_id: str) -> TaskRun:
        """GET /tasks/groups/{id}/runs/{run_id}."""
        return await self._get(self._group_path(group_id, "runs", run_id), TaskRun)

    def iter_results(
        self,
        group_id: str,
        *,
        cursor: str | None = None,
        status: RunStatus | None = None,
        include_input: bool = True,
        include_output: bool = True,
    ) -> AsyncIterator[TaskRunEvent]:
        """The group's runs with inputs and outputs, one at a time (never the whole group in
        memory). Each event's ``event_id`` is a cursor: pass it back to continue after it."""
        return self._group_runs(group_id, include_input, include_output, status, cursor)

    # ------------------------------------------------------------------ single runs

    async def create_run(self, run_input: RunInput) -> TaskRun:
        """POST /v1/tasks/runs: one raw request, never retried (a retry may duplicate the run)."""
        redact = self._redact.with_secrets(mcp_header_values([run_input])) if run_input.mcp_servers else None
        response = await self._post(
            "/v1/tasks/runs",
            run_input.to_wire(exclude_none=True),
            betas=betas_for([run_input]),
            redact=redact,
        )
        return parse_body(TaskRun, response.content, method="POST", path="/v1/tasks/runs")

    async def get_run(self, run_id: str) -> TaskRun:
        """GET /v1/tasks/runs/{id}."""
        return await self._get(f"/v1/tasks/runs/{run_id}", TaskRun)

    async def get_run_input(self, run_id: str) -> RunInput:
        """GET /v1/tasks/runs/{id}/input."""
        return await self._get(f"/v1/tasks/runs/{run_id}/input", RunInput)

    async def get_run_result(self, run_id: str, timeout: float | None = None) -> TaskRunResult:  # noqa: ASYNC109
        """GET /v1/tasks/runs/{id}/result, blocking server-side up to ``timeout`` seconds.

        Raises :class:`RequestTimeoutError` (408) while the run is still active (not retried
        here: that would block several times ``timeout``; ask again) and :class:`NotFoundError`
        when it failed.
        """
        params = {"timeout": str(int(timeout))} if timeout is not None else None
        wait = self.timeout + (timeout if timeout is not None else 600)
        return await self._get(
            f"/v1/tasks/runs/{run_id}/result",
            TaskRunResult,
            params=params,
            time_limit=wait,
            final_statuses=frozenset({408}),
        )

    def run_events(self, run_id: str) -> AsyncIterator[Event]:
        """A run's events: its state, progress stats and messages (the trace), and its final
        state with the output; for a finished run, the whole replay.

        The stream ends when the server closes it after the run reached a final state. A stream
        closed earlier (or cut) is reopened with backoff; the API replays the trace on every
        connect (no cursor), so events already delivered are skipped. The end is read from the
        raw run object, so a run the models cannot parse still ends the stream.
        """
        path = f"/{self.api_prefix}/tasks/runs/{run_id}/events"
        return event_streams.run_events(self._open(path, [BETA_EVENTS_SSE]), path, self.retry_policy())

    # ------------------------------------------------------------------ exactly-once submission

    async def submit(
        self,
        group_id: str,
        inputs: Sequence[RunInput],
        *,
        default_task_spec: TaskSpec | None = None,
        call_key: str | None = None,
        on_progress: Callable[[int, int], Awaitable[None]] | None = None,
        journal: SubmitJournal | None = None,
    ) -> SubmitResult:
        """Add ``inputs`` to the group exactly once, however often this same call is repeated.

        Every input is tagged with a deterministic client id (see :func:`derive_cids`); chunks of
        ``chunk_size`` go out together (up to ``concurrency``, adapting) within the pacing budget;
        each failed attempt is classified (definite reject, not sent, throttled, ambiguous) and
        after an ambiguous one the group's runs are read until the evidence says whether it
        committed, before only the missing ids are resent. Reads of the group made while the
        chunks land (by cursor) audit that every id is there once. ``on_progress(done, total)``
        is awaited as inputs settle. ``journal`` (default: the client's) is told each cid before
        the request carrying it and each run confirmed. Raises :class:`InputValidationError`
        before sending anything when an input breaks a documented limit or uses the reserved
        metadata key.
        """
        call = PreparedCall(group_id, inputs, default_task_spec, call_key)
        if not inputs:
            return SubmitResult(
                group_id=group_id,
                cids=[],
                run_ids={},
                added=0,
                already_present=0,
                failed=[],
                duplicates=[],
                requests_sent=0,
                audited=False,
            )
        engine = SubmitEngine(
            call,
            sender=self,
            reader=self,
            pacer=self.pacer,
            limit=self.limit,
            retry=self.retry_policy(),
            memory=self.memory,
            journal=journal or self.journal,
            options=EngineOptions(
                chunk_size=self.chunk_size,
                settle_seconds=self.settle_seconds,
                max_attempts_per_chunk=self.max_attempts_per_chunk,
                audit=self.audit,
            ),
            on_progress=on_progress,
        )
        return await engine.run()
