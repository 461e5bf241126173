"""Canary secrets (the API key, forwarded MCP header values) never reach a log record, an
exception's text or repr, or a result's repr, with every logger at DEBUG."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import httpx2
import pytest
from client_harness import EchoingUpstream, sandbox_client

from taskgroup_mcp.client import AuthenticationError, ParallelClient, ParallelError
from taskgroup_mcp.sandbox import Faults
from taskgroup_mcp.wire import McpServer, RunInput, Webhook

KEY = "sk-canary-key-7Hq2ZpR4"
HEADER = "Bearer canary-mcp-9Wd3Lk8X"
CANARIES = (KEY, HEADER, HEADER.split()[1])


def _forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [secret, base64.b64encode(raw).decode().rstrip("="), raw.hex()]


def _assert_clean(text: str, where: str) -> None:
    for canary in CANARIES:
        for form in _forms(canary):
            assert form not in text, f"a canary leaked into {where}"


@pytest.fixture
def debug_records() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    saved = {
        name: lg.level
        for name, lg in logging.root.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    old_root = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in [
        *saved,
        "httpx2",
        "httpcore",
        "taskgroup_mcp",
        "taskgroup_mcp.client",
        "taskgroup_mcp.sandbox",
    ]:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        root.setLevel(old_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _mcp_inputs(n: int) -> list[RunInput]:
    server = McpServer(name="crm", url="https://127.0.0.1:9/mcp", headers={"Authorization": HEADER})
    return [RunInput(input=f"acme {i}", processor="lite", mcp_servers=[server]) for i in range(n)]


@pytest.mark.anyio
async def test_canaries_never_reach_logs_exceptions_or_reprs(debug_records: list[logging.LogRecord]) -> None:
    texts: list[tuple[str, str]] = []
    faults = Faults(drop_after_commit=0.2, fail_before_commit=0.1, throttle=0.05, retry_after=0)
    echoes: list[EchoingUpstream] = []

    def careless(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        echoes.append(EchoingUpstream(inner, every=3))
        return echoes[0]

    async with sandbox_client(faults, seed=4, chunk_size=50, start=False, transport=careless) as (_, client):
        keyed = client.with_api_key(KEY)
        texts.append(("client repr", repr(keyed)))
        group = await keyed.create_task_group()
        batch = _mcp_inputs(300)
        batch[120] = batch[120].model_copy(
            update={
                "webhook": Webhook.model_construct(url="https://hooks.example.com/x", event_types=[HEADER])
            }
        )
        result = await keyed.submit(group.taskgroup_id, batch)
        texts.append(("submit result", repr(result) + result.model_dump_json()))
        assert result.failed and not result.duplicates
        for _ in range(3):
            try:
                await keyed.add_runs(group.taskgroup_id, [batch[120]])
            except ParallelError as exc:
                texts.append(("add_runs error", f"{exc} {exc!r} {getattr(exc, 'body', '')}"))
        assert echoes[0].echoed >= 2
        run_id = next(iter(result.run_ids.values()))
        echoed = await keyed.get_run_input(run_id)
        texts.append(("run input repr", repr(echoed)))
        texts.append(("run input str", str(echoed)))

    # The same key refused by the API.
    async with sandbox_client(start=False, sandbox_config={"api_key": "the-right-key"}) as (_, other):
        wrong = other.with_api_key(KEY)
        with pytest.raises(AuthenticationError) as info:
            await wrong.get_task_group("tgrp_nope")
        texts.append(("401 error", f"{info.value} {info.value!r} {info.value.body}"))

    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    assert any(r.name.startswith("taskgroup_mcp.client") for r in debug_records)
    for record in debug_records:
        _assert_clean(formatter.format(record), f"log record of {record.name}")
    for where, text in texts:
        _assert_clean(text, where)


def test_a_client_repr_and_its_settings_never_show_the_key() -> None:
    client = ParallelClient(api_key=KEY)
    _assert_clean(repr(client) + str(vars(client)), "client repr/vars")
