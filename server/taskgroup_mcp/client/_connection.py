"""One account's connection to the API: its key, the pooled httpx2 client, and how one request
goes out: headers, safe calls retried within the retry budget, SSE connections opened for
:class:`ResumableStream`. :class:`ParallelClient` builds every endpoint on it.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, TypeVar

import httpx2
from pydantic import SecretStr

from taskgroup_mcp.wire import WireModel

from ._http import Redact, open_sse, send
from ._parse import parse_body
from ._redact import Redactor
from ._retry import Backoff, RetryBudget, RetryPolicy
from ._stream import Opener

M = TypeVar("M", bound=WireModel)

USER_AGENT = "taskgroup-mcp/0.1"


class Connection:
    """The key, the pool and the retry policy of one client (see :class:`ParallelClient` for the
    arguments)."""

    def __init__(
        self,
        api_key: str | SecretStr | None,
        base_url: str,
        api_prefix: Literal["v1", "v1beta"],
        transport: httpx2.AsyncBaseTransport | None,
        timeout: float,
        connect_timeout: float,
        *,
        max_retries: int,
        backoff: Backoff | None,
        retry_budget: RetryBudget | None,
        http_client: httpx2.AsyncClient | None,
        seed: int | None,
    ) -> None:
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key or "")
        self.base_url = base_url.rstrip("/")
        self.api_prefix: Literal["v1", "v1beta"] = api_prefix
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_retries = max_retries
        self.backoff = backoff or Backoff()
        self.retry_budget = retry_budget or RetryBudget()
        self._rng = random.Random(seed)
        self._redact = Redactor([self._key.get_secret_value()])
        self._owns_http = http_client is None
        self._http = http_client or httpx2.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=httpx2.Timeout(timeout, connect=connect_timeout),
            headers={"user-agent": USER_AGENT},
        )

    def retry_policy(self) -> RetryPolicy:
        """The client's retry policy as it stands (backoff, budget and retries may be replaced)."""
        return RetryPolicy(self.backoff, self.retry_budget, self.max_retries, self._rng)

    async def aclose(self) -> None:
        """Close the connection pool (when this client owns it)."""
        if self._owns_http:
            await self._http.aclose()

    def _headers(self, betas: Sequence[str] = ()) -> dict[str, str]:
        headers = {"x-api-key": self._key.get_secret_value()}
        if betas:
            headers["parallel-beta"] = ",".join(dict.fromkeys(betas))
        return headers

    def _group_path(self, group_id: str = "", *rest: str) -> str:
        base = f"/{self.api_prefix}/tasks/groups"
        parts = [base] + ([group_id] if group_id else []) + list(rest)
        return "/".join(parts)

    async def _post(
        self,
        path: str,
        body: Any,
        *,
        betas: Sequence[str] = (),
        params: Mapping[str, str] | None = None,
        redact: Redact | None = None,
    ) -> httpx2.Response:
        return await send(
            self._http,
            "POST",
            path,
            headers=self._headers(betas),
            json=body,
            params=params,
            redact=redact or self._redact,
            time_limit=self.timeout,
        )

    async def _get(
        self,
        path: str,
        model: type[M],
        *,
        params: Mapping[str, str] | None = None,
        betas: Sequence[str] = (),
        time_limit: float | None = None,
        final_statuses: frozenset[int] = frozenset(),
    ) -> M:
        async def once() -> M:
            response = await send(
                self._http,
                "GET",
                path,
                headers=self._headers(betas),
                params=params,
                redact=self._redact,
                time_limit=time_limit or self.timeout,
            )
            return parse_body(model, response.content, method="GET", path=path, redact=self._redact)

        return await self.retry_policy().call(f"GET {path}", once, final_statuses=final_statuses)

    def _open(self, path: str, betas: Sequence[str] = ()) -> Opener:
        """Connections to one SSE endpoint, for :class:`ResumableStream`."""

        def open_connection(
            query: Mapping[str, str],
        ) -> AbstractAsyncContextManager[AsyncIterator[list[str]]]:
            return open_sse(
                self._http,
                path,
                headers=self._headers(betas),
                redact=self._redact,
                params=query,
                connect_timeout=self.timeout,
            )

        return open_connection
